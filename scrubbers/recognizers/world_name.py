"""Names of any origin that spaCy's small model misses or files under another label.

en_core_web_sm learned its names from American news: it tags "Wasim Akram" or "Marion Clignet"
ORG, "Lebouc" NORP, and leaves "Costantino Rocca", "Jouni Hahli" or "isaac asimov" untagged.
This recognizer reads the same Doc (NER entities and words, no tags or lemmas) against the name
lists of scrubbers/name_lexicon.py (US Census + every Faker locale) and the English word list:

- an NER entity with another label (ORG, NORP, PRODUCT, ...) that reads as a name: a listed
  first name that is not an English word followed by one or two name words, or (not for places)
  a single listed surname that is not an English word: 0.7 / 0.6;
- a listed first name that is not an English word, followed by one or two capitalised words that
  are not English words or are listed surnames ("Costantino Rocca", "Duygu Schakelaar"): 0.7;
  in lower-case text ("isaac asimov") the second word must not be an English word: 0.6;
- a lone capitalised listed first name that is not an English word, outside any place or
  organisation entity ("Hülya said"): 0.55.
"""

from __future__ import annotations

from presidio_analyzer import RecognizerResult

from piizone.scrubbers.case_restore import FILLERS
from piizone.scrubbers.name_lexicon import (
    NameLexicon,
    Word,
    dictionary_words,
    is_short_text,
    lexicon_wanted,
    words,
)
from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer


