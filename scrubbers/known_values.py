"""Known-value redaction: values piizone already knows are PII, found wherever else they appear.

A table's identifier columns (piizone.scrubbers.tables) say exactly which values are personal: the
`full_name` column holds names, `phone` holds phone numbers. Detectors can still miss those same
values in free text beside them ("Spoke with Jane Fairweather" keeps "Fairweather" when NER only
labels "Jane"). `KnownValues` is a dictionary of such values and their parts, matched in one
pass with an Aho-Corasick automaton (pyahocorasick), and each match becomes a `Finding` of the
column's entity type, so the policy's operator and token apply as to the column itself.

Three scopes: a row's own values (`find(text, row=...)`, the strongest evidence), every
identifier value of the table, and every identifier value of a zone (`zone create` learns the
tables first, then redacts its text sources with them). A text that names a person in full
is treated like that person's row for their name's parts.

Matching is tolerant of case, whitespace and punctuation: texts and values are compared as
casefolded word tokens ("JANE  fairweather," = "Jane Fairweather"). Digit values (phones, SSNs,
cards, account numbers) are compared as digit strings, written with any separators or spoken
("five five five, one two three four"), aligned to whole numerals so a 7-digit phone part never
matches inside a longer number.

Over-redaction guard (why parts are graded): a customer table of any size holds most given
names and surnames in use, and many of them are ordinary words ("Will", "May", "Brown", "Rose").
So only *distinctive* parts are matched table- and zone-wide:

* a whole value (a full name, an e-mail, all digits of a phone) always: it is specific;
* a single word (a name part, a one-word value, an e-mail's local part) only when it has at
  least MIN_PART_CHARS letters and is rare in English: its Zipf frequency (wordfreq) is below
  COMMON_ZIPF. Common words and short parts are *weak*: they are matched only in the row that
  holds them, and only written with a capital ("Spoke with Will" in Will Ng's own row, never
  "I will" there, nor "Will" in another row);
* a given name, even a rare one, needs its capital outside its row, as a name is written;
  family names match in any case (ASR transcripts are lower-case);
* digit parts: a phone's national (10-digit) and local (last 7) numbers; never a card's or an
  SSN's last four digits (far too many four-digit numbers in ordinary text).

Low-risk entity types (places, dates, organisations; piizone.scrubbers.entities) are not learned: a
city or a date in a table is not personal alone, and matching it everywhere would blank text.

Values live in memory only: a report counts the findings by entity with the recognizer name
KNOWN_VALUE_RECOGNIZER and never holds a value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import ahocorasick

from piizone.scrubbers.entities import DIGIT_ENTITIES, Risk, entity_risk
from piizone.scrubbers.findings import Finding, resolve_overlaps
from piizone.scrubbers.known_value_texts import MIN_DIGITS, DigitItem, Numbers, Words, word_tokens

KNOWN_VALUE_RECOGNIZER = "KnownValue"
SCORE = 1.0  # a known value is certain: it wins over any detector's overlapping guess
# ...except an e-mail's local part met outside its address: "maria.garcia" read in a sentence
# as "Maria Garcia" is a name, and a detector that says so should name the span.
LOCAL_PART_SCORE = 0.6

MIN_TEXT_CHARS = 4  # letters/digits a whole text value needs ("Al" alone is not matched)
MIN_PART_CHARS = 4  # letters a single word needs to be matched outside its row
PHONE_LOCAL_DIGITS = 7  # the local number of a NANP phone ("555-1234")
# Zipf 4 = once per 100,000 words: "garcia" (3.9) and "fairweather" (2.4) are below, "will"
# (6.5), "brown" (5.0), "jane" (4.4) and "smith" (4.9) above. A frequent word is weak even when
# it is a name here: matching it everywhere would hit other people's texts and plain English.
COMMON_ZIPF = 4.0
# Values held at most: a bound on memory for huge tables (a value costs ~200 bytes with its
# parts). Past it, the row scope still works; new values are not learned table-wide.
MAX_VALUES = 2_000_000

_DIGITS_AND_SEPARATORS = re.compile(r"[\d\s().+/-]+")


# Ranks: which of two known matches of one span names it (an e-mail's local part "jane.doe"
# and the name "Jane Doe" cover the same words; the name is the better reading).
_RANK_LOCAL_PART = 0
_RANK_PART = 1
_RANK_FULL = 2


@dataclass(frozen=True)
class _Key:
    entity: str
    canonical: str  # the value (or part) as the table holds it: what the operator transforms
    rank: int
    capital: bool  # the first letter must be written upper-case


@dataclass(frozen=True)
class KnownMatch:
    """One match: a finding plus the value the operator should transform (never stored)."""

    finding: Finding
    canonical: str


def is_common_word(word: str) -> bool:
    """A word frequent in English (wordfreq Zipf >= COMMON_ZIPF), or too short to be specific."""
    return len(word) < MIN_PART_CHARS or _zipf(word.casefold()) >= COMMON_ZIPF


@lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency  # loads its frequency tables: only when needed

    return zipf_frequency(word, "en")


def _digit_value(entity: str, value: str) -> str | None:
    """The digits of a value whose identity is its digits, else None."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) < MIN_DIGITS:
        return None
    if entity in DIGIT_ENTITIES or _DIGITS_AND_SEPARATORS.fullmatch(value.strip()):
        return digits
    return None


