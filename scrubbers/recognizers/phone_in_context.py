"""Phone numbers in any national format, when a phone word comes before them.

PhoneRecognizer (libphonenumber) validates numbers for a list of regions; each region costs a
pass over the text and foreign formats read order numbers as phones, so piizone's default is US
formats only. Numbers written the way other countries write them ("78 540 805", "(87) 221-794",
"51 771 18 31") are still phones when someone says "call me at" or "mobile" first: the digit
groups score under the threshold alone and the context word lifts them over it.
"""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, RecognizerResult

from piizone.scrubbers.recognizers.declared_pattern import DeclaredPatternRecognizer


class PhoneInContextRecognizer(DeclaredPatternRecognizer):
    """Digit groups shaped like a phone number (7-15 digits), confirmed by context only."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern(
            "phone_digit_groups",
            # optional +country, optional (area), then 2-5 groups of 2-4 digits: 7-15 digits.
            r"(?<![\w+-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{2,4}){1,4}"
            r"(?![\w-])",
            0.1,
        ),
    ]
    # A cue within CUE_CHARS before the number. Checked here on the raw text, not by Presidio's
    # lemma-based context: spaCy lists "call" as a stop word, so "call me at ..." would never
    # count. "number" is left out: "order number" and "account number" precede other ids.
    CUE = re.compile(
        r"\b(?:call|phone|mobile|cell|tel|telephone|fax|reach|contact|text|"
        r"whatsapp|ring)\w*\b",
        re.IGNORECASE,
    )
    CUE_CHARS = 40
    SCORE_WITH_CUE = 0.6

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results: list[RecognizerResult] = super().analyze(
            text, entities, nlp_artifacts, regex_flags
        )
        confirmed = []
        for r in results:
            if self.CUE.search(text[max(0, r.start - self.CUE_CHARS) : r.start]):
                r.score = self.SCORE_WITH_CUE
                confirmed.append(r)
        return confirmed

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = sum(c.isdigit() for c in pattern_text)
        return None if 7 <= digits <= 15 else False
