"""Presidio's analyzer and lemma context enhancer, doing only the work that can change a finding.

`GroupingAnalyzerEngine` groups the recognizer-level context step in one pass;
`ThresholdAwareEnhancer` skips the enhancement when no boosted result could pass its
threshold, and asks for the lemmas it will read (partial late stage) before it reads them.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import (
    ContextAwareEnhancer,
    LemmaContextAwareEnhancer,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.attrs import IDX, LENGTH

from piizone.scrubbers.fast_nlp.artifacts import (
    LEMMAS_AHEAD,
    LEMMAS_BACK,
    SHORT_DOC,
    LazyNlpArtifacts,
    LemmasNeeded,
)


class GroupingAnalyzerEngine(AnalyzerEngine):
    """Presidio's AnalyzerEngine, with the recognizer-level context step grouped in one pass.

    Presidio splits a window's results per recognizer with two scans of all results for each
    recognizer (~22 here): quadratic-ish on a window dense with findings. No recognizer here
    overrides `EntityRecognizer.enhance_using_context` (the default hands the results back),
    so for those the step only regroups the results in recognizer order, done here with one
    pass; a recognizer that does override it is called exactly as Presidio calls it.
    """

    def _enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
        groups: dict[str, list[RecognizerResult]] = {}
        for result in raw_results:
            groups.setdefault(result.recognition_metadata[key], []).append(result)
        results: list[RecognizerResult] = []
        for recognizer in recognizers:
            own = groups.get(recognizer.id, [])
            if type(recognizer).enhance_using_context is not EntityRecognizer.enhance_using_context:
                own = recognizer.enhance_using_context(
                    text=text,
                    raw_recognizer_results=list(own),
                    other_raw_recognizer_results=[
                        r for r in raw_results if r.recognition_metadata[key] != recognizer.id
                    ],
                    nlp_artifacts=nlp_artifacts,
                    context=context,
                )
            results.extend(own)
        return self.context_aware_enhancer.enhance_using_context(
            text=text,
            raw_results=results,
            nlp_artifacts=nlp_artifacts,
            recognizers=recognizers,
            context=context,
        )


class ThresholdAwareEnhancer(LemmaContextAwareEnhancer):
    """Presidio's default lemma enhancer, skipped when it cannot change a surviving finding."""

    def __init__(self, threshold: Callable[[str], float]):
        super().__init__()  # Presidio's defaults: factor 0.35, floor 0.4, 5 words before
        self._threshold = threshold
        self._ends_of = None  # the Doc whose token end offsets are in _ends
        self._ends: list[int] = []

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {r.id: r for r in recognizers}
        if context or self._enhancement_matters(raw_results, by_id):
            # Presidio deep-copies every result and then skips those it cannot enhance; only
            # the others are copied here (a transcript window holds hundreds of NER results).
            wanted = [_enhanceable(r, by_id) for r in raw_results]
            candidates = [r for r, w in zip(raw_results, wanted, strict=True) if w]
            if isinstance(nlp_artifacts, LazyNlpArtifacts):
                self._ask_for_lemmas(candidates, text, nlp_artifacts)
            enhanced = iter(self._enhance(candidates, text, nlp_artifacts, by_id, context))
            return [next(enhanced) if w else r for r, w in zip(raw_results, wanted, strict=True)]
        return raw_results

    def _enhance(
        self,
        candidates: list[RecognizerResult],
        text: str,
        nlp_artifacts: NlpArtifacts,
        by_id: dict,
        context: list[str] | None,
    ) -> list[RecognizerResult]:
        """LemmaContextAwareEnhancer.enhance_using_context's loop on results it would enhance,
        on copies that share what it never changes.

        Presidio's `copy.deepcopy` of each result (some 40 objects: explanation, metadata,
        pattern strings) took 1.7 s of a 21 s profile of a call log dense with findings. The
        enhancer only sets the score and the explanation's context fields, so a result, its
        explanation and its metadata are copied and the strings shared. A test holds the
        scores to Presidio's own enhancer's.
        """
        context = [word.lower() for word in context] if context else []
        results = [_copy_result(r) for r in candidates]
        if nlp_artifacts is None:
            return results  # as Presidio: nothing to read the context from
        for result in results:
            recognizer = by_id[
                result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY]
            ]
            surrounding = self._extract_surrounding_words(
                nlp_artifacts=nlp_artifacts,
                word=text[result.start : result.end],
                start=result.start,
            )
            surrounding.extend(context)
            supportive = self._find_supportive_word_in_context(
                surrounding, recognizer.context, self.context_matching_mode
            )
            if supportive != "":
                result.score += self.context_similarity_factor
                result.score = max(result.score, self.min_score_with_context_similarity)
                result.score = min(result.score, ContextAwareEnhancer.MAX_SCORE)
                result.analysis_explanation.set_supportive_context_word(supportive)
                result.analysis_explanation.set_improved_score(result.score)
        return results

    def _ask_for_lemmas(
        self, candidates: list[RecognizerResult], text: str, artifacts: LazyNlpArtifacts
    ) -> None:
        """Raise LemmasNeeded unless the lemmas the walks will most likely read are there: all
        of them, or (partial late stage) the tokens just before each candidate and those whose
        lemma may hold a ':'. A walk that reads further asks again (_PartialLemmas)."""
        if not artifacts.partial:
            artifacts.require_lemmas()
            return
        tokens = artifacts.tokens
        if len(tokens) <= SHORT_DOC:
            # A short window would be cut into one part nearly as long as itself.
            if artifacts.want(0, len(tokens)):
                raise LemmasNeeded
            return
        asked = False
        for result in candidates:
            i = self._find_index_of_match_token(
                text[result.start : result.end],
                result.start,
                artifacts.tokens,
                artifacts.tokens_indices,
            )
            asked |= artifacts.want(i - LEMMAS_BACK, i + LEMMAS_AHEAD + 1)
        for i in artifacts.colon_tokens:
            asked |= artifacts.want(i, i + 1)
        if asked:
            raise LemmasNeeded

    def _find_index_of_match_token(self, word, start, tokens, tokens_indices) -> int:
        """Presidio's lookup of the token at `start`, by bisection instead of a scan.

        Presidio walks the Doc from its first token for every result, which makes a 20,000-
        character window dense with findings quadratic (a third of the time on a long
        transcript). The answer is the same: the first token with `start == idx` or
        `start < idx + len`, i.e. the first token ending after `start` (tokens do not overlap
        and are never empty).
        """
        if self._ends_of is not tokens:
            self._ends_of = tokens
            self._ends = (tokens.to_array(IDX) + tokens.to_array(LENGTH)).tolist()
        i = bisect.bisect_right(self._ends, start)
        if i == len(self._ends):
            raise ValueError(f"Did not find word '{word}' in the list of tokens")
        return i

    def _enhancement_matters(self, results: list[RecognizerResult], by_id: dict) -> bool:
        """Could the boost change a result that then passes its threshold?"""
        for result in results:
            if not _enhanceable(result, by_id):
                continue  # the enhancer skips these too
            score = result.score
            if score == ContextAwareEnhancer.MAX_SCORE:
                continue  # min(max(1 + f, floor), 1) == 1
            # The same arithmetic as the enhancer's, so the comparison is exact.
            boosted = score + self.context_similarity_factor
            boosted = max(boosted, self.min_score_with_context_similarity)
            boosted = min(boosted, ContextAwareEnhancer.MAX_SCORE)
            if boosted >= self._threshold(result.entity_type):
                return True
        return False


def _enhanceable(result: RecognizerResult, by_id: dict) -> bool:
    """Would Presidio's enhancer look at this result at all (the same tests, in its order)?"""
    meta = result.recognition_metadata
    if not meta or RecognizerResult.RECOGNIZER_IDENTIFIER_KEY not in meta:
        return False
    recognizer = by_id.get(meta[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY])
    if not recognizer or not recognizer.context:
        return False
    return not meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)


def _copy_result(result: RecognizerResult) -> RecognizerResult:
    """A copy the enhancer may change: the result, its explanation and its metadata."""
    copied = copy.copy(result)
    if result.analysis_explanation is not None:
        copied.analysis_explanation = copy.copy(result.analysis_explanation)
    if result.recognition_metadata is not None:
        copied.recognition_metadata = dict(result.recognition_metadata)
    return copied
