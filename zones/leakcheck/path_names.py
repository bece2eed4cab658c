"""Person names in file and directory names (`john_smith_notes.csv`, `Maria-Gonzalez.txt`).

A name is PII as much as a file's content, and it travels further: into the egress report, the
release directory, the manifest and the audit log. Pattern detectors catch an e-mail or an SSN
in a name; a person's name needs words. A name is split into words at `_ - . +` and spaces, at
digits and at camelCase humps (`MariaGonzalez` is "Maria Gonzalez"), and then checked:

  (a) against what the zone knows of its own people: its fingerprints (egress; a refresh and
      `zone status` read the recorded version's) and, while a zone is built, the identifier
      values learned from its tables (KnownValues). The strongest signal: a name from the data
      itself, written in any case or layout;
  (b) against the scrubbers' name lists (piizone.scrubbers.name_lexicon, model-free): two
      adjacent words that read "First Last". NER is not run: on a bare name it has no context
      and takes "curve.npy" for a person.

False positives are kept low because ordinary names are full of words that are also names
somewhere (`max_len`, `roberta_large`, `rose_garden`, `lincoln_park`): a pair counts only when
the first word is a listed given name and the second a listed surname, and
  * the surname is no English word ("gonzalez", "taylor"), or
  * neither is, as far as the first word goes, and both are written Title case as names are
    ("John_Smith", "JohnSmith"; not "john_smith", which only the zone's own data can tell).
Measured on the 24,013 distinct file and directory names of piizone's installed packages
(tests/security/test_path_names.py keeps it under 1 in 1,000): 7 flagged, six time-zone place
names (`Hong_Kong`, `Santo_Domingo`) and `mac_roman`. Recall on Faker's people (first and last
name as `first_last_notes.csv`, `First-Last.txt`, `FirstLast.csv`): 80-99% for en_US, de_DE,
es_ES, fr_FR, it_IT, pt_BR, nl_NL, tr_TR, en_IN; a name the lists lack is caught only by (a).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from piizone.scrubbers.findings import Finding as Span
from piizone.scrubbers.name_lexicon import NameLexicon, plain_lexicon

ENTITY = "PERSON"
RECOGNIZER = "NameInPath"
# Letter runs and digit runs; everything else separates words.
_RUN = re.compile(r"[^\W\d_]+|\d+")
# What may stand between the two words of a name: nothing (camelCase) or one separator.
_NAME_GAPS = frozenset(("", "_", "-", ".", " ", "+"))
_MIN_WORD = 2  # "Li", "Wu"
_MIN_PAIR = 5  # letters of both words: "en_ng" is no name


@dataclass(frozen=True)
class PathWord:
    start: int
    end: int
    text: str


def path_words(text: str) -> list[PathWord]:
    """The words of a name: letter runs split at camelCase humps, and digit runs.

    Hand-written (a dozen lines) because word splitters for prose keep `MariaGonzalez` whole
    and `re` has no Unicode upper/lower classes: "ÁlvaroNúñez" must split like "AlvaroNunez".
    """
    found = []
    for m in _RUN.finditer(text):
        run, base = m.group(), m.start()
        cuts = [0]
        for i in range(1, len(run)):
            a, b = run[i - 1], run[i]
            if a.islower() and b.isupper():
                cuts.append(i)  # "mariaGonzalez"
            elif a.isupper() and b.isupper() and i + 1 < len(run) and run[i + 1].islower():
                cuts.append(i)  # "CSVReader": "CSV", "Reader"
        cuts.append(len(run))
        found += [PathWord(base + x, base + y, run[x:y]) for x, y in itertools.pairwise(cuts)]
    return found


def _title(word: str) -> bool:
    return word[0].isupper() and word[1:].islower()


def is_name_pair(first: str, last: str, lexicon: NameLexicon) -> bool:
    """Do two adjacent words of a file name read "First Last"? (See the module's rules.)"""
    a, b = first.lower(), last.lower()
    if not (a.isalpha() and b.isalpha()) or min(len(a), len(b)) < _MIN_WORD:
        return False
    if len(a) + len(b) < _MIN_PAIR or a not in lexicon.first_names or b not in lexicon.last_names:
        return False
    if not lexicon.is_english(b):
        return True  # "gonzalez", "taylor": a surname and nothing else
    if lexicon.is_english(a):
        return False  # "rose_garden", "will_power": two ordinary words
    return _title(first) and _title(last)  # "John_Smith": not "max_power", "roberta_large"


def lexicon_spans(text: str, lexicon: NameLexicon | None = None) -> list[Span]:
    """PERSON spans of "First Last" word pairs in a name (rule (b))."""
    ws = path_words(text)
    found = []
    for w1, w2 in itertools.pairwise(ws):
        if text[w1.end : w2.start] not in _NAME_GAPS:
            continue
        if w1.text.isalpha() and w2.text.isalpha():
            lexicon = lexicon or plain_lexicon()  # loaded on the first pair of words (~0.5 s)
            if is_name_pair(w1.text, w2.text, lexicon):
                found.append(Span(w1.start, w2.end, ENTITY, 1.0, RECOGNIZER))
    return found


# Finds values in a text: a Matcher's hits or KnownValues matches, as (start, end, entity).
ValueFinder = Callable[[str], Sequence[tuple[int, int, str]]]


def matcher_finder(matcher) -> ValueFinder | None:
    """A fingerprint/canary Matcher (zones.leakcheck.fingerprints) as a ValueFinder."""
    if not matcher:
        return None
    return lambda text: [(h.start, h.end, h.entity_type) for h in matcher.scan_line(text)]


def known_values_finder(known) -> ValueFinder | None:
    """KnownValues (the identifier values a build learned from its tables) as a ValueFinder."""
    if not known:
        return None
    return lambda text: [
        (m.finding.start, m.finding.end, m.finding.entity_type) for m in known.find(text)
    ]


def known_spans(text: str, finders: Sequence[ValueFinder]) -> list[Span]:
    """Spans of the zone's known values in a name (rule (a)): looked up in the name's words
    joined by single spaces, so `JohnSmith`, `john.smith` and `JOHN_SMITH` all read
    "john smith"; each hit mapped back onto the name as written."""
    ws = path_words(text)
    if not ws or not finders:
        return []
    starts, pieces, at = [], [], 0
    for w in ws:
        starts.append(at)
        pieces.append(w.text)
        at += len(w.text) + 1
    spaced = " ".join(pieces)
    found = []
    for finder in finders:
        for start, end, entity in finder(spaced):
            first = max(i for i, s in enumerate(starts) if s <= start)
            last = max(i for i, s in enumerate(starts) if s < end)
            found.append(Span(ws[first].start, ws[last].end, entity, 1.0, RECOGNIZER))
    return found


@dataclass
class PeopleInNames:
    """Rules (a) and (b) together, for one zone: what a name holds of a person."""

    finders: tuple[ValueFinder, ...] = ()
    lexicon: NameLexicon | None = None  # the model-free lexicon unless given

    @classmethod
    def of(cls, *finders: ValueFinder | None) -> PeopleInNames:
        return cls(tuple(f for f in finders if f is not None))

    def spans(self, text: str) -> list[Span]:
        return known_spans(text, self.finders) + lexicon_spans(text, self.lexicon)
