"""Which words are names (of any origin) and which are ordinary English words.

The recognizers that find names spaCy's small model misses gate every guess on two lists:

- **names**: the US Census lists shipped with PersonNameRecognizer (person_names.yaml) plus the
  first names and surnames of every locale Faker ships (86 locales, ~26,000 first names and
  ~24,000 surnames: Finnish "Jouni", Turkish "Hülya", Dutch "Schakelaar", ...). Faker is a
  maintained runtime dependency already, MIT-licensed, offline; its lists are read once per
  process (~0.5 s), so nothing derived from it has to be kept in step by hand.
- **English words**: the words of the spaCy pipeline's lemmatizer tables (WordNet's nouns,
  verbs, adjectives and adverbs, plus irregular forms) that Webster's Second or GCIDE write in
  lower case (WordNet lists "asimov" and "rossetti" too), and spaCy's stop words. A capitalised
  word that is not an English word is a name far more often than not; one that is
  ("Bank", "Street") needs more evidence. The tables come with the model the engine loaded, so
  no extra data package is needed; without a lemmatizer, only the stop words count.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from english_words import get_english_words_set
from faker.providers import person as _faker_person

from piizone.scrubbers.recognizers.person_name import name_lists

# Locales written in another script (ja_JP, zh_CN, ...) also list their names in Latin letters.
_NAME_ATTRS_FIRST = (
    "first_names",
    "first_names_male",
    "first_names_female",
    "first_romanized_names",
    "first_romanized_names_male",
    "first_romanized_names_female",
)
_NAME_ATTRS_LAST = ("last_names", "last_romanized_names")


def _entries(value) -> list[str]:
    if isinstance(value, dict):  # weighted lists: {name: frequency}
        return list(value)
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


@lru_cache(maxsize=1)
def faker_names() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, surnames) of every Faker locale, lower-cased, letters only."""
    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(_faker_person.__path__):
        provider = importlib.import_module(f"{_faker_person.__name__}.{module.name}").Provider
        for attrs, into in ((_NAME_ATTRS_FIRST, first), (_NAME_ATTRS_LAST, last)):
            for attr in attrs:
                for name in _entries(provider.__dict__.get(attr)):
                    # Scripts without case (Chinese, Arabic, ...) carry no capitalisation
                    # signal; multi-word and hyphenated entries are matched word by word.
                    for part in name.replace("-", " ").split():
                        if part.isalpha() and part.lower() != part.upper() and len(part) > 1:
                            into.add(part.lower())
    return frozenset(first), frozenset(last)


@dataclass(frozen=True)
class NameLexicon:
    first_names: frozenset[str] = field(repr=False)
    last_names: frozenset[str] = field(repr=False)
    english: frozenset[str] = field(repr=False)
    # The lemmatizer's suffix rules ("ing" -> "", "ies" -> "y"): an inflected form of an
    # English word ("placing", "agreed") is English too.
    suffix_rules: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    _seen: dict = field(default_factory=dict, compare=False, repr=False)

    def is_name(self, word: str) -> bool:
        w = word.lower()
        return w in self.first_names or w in self.last_names

    def is_first_name(self, word: str) -> bool:
        return word.lower() in self.first_names

    def is_english(self, word: str) -> bool:
        w = word.lower()
        known = self._seen.get(w)
        if known is None:
            known = w in self.english or any(
                w.endswith(old)
                and len(w) > len(old) + 1
                and w[: len(w) - len(old)] + new in self.english
                for old, new in self.suffix_rules
            )
            if len(self._seen) < 200_000:  # bounded: a memo of words seen, not of text
                self._seen[w] = known
        return known


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """Every word Webster's Second or GCIDE writes in lower case: both dictionaries capitalise
    proper nouns, and GCIDE (with WordNet's entries) adds words Webster's 1934 lacks ("email",
    "internet", "online"). Read once per process (~0.3 s)."""
    both = get_english_words_set(["web2", "gcide"], lower=False)
    return frozenset(w for w in both if w.islower())


def english_words(nlp) -> frozenset[str]:
    """The common words of a spaCy pipeline's lemmatizer tables, plus its stop words.

    The lemmatizer's tables come from WordNet, which also lists people and places in lower
    case ("asimov", "rossetti", "shakespeare"). Only words that Webster's Second or GCIDE (the
    `english-words` package) write in lower case count as common words.
    """
    common = dictionary_words()
    words = {w.lower() for w in nlp.Defaults.stop_words}
    inflected: set[str] = set()  # irregular forms of common words: "heard", "held"
    if "lemmatizer" in nlp.pipe_names:
        lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
        for table in ("lemma_index", "lemma_exc"):
            if lookups is None or not lookups.has_table(table):
                continue
            for entries in lookups.get_table(table).values():
                if isinstance(entries, dict):  # lemma_exc: irregular form -> its lemmas
                    words.update(w.lower() for w in entries)
                    for form, lemmas in entries.items():
                        words.update(f.lower() for f in lemmas)
                        if any(lemma.lower() in common for lemma in lemmas):
                            inflected.add(form.lower())
                else:
                    words.update(w.lower() for w in entries)
    stop = {w.lower() for w in nlp.Defaults.stop_words}
    # The dictionaries list headwords, not inflections: a form counts when its lemma does.
    return frozenset(
        w for w in words if w.isalpha() and (w in common or w in stop or w in inflected)
    )


