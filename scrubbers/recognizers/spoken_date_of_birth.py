"""Dates of birth read out as digits in ASR transcripts: "oh three one four nineteen eighty five".

DateOfBirthRecognizer reads month names ("march fourteenth nineteen eighty five"); callers as often
read the numeric form, month and day digit by digit, then the year. Only in a birth context
(a birth word in the preceding words, across the agent's question): alone, such a run is as
likely an expiry date or a number.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from piizone.scrubbers.recognizers.date_of_birth import YEAR_WORDS
from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer

_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_NONZERO = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_ZERO = r"(?:zero|oh)"
_SEP = r"(?:[\s,/-]+|\s+slash\s+)"
_MONTH = rf"(?:{_ZERO}\s+{_NONZERO}|one\s+(?:{_ZERO}|one|two)|{_NONZERO})"
_DAY = rf"(?:{_ZERO}\s+{_NONZERO}|(?:one|two)\s+{_DIGIT}|three\s+(?:{_ZERO}|one)|{_NONZERO})"
_YEAR_DIGITS = rf"(?:one\s+nine|two\s+{_ZERO})\s+{_DIGIT}\s+{_DIGIT}"
_DATE = re.compile(rf"\b{_MONTH}{_SEP}{_DAY}{_SEP}(?:{YEAR_WORDS}|{_YEAR_DIGITS})\b", re.IGNORECASE)
_DIGIT_BEFORE = re.compile(rf"\b{_DIGIT}[\s,/-]*$", re.IGNORECASE)
_BIRTH = re.compile(r"\b(?:born|birth|birthday|birthdate|dob|d\s?o\s?b)\b", re.IGNORECASE)


class SpokenDateOfBirthRecognizer(TextRecognizer):
    """Month and day as digit words, then a year, after a birth word."""

    ENTITY = "DATE_OF_BIRTH"
    SCORE = 0.75
    # Characters before the date searched for a birth word: the question and its speaker label.
    CONTEXT_CHARS = 100

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        """Find spoken numeric dates of birth in `text`; `nlp_artifacts` is not used."""
        if entities and self.ENTITY not in entities:
            return []
        results = []
        for match in _DATE.finditer(text):
            before = text[max(0, match.start() - self.CONTEXT_CHARS) : match.start()]
            # The date must be the whole digit run: "one three one four ..." is no month 13
            # read from its second word.
            if not _BIRTH.search(before) or _DIGIT_BEFORE.search(before):
                continue
            results.append(
                self.result(
                    match.start(), match.end(), self.SCORE, "spoken numeric date after a birth word"
                )
            )
        return results
