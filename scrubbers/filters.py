"""Filters that drop known false positives. Each is a pure predicate `is_*(finding, context)`.

Which filters ran, and how many findings each removed, is recorded in scan reports (STYLE 9).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from piizone.scrubbers.case_restore import FILLERS
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.name_lexicon import NameLexicon, Word, is_short_text, words
from piizone.scrubbers.recognizers.titled_name import TitledNameRecognizer

_NER_ENTITIES = {"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"}
_PATTERN_OWNERS = {
    "EMAIL_ADDRESS",
    "URL",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "US_SSN",
    "PHONE_NUMBER",
    "IBAN_CODE",
    "ACCOUNT_NUMBER",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
}
# The shortest real phone numbers (local numbers without area code) have 7 digits.
MIN_PHONE_DIGITS = 7
# A NANP phone number as people write it: (555) 010-2345, 555-010-2345, 555.010.2345.
_PHONE_SHAPE = re.compile(r"^\+?1?[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}$")


@dataclass(frozen=True)
class FilterContext:
    text: str
    findings: Sequence[Finding]
    # Name lists and English words (scrubbers/name_lexicon.py); filters that need it keep
    # everything without one.
    lexicon: NameLexicon | None = None

    @cached_property
    def has_capitals(self) -> bool:
        return any(c.isupper() for c in self.text)

    @cached_property
    def short(self) -> bool:
        """A post or a message (name_lexicon.is_short_text): no case habits to read."""
        return is_short_text(self.text)

    @cached_property
    def _by_start(self) -> tuple[list[int], list[Finding], int]:
        ordered = sorted(self.findings, key=lambda o: o.start)
        longest = max((o.end - o.start for o in ordered), default=0)
        return [o.start for o in ordered], ordered, longest

    def overlapping(self, f: Finding) -> Iterator[Finding]:
        """The findings overlapping f, found by position.

        Filters used to scan every finding for each finding: quadratic on text dense with PII
        (a 300 KB call log with 9,752 findings). One that overlaps f starts before f ends and
        after f.start - longest (no finding is longer), a range of the start-sorted findings.
        """
        starts, ordered, longest = self._by_start
        lo = bisect.bisect_right(starts, f.start - longest)
        hi = bisect.bisect_left(starts, f.end)
        return (o for o in ordered[lo:hi] if _overlaps(f, o))


def _overlaps(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def is_url_inside_email(f: Finding, ctx: FilterContext) -> bool:
    """Presidio #951: the domain part of jane@example.com also matches as a URL."""
    if f.entity_type != "URL":
        return False
    if any(o.entity_type == "EMAIL_ADDRESS" for o in ctx.overlapping(f)):
        return True
    before = ctx.text[max(0, f.start - 1) : f.start]
    return before == "@" or "@" in ctx.text[f.start : f.end]


def is_ner_over_pattern_entity(f: Finding, ctx: FilterContext) -> bool:
    """spaCy tags e-mails and numbers as ORGANIZATION/PERSON; the pattern recognizer owns them."""
    if f.entity_type not in _NER_ENTITIES:
        return False
    return any(
        o.entity_type in _PATTERN_OWNERS
        and o.score >= 0.4
        and (o.end - o.start) >= 0.5 * (f.end - f.start)
        for o in ctx.overlapping(f)
    )


def is_name_without_letters(f: Finding, ctx: FilterContext) -> bool:
    """Presidio #786/#1173: spaCy sometimes tags bare numbers or symbols as PERSON or LOCATION."""
    if f.entity_type not in {"PERSON", "LOCATION", "NRP", "ORGANIZATION"}:
        return False
    return not any(c.isalpha() for c in ctx.text[f.start : f.end])


def is_name_with_digits(f: Finding, ctx: FilterContext) -> bool:
    """Codes such as "T000123" or "TK-441100" get tagged PERSON or LOCATION.

    Names never contain digits; places do ("5th Avenue"), but not inside a single token.
    """
    value = ctx.text[f.start : f.end]
    if not any(c.isdigit() for c in value):
        return False
    if f.entity_type in {"PERSON", "NRP"}:
        return True
    return f.entity_type in {"LOCATION", "ORGANIZATION"} and len(value.split()) == 1


def is_too_short_for_phone(f: Finding, ctx: FilterContext) -> bool:
    """phonenumbers accepts "16.85" as a short number in some regions; amounts are not phones."""
    if f.entity_type != "PHONE_NUMBER":
        return False
    if f.recognizer in {"SpokenNumberRecognizer", "PhoneNumberRecognizer"}:
        # The first reports a number read across speaker turns one segment per turn, and counted
        # the digits of the whole number itself; the second reports fewer than 7 digits only
        # right after "pager #" or "ext." (and counts the rest itself).
        return False
    return count_digits(ctx.text[f.start : f.end]) < MIN_PHONE_DIGITS


_DIGIT_WORD = re.compile(
    r"\b(?:(double|triple)\s+)?(zero|oh|o|one|two|three|four|five|six|seven|eight|nine)\b", re.I
)