def derive_keys(
    entity: str, value: str
) -> tuple[list[tuple[str, _Key, bool]], list[tuple[str, _Key, bool]]]:
    """(text keys, digit keys) of one value, each (form, key, anywhere).

    A text form is the value's casefolded tokens joined by one space; a digit form its digits.
    `anywhere` is False for weak keys, matched only in the value's own row.
    """
    value = value.strip()
    texts: list[tuple[str, _Key, bool]] = []
    digits: list[tuple[str, _Key, bool]] = []
    if not value or entity_risk(entity) < Risk.MEDIUM:
        return texts, digits
    number = _digit_value(entity, value)
    if number is not None:
        digits.append((number, _Key(entity, value, _RANK_FULL, False), True))
        if entity == "PHONE_NUMBER":
            if len(number) == 11 and number[0] == "1":
                national = number[1:]
                digits.append((national, _Key(entity, value, _RANK_FULL, False), True))
            elif len(number) == 10:  # "15551234567": the country code written into it
                digits.append(("1" + number, _Key(entity, value, _RANK_FULL, False), True))
            if len(number) >= 10:
                local = number[-PHONE_LOCAL_DIGITS:]
                digits.append((local, _Key(entity, value, _RANK_PART, False), True))
        return texts, digits
    tokens = word_tokens(value)
    if not tokens:
        return texts, digits
    if len(tokens) > 1:
        if sum(map(len, tokens)) >= MIN_TEXT_CHARS:
            texts.append((" ".join(tokens), _Key(entity, value, _RANK_FULL, False), True))
    else:
        texts.append(_word_key(entity, value, tokens[0], _RANK_FULL, capital=entity == "PERSON"))
    if entity == "PERSON":
        words = value.split()
        if len(words) > 1:
            family = words[-1]
            rev = word_tokens(family) + word_tokens(" ".join(words[:-1]))
            texts.append((" ".join(rev), _Key(entity, value, _RANK_FULL, False), True))
            for word in words:
                part = word_tokens(word)
                if not part:
                    continue
                # A given (or middle) name needs its capital even when rare (see the module doc).
                capital = word is not family
                if len(part) == 1:
                    texts.append(_word_key(entity, word, part[0], _RANK_PART, capital))
                else:  # "O'Neil", "Smith-Jones": the whole part, tokens joined
                    texts.append((" ".join(part), _Key(entity, word, _RANK_PART, capital), True))
    elif entity == "EMAIL_ADDRESS" and "@" in value:
        local = value.split("@", 1)[0]
        part = word_tokens(local)
        if len(part) == 1:
            texts.append(_word_key(entity, local, part[0], _RANK_LOCAL_PART, capital=False))
        elif part and sum(map(len, part)) >= MIN_TEXT_CHARS:
            texts.append((" ".join(part), _Key(entity, local, _RANK_LOCAL_PART, False), True))
    elif entity == "STREET_ADDRESS" and "," in value:
        street = value.split(",", 1)[0]
        part = word_tokens(street)
        if len(part) > 1:
            texts.append((" ".join(part), _Key(entity, street, _RANK_PART, False), True))
    return texts, digits


def _word_key(entity: str, word: str, token: str, rank: int, capital: bool):
    """One word: matched anywhere when distinctive, else in its row only and capitalised."""
    if token.isdigit():
        return token, _Key(entity, word, rank, False), len(token) >= MIN_DIGITS
    if is_common_word(token) or not any(c.isalpha() for c in token):
        return token, _Key(entity, word, rank, True), False
    return token, _Key(entity, word, rank, capital), True


