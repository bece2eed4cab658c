"""Presidio NlpArtifacts whose lemmas and keywords are computed only when the enhancer reads them.

Reading a lemma that is not there yet raises `LemmasNeeded` before anything changed; the
engine then runs the late stage (scrubbers/fast_nlp/stages.py) and analyses the window again,
with the recognizers' first results handed back (`replay_results`).
"""

from __future__ import annotations

import bisect
from functools import cached_property

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.attrs import IDX, LEMMA


class LazyNlpArtifacts(NlpArtifacts):
    """NlpArtifacts whose lemmas and keywords exist only once the late stage ran on the Doc.

    Entities and scores are there from the start: the SpacyRecognizer reads them for every
    window. Reading lemmas before `StagedPipeline.complete` raises LemmasNeeded.
    """

    def __init__(self, doc, entities, scores, nlp_engine, language: str):
        # NlpArtifacts.__init__ would compute lemmas and keywords at once: not called on purpose.
        self.tokens = doc
        self.entities = entities
        self.nlp_engine = nlp_engine
        self.scores = scores if scores else [0.85] * len(entities)
        self._language = language
        self.ready = False  # set by StagedPipeline.complete
        # Each recognizer's results on this window, kept for the second analysis after
        # LemmasNeeded (see replay_results): recognizers read the text and NER, never lemmas.
        self.recognizer_results: dict[str, list[RecognizerResult]] = {}
        self._lemmas: list[str] | None = None
        self._keywords: list[str] | None = None
        self._indices: list[int] | None = None
        # Partial late stage (StagedPipeline.partial): lemmas of some tokens only, by index,
        # and the token ranges asked for since the last late-stage run.
        self.partial = False
        self.known: dict[int, str] = {}
        self.pending: list[tuple[int, int]] = []
        self._extra: frozenset[str] | None = None  # keyword parts from lemmas with a ':'

    def require_lemmas(self) -> None:
        if not self.ready:
            raise LemmasNeeded

    def want(self, start: int, end: int) -> bool:
        """Ask for the lemmas of tokens [start, end); True if some of them are not known."""
        start, end = max(0, start), min(len(self.tokens), end)
        if self.ready or all(i in self.known for i in range(start, end)):
            return False
        self.pending.append((start, end))
        return True

    @property
    def lemmas(self) -> list[str]:
        if self._lemmas is None:
            if self.partial and not self.ready:
                return _PartialLemmas(self)  # type: ignore[return-value]
            self.require_lemmas()
            strings = self.tokens.vocab.strings
            self._lemmas = [strings[h] for h in self.tokens.to_array(LEMMA).tolist()]
        return self._lemmas

    @lemmas.setter
    def lemmas(self, value: list[str]) -> None:
        self._lemmas = value

    @property
    def keywords(self) -> list[str]:
        if self._keywords is None:
            if self.partial and not self.ready:
                return _PartialKeywords(self)  # type: ignore[return-value]
            keywords = self.set_keywords(self.nlp_engine, self.lemmas, self._language)
            self._keywords = Keywords(keywords)
        return self._keywords

    @keywords.setter
    def keywords(self, value: list[str]) -> None:
        self._keywords = value

    def keyword_parts(self, lemma: str) -> list[str]:
        """What Presidio's keyword list gets from this one lemma (NlpArtifacts.set_keywords)."""
        return self.set_keywords(self.nlp_engine, [lemma], self._language)

    @cached_property
    def colon_tokens(self) -> list[int]:
        """Tokens whose lemma may hold a ':' (a ':' in their text, not punctuation only)."""
        doc, text = self.tokens, self.tokens.text
        found: list[int] = []
        at = text.find(":")
        while at >= 0:
            i = bisect.bisect_right(self.tokens_indices, at) - 1  # the token holding it
            if (not found or found[-1] != i) and not doc[i].is_punct:
                found.append(i)
            at = text.find(":", at + 1)
        return found

    def colon_parts(self) -> frozenset[str]:
        """The keyword parts that come from lemmas with a ':' (set_keywords splits keywords at
        ':'): the only way a word that is not a keyword by itself can be in the list."""
        if self._extra is None:
            parts = set()
            for i in self.colon_tokens:
                if i not in self.known:
                    self.want(i, i + 1)
                    raise LemmasNeeded
                parts.update(self.keyword_parts(self.known[i]))
            self._extra = frozenset(parts)
        return self._extra

    @property
    def tokens_indices(self) -> list[int]:
        if self._indices is None:
            self._indices = self.tokens.to_array(IDX).tolist()
        return self._indices

    @tokens_indices.setter
    def tokens_indices(self, value: list[int]) -> None:
        self._indices = value