def suffix_rules(nlp) -> tuple[tuple[str, str], ...]:
    """The (suffix, replacement) rules of a rule-based spaCy lemmatizer, all parts of speech."""
    if "lemmatizer" not in nlp.pipe_names:
        return ()
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_rules"):
        return ()
    rules = {
        (old, new)
        for pairs in lookups.get_table("lemma_rules").values()
        for old, new in pairs
        if old
    }
    return tuple(sorted(rules))


# Keyed by the pipeline object itself, held weakly: an entry goes with its pipeline. A key of
# `id(nlp)` outlived the pipeline, and a new pipeline at a reused address (another model) got
# the old one's English words.
_LEXICONS: weakref.WeakKeyDictionary[Any, NameLexicon] = weakref.WeakKeyDictionary()


def lexicon_for(nlp) -> NameLexicon:
    """The lexicon of one loaded spaCy pipeline (built once per pipeline per process)."""
    found = _LEXICONS.get(nlp)
    if found is None:
        census_first, census_last = name_lists()
        faker_first, faker_last = faker_names()
        stop = {w.lower() for w in nlp.Defaults.stop_words}
        found = _LEXICONS[nlp] = NameLexicon(
            # A few locales list function words as surnames ("the"): never names on their own.
            first_names=(census_first | faker_first) - stop,
            last_names=(census_last | faker_last) - stop,
            english=english_words(nlp),
            suffix_rules=suffix_rules(nlp),
        )
    return found


# Regular English inflections, for the lexicon without a lemmatizer's own rules: "scores",
# "results", "labels" and "features" are not Webster's headwords but are English all the same.
PLAIN_SUFFIX_RULES = (
    ("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
    ("er", ""), ("ers", ""),
)  # fmt: skip


@lru_cache(maxsize=1)
def plain_lexicon() -> NameLexicon:
    """The name lists without a spaCy pipeline, for words with no sentence around them (file
    and directory names), where loading a model for one name would cost seconds.

    The same names as `lexicon_for`; as English words, every word Webster's Second or GCIDE
    writes in lower case. That list is wider than a pipeline's (it has "mark", "maria" and
    "dev"), so a word that may be English is never taken for a name on the lists' word alone.
    """
    census_first, census_last = name_lists()
    faker_first, faker_last = faker_names()
    english = dictionary_words()
    return NameLexicon(
        first_names=census_first | faker_first,
        last_names=census_last | faker_last,
        english=english,
        suffix_rules=PLAIN_SUFFIX_RULES,
    )


# A word as names are written: letters, with inner apostrophes or hyphens (O'Connell, Jean-Luc).
_WORD_RE = re.compile(r"(?<![\w'’])[^\W\d_]+(?:['’-][^\W\d_]+)*(?![\w])")


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper()

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")


# A text with fewer letters than this is a post or a message, not a document: nothing in it
# shows its writer's case habits, and names in it are often typed in lower case.
SHORT_TEXT_LETTERS = 200


def is_short_text(text: str) -> bool:
    """Fewer than SHORT_TEXT_LETTERS letters; stops counting there (a long text costs little)."""
    if len(text) < SHORT_TEXT_LETTERS:
        return True
    letters = 0
    for c in text:
        if c.isalpha():
            letters += 1
            if letters >= SHORT_TEXT_LETTERS:
                return False
    return True


def words(text: str) -> list[Word]:
    """The letter words of `text` with their offsets (digits and codes are not words)."""
    found = []
    for m in _WORD_RE.finditer(text):
        end = m.end()
        if m.group()[-2:] in ("'s", "’s", "'S", "’S") and end - m.start() > 3:
            end -= 2  # a possessive: "Shearer's" is the name "Shearer"
        found.append(Word(text[m.start() : end], m.start(), end))
    return found


def lexicon_wanted(
    own: NameLexicon | None, entity: str, entities: list[str] | None, nlp_artifacts
) -> NameLexicon | None:
    """The lexicon a name recognizer reads; None when `entity` is not asked for or none loaded."""
    if entities and entity not in entities:
        return None
    return own or lexicon_of(nlp_artifacts)


def lexicon_of(nlp_artifacts) -> NameLexicon | None:
    """The lexicon of the pipeline behind a window's NLP artifacts, or None without one."""
    engine = getattr(nlp_artifacts, "nlp_engine", None)
    nlp = getattr(engine, "nlp", None) or {}
    pipeline = next(iter(nlp.values()), None) if isinstance(nlp, dict) else nlp
    return lexicon_for(pipeline) if pipeline is not None else None