class KnownValues:
    """A dictionary of known PII values and their parts; `find` returns matches in a text.

    Add values with `add(entity, value)` (or `add_row`), then call `find`: the automata are
    rebuilt lazily when values were added since the last find.
    """

    def __init__(self, max_values: int = MAX_VALUES):
        self._words: dict[str, _Key] = {}
        self._digits: dict[str, _Key] = {}
        self._seen: set[tuple[str, str]] = set()
        self._max = max_values
        self._word_automaton: ahocorasick.Automaton | None = None
        self._digit_automaton: ahocorasick.Automaton | None = None
        self._dirty = False
        self.full = False  # MAX_VALUES reached: later values are not learned

    def __len__(self) -> int:
        return len(self._seen)

    def __bool__(self) -> bool:
        return bool(self._words or self._digits)

    def add(self, entity: str, value: str) -> bool:
        """Learn one value of `entity` (and its parts); False if it adds nothing."""
        if not isinstance(value, str) or not value.strip():
            return False
        item = (entity, value)
        if item in self._seen:
            return False
        if len(self._seen) >= self._max:
            self.full = True
            return False
        self._seen.add(item)
        texts, digits = derive_keys(entity, value)
        added = False
        for form, key, anywhere in texts:
            if anywhere:
                added |= _keep(self._words, form, key)
        for form, key, anywhere in digits:
            if anywhere:
                added |= _keep(self._digits, form, key)
        self._dirty |= added
        return added

    def values(self) -> Iterator[tuple[str, str]]:
        """The (entity, value) pairs learned, in no particular order. Never write them out."""
        return iter(self._seen)

    def digest(self, key: bytes) -> str:
        """HMAC-SHA256 under `key` of the whole set: equal sets, equal digests; without the key
        it says nothing about the values."""
        mac = hmac.new(key, digestmod=hashlib.sha256)
        for entity, value in sorted(self._seen):
            mac.update(f"{entity}\0{value}\n".encode())
        return mac.hexdigest()

    def update(self, other: KnownValues) -> None:
        for form, key in other._words.items():
            self._dirty |= _keep(self._words, form, key)
        for form, key in other._digits.items():
            self._dirty |= _keep(self._digits, form, key)
        self._seen |= other._seen

    def find(
        self, text: str, row: Sequence[tuple[str, str]] | None = None, *, table: bool = True
    ) -> list[KnownMatch]:
        """Non-overlapping matches of known values in `text`, by position.

        `row` is the (entity, value) pairs of the text's own table row: matched too, weak parts
        included, and they name a span before the table's values do. `table=False` matches
        the row's values only.
        """
        if not text or (not (table and self) and not row):
            return []
        if table:
            self._build()
        # Without the table, a row whose values are all learned table-wide only adds what the
        # automaton does not match the same way (weak parts, a given name in lower case).
        only_extra = not table and all(pair in self._seen for pair in row or ())
        if only_extra and row:
            folded = text.casefold()
            if not any(
                form.split(" ", 1)[0] in folded  # its first token: a cheap pre-check
                for entity, value in row
                if isinstance(value, str)
                for form, _ in _row_keys(entity, value, True)[0]
            ) and not any(_row_keys(e, v, True)[1] for e, v in row if isinstance(v, str)):
                return []
        candidates: list[tuple[int, int, _Key, int]] = []  # start, end, key, source (1 = row)
        words = Words(text)
        row_digits = any(_row_keys(e, v, only_extra)[1] for e, v in row or () if isinstance(v, str))
        numbers = Numbers(text) if (table and self._digits) or row_digits else None
        if table and self._word_automaton is not None and words.norm:
            for end, (form, key) in self._word_automaton.iter(words.norm):
                start = end - len(form) - 1  # the key is " form ": its leading space
                _add_word(candidates, words, start + 1, form, key, 0)
        if table and numbers is not None and self._digit_automaton is not None:
            for items in numbers.segments:
                _match_digits(candidates, items, self._digit_automaton.iter, 0)
        if row:
            _match_row(candidates, words, numbers, row, only_extra)
        # A text that names a known person in full ("this is gregory price") is about them:
        # their weak parts count there as in their own row ("thank you Price" later on).
        named = {
            (c[2].entity, c[2].canonical)
            for c in candidates
            if c[2].entity == "PERSON" and c[2].rank == _RANK_FULL and c[3] == 0
        }
        if named:
            _match_row(candidates, words, None, sorted(named))
        return _choose(candidates, text)

    def _build(self) -> None:
        if not self._dirty:
            return
        self._word_automaton = _automaton(
            {f" {form} ": (form, key) for form, key in self._words.items()}
        )
        self._digit_automaton = _automaton(
            {form: (form, key) for form, key in self._digits.items()}
        )
        self._dirty = False


def _keep(table: dict[str, _Key], form: str, key: _Key) -> bool:
    """Store `key` under `form` unless a key of at least its rank is there (first one wins)."""
    old = table.get(form)
    if old is not None and old.rank >= key.rank:
        return False
    table[form] = key
    return True