class Keywords(list):
    """Presidio's keyword list, with membership by hash.

    The enhancer tests `lemma in keywords` for every word it walks past, and a window's list
    holds thousands of keywords: a list scan each time. The list itself is unchanged.
    """

    def __init__(self, items: list[str]):
        super().__init__(items)
        self._set = frozenset(items)

    def __contains__(self, item: object) -> bool:
        return item in self._set


# Tokens asked for around a result on the first try: the enhancer walks back until it has
# seen 5 keywords (plus the result's own token), ~7 tokens on transcripts. A walk that goes
# further asks again (_PartialLemmas), with LEMMAS_FURTHER more tokens.
LEMMAS_BACK, LEMMAS_AHEAD, LEMMAS_FURTHER = 20, 3, 48
# A window this short (tokens) gets the late stage whole: a part would be nearly as long.
SHORT_DOC = 64


class _PartialLemmas:
    """The lemma list the enhancer reads, with only some lemmas computed.

    Reading one that is not there asks for the tokens before it and raises LemmasNeeded; the
    enhancer works on copies, so nothing has changed yet (see ThresholdAwareEnhancer).
    """

    def __init__(self, artifacts: LazyNlpArtifacts):
        self._artifacts = artifacts

    def __len__(self) -> int:
        return len(self._artifacts.tokens)

    def __getitem__(self, i: int) -> str:
        known = self._artifacts.known.get(i)
        if known is None:
            self._artifacts.want(i - LEMMAS_FURTHER, i + LEMMAS_AHEAD + 1)
            raise LemmasNeeded
        return known


class _PartialKeywords:
    """Membership in Presidio's window-wide keyword list, from the lemmas the walk reads.

    The list holds the lowercased lemmas of the window that pass set_keywords's test, split at
    ':'. Every word the enhancer tests is the lowercased lemma of a token it walked past, so
    it is in the list if its lemma passes the test (the stop-word and punctuation tests do
    not depend on case, checked by `partial_late_stage_margin`), or if it is a part of a lemma
    with a ':' — and only tokens with a ':' in their text have one (checked there too).
    """

    def __init__(self, artifacts: LazyNlpArtifacts):
        self._artifacts = artifacts

    def __contains__(self, word: object) -> bool:
        artifacts = self._artifacts
        if not isinstance(word, str):
            return False
        if word == "-pron-":  # "-PRON-" fails the test, "-Pron-" passes: needs every lemma
            artifacts.want(0, len(artifacts.tokens))
            raise LemmasNeeded
        if ":" not in word and artifacts.keyword_parts(word) == [word]:
            return True  # its own lemma passes the list's test
        return word in artifacts.colon_parts()


def replay_results(recognizer) -> None:
    """Make `recognizer.analyze` compute its results once per window (LazyNlpArtifacts).

    A window that needs lemmas is analysed twice: the first time stops at the context
    enhancement, after every recognizer ran. Its recognizers read the text and the NER
    entities, which the late stage does not change, so the second time their first results
    are handed back instead of computed again. With other artifacts nothing changes.
    """
    compute = recognizer.analyze

    def analyze(text, entities, nlp_artifacts=None, *args, **kwargs):
        kept = getattr(nlp_artifacts, "recognizer_results", None)
        if kept is None:
            return compute(text, entities, nlp_artifacts, *args, **kwargs)
        if recognizer.id not in kept:
            kept[recognizer.id] = compute(text, entities, nlp_artifacts, *args, **kwargs)
        return kept[recognizer.id]

    recognizer.analyze = analyze


class LemmasNeeded(Exception):
    """A window's context enhancement needs lemmas that are not computed yet.

    Raised before Presidio changes anything; `Engine` collects such windows, runs the late stage
    on all of them in one batch and analyses them again (recognizers are deterministic).
    """
