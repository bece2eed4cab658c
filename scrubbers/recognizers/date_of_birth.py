"""Dates of birth: a date (digits, month names or ASR words) near words such as "born" or "DOB"."""

from __future__ import annotations

from presidio_analyzer import Pattern

from piizone.scrubbers.recognizers.declared_pattern import DeclaredPatternRecognizer

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[0-3]?\d(?:st|nd|rd|th)?)"
_YEAR = r"(?:19|20)\d{2}"
_ORDINAL_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
    r"twentieth|thirtieth|(?:twenty|thirty)[\s-](?:first|second|third|fourth|fifth|sixth|"
    r"seventh|eighth|ninth))"
)
_UNIT_WORDS = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TENS_WORDS = r"(?:ten|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
_TEEN_WORDS = r"(?:eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_TWO_DIGITS_WORDS = rf"(?:{_TENS_WORDS}(?:[\s-]{_UNIT_WORDS})?|{_TEEN_WORDS}|oh[\s-]{_UNIT_WORDS})"
# A year in words: "nineteen eighty five", "two thousand and three", "two thousand twelve"
# (a regex fragment; the spoken date-of-birth recognizer uses it too).
YEAR_WORDS = (
    rf"(?:nineteen[\s-]{_TWO_DIGITS_WORDS}|two[\s-]thousand(?:[\s-]and)?"
    rf"(?:[\s-](?:{_TWO_DIGITS_WORDS}|{_UNIT_WORDS}))?|twenty[\s-]{_TWO_DIGITS_WORDS})"
)


class DateOfBirthRecognizer(DeclaredPatternRecognizer):
    """Dates score low on their own; a birth context word lifts them over the threshold.

    Presidio's DATE_TIME fires on every date ("shipped March 3rd"); redacting those destroys useful
    training signal. A date of birth is the identifying kind, and context tells them apart.
    """

    ENTITY = "DATE_OF_BIRTH"
    PATTERNS = [
        Pattern("dob_numeric", r"\b(?:[01]?\d[/.-][0-3]?\d[/.-](?:19|20)?\d{2})\b", 0.3),
        Pattern("dob_iso", rf"\b{_YEAR}-[01]\d-[0-3]\d\b", 0.3),
        Pattern("dob_month_day_year", rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", 0.3),
        Pattern("dob_day_month_year", rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", 0.3),
        Pattern(
            "dob_spoken",
            rf"\b{_MONTH}\s+(?:the\s+)?(?:{_ORDINAL_WORDS}|{_DAY})(?:,?\s+|\s+of\s+){YEAR_WORDS}\b",
            0.3,
        ),
        Pattern(
            "dob_spoken_digits_year",
            rf"\b{_MONTH}\s+(?:the\s+)?(?:{_ORDINAL_WORDS}|{_DAY}),?\s+{_YEAR}\b",
            0.3,
        ),
    ]
    # Presidio compares context against spaCy lemmas, and the lemma of "born" is "bear".
    # Matching is by substring, so short words such as "age" would fire inside "message".
    CONTEXT = ["born", "bear", "birth", "birthday", "dob", "d.o.b", "birthdate"]
