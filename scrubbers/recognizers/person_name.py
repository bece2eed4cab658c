"""Person names that spaCy misses: lower-case ASR text, names after cues, spelled surnames.

spaCy's small English model finds "John Smith" in edited text but hardly ever "john smith" in a
speech-to-text transcript, nor a lone first name ("thanks kyle"), nor a spelled surname
("s m i t h"). This recognizer reads the words of each line (speaker labels excluded) against
name lists from the US Census (person_names.yaml beside this file):

- a cue ("my name is", "this is", "it's", "thanks", "speaking with", "mr", ...) followed by one
  to three listed names: score 0.85;
- a listed first name followed by a listed surname, anywhere: 0.75;
- a lone listed first name that is not an ordinary English word: 0.6 (in lower-case lines, or
  capitalised in edited text);
- three or more single letters after "spelled", "that's", "it's" ("d a v i s", "P-E-R-R-Y"),
  or four or more anywhere: 0.8;
- two or three initials right after "my name is", "his name is" ("b j"): 0.85.
In lines with capital letters only capitalised words count as names. Plain token logic: no NLP
artifacts, no spaCy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from faker.providers.lorem.en_US import Provider as _LOREM
from presidio_analyzer import RecognizerResult

from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer

_NAMES_FILE = Path(__file__).with_name("person_names.yaml")


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) of person_names.yaml (census lists), lower-case; read once."""
    data = yaml.safe_load(_NAMES_FILE.read_text(encoding="utf-8"))
    return frozenset(data["first_names"].split()), frozenset(data["last_names"].split())


_COMMON_WORDS = """
        a an and are as at be but by can could did do does for from had has have he her here him
        his how i if in into is it its just me more most my no not now of off ok okay on one or
        our out she so some than that the their them then there these they this those to too up
        us very was we were what when where which who why will with would yes yeah yep you your
        all also any ask back bank best big bill black blue board book born box brown call card
        care case cash center chance change check child church city clear close code cook cover
        date day deal dear doctor done down early east edge english even ever fall far fast field
        fine first fish five flower force free french friend full gay gold good grace grant great
        green grow guy hair hall hand happy hard head heart help high hill home hope house hunt
        joy just key king kind land lane large last law lay lead light like little long look lord
        love low lucky major man march mark mason may miles mill miller moon more much music new
        nice north number page park part pass pay penny person pink post power price prince
        rich right ring rock rose round royal rush sale sales say sea season see set ship short
        sky small snow son song soon south spring star stone story street strong summer sun sure
        sweet swift tell thank thanks time today tower true union upon wall ward water way well
        west white will win winter wise wood word work world young april june august july
        january february october november december monday tuesday wednesday thursday friday
        saturday sunday christmas easter autumn dawn daisy holly ivy iris lily ruby pearl amber
        crystal jewel faith charity patience honor honey candy cherry sugar angel baby sunny
        chase drew gene art pat sue ray don rob will bob wade gale gay major rich earl duke
        price lane hunter cash cook mason parker porter carter tanner taylor baker miller
        fisher hunter shepherd walker page chance ella pace case cross gray grey rice story
        golden summers winters banks hardy noble bright early little
        fine great good glad right correct perfect okay awesome sorry speaking calling
        hi hello hey please sir maam ma'am mam welcome again
        else carry see season soon miss many
        """
_STOP_AFTER = """
        a an and are as at be but by can could did do does for from had has have he her here him
        his how i if in into is it its me my no not now of off ok okay on or our out she so than
        that the their them then there they this to too up us was we were what when where which
        who why will with would yes yeah yep you your speaking calling here please thanks thank
        again sir maam ma'am mam spelled spelt spelling actually
        """


@dataclass(frozen=True)
class _Word:
    text: str  # lower-cased
    start: int
    end: int
    capitalised: bool