class WorldNameRecognizer(TextRecognizer):
    """Listed first names (any origin) with a surname; NER entities that read as names."""

    ENTITY = "PERSON"
    SCORE_RELABEL_PAIR = 0.7
    SCORE_RELABEL_SINGLE = 0.6
    SCORE_RELABEL_ORG = 0.55
    SCORE_PAIR = 0.7
    SCORE_LOWER_PAIR = 0.6
    SCORE_SINGLE = 0.55
    SCORE_UNLISTED_FIRST = 0.6
    SCORE_GREETED = 0.6
    MIN_LOWER_NAME = 4
    MAX_NAME_WORDS = 3
    # NER labels a name can hide under; places are handled apart (a surname alone may be a town).
    OTHER_LABELS = frozenset(
        {"ORG", "NORP", "PRODUCT", "WORK_OF_ART", "LAW", "EVENT", "LANGUAGE", "FAC", "GPE", "LOC"}
    )
    PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
    MIN_WORD = 2

    def __init__(self, supported_language: str = "en", lexicon: NameLexicon | None = None):
        super().__init__(supported_language)
        self.lexicon = lexicon

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        lexicon = lexicon_wanted(self.lexicon, self.ENTITY, entities, nlp_artifacts)
        if lexicon is None:
            return []
        doc = getattr(nlp_artifacts, "tokens", None)
        ents = list(doc.ents) if doc is not None and hasattr(doc, "ents") else []
        out: list[RecognizerResult] = []
        blocked: list[tuple[int, int]] = []  # place / organisation entities: no lone names
        for ent in ents:
            if ent.label_ in self.OTHER_LABELS:
                found = self._relabel(text, ent, lexicon)
                if found is not None:
                    out.append(found)
                elif ent.label_ in self.PLACE_LABELS or ent.label_ == "ORG":
                    blocked.append((ent.start_char, ent.end_char))
        for r in self._pairs(text, lexicon, blocked):
            if not any(o.start < r.end and r.start < o.end for o in out):
                out.append(r)
        return out

    # -- NER entities under another label -----------------------------------------------------

    def _relabel(self, text: str, ent, lexicon: NameLexicon) -> RecognizerResult | None:
        ws = [w for w in words(text[ent.start_char : ent.end_char])]
        if not ws or len(ws) > self.MAX_NAME_WORDS or not all(w.capitalised for w in ws):
            return None
        start, end = ent.start_char + ws[0].start, ent.start_char + ws[-1].end
        if len(ws) >= 2:
            first, rest = ws[0], ws[1:]
            if self._first_name(first, lexicon) and all(self._surname(w, lexicon) for w in rest):
                return self.result(start, end, self.SCORE_RELABEL_PAIR,
                                   f"{ent.label_} entity that reads as a name")  # fmt: skip
            return None
        if ent.label_ in self.PLACE_LABELS:
            return None
        w = ws[0]
        if len(w.text) < 3 or lexicon.is_english(w.lower):
            return None
        # An organisation of one Title-case word that is no English word is a person about as
        # often (en_core_web_sm tags "Kishan", "Ssundee", "Lebouc" ORG): acronyms ("NASA")
        # and listed-name checks aside, it counts as a name at a lower score.
        if ent.label_ == "ORG" and not lexicon.is_name(w.lower):
            if not _title(w):
                return None
            return self.result(start, end, self.SCORE_RELABEL_ORG,
                               "ORG entity of one unknown word")  # fmt: skip
        if lexicon.is_name(w.lower):
            return self.result(start, end, self.SCORE_RELABEL_SINGLE,
                               f"{ent.label_} entity that is a listed name")  # fmt: skip
        return None

    # -- first name + surname anywhere --------------------------------------------------------

    def _pairs(self, text: str, lexicon: NameLexicon, blocked: list[tuple[int, int]]):
        ws = words(text)
        lower_text = text == text.lower()
        # A post or a message, not a document: nothing shows its writer's case habits.
        short = is_short_text(text)
        i = 0
        while i < len(ws):
            w = ws[i]
            starts = (w.capitalised or lower_text) and self._first_name(w, lexicon)
            lone_lower = short and self._lower_first_name(w, lexicon)
            if not (starts or lone_lower):
                i += 1
                continue
            end = i + 1
            while end < len(ws) and end - i < self.MAX_NAME_WORDS:
                nxt = ws[end]
                gap = text[ws[end - 1].end : nxt.start]
                if gap not in (" ", "  ") and not (_initial(ws[end - 1]) and gap in (". ", ".")):
                    break
                if _initial(nxt) and not lower_text and end + 1 < len(ws):
                    end += 1  # a middle initial: "Laetitia H Paquette", "John F. Kennedy"
                    continue
                if lower_text:
                    ok = len(nxt.text) >= 3 and not lexicon.is_english(nxt.lower)
                else:
                    ok = nxt.capitalised and self._surname(nxt, lexicon)
                if not ok:
                    break
                end += 1
            after = ws[i + 1] if i + 1 < len(ws) else None
            while end > i + 1 and _initial(ws[end - 1]):
                end -= 1  # the name does not end on an initial
            if end > i + 1:
                score = self.SCORE_LOWER_PAIR if lower_text else self.SCORE_PAIR
                yield self.result(w.start, ws[end - 1].end, score, "first name and surname")
            elif (
                w.capitalised
                and not lower_text
                and not _inside(w, blocked)
                and not lexicon.is_english(w.lower)
                and not w.text.isupper()
                # "Victoria Station", "Jordan River": a capitalised word right after makes it
                # part of a place or a thing.
                and not (after and after.capitalised and text[w.end : after.start] == " ")
            ):
                yield self.result(w.start, w.end, self.SCORE_SINGLE, "listed first name")
            elif lone_lower:
                yield self.result(w.start, w.end, self.SCORE_SINGLE, "lower-case first name")
            i = end
        yield from self._unlisted_first_names(text, ws, lexicon, lower_text)
        yield from self._greeted(text, ws, lexicon, blocked, short)
        if short:
            yield from self._subjects(text, ws, lexicon, blocked, lower_text)

    def _unlisted_first_names(self, text: str, ws: list[Word], lexicon: NameLexicon, lower: bool):
        """A Title-case word that is no English word, before a listed surname that is no English
        word either: "Duygu Schakelaar" (a first name the lists lack, a surname they hold)."""
        if lower:
            return
        for a, b in zip(ws, ws[1:], strict=False):
            if text[a.end : b.start] != " " or not (_title(a) and _title(b)):
                continue
            if len(a.text) < 3 or lexicon.is_english(a.lower) or lexicon.is_name(a.lower):
                continue
            if lexicon.is_english(b.lower) or b.lower not in lexicon.last_names:
                continue
            yield self.result(a.start, b.end, self.SCORE_UNLISTED_FIRST, "word and listed surname")

    def _greeted(
        self,
        text: str,
        ws: list[Word],
        lexicon: NameLexicon,
        blocked: list[tuple[int, int]],
        short: bool,
    ):
        """A Title-case word that is no English word right after a greeting or thanks
        ("Hi Zorvan,", "Bye Capwin!", "thank you Hendo"): the person addressed, unless the
        model read it as an organisation or a place ("Thanks Google"). In a short text, a
        listed surname typed in lower case that no dictionary has too ("thanks rossi")."""
        for k, w in enumerate(ws):
            if k == 0 or len(w.text) < 3 or lexicon.is_english(w.lower):
                continue
            if not (_title(w) or short and self._lower_surname(w, lexicon)):
                continue
            if _inside(w, blocked) or _contraction(w):
                continue
            if text[ws[k - 1].end : w.start].strip(" ,"):
                continue
            one = ws[k - 1].lower
            two = f"{ws[k - 2].lower} {one}" if k >= 2 else ""
            if one in GREETINGS or two in GREETINGS:
                yield self.result(w.start, w.end, self.SCORE_GREETED, "word after a greeting")

    def _subjects(
        self,
        text: str,
        ws: list[Word],
        lexicon: NameLexicon,
        blocked: list[tuple[int, int]],
        lower_text: bool,
    ):
        """In a post, a word that is in no dictionary right before "is", "was", "has",
        "said", ... ("Thandeka is here", "zorbek said so"): the subject of a sentence that no
        dictionary knows is a name far more often than not. In Title case, or in lower case
        in a text with no capital at all (a lower-case word in a note with capitals is an
        abbreviation: "pnd will adjust"). Not after an article or a possessive ("your vedo
        is"), nor inside an organisation or a place entity."""
        for k, (w, verb) in enumerate(zip(ws, ws[1:], strict=False)):
            if verb.lower not in SUBJECT_VERBS or text[w.end : verb.start] != " ":
                continue
            if k > 0 and ws[k - 1].lower in DETERMINERS:
                continue
            if len(w.text) < 3 or not (_title(w) or lower_text) or _inside(w, blocked):
                continue  # lower case counts only where nothing is capitalised
            if lexicon.is_english(w.lower) or w.lower in FILLERS or w.lower in dictionary_words():
                continue
            if _contraction(w):
                continue
            yield self.result(w.start, w.end, self.SCORE_SINGLE, "unknown word before a verb")

    # -- words --------------------------------------------------------------------------------

    def _lower_surname(self, w: Word, lexicon: NameLexicon) -> bool:
        return (
            w.text.islower()
            and len(w.text) >= self.MIN_LOWER_NAME
            and w.lower in lexicon.last_names
            and w.lower not in FILLERS
            and w.lower not in dictionary_words()
        )

    def _lower_first_name(self, w: Word, lexicon: NameLexicon) -> bool:
        """A listed first name typed in lower case that is no English word ("emily", "diego")."""
        return (
            w.text.islower()
            and len(w.text) >= self.MIN_LOWER_NAME
            and lexicon.is_first_name(w.lower)
            and not lexicon.is_english(w.lower)
            and w.lower not in FILLERS
            and w.lower not in dictionary_words()
        )

    def _first_name(self, w: Word, lexicon: NameLexicon) -> bool:
        return (
            len(w.text) >= self.MIN_WORD
            and lexicon.is_first_name(w.lower)
            and w.lower not in lexicon.english
        )

    def _surname(self, w: Word, lexicon: NameLexicon) -> bool:
        if len(w.text) < self.MIN_WORD:
            return False
        if not lexicon.is_english(w.lower):
            return True
        # "Baker", "Knight": listed surnames that are words too count only in Title case.
        return lexicon.is_name(w.lower) and w.text[0].isupper() and not w.text.isupper()


