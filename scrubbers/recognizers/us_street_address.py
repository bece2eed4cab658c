"""US street addresses ("1234 Elm Street Apt. 5, Springfield, IL 62704"), which Presidio lacks."""

from __future__ import annotations

import re

from faker.providers.address.en_US import Provider as _UsAddress
from presidio_analyzer import Pattern
from spacy.lang.en.stop_words import STOP_WORDS

from piizone.scrubbers.recognizers.declared_pattern import DeclaredPatternRecognizer

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
_SPOKEN_NUMBER = rf"(?:{_NUMBER_WORD}[ \t-]+){{1,6}}"
_NUMBER = rf"(?:\d{{1,6}}[A-Za-z]?[ \t]+|{_SPOKEN_NUMBER})"
_DIRECTION = r"(?:(?:[NSEW]|North|South|East|West|NE|NW|SE|SW)\.?[ \t]+)?"
# One to three name words (letters, digits for "5th"), then the suffix. Blanks only, never a line
# break: an address line is one line, and "ten years\nwell" across ASR turns is not one.
# spaCy's English stop words, without the number words a spoken house number is made of: a
# function word in the name ("2 days ago pt") means prose (invalidate_result). The commonest
# of them are excluded in the pattern itself, so that "one was four durham lane" cannot hide
# the address after "was" (the whole list there would triple the cost of the pattern).
_STOP_WORDS = frozenset(STOP_WORDS) - set(_NUMBER_WORD.strip("(?:)").split("|"))
_PROSE_WORDS = (
    "the|a|an|and|or|of|to|in|on|at|for|with|by|from|is|was|are|were|be|it|its|this|that|"
    "he|she|they|we|you|i|my|your|his|her|our|their|me|him|them|us|as|if|so|but|not|"
    "has|had|have|do|did|does|when|then|than"
)
_NOT_STOP = rf"(?!(?:{_PROSE_WORDS})(?![A-Za-z0-9'.-]))"
_NAME = rf"(?:{_NOT_STOP}[A-Za-z0-9][A-Za-z0-9'.-]*[ \t]+){{1,3}}"
# The unit number may be spoken too ("apartment thirty seven b").
_UNIT = (
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*"
    rf"(?:{_NUMBER_WORD}(?:[\s-]{_NUMBER_WORD}){{0,5}}(?:\s[a-z]\b)?|[A-Za-z0-9-]+))?"
)
_CITY_STATE_ZIP = r"(?:,?\s+[A-Za-z][A-Za-z .'-]{1,30},\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"


# The number, the name words and the suffix of a match, for invalidate_result.
_STREET_PART = re.compile(
    rf"^{_NUMBER}{_DIRECTION}(?P<name>{_NAME})(?P<suffix>{_SUFFIX})(?![A-Za-z])", re.IGNORECASE
)
_AMBIGUOUS_SUFFIXES = frozenset({"pt", "via", "sq", "well", "wells", "ct", "run"})
# A word ending in "." inside a street name is an abbreviation ("N.", "St.", "Mt."); any other
# ("CAPTOPRIL.", "po.", "pm.") ends a sentence.
_ABBREVIATION = re.compile(r"^(?:[A-Z]|[A-Z][a-z]|\d+)\.$")


class StreetAddressRecognizer(DeclaredPatternRecognizer):
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

    def invalidate_result(self, pattern_text: str) -> bool:
        street = _STREET_PART.match(pattern_text)
        if street is None:
            return False
        name, suffix = street.group("name").split(), street.group("suffix")
        if any(w.lower().strip(".,'") in _STOP_WORDS for w in name):
            return True
        # "5 hours tolerated well.", "40 AFTER CAPTOPRIL. PT": a sentence's full stop inside the
        # name means the words are prose, not a street.
        if any(w.endswith(".") and not _ABBREVIATION.match(w) for w in name):
            return True
        # Abbreviations that are words or clinical shorthand elsewhere ("pt" for patient, "via",
        # "SQ" for subcutaneous, "CT", a "RUN" of beats) count only written as street suffixes
        # are: "Pt", "Via", "Sq", "Ct", "Run".
        bare = suffix.rstrip(".")
        return bare.lower() in _AMBIGUOUS_SUFFIXES and not bare.istitle()