class PersonNameRecognizer(TextRecognizer):
    """Listed first names and surnames in context; spelled-out names."""

    ENTITY = "PERSON"
    SCORE_CUE = 0.85
    SCORE_PAIR = 0.75
    SCORE_SINGLE = 0.6
    SCORE_SPELLED = 0.8
    MAX_NAME_WORDS = 3

    # Phrases that introduce a name (lower case, single spaces); matched on the words just before.
    CUES = (
        "my name is", "my name's", "name is", "name's", "names", "this is", "i'm", "im", "i am",
        "it's", "its", "it is", "speaking with", "talking to", "speak to", "speak with",
        "thanks", "thank you", "holder is", "under", "named", "called", "mr", "mrs", "ms", "miss",
        "mister", "missus", "dr", "doctor", "dear", "hi", "hello", "hey", "bye", "goodbye",
        "my wife", "my husband", "my son", "my daughter", "my partner", "my mother",
        "my father", "my mom", "my dad", "my brother", "my sister", "agent", "officer",
    )  # fmt: skip
    # Cues strong enough that an unlisted word after them is a name: a capitalised word in edited
    # text ("my name is Priya"), any ordinary-looking word after "my name is" in lower-case text.
    STRONG_CUES = ("my name is", "my name's", "name is", "name's", "i'm", "i am", "this is",
                   "speaking with", "call me", "named")  # fmt: skip
    LOWER_STRONG_CUES = ("my name is", "my name's", "name is", "name's")
    SPELL_CUES = ("spelled", "spelt", "spelling", "that's", "thats", "it's", "its", "is", "as")
    # Ordinary English words that are also census first names or surnames: never a name on their
    # own, and never the start of one after a cue ("it's fine", "this is will"). General
    # vocabulary, not tuned on any benchmark text.
    COMMON_WORDS = frozenset(_COMMON_WORDS.split())
    # Words that end a name run even though they are listed surnames ("thanks kyle will ...").
    STOP_AFTER = frozenset(_STOP_AFTER.split())
    _SPEAKER_RE = re.compile(
        r"[ \t]*(?:\[[^\]\n]*\][ \t]*)?"
        r"[A-Za-z][\w.'-]{0,24}(?:[ \t](?:[0-9]{1,3}|[A-Za-z]))?[ \t]*:(?!\d)"
    )
    # Whole words of letters only: the letters of a code such as "zbrqe9d57fe77bfa" are no
    # words ("fe" was taken for a spelled name after "the batch code is").
    _WORD_RE = re.compile(r"(?<!\w)[^\W\d_]+(?:['’][^\W\d_]+)*(?!\w)")
    _GAP_RE = re.compile(r"[ \t]+")
    _LETTER_GAP_RE = re.compile(r"[ \t]*[-.]?[ \t]*")

    def load(self) -> None:
        self._first, self._last = name_lists()
        # Faker's English lorem list: ~1,000 everyday words (not its name lists).
        self._common = self.COMMON_WORDS | {w.lower() for w in _LOREM.word_list}
        self._cues = {tuple(c.split()) for c in self.CUES}
        self._spell_cues = set(self.SPELL_CUES)
        self._strong = {tuple(c.split()) for c in self.STRONG_CUES}
        self._lower_strong = {tuple(c.split()) for c in self.LOWER_STRONG_CUES}

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        """Find names in `text`; `nlp_artifacts` is not used."""
        if entities and self.ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        offset = 0
        for line in text.splitlines(keepends=True):
            results.extend(self._analyze_line(line, offset))
            offset += len(line)
        return results

    # -- one line ----------------------------------------------------------------------------------

    def _analyze_line(self, line: str, offset: int) -> list[RecognizerResult]:
        label = self._SPEAKER_RE.match(line)
        begin = label.end() if label else 0
        content = line[begin:]
        lower_line = content == content.lower()
        words = [
            _Word(m.group().lower().replace("’", "'"), offset + m.start(), offset + m.end(),
                  m.group()[0].isupper())
            for m in self._WORD_RE.finditer(line, begin)
        ]  # fmt: skip
        out: list[RecognizerResult] = []
        i = 0
        while i < len(words):
            spelled = self._spelled_run(line, offset, words, i)
            if spelled:
                out.append(self.result(words[i].start, words[spelled - 1].end, self.SCORE_SPELLED,
                                        "spelled-out letters"))  # fmt: skip
                i = spelled
                continue
            found = self._name_run(line, offset, words, i, lower_line)
            if found:
                end, score, reason = found
                out.append(self.result(words[i].start, words[end - 1].end, score, reason))
                i = end
                continue
            i += 1
        return out

    def _adjacent(self, line: str, offset: int, a: _Word, b: _Word, gap_re: re.Pattern) -> bool:
        return bool(gap_re.fullmatch(line[a.end - offset : b.start - offset]))

    def _cue_before(
        self, line: str, offset: int, words: list[_Word], i: int
    ) -> tuple[str, ...] | None:
        """The cue phrase that leads straight into word i, or None."""
        if i == 0:
            return None
        # A comma may sit after "thanks"; nothing else may.
        if line[words[i - 1].end - offset : words[i].start - offset].strip(" \t,"):
            return None
        for n in (3, 2, 1):
            if i - n < 0:
                continue
            phrase = tuple(w.text for w in words[i - n : i])
            if phrase in self._cues or phrase in self._strong:
                return phrase
        return None

    def _name_run(
        self, line: str, offset: int, words: list[_Word], i: int, lower_line: bool
    ) -> tuple[int, float, str] | None:
        first = words[i]
        cue = self._cue_before(line, offset, words, i)
        # In a line with capitals a lower-case word is a name only right after "my name is"
        # (chat and posts: "My name is ayesha and ...").
        typed_lower = not (lower_line or first.capitalised)
        if typed_lower and cue not in self._lower_strong:
            return None
        if len(first.text) < 2:
            return self._initials_after_name_cue(line, offset, words, i, cue)
        in_first, in_last = first.text in self._first, first.text in self._last
        # Everyday words start no name, except right after "my name is" in lower-case text
        # ("my name is will").
        if first.text in self._common and (cue not in self._lower_strong or typed_lower):
            return None
        unlisted_ok = cue is not None and (
            (cue in self._strong and first.capitalised and not lower_line)
            or (cue in self._lower_strong and not first.capitalised)
        )
        if not (in_first or in_last or unlisted_ok) or first.text in self.STOP_AFTER:
            return None
        end = i + 1
        while end < len(words) and end - i < self.MAX_NAME_WORDS:
            nxt = words[end]
            if not self._adjacent(line, offset, words[end - 1], nxt, self._GAP_RE):
                break
            if not (lower_line or nxt.capitalised) or nxt.text in self.STOP_AFTER:
                break
            listed = nxt.text in self._last or nxt.text in self._first
            if not listed and not (unlisted_ok and nxt.capitalised and not lower_line):
                break
            end += 1
        if cue is not None:
            return end, self.SCORE_CUE, "listed name after a cue"
        if in_first and end - i >= 2:
            return end, self.SCORE_PAIR, "listed first name and surname"
        if in_first and end - i == 1:
            return end, self.SCORE_SINGLE, "listed first name"
        return None

    def _initials_after_name_cue(
        self, line: str, offset: int, words: list[_Word], i: int, cue: tuple[str, ...] | None
    ) -> tuple[int, float, str] | None:
        """Two or three initials a person goes by, right after "my name is" / "his name is"
        (`cue`; "b j", "J. R."): a name of letters too short for the spelled-name rule."""
        if cue not in self._lower_strong:
            return None
        end = i
        while end < len(words) and len(words[end].text) == 1 and end - i < 3:
            if end > i and not self._adjacent(
                line, offset, words[end - 1], words[end], self._LETTER_GAP_RE
            ):
                break
            end += 1
        if end - i < 2 or end < len(words) and len(words[end].text) == 1:
            return None
        return end, self.SCORE_CUE, "initials after a name cue"

    def _spelled_run(self, line: str, offset: int, words: list[_Word], i: int) -> int | None:
        """End index of a run of single letters starting at i, or None."""
        end = i
        while end < len(words) and len(words[end].text) == 1:
            if end > i and not self._adjacent(
                line, offset, words[end - 1], words[end], self._LETTER_GAP_RE
            ):
                break
            end += 1
        run = end - i
        if run < 3:
            return None
        cue = i > 0 and words[i - 1].text in self._spell_cues
        return end if cue or run >= 4 else None
