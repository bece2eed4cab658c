"""The private Presidio and spaCy names scrubbers/fast_nlp relies on are still there, unchanged.

fast_nlp overrides or calls methods Presidio and spaCy do not promise to keep
(`AnalyzerEngine._enhance_using_context`, `SpacyNlpEngine._get_entities`, `Lemmatizer._validated`,
...). pyproject pins presidio-analyzer below 2.3, but a patch release may still change one of
them; these tests then fail with the name and the installed versions, instead of the engine
silently losing its speed-ups or, worse, computing other scores than Presidio would.
"""

from __future__ import annotations

import inspect
from importlib import metadata

import pytest
import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import (
    ContextAwareEnhancer,
    LemmaContextAwareEnhancer,
)
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler, Lemmatizer
from spacy.pipeline import attributeruler as attributeruler_module

from piizone.scrubbers.fast_nlp import LazyNlpArtifacts

CHECKED_AGAINST = "presidio-analyzer 2.2.366, spaCy 3.8.7"


def _installed() -> str:
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("presidio-analyzer", "spacy")
    )
    return f"installed: {versions}; fast_nlp was checked against {CHECKED_AGAINST}"


# (owner, name, the parameters fast_nlp calls it with or overrides it with, self excluded).
SIGNATURES = [
    # GroupingAnalyzerEngine overrides it; AnalyzerEngine.analyze must still call it.
    (
        AnalyzerEngine,
        "_enhance_using_context",
        ["text", "raw_results", "nlp_artifacts", "recognizers", "context"],
    ),
    # ThresholdAwareEnhancer._enhance repeats the enhancer's loop with these.
    (
        LemmaContextAwareEnhancer,
        "enhance_using_context",
        ["text", "raw_results", "nlp_artifacts", "recognizers", "context"],
    ),
    (LemmaContextAwareEnhancer, "_extract_surrounding_words", ["nlp_artifacts", "word", "start"]),
    (
        LemmaContextAwareEnhancer,
        "_find_supportive_word_in_context",
        ["context_list", "recognizer_context_list", "matching_mode"],
    ),
    # Overridden (a bisection instead of Presidio's scan).
    (
        LemmaContextAwareEnhancer,
        "_find_index_of_match_token",
        ["word", "start", "tokens", "tokens_indices"],
    ),
    (
        EntityRecognizer,
        "enhance_using_context",
        [
            "text",
            "raw_recognizer_results",
            "other_raw_recognizer_results",
            "nlp_artifacts",
            "context",
        ],
    ),
    # StagedPipeline builds the artifacts as SpacyNlpEngine._doc_to_nlp_artifact does.
    (SpacyNlpEngine, "_get_entities", ["doc"]),
    (SpacyNlpEngine, "_get_scores_for_entities", ["doc"]),
    (SpacyNlpEngine, "_get_updated_entities", ["entities", "scores"]),
    (SpacyNlpEngine, "process_batch", ["texts", "language", "batch_size"]),
    (NlpArtifacts, "set_keywords", ["nlp_engine", "lemmas", "language"]),
]


@pytest.mark.parametrize(
    ("owner", "name", "expected"),
    SIGNATURES,
    ids=[f"{getattr(o, '__name__', o)}.{n}" for o, n, _ in SIGNATURES],
)
def test_private_method_has_the_signature_fast_nlp_uses(owner, name, expected):
    where = f"{owner.__module__}.{owner.__name__}" if inspect.isclass(owner) else owner.__name__
    member = getattr(owner, name, None)
    assert member is not None, f"{where}.{name} is gone ({_installed()})"
    params = [p for p in inspect.signature(member).parameters if p != "self"]
    assert params[: len(expected)] == expected, (
        f"{where}.{name} now takes {params}, fast_nlp expects {expected} ({_installed()})"
    )


