"""A policy's own regex recognizer, run with a timeout that fails loudly.

Presidio's PatternRecognizer gives each regex 60 s per text and then skips it with a log line:
a pathological custom regex hangs every analysis for a minute and then silently misses its
entity, which is PII left in the output. Custom regexes are checked for catastrophic
backtracking when the policy loads (scrubbers/policy.py); this is the backstop for what that
static check cannot see (polynomial patterns such as `\\d*\\d*\\d*x`): a short timeout per text,
and an EngineError instead of a skip, so the file fails rather than passes unredacted.
"""

from __future__ import annotations

import os

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult

from piizone.scrubbers.exceptions import EngineError

DEFAULT_TIMEOUT_S = 5.0


def regex_timeout_s() -> float:
    """Seconds one custom regex may run on one text (PIIZONE_REGEX_TIMEOUT_S overrides)."""
    try:
        value = float(os.environ.get("PIIZONE_REGEX_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


class PolicyRegexRecognizer(PatternRecognizer):
    """PatternRecognizer whose patterns run under regex_timeout_s(); a timeout is an error."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        flags = regex_flags or self.global_regex_flags
        timeout = regex_timeout_s()
        results: list[RecognizerResult] = []
        for pattern in self.patterns:
            if pattern.compiled_regex is None or pattern.compiled_with_flags != flags:
                pattern.compiled_with_flags = flags
                pattern.compiled_regex = regex.compile(pattern.regex, flags=flags)
            try:
                for match in pattern.compiled_regex.finditer(text, timeout=timeout):
                    start, end = match.span()
                    if start == end:
                        continue
                    results.append(
                        RecognizerResult(
                            entity_type=self.supported_entities[0],
                            start=start,
                            end=end,
                            score=pattern.score,
                            analysis_explanation=self.build_regex_explanation(
                                self.name, pattern.name, pattern.regex, pattern.score, None, flags
                            ),
                            recognition_metadata={
                                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            },
                        )
                    )
            except TimeoutError:
                raise EngineError(
                    f"custom recognizer {self.name}: pattern {pattern.name} timed out "
                    f"after {timeout:g} s on one text",
                    hint="simplify the regex (avoid stacked or nested quantifiers)",
                ) from None
        return EntityRecognizer.remove_duplicates(results)