def count_digits(text: str) -> int:
    """Digits written or spoken ("five five five oh one", "double seven")."""
    spoken = sum(
        {"double": 2, "triple": 3}.get((m.group(1) or "").lower(), 1)
        for m in _DIGIT_WORD.finditer(text)
    )
    return sum(c.isdigit() for c in text) + spoken


def is_phone_shaped_nhs(f: Finding, ctx: FilterContext) -> bool:
    """UK_NHS passes mod-11 for ~1 in 11 ten-digit numbers; a US-formatted phone is a phone."""
    if f.entity_type != "UK_NHS":
        return False
    # NHS numbers are written 3-3-4 too; an explicit mention of the NHS keeps the finding.
    if "nhs" in ctx.text[max(0, f.start - 40) : f.start].lower():
        return False
    if _PHONE_SHAPE.match(ctx.text[f.start : f.end].strip()):
        return True
    return any(o.entity_type == "PHONE_NUMBER" for o in ctx.overlapping(f))


# Recognizers whose PERSON findings rest on a title or an earlier mention, not on case alone.
_VOUCHED_NAMES = {"TitledNameRecognizer", "KnownNamePass"}


def is_acronym_as_name(f: Finding, ctx: FilterContext) -> bool:
    """Clinical and technical abbreviations ("CV", "GU", "NPN", "MAE") tagged PERSON.

    spaCy and the name lists take short capital words for names ("MAE" and "PA" are listed
    first names); a name of only such words is an abbreviation far more often than a person,
    unless a title or an earlier full mention vouches for it.
    """
    if f.entity_type != "PERSON" or f.recognizer in _VOUCHED_NAMES:
        return False
    parts = [p for p in re.split(r"[^\w']+", ctx.text[f.start : f.end]) if p]
    if sum(len(p) == 1 for p in parts) >= 3:
        return False  # a name spelled out letter by letter: "P E R E T T I"
    return bool(parts) and all(p.isupper() and len(p) <= 3 for p in parts)


# Detectors whose PERSON findings rest on the model's reading of case and context alone.
_GUESSED_NAMES = {"SpacyRecognizer", "CaseRestoredNer"}


def is_common_words_as_name(f: Finding, ctx: FilterContext) -> bool:
    """spaCy's PERSON on ordinary words: "PATIENT", "Alert", "SUCTIONED" in nursing notes.

    Every word is an English word and none is a listed first name or surname, and the words
    are in capitals or lower case: no name there. Only for the model's own guesses; a title
    ("Dr. Small") vouches for its word.
    """
    if f.entity_type != "PERSON" or f.recognizer not in _GUESSED_NAMES or ctx.lexicon is None:
        return False
    parts = [w for w in words(ctx.text[f.start : f.end]) if len(w.text) > 1]
    lex = ctx.lexicon
    if not parts or not all(lex.is_english(w.lower) and not lex.is_name(w.lower) for w in parts):
        return False
    # In edited text a Title-case word may be a name that is a word ("Sting", "Gates"); in
    # capitals or lower case the model had no case to go by, nor from the capital that opens
    # a sentence ("Email the report to ...").
    return not any(
        w.text[0].isupper()
        and not w.text.isupper()
        and not opens_sentence(ctx.text, f.start + w.start)
        for w in parts
    )


def opens_sentence(text: str, start: int) -> bool:
    """The word at `start` is the first of its text, line, sentence or bullet: its capital is
    the sentence's, not the writer's choice."""
    before = text[max(0, start - 40) : start].rstrip(" \t")
    if not before:
        return True
    if before[-1] == ".":  # a full stop, unless it ends a title or an initial: "per Dr. Hale"
        word = _WORD_BEFORE_DOT.search(before)
        return not word or not (len(word[1]) == 1 or word[1].lower() in TitledNameRecognizer.TITLES)
    return before[-1] in _SENTENCE_OPENERS


# What may stand right before a sentence's first word (spaces aside).
_SENTENCE_OPENERS = frozenset('!?:;\n"“‘(*•>')
_WORD_BEFORE_DOT = re.compile(r"(?<![\w.])([A-Za-z]+)\.$")


def is_heading_as_name(f: Finding, ctx: FilterContext) -> bool:
    """A section heading taken for a name: "Neuro:", "Abd:", "Resp:" open lines of notes.

    A single unlisted word right before a colon; a listed name stays ("Kyle: hello").
    """
    if f.entity_type != "PERSON" or f.recognizer not in _GUESSED_NAMES or ctx.lexicon is None:
        return False
    value = ctx.text[f.start : f.end]
    if len(value.split()) != 1 or ctx.lexicon.is_name(value.strip(".'").lower()):
        return False
    return ctx.text[f.end : f.end + 2].lstrip(" ").startswith(":")


