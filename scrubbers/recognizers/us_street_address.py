"""US street addresses ("1234 Elm Street Apt. 5, Springfield, IL 62704"), which Presidio lacks."""

from __future__ import annotations

import re

from faker.providers.address.en_US import Provider as _UsAddress
from presidio_analyzer import Pattern, PatternRecognizer

# The USPS street-suffix list (Publication 28, appendix C) as Faker ships it, plus common
# abbreviations. A closed suffix list is what keeps "12 apples and 3 pears" from matching.
_SUFFIXES = sorted(
    set(_UsAddress.street_suffixes)
    | {
        "Boulevard",  # USPS abbreviates it BLVD; Faker's list lacks the long form
        "Close",
        "St",
        "Ave",
        "Rd",
        "Blvd",
        "Ln",
        "Dr",
        "Ct",
        "Pl",
        "Ter",
        "Cir",
        "Pkwy",
        "Hwy",
        "Sq",
        "Trl",
        "Xing",
        "Pt",
        "Mt",
        "Ste",
    },
    key=len,
    reverse=True,
)
_SUFFIX = "(?:" + "|".join(re.escape(s) for s in _SUFFIXES) + r")\.?"
_NUMBER_WORD = (
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred|thousand|double|triple)"
)
_SPOKEN_NUMBER = rf"(?:{_NUMBER_WORD}[\s-]+){{1,6}}"
_NUMBER = rf"(?:\d{{1,6}}[A-Za-z]?\s+|{_SPOKEN_NUMBER})"
_DIRECTION = r"(?:(?:[NSEW]|North|South|East|West|NE|NW|SE|SW)\.?\s+)?"
# One to three name words (letters, digits for "5th"), then the suffix.
_NAME = r"(?:[A-Za-z0-9][A-Za-z0-9'.-]*\s+){1,3}"
# The unit number may be spoken too ("apartment thirty seven b").
_UNIT = (
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*"
    rf"(?:{_NUMBER_WORD}(?:[\s-]{_NUMBER_WORD}){{0,5}}(?:\s[a-z]\b)?|[A-Za-z0-9-]+))?"
)
_CITY_STATE_ZIP = r"(?:,?\s+[A-Za-z][A-Za-z .'-]{1,30},\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"


class StreetAddressRecognizer(PatternRecognizer):
    """A house number, an optional direction, a street name and a USPS suffix (and the rest)."""

    ENTITY = "STREET_ADDRESS"
    PATTERNS = [
        Pattern(
            "us_street_address",
            rf"\b{_NUMBER}{_DIRECTION}{_NAME}{_SUFFIX}{_UNIT}{_CITY_STATE_ZIP}(?![A-Za-z])",
            0.6,
        ),
        # A PO box is a delivery address as well.
        Pattern("us_po_box", r"\b(?:P\.?\s?O\.?\s?Box|Post Office Box)\s+\d{1,6}\b", 0.6),
    ]
    CONTEXT = [
        "address",
        "live",
        "lives",
        "living",
        "street",
        "mail",
        "ship",
        "shipping",
        "billing",
        "residence",
        "moved",
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            name="StreetAddressRecognizer",
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        # "3 days ago we moved Street" style accidents: the word before the suffix must not be a
        # plain lowercase function word.
        words = pattern_text.split()
        return len(words) >= 2 and words[-2].lower() in {"the", "a", "an", "and", "or", "of"}
