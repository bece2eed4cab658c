"""Phone numbers in any format people write them: libphonenumber across regions, plus cue words.

Presidio's PhoneRecognizer asks libphonenumber for *valid* numbers (Leniency.VALID): a number
whose area code or exchange is not allocated ("888-130-8121", "(482)937-7308") is dropped, and
those are exactly the numbers of surrogate, test and typo'd data. It also scores every number
0.4 and leaves the rest to a context word, and it reads "7.37/53/89/31/2" (a blood gas) as a
phone. Here one bounded candidate pattern finds digit groups, and each is scored by evidence:

- a cue word (mobile, cell, fax, desk, home#, work#, office, tel, pager, call, text, ...) just
  before or just after it: any 7-15 digit grouping is a phone (4-6 digits after pager/ext);
- the North American shape (3-3-4 with separators or "(3)"), whatever the digits: a phone;
- a leading "+" and a possible length for that country code (libphonenumber): a phone;
- otherwise, written in groups and *valid* for one of the policy's `engine.phone_regions`
  (libphonenumber's PhoneNumberMatcher, Leniency.VALID, region by region): a phone;
- an unseparated 10-11 digit run valid for a region scores 0.4, as Presidio's did.

Dates, SSNs, ZIP+4, card numbers, IP addresses and ids named as such ("order", "MRN", "ISBN")
are never phones. Extensions ("x9747", "ext. 12") belong to the span.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from presidio_analyzer import RecognizerResult
from stdnum import luhn

from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer

# Separators inside a number: blanks (never a newline: two numbers on two lines stay two),
# dots and hyphens. A slash or colon separates measurements and times, not phone digits.
_SEP = r"[ \t\u00a0.\-]"
_TOKEN = re.compile(r"\S+")
_DIGIT = re.compile(r"\d")


class PhoneNumberRecognizer(TextRecognizer):
    """Digit groups scored by shape, libphonenumber validity per region and nearby cue words."""

    ENTITY = "PHONE_NUMBER"
    DEFAULT_REGIONS = ("US",)

    # One pass over the text; the groups are delimited by separators, so the pattern cannot
    # backtrack more than a bounded amount at each start (linear in the text).
    CANDIDATE = re.compile(
        r"(?<![\w+.])(?<!\d[.,/:\-])"
        r"(?:\+[ \t]?\d{1,3}(?:[ \t]?\(0\))?" + _SEP + r"{0,2}|1" + _SEP + r"?(?=\(\d{3}\)))?"
        r"(?:\(\d{1,5}\)" + _SEP + r"{0,2})?"
        r"\d{1,12}(?:" + _SEP + r"{1,2}\d{1,12}){0,6}"
        r"(?P<ext>[ \t]?(?:x|ext\.?|extn\.?|extension)[ \t]?\d{1,6})?"
        r"(?![\w/])(?![.,:\-]\d)",
        re.IGNORECASE,
    )
    # Cue words. STRONG ones name a phone wherever they stand in the 40 characters before;
    # the others ("home", "office", "desk", ...) only right next to the number, as in "Home#
    # 603-960-5357" or "539-184-1845 mobile", because prose uses them for everything else.
    STRONG_CUE = re.compile(
        r"\b(?:(?:tele|cell|mobile|smart)?phone[sd]?|ph(?=[ \t]*[#:.])|tel|mob|mobile|"
        r"cell(?:ular)?|fax|pager|pgr|beeper|bleep|call(?:ed|ing|s)?|dial(?:l?ed)?|sms|"
        r"whats[ \t]?app|reach(?:ed)?|hotline|landline|voicemail)\b",
        re.IGNORECASE,
    )
    CUE_CHARS = 40
    WEAK_CUE_BEFORE = re.compile(
        r"\b(?:home|work|office|desk|direct|contact|text(?:ed)?|ring|messages?|answering|"
        r"main|personal|emergency)(?:[ \t]*(?:no|num|number|line|phone)\b\.?)?(?:[ \t]*[#:.])?"
        r"(?:[ \t]+(?:me[ \t]+)?(?:at|on|to|is)\b)?[ \t]*",
        re.IGNORECASE,
    )
    CUE_AFTER = re.compile(
        r"[ \t]*[-\u2013,:(\[]?[ \t]*(?:(?:tele|cell|mobile)?phone|ph|tel|mob|mobile|cell|"
        r"fax|pager|beeper|home|work|office|desk|direct|main|landline|personal|emergency)\b",
        re.IGNORECASE,
    )
    # Pagers and extensions are 4-6 digits; only a cue right before them says so.
    SHORT_CUE = re.compile(
        r"\b(?:pager|pgr|beeper|bleep|ext|extn|extension)\b\.?(?:[ \t]*(?:no\b\.?|number))?"
        r"(?:[ \t]*[#:])?[ \t]*",
        re.IGNORECASE,
    )
    # What may stand between a cue word and the number it labels ("Tel.: ", "phone no. ").
    LABEL_TAIL = re.compile(
        r"[ \t]*(?:(?:no|num|number)\.?)?[ \t]*[#:.]{0,2}(?:[ \t]+(?:me[ \t]+)?(?:at|on|to|is))?"
        r"[ \t]*",
        re.IGNORECASE,
    )
    # Between a cue and the number, a word naming another kind of id means the number is that.
    ID_WORD = re.compile(
        r"\b(?:order|invoice|account|acct|a/c|ticket|case|ref|reference|id|mrn|record|claim|"
        r"policy|confirmation|tracking|serial|member|isbn|ssn|social|card|zip|postal|code|"
        r"routing|iban|passport|licen[cs]e|pin|room|bed|unit|dose|mg|ml|units)\b",
        re.IGNORECASE,
    )
    # "(11) 8845-5433", "(02) 8552 4159": a bracketed area code, then the number in two groups.
    AREA_CODE_SHAPE = re.compile(r"^\((\d{2,5})\)[ \t]?(\d{3,4}[ \t\-]\d{3,4})$")
    NANP = re.compile(
        r"^(?:\+?1" + _SEP + r"{0,2})?(?:\(\d{3}\)" + _SEP + r"{0,2}|\d{3}" + _SEP + r"{1,2})"
        r"\d{3}" + _SEP + r"{1,2}\d{4}$"
    )
    # Shapes that are something else even though their digit count fits a phone.
    NOT_PHONE = (
        re.compile(r"^\d{3}-\d{2}-\d{4}$"),  # US SSN
        re.compile(r"^\d{5}-\d{4}$"),  # ZIP+4
        re.compile(r"^\d{4}[.\-]\d{1,2}[.\-]\d{1,2}$"),  # ISO date
        re.compile(r"^\d{1,2}[.\-]\d{1,2}[.\-](?:\d{2}|\d{4})$"),  # day-month-year
        re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"),  # IPv4 address
        re.compile(r"^\d+\.\d+$"),  # a decimal
        re.compile(r"^\d+\.\d+(?:[ \t-]+\d+\.\d+)+$"),  # decimals: "7.44-7.46", "639.55 639.38"
    )
    SCORE_CUE = 0.75
    SCORE_SHAPE = 0.6
    SCORE_VALID = 0.5
    SCORE_BARE = 0.4
    MIN_DIGITS = 7
    MIN_CUED_SHORT_DIGITS = 4
    # Some countries' local numbers have six digits ("33 50 96"); only a label right before
    # says so.
    MIN_LABELLED_DIGITS = 6
    MAX_DIGITS = 15

    def __init__(self, supported_language: str = "en", supported_regions=None):
        super().__init__(supported_language=supported_language)
        self.regions = tuple(supported_regions or self.DEFAULT_REGIONS)

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        """Phone numbers in `text`; `nlp_artifacts` is not used."""
        cues = _Cues(self, text)
        results = []
        for m in self.CANDIDATE.finditer(text):
            results.extend(self._numbers_in(text, m, cues))
        return results

    def _numbers_in(self, text: str, m: re.Match, cues: _Cues) -> list[RecognizerResult]:
        ext = m.start("ext") if m.group("ext") else m.end()
        verdict = self._score(text, m.start(), m.end(), ext, cues)
        if verdict is not None:
            return [self.result(m.start(), m.end(), *verdict)]
        # "555-123-4567 555-987-6543": numbers one blank apart are one candidate. Runs of its
        # blank-separated tokens are tried as numbers, longest first (a candidate has at most
        # seven groups, so a few dozen tries, each a few position look-ups).
        tokens = [(t.start(), t.end()) for t in _TOKEN.finditer(text, m.start(), m.end())]
        if all(text[a:b].isdigit() for a, b in tokens):
            # "12 34 56 78 90" has no telling where a number would start: only whole tokens.
            found = []
            for a, b in tokens:
                if b - a >= self.MIN_DIGITS and (verdict := self._score(text, a, b, b, cues)):
                    found.append(self.result(a, b, *verdict))
            return found
        found, i = [], 0
        while len(tokens) > 1 and i < len(tokens):
            for j in range(len(tokens) - 1, i - 1, -1):
                start, end = tokens[i][0], tokens[j][1]
                verdict = self._score(text, start, end, end, cues)
                if verdict is not None:
                    found.append(self.result(start, end, *verdict))
                    i = j
                    break
            i += 1
        return found

    def _score(
        self, text: str, start: int, end: int, ext: int, cues: _Cues
    ) -> tuple[float, str] | None:
        number = text[start:ext]
        digits = len(_DIGIT.findall(number))
        if digits < self.MIN_CUED_SHORT_DIGITS or digits > self.MAX_DIGITS:
            return None
        if any(p.match(number) for p in self.NOT_PHONE) or _is_card(number):
            return None
        if digits < self.MIN_DIGITS:
            if cues.short(start):
                return self.SCORE_CUE, "pager or extension cue"
            if digits >= self.MIN_LABELLED_DIGITS and cues.labelled(start):
                return self.SCORE_CUE, "phone label right before"
            return None
        if cues.near(start) or self.CUE_AFTER.match(text, end, end + 20):
            return self.SCORE_CUE, "phone cue word"
        if cues.id_word_between(start - 16, start):
            return None
        if self.NANP.match(number):
            return self.SCORE_SHAPE, "North American shape"
        area = self.AREA_CODE_SHAPE.match(number)
        if area and not _is_range(area.group(2)):
            return self.SCORE_SHAPE, "bracketed area code"
        if number.startswith("+"):
            if _possible(number, None):
                return self.SCORE_SHAPE, "international number"
            return None
        if _is_range(number) or not _evenly_grouped(number):
            return None
        grouped = any(not c.isdigit() for c in number)
        if grouped and _valid_in_a_region(number, self.regions):
            return self.SCORE_VALID, "valid for a region"
        if not grouped and 10 <= digits <= 11 and _valid_in_a_region(number, self.regions):
            return self.SCORE_BARE, "valid for a region, no separators"
        return None


class _Cues:
    """The cue words before a position of one text, read from the 40 characters before it
    (each start is read once: the runs tried inside one candidate share their starts), so the
    cost stays linear in the text and nothing is read where no number is."""

    def __init__(self, rec: PhoneNumberRecognizer, text: str):
        self.text = text
        self.rec = rec
        self._strong: dict[int, int | None] = {}

    def _last_strong(self, start: int) -> int | None:
        if start not in self._strong:
            end = None
            for m in self.rec.STRONG_CUE.finditer(
                self.text, max(0, start - self.rec.CUE_CHARS), start
            ):
                end = m.end()
            self._strong[start] = end
        return self._strong[start]

    def id_word_between(self, lo: int, hi: int) -> bool:
        return self.rec.ID_WORD.search(self.text, max(lo, 0), hi) is not None

    def _ends_at(self, pattern: re.Pattern, start: int) -> bool:
        """`pattern` (it ends with the blanks before a number) ends exactly at `start`."""
        lo = max(0, start - self.rec.CUE_CHARS)
        return any(m.end() == start for m in pattern.finditer(self.text, lo, start))

    def short(self, start: int) -> bool:
        """A pager or extension word right before the number ("Pager # ", "ext. ")."""
        return self._ends_at(self.rec.SHORT_CUE, start)

    def labelled(self, start: int) -> bool:
        """A cue word ends right before the number ("Mobile: ", "messages to ")."""
        if self._ends_at(self.rec.WEAK_CUE_BEFORE, start):
            return True
        cue = self._last_strong(start)
        return cue is not None and self.rec.LABEL_TAIL.fullmatch(self.text, cue, start) is not None

    def near(self, start: int) -> bool:
        """A cue right before, or a strong cue in the 40 characters before with no id word
        ("order", "MRN") between it and the number."""
        if self._ends_at(self.rec.WEAK_CUE_BEFORE, start):
            return True
        cue = self._last_strong(start)
        return cue is not None and not self.id_word_between(cue, start)


@functools.lru_cache(maxsize=4096)
def _valid_in_a_region(number: str, regions: tuple[str, ...]) -> bool:
    """libphonenumber's PhoneNumberMatcher at Leniency.VALID finds `number` whole for a region.

    The matcher costs up to a millisecond a call; a digit count no number of the region has
    (its metadata's possible lengths, with or without the trunk prefix) rules most candidates
    out first, and tables repeat their values (the cache).
    """
    digits = "".join(c for c in number if c.isdigit())
    for region in regions:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        desc = metadata.general_desc  # typed Optional; every region in the metadata has one
        lengths = (desc.possible_length if desc is not None else None) or ()
        prefix = metadata.national_prefix or ""
        trunk = bool(prefix) and digits.startswith(prefix)
        if len(digits) not in lengths and not (trunk and len(digits) - len(prefix) in lengths):
            continue
        for match in phonenumbers.PhoneNumberMatcher(
            number, region, leniency=phonenumbers.Leniency.VALID
        ):
            if len(match.raw_string) == len(number):
                return True
    return False


def _possible(number: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _is_card(number: str) -> bool:
    """13-19 digits passing Luhn: a card number (LuhnCardRecognizer's business, not a phone)."""
    digits = "".join(c for c in number if c.isdigit())
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _is_range(number: str) -> bool:
    """ "1400-1600", "100-120": two equal-length groups, rising, are a range of values."""
    low, sep, high = number.partition("-")
    return bool(sep) and low.isdigit() and high.isdigit() and len(low) == len(high) and low < high


def _evenly_grouped(number: str) -> bool:
    """One separator throughout and no one-digit group after the first, as phones are written
    without a cue: "3 1 0 2 2 5 3" is a score table and "15-8 15-13" a set of games."""
    if len(set(re.findall(r"[^0-9]+", number))) > 1:
        return False
    groups = re.split(r"[^0-9]+", number)
    return all(len(g) >= 2 for g in groups[1:])
