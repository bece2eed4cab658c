"""The last four digits of a Social Security number given in answer to a question about them.

Call-centre verification asks "the last four digits of your social?" and the caller answers with
four digits, often on the next speaker turn. A lone "4821" is nothing without that question;
Presidio's SSN recognizer needs all nine digits. Spoken digits ("four eight two one") are
SpokenNumberRecognizer's job; this one reads numerals.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer

_SSN_WORDS = (
    r"(?:social(?:\s+security)?(?:\s+(?:number|no\.?|#))?|ssn|s\.s\.n\.?|ss\s*(?:number|#))"
)
# "last four (digits) of your social", "last 4 of SSN", "SSN ending in"
_CUE = re.compile(
    rf"\blast\s+(?:four|4)(?:\s+digits|\s+numbers)?\s+(?:of\s+|on\s+)?(?:(?:your|my|his|her|their|"
    rf"the)\s+)?{_SSN_WORDS}\b|\b{_SSN_WORDS}\s+(?:ending|ends)\s+(?:in|with)\b",
    re.IGNORECASE,
)
_FOUR = re.compile(r"(?<![\d/.,:-])\d{4}(?![\d/:-]|[.,]\d)")


class SsnLastFourRecognizer(TextRecognizer):
    """Four digits within the answer that follows a "last four of your social" question."""

    ENTITY = "US_SSN"
    SCORE = 0.7
    # How far after the question the answer may start, and how many line breaks (speaker turns)
    # it may cross: the question's own line and the answer's.
    MAX_DISTANCE = 120
    MAX_LINE_BREAKS = 2

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        """Find answered last-four SSN questions in `text`; `nlp_artifacts` is not used."""
        if entities and self.ENTITY not in entities:
            return []
        results = []
        for cue in _CUE.finditer(text):
            window = text[cue.end() : cue.end() + self.MAX_DISTANCE]
            match = _FOUR.search(window)
            if match is None or window[: match.start()].count("\n") >= self.MAX_LINE_BREAKS:
                continue
            start = cue.end() + match.start()
            results.append(
                self.result(
                    start, start + 4, self.SCORE, "four digits answering a last-four SSN question"
                )
            )
        return results
