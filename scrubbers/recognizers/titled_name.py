"""Names marked by a title, a credential or an initial: "Dr. Vasquez", "MR. EDWIN PRZYBYLO",
"Jane O'Connell, RN", "E. WELSH".

spaCy's small model misses most of these in clinical notes (ALL CAPS, lower case, "per dr.
smolarek") and in lists ("J. Russell 56 not out"), yet the title says a name follows whatever
the case of the text. The words after a title (or before a credential, or after an initial)
are a name unless they are ordinary English words that are not names ("DR AWARE", "Mr. President"
is kept out by the English-word gate; "Dr. Knight" is in by the name lists):
scrubbers/name_lexicon.py says where both lists come from.

- title + one to three name words (an initial may sit among them): score 0.85;
- one to three name words + a credential ("MD", "RN", "NP", "PA-C"): 0.8;
- an initial ("J." / "J") + a capitalised name word: 0.7 (a capitalised surname in mixed-case
  text, any surname-like word in ALL CAPS text).
Reads the text; the NLP artifacts only supply the loaded pipeline's English word list.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from piizone.scrubbers.name_lexicon import NameLexicon, Word, lexicon_wanted, words
from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer


class TitledNameRecognizer(TextRecognizer):
    """Names after a title, before a credential, or after an initial."""

    ENTITY = "PERSON"
    SCORE_TITLE = 0.85
    SCORE_CREDENTIAL = 0.8
    SCORE_INITIAL = 0.7
    MAX_NAME_WORDS = 3
    # Titles that put a person's name right after them (lower case, without the dot).
    TITLES = frozenset(
        (
            "dr", "doctor", "mr", "mrs", "ms", "mx", "miss", "mister", "missus", "prof",
            "professor", "nurse", "herr", "frau", "madame", "mme", "mlle", "monsieur", "sir",
            "dame", "lord", "lady", "rev", "reverend", "father", "sister", "brother", "capt",
            "captain", "sgt", "sergeant", "lieutenant", "colonel", "general", "governor",
            "senator", "president", "coach", "judge",
        )
    )  # fmt: skip
    # Titles that are also everyday words: a lower-case one needs a capitalised name after it
    # ("my sister Anna" yes, "the general public" no).
    WEAK_TITLES = frozenset(
        (
            "nurse", "sister", "brother", "father", "general", "president", "coach", "judge",
            "lord", "lady", "sir", "dame", "governor", "captain",
        )
    )  # fmt: skip
    CREDENTIALS = ("MD", "M.D.", "RN", "R.N.", "NP", "PA-C", "PhD", "DDS", "LPN", "CRNA")
    _CREDENTIAL_RE = re.compile(
        r"[ \t]*(?:,|/)?[ \t]*(?:" + "|".join(re.escape(c) for c in CREDENTIALS) + r")(?![\w])"
    )
    _GAP_RE = re.compile(r"[ \t]+")
    # After a title: "Dr. Smith", "DR.SMITH", "dr smith", "w/dr. smith".
    _AFTER_TITLE_RE = re.compile(r"\.?[ \t]*")
    _AFTER_INITIAL_RE = re.compile(r"\.?[ \t]+|\.")

    def __init__(self, supported_language: str = "en", lexicon: NameLexicon | None = None):
        super().__init__(supported_language)
        self.lexicon = lexicon

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        """Find titled names; `nlp_artifacts` only supplies the lexicon."""
        lexicon = lexicon_wanted(self.lexicon, self.ENTITY, entities, nlp_artifacts)
        if lexicon is None:
            return []
        ws = words(text)
        out: list[RecognizerResult] = []
        taken = -1  # end of the last name found: no overlapping results
        for i, w in enumerate(ws):
            if w.start < taken:
                continue
            found = self._after_title(text, ws, i, lexicon)
            if found is None:
                found = self._after_initial(text, ws, i, lexicon)
            if found is not None:
                start, end, score, reason = found
                out.append(self.result(start, end, score, reason))
                taken = end
        for r in self._before_credential(text, ws, lexicon):
            if not any(o.start < r.end and r.start < o.end for o in out):
                out.append(r)
        return out

    # -- the three shapes ---------------------------------------------------------------------

    def _after_title(
        self, text: str, ws: list[Word], i: int, lexicon: NameLexicon
    ) -> tuple[int, int, float, str] | None:
        title = ws[i]
        if title.lower not in self.TITLES or i + 1 >= len(ws):
            return None
        if not self._AFTER_TITLE_RE.fullmatch(text[title.end : ws[i + 1].start]):
            return None
        if title.text.islower() and title.lower in self.WEAK_TITLES and not ws[i + 1].capitalised:
            return None
        end = self._name_run(text, ws, i + 1, lexicon, lower_ok=not title.text[0].isupper()
                             or ws[i + 1].text.islower())  # fmt: skip
        if end is None:
            return None
        return ws[i + 1].start, ws[end - 1].end, self.SCORE_TITLE, "name after a title"

    def _after_initial(
        self, text: str, ws: list[Word], i: int, lexicon: NameLexicon
    ) -> tuple[int, int, float, str] | None:
        initial = ws[i]
        if len(initial.text) != 1 or not initial.text.isupper() or i + 1 >= len(ws):
            return None
        if text[initial.end : initial.end + 1] != ".":
            return None  # "J Smith" is too often a list letter or a grade
        if i > 0 and ws[i - 1].lower in self.TITLES:
            return None  # the title shape takes it
        nxt = ws[i + 1]
        if not self._AFTER_INITIAL_RE.fullmatch(text[initial.end : nxt.start]):
            return None
        if not nxt.capitalised or len(nxt.text) < 3:
            return None
        if not self._is_surname(nxt, lexicon, strict=True):
            return None
        end = self._name_run(text, ws, i + 1, lexicon, lower_ok=False)
        if end is None:
            return None
        return initial.start, ws[end - 1].end, self.SCORE_INITIAL, "initial and surname"

    def _before_credential(self, text: str, ws: list[Word], lexicon: NameLexicon):
        for i, w in enumerate(ws):
            m = self._CREDENTIAL_RE.match(text, w.end)
            if not m or w.text in self.CREDENTIALS:
                continue
            # Walk back over up to three name words (initials allowed) ending at word i.
            start = i
            while start > 0 and i - start + 1 < self.MAX_NAME_WORDS:
                prev = ws[start - 1]
                gap = text[prev.end : ws[start].start]
                if not re.fullmatch(r"\.?[ \t]+", gap) or not self._name_word(prev, lexicon):
                    break
                if prev.lower in self.TITLES:
                    break
                start -= 1
            if not all(self._name_word(x, lexicon) for x in ws[start : i + 1]):
                continue
            # No title vouches for these words: an English word needs Title case ("CALL HOUSE
            # MD" is an instruction, "Jane House, RN" a name).
            if any(lexicon.is_english(x.lower) and not _title_case(x) for x in ws[start : i + 1]):
                continue
            if not any(len(x.text) > 1 and x.capitalised for x in ws[start : i + 1]):
                continue
            yield self.result(ws[start].start, w.end, self.SCORE_CREDENTIAL,
                              "name before a credential")  # fmt: skip

    # -- words --------------------------------------------------------------------------------

    def _name_run(
        self, text: str, ws: list[Word], i: int, lexicon: NameLexicon, lower_ok: bool
    ) -> int | None:
        """End index of the name words starting at word i (initials allowed), or None."""
        end = i
        while end < len(ws) and end - i < self.MAX_NAME_WORDS:
            w = ws[end]
            if end > i:
                gap = text[ws[end - 1].end : w.start]
                initial_before = len(ws[end - 1].text) == 1
                if not (self._GAP_RE.fullmatch(gap) or (initial_before and gap in (".", ". "))):
                    break
            if len(w.text) == 1 and w.text.isalpha():
                # An initial inside a name: "Dr. L. Ruuska", "dr o rourke".
                if end + 1 < len(ws) and text[w.end : ws[end + 1].start] in (" ", ". ", "."):
                    end += 1
                    continue
                break
            if not (w.capitalised or lower_ok) or not self._name_word(w, lexicon):
                break
            if end > i and lexicon.is_english(w.lower) and not _title_case(w):
                break  # "MRS BRUCER FAIR": in capitals or lower case, a second word that is
                # also an English word more likely starts the sentence again
            end += 1
        # The run must hold one real name word, not just initials.
        while end > i and len(ws[end - 1].text) == 1:
            end -= 1
        return end if end > i else None

    def _name_word(self, w: Word, lexicon: NameLexicon) -> bool:
        if len(w.text) == 1:
            return w.text.isupper()
        # Only the base forms count here: the lemmatizer's suffix rules make "Brucer" a form
        # of "bruce"; a word right after a title is rarely an inflected English word.
        if w.lower in lexicon.english or w.lower in _NOT_NAMES:
            return lexicon.is_name(w.lower) and w.lower not in _NOT_NAMES
        return True

    def _is_surname(self, w: Word, lexicon: NameLexicon, strict: bool) -> bool:
        if lexicon.is_english(w.lower):
            return lexicon.is_name(w.lower) and w.lower not in _NOT_NAMES
        return True


def _title_case(w: Word) -> bool:
    return w.text[0].isupper() and not w.text.isupper()


# English words that the name lists hold but that follow a title or an initial as words
# ("DR AWARE", "MR WILL CALL"): function words and the verbs of clinical notes.
_NOT_NAME_WORDS = """
    aware notified paged called call will may can did does said says see seen saw here there
    in on at to of and or but the a an for with by from up re as is was are be been note notes
    order orders team office service services today tonight now then also please
    """
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())