def _automaton(entries: dict[str, tuple[str, _Key]]) -> ahocorasick.Automaton | None:
    if not entries:
        return None
    automaton = ahocorasick.Automaton()
    for form, payload in entries.items():
        automaton.add_word(form, payload)
    automaton.make_automaton()
    return automaton


def _add_word(out: list, words: Words, norm_start: int, form: str, key: _Key, source: int) -> None:
    n_tokens = form.count(" ") + 1
    start, end = words.span(norm_start, n_tokens)
    if key.capital and not words.text[start].isupper():
        return
    out.append((start, end, key, source))


def _match_digits(out: list, items: list[DigitItem], search, source: int) -> None:
    """Matches of a digit automaton's keys in one number, aligned to whole numerals."""
    stream = "".join(it.digits for it in items)
    owner: list[int] = []
    for k, it in enumerate(items):
        owner.extend([k] * len(it.digits))
    starts, ends, pos = set(), set(), 0
    for it in items:
        starts.add(pos)
        pos += len(it.digits)
        ends.add(pos)
    for end, (form, key) in search(stream):
        first = end - len(form) + 1
        if first in starts and end + 1 in ends:
            out.append((items[owner[first]].start, items[owner[end]].end, key, source))


@lru_cache(maxsize=100_000)
def _row_keys(
    entity: str, value: str, only_extra: bool
) -> tuple[tuple[tuple[str, _Key], ...], tuple[tuple[str, _Key], ...]]:
    """A value's keys as its own row matches them: in its row a rare given name needs no
    capital; a weak part still does. `only_extra`: just the keys the table-wide automaton does
    not already match the same way (tables repeat this for every cell: most rows need none)."""
    texts, digits = derive_keys(entity, value)
    row_texts = tuple(
        (form, replace(key, capital=not anywhere))
        for form, key, anywhere in texts
        if not (only_extra and anywhere and not key.capital)
    )
    row_digits = tuple(
        (form, key) for form, key, anywhere in digits if not (only_extra and anywhere)
    )
    return row_texts, row_digits


def _match_row(
    out: list,
    words: Words,
    numbers: Numbers | None,
    row: Sequence[tuple[str, str]],
    only_extra: bool = False,
) -> None:
    """The row's own values, weak parts included: a few keys, found with str.find."""
    for entity, value in row:
        if not isinstance(value, str):
            continue
        texts, digits = _row_keys(entity, value, only_extra)
        for form, key in texts:
            needle = f" {form} "
            at = words.norm.find(needle)
            while at >= 0:
                _add_word(out, words, at + 1, form, key, 1)
                at = words.norm.find(needle, at + 1)
        if numbers is not None and digits:
            table = dict(digits)

            def search(stream: str, table=table):
                for form, key in table.items():
                    at = stream.find(form)
                    while at >= 0:
                        yield at + len(form) - 1, (form, key)
                        at = stream.find(form, at + 1)

            for items in numbers.segments:
                _match_digits(out, items, search, 1)


def _choose(candidates: list[tuple[int, int, _Key, int]], text: str) -> list[KnownMatch]:
    """Non-overlapping: longest span first, then the row's own, then the higher rank."""
    candidates.sort(key=lambda c: (-(c[1] - c[0]), -c[3], -c[2].rank, c[0]))
    taken: list[tuple[int, int]] = []
    chosen: list[KnownMatch] = []
    for start, end, key, _ in candidates:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        score = LOCAL_PART_SCORE if key.rank == _RANK_LOCAL_PART else SCORE
        finding = Finding(start, end, key.entity, score, KNOWN_VALUE_RECOGNIZER)
        chosen.append(KnownMatch(finding, key.canonical))
    chosen.sort(key=lambda m: m.finding)
    return chosen


def merge_findings(
    findings: Iterable[Finding],
    matches: Sequence[KnownMatch],
    values: dict[tuple[int, int], str] | None = None,
) -> tuple[list[Finding], dict[tuple[int, int], str]]:
    """Detector findings and known-value matches as one non-overlapping list, plus the values
    the operator should transform for spans that are still exactly a known match's.

    `values` are such spans of `findings` from an earlier merge (a row's matches are added to
    a cell's already merged findings).
    """
    if not matches:
        return list(findings), dict(values or {})
    merged = resolve_overlaps([*findings, *(m.finding for m in matches)])
    exact = dict(values or {})
    exact.update({(m.finding.start, m.finding.end): m.canonical for m in matches})
    values = {
        (f.start, f.end): exact[(f.start, f.end)]
        for f in merged
        if f.recognizer == KNOWN_VALUE_RECOGNIZER and (f.start, f.end) in exact
    }
    return merged, values