def test_constants_fast_nlp_reads():
    for owner, name in [
        (ContextAwareEnhancer, "MAX_SCORE"),
        (RecognizerResult, "RECOGNIZER_IDENTIFIER_KEY"),
        (RecognizerResult, "IS_SCORE_ENHANCED_BY_CONTEXT_KEY"),
    ]:
        assert hasattr(owner, name), f"{owner.__name__}.{name} is gone ({_installed()})"
    enhancer = LemmaContextAwareEnhancer()
    for name in (
        "context_similarity_factor",
        "min_score_with_context_similarity",
        "context_prefix_count",
        "context_matching_mode",
    ):
        assert hasattr(enhancer, name), (
            f"LemmaContextAwareEnhancer().{name} is gone ({_installed()})"
        )


def test_presidio_reads_only_the_artifacts_fields_lazy_artifacts_provide():
    """LazyNlpArtifacts skips NlpArtifacts.__init__: it must set every field that sets."""
    source = inspect.getsource(NlpArtifacts.__init__)
    fields = {
        line.split("=")[0].strip().removeprefix("self.")
        for line in source.splitlines()
        if line.strip().startswith("self.") and "=" in line
    }
    assert fields == {
        "entities",
        "tokens",
        "lemmas",
        "tokens_indices",
        "keywords",
        "nlp_engine",
        "scores",
    }, f"NlpArtifacts.__init__ now sets {sorted(fields)} ({_installed()})"
    lazy = inspect.getsource(LazyNlpArtifacts)
    for field in fields:
        assert f"self.{field}" in lazy or f"def {field}" in lazy, field


def test_presidio_still_calls_the_methods_fast_nlp_overrides():
    """An override Presidio no longer calls would leave the speed-up (and its exactness
    argument) behind without a sound."""
    calls = [
        (AnalyzerEngine.analyze, "self._enhance_using_context("),
        (LemmaContextAwareEnhancer._extract_surrounding_words, "self._find_index_of_match_token("),
        (LemmaContextAwareEnhancer.enhance_using_context, "self._extract_surrounding_words("),
        (LemmaContextAwareEnhancer.enhance_using_context, "copy.deepcopy("),
    ]
    for function, call in calls:
        assert call in inspect.getsource(function), (
            f"{function.__qualname__} no longer contains {call!r} ({_installed()})"
        )


def test_spacy_component_internals():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    assert isinstance(ruler, AttributeRuler)
    ruler.add([[{"ORTH": "Dr."}]], {"LEMMA": "doctor"}, index=0)
    # CachedAttributeRuler reads the rules as three parallel lists.
    for name in ("attrs", "indices", "patterns"):
        assert len(getattr(ruler, name, ())) == 1, f"AttributeRuler.{name} changed ({_installed()})"
    lemmatizer = nlp.add_pipe("lemmatizer", config={"mode": "rule"})
    assert isinstance(lemmatizer, Lemmatizer)
    for name in ("_validated", "lemmatize", "mode", "overwrite", "lookups"):
        assert hasattr(lemmatizer, name), f"Lemmatizer.{name} is gone ({_installed()})"
    # Cython functions carry no signature: called the way CachedAttributeRuler calls them.
    doc = nlp.make_doc("Dr. Who")
    matcher = Matcher(nlp.vocab)
    matcher.add("0", [[{"ORTH": "Dr."}]])
    try:
        found = matcher(doc, allow_missing=True, as_spans=False)
        attributeruler_module.set_token_attrs(doc[0], ruler.attrs[0])
    except (AttributeError, TypeError) as e:
        pytest.fail(f"spaCy's Matcher or set_token_attrs changed: {e} ({_installed()})")
    assert [(nlp.vocab.strings[m], s, e) for m, s, e in found] == [("0", 0, 1)]
    assert doc[0].lemma_ == "doctor"


def test_the_fast_path_is_on_for_the_installed_model(engine):
    """plan_stages and partial_late_stage_margin fall back to spaCy's full pipeline when they
    cannot show the split exact (a changed component or architecture): correct, but several
    times slower. With the installed model both must hold."""
    pipeline = engine._pipeline
    assert pipeline.enabled, f"fast_nlp runs the full spaCy pipeline ({_installed()})"
    assert pipeline.partial, f"fast_nlp's partial late stage is off ({_installed()})"