# Greetings and thanks that address a person by name (lower case, single spaces).
GREETINGS = frozenset(
    ("hi", "hey", "hello", "bye", "goodbye", "thanks", "thank you", "dear", "congrats",
     "congratulations", "welcome", "love you", "miss you")
)  # fmt: skip


# Verbs that follow a person as the subject of a sentence in a post.
_SUBJECT_VERBS = """
    is was has had does did will would can could should must said says thinks knows
    wants loves hates laughs looks sounds wears plays sings knew thought wanted loved
    hated laughed looked sounded wore played sang
    """
SUBJECT_VERBS = frozenset(_SUBJECT_VERBS.split())
# Words after which a word is a thing, not a person ("the", "your", "every").
_DETERMINERS = "the a an this that these those my your his her our their its every each some any no"
DETERMINERS = frozenset(_DETERMINERS.split() + ["what", "which"])


_CONTRACTION_ENDS = ("d", "ll", "m", "re", "s", "t", "ve")


def _contraction(w: Word) -> bool:
    """ "I'd", "You're", "They'll": a pronoun and a verb, not a name ("O'Brien" is one)."""
    head, _, tail = w.lower.partition("'")
    return bool(tail) and tail in _CONTRACTION_ENDS


def _initial(w: Word) -> bool:
    return len(w.text) == 1 and w.text.isupper()


def _title(w: Word) -> bool:
    return w.text[0].isupper() and not w.text.isupper()


def _inside(w: Word, spans: list[tuple[int, int]]) -> bool:
    return any(a <= w.start and w.end <= b for a, b in spans)