def is_lowercase_guess_in_cased_text(f: Finding, ctx: FilterContext) -> bool:
    """The model's PERSON on lower-case words in text that uses capitals elsewhere.

    Nursing notes typed in lower case ("abd soft", "foley draining", "lasix") are full of
    these. In a text written with capitals, a lower-case name is rare, so the guess needs a
    listed name and no ordinary English word beside it. All-lower-case text (speech-to-text)
    is left alone: there the model's lower-case names are mostly right.
    """
    if f.entity_type != "PERSON" or f.recognizer not in _GUESSED_NAMES or ctx.lexicon is None:
        return False
    value = ctx.text[f.start : f.end]
    if value != value.lower() or not ctx.has_capitals:
        return False
    parts = [w for w in words(value) if len(w.text) > 1]
    lex = ctx.lexicon
    if any(lex.is_english(w.lower) and not lex.is_name(w.lower) for w in parts):
        return True
    return not ctx.short and not any(lex.is_name(w.lower) for w in parts)


FILTERS: dict[str, Callable[[Finding, FilterContext], bool]] = {
    "is_url_inside_email": is_url_inside_email,
    "is_ner_over_pattern_entity": is_ner_over_pattern_entity,
    "is_name_without_letters": is_name_without_letters,
    "is_name_with_digits": is_name_with_digits,
    "is_too_short_for_phone": is_too_short_for_phone,
    "is_phone_shaped_nhs": is_phone_shaped_nhs,
    "is_acronym_as_name": is_acronym_as_name,
    "is_common_words_as_name": is_common_words_as_name,
    "is_heading_as_name": is_heading_as_name,
    "is_lowercase_guess_in_cased_text": is_lowercase_guess_in_cased_text,
}


# A token of a name finding that holds no letter: a score or a count spaCy took into the name
# ("D. Blenkiron 4-43", "Durham 114").
_NUMBER_TOKEN = re.compile(r"[^\W_]*\d[\w.,:/+-]*")


def trim_name_numbers(text: str, f: Finding) -> Finding:
    """`f` without the number tokens at its edges, for person names only.

    spaCy often takes the score after a name into a PERSON entity in sports results and tables;
    dropping such a finding whole (is_name_with_digits) leaked the name. What is left is the
    name; a finding with digits inside a word ("T000123") is still dropped by that filter.
    """
    if f.entity_type != "PERSON" or not any(c.isdigit() for c in text[f.start : f.end]):
        return f
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[f.start : f.end])]
    while tokens and _NUMBER_TOKEN.fullmatch(
        text[f.start + tokens[-1][0] : f.start + tokens[-1][1]]
    ):
        tokens.pop()
    while tokens and _NUMBER_TOKEN.fullmatch(text[f.start + tokens[0][0] : f.start + tokens[0][1]]):
        tokens.pop(0)
    if not tokens:
        return f
    start, end = f.start + tokens[0][0], f.start + tokens[-1][1]
    if (start, end) == (f.start, f.end):
        return f
    return Finding(start, end, f.entity_type, f.score, f.recognizer)


def trim_lowercase_guess(text: str, f: Finding, lexicon: NameLexicon | None) -> Finding:
    """The model's lower-case PERSON guess in a short text with capitals (a post), without the
    English words at its edges: "simon wears" -> "simon". Dropping it whole
    (is_lowercase_guess_in_cased_text) leaked the name; what is left is judged by that filter.
    Longer texts keep their guesses whole: there a lower-case word is rarely a name."""
    if f.entity_type != "PERSON" or f.recognizer not in _GUESSED_NAMES or lexicon is None:
        return f
    value = text[f.start : f.end]
    if value != value.lower() or " " not in value.strip():
        return f
    if not is_short_text(text):
        return f
    if not any(c.isupper() for c in text):
        return f
    parts = words(value)

    def word(w: Word) -> bool:
        return w.lower in FILLERS or lexicon.is_english(w.lower) and not lexicon.is_name(w.lower)

    while parts and word(parts[-1]):
        parts.pop()
    while parts and word(parts[0]):
        parts.pop(0)
    if (
        not parts
        or (parts[0].start, parts[-1].end) == (0, len(value))
        # what is left must be listed names that are no words, not abbreviations or words
        # ("coarse bs", "drain serosang fluid", "thick tan")
        or not all(
            len(w.text) >= 3 and lexicon.is_name(w.lower) and not lexicon.is_english(w.lower)
            for w in parts
        )
    ):
        return f  # whole: is_lowercase_guess_in_cased_text judges it
    return Finding(f.start + parts[0].start, f.start + parts[-1].end, f.entity_type, f.score,
                   f.recognizer)  # fmt: skip


def apply_filters(
    text: str,
    findings: list[Finding],
    counts: dict[str, int] | None = None,
    lexicon: NameLexicon | None = None,
) -> list[Finding]:
    """Drop findings any filter flags; add per-filter drop counts to `counts`."""
    findings = [trim_lowercase_guess(text, trim_name_numbers(text, f), lexicon) for f in findings]
    ctx = FilterContext(text=text, findings=findings, lexicon=lexicon)
    kept = []
    for f in findings:
        hit = next((name for name, pred in FILTERS.items() if pred(f, ctx)), None)
        if hit is None:
            kept.append(f)
        elif counts is not None:
            counts[hit] = counts.get(hit, 0) + 1
    return kept
