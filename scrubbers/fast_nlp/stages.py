"""The two stages of the spaCy pipeline: which components run when, and on which tokens.

`plan_stages` splits the pipeline (NER early, the tagging chain late) when that is exact,
`partial_late_stage_margin` says how much context makes the late stage exact on part of a
Doc, and `StagedPipeline` runs both stages batched (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.attrs import IS_STOP, LEMMA
from spacy.pipeline import Lemmatizer

from piizone.scrubbers.fast_nlp.artifacts import LazyNlpArtifacts
from piizone.scrubbers.fast_nlp.components import CachedAttributeRuler, CachedLemmatizer

# Components whose only consumer is the lemma-based context enhancer (their factory names).
_LATE_FACTORIES = {"tok2vec", "tagger", "attribute_ruler", "lemmatizer", "morphologizer"}
# Components the early stage may run: NER and an embedding layer NER listens to.
_EARLY_FACTORIES = {"ner", "tok2vec"}
# Token attributes that only the tokenizer and the vocabulary set.
_LEXICAL_ATTRS = {"ORTH", "LOWER", "NORM", "PREFIX", "SUFFIX", "SHAPE", "SPACY", "IS_SPACE"}


def plan_stages(nlp) -> tuple[list[str], list[str]] | None:
    """(component names the late stage runs, names the early stage disables), in pipeline order.

    None when the split cannot be shown exact for this pipeline (unknown components, NER reading
    non-lexical attributes, an attribute_ruler writing lexical ones): the caller then runs
    everything up front, as before.
    """
    names = list(nlp.pipe_names)
    if "ner" not in names:
        return None
    factories = {name: nlp.get_pipe_meta(name).factory for name in names}
    early = {"ner"}
    for name in names:
        listeners = getattr(nlp.get_pipe(name), "listening_components", None) or []
        if factories[name] == "tok2vec" and "ner" in listeners:
            early.add(name)
    late = [n for n in names if n not in early]
    if any(factories[n] not in _LATE_FACTORIES for n in late):
        return None
    if any(factories[n] not in _EARLY_FACTORIES for n in early):
        return None
    for name in early:
        attrs = _features(nlp, name)
        if attrs is None or not attrs <= _LEXICAL_ATTRS:
            return None
    for name in late:
        if factories[name] == "attribute_ruler":
            written = {str(k).upper() for p in nlp.get_pipe(name).patterns for k in p["attrs"]}
            if written & _LEXICAL_ATTRS:
                return None
    return late, late


def _features(nlp, name: str) -> set[str] | None:
    """Token attributes the embedding of component `name` reads; None if it cannot be told."""
    component = nlp.get_pipe(name)
    model = component.model
    if nlp.get_pipe_meta(name).factory == "ner":
        if not model.has_ref("tok2vec"):
            return None
        model = model.get_ref("tok2vec")
        if any(node.name.startswith("tok2vec-listener") for node in model.walk()):
            return set()  # reads the early tok2vec's output; that one is checked itself
    for node in model.walk():
        if node.name == "extract_features" and node.attrs.get("columns"):
            return {str(c).upper() for c in node.attrs["columns"]}
    return None


def partial_late_stage_margin(nlp, late: list[str]) -> int | None:
    """Tokens of context each side that make the late stage's lemmas exact on a part of a Doc;
    None when that cannot be shown for this pipeline (then the late stage runs on whole Docs).

    tok2vec's encoder mixes `window_size` neighbours per layer, so a token's vector depends on
    the `depth * window_size` tokens each side; the tagger labels each vector alone; the
    attribute ruler's patterns span at most `longest` tokens, and the lemmatizer reads one
    token's text, POS and morphology. A token that far from a cut gets what it gets in the
    whole Doc (row-wise layers; tested on the benchmark data). Checked here too, because
    `_PartialKeywords` relies on it: no lemmatizer table or ruler lemma brings in a ':', and
    the stop-word test does not depend on case.
    """
    factories = {name: nlp.get_pipe_meta(name).factory for name in late}
    if sorted(factories.values()) != sorted(["tok2vec", "tagger", "attribute_ruler", "lemmatizer"]):
        return None
    config = nlp.config["components"]
    by_factory = {f: name for name, f in factories.items()}
    model = config[by_factory["tok2vec"]]["model"]
    embed, encode = model.get("embed", {}), model.get("encode", {})
    if (
        model.get("@architectures") != "spacy.Tok2Vec.v2"
        or embed.get("@architectures") != "spacy.MultiHashEmbed.v2"
        or encode.get("@architectures") != "spacy.MaxoutWindowEncoder.v2"
        or config[by_factory["tagger"]]["model"].get("@architectures") != "spacy.Tagger.v2"
    ):
        return None
    reach = int(encode["depth"]) * int(encode["window_size"])
    lemmatizer = nlp.get_pipe(by_factory["lemmatizer"])
    if not isinstance(lemmatizer, Lemmatizer) or lemmatizer.mode != "rule":
        return None
    rules = lemmatizer.lookups.get_table("lemma_rules", {})
    for pairs in rules.values():
        for old, new in pairs:
            if ":" in old or ":" in new or (old == "" and new != ""):
                return None
    for table in ("lemma_exc", "lemma_index"):
        for entries in lemmatizer.lookups.get_table(table, {}).values():
            words = entries.items() if isinstance(entries, dict) else ((w, [w]) for w in entries)
            for word, lemmas in words:
                if ":" in word or any(":" in lemma for lemma in lemmas):
                    return None
    ruler = nlp.get_pipe(by_factory["attribute_ruler"])
    longest = 1
    for rule in ruler.patterns:
        longest = max([longest, *(len(p) for p in rule["patterns"])])
        if ":" in str(rule["attrs"].get("LEMMA", "")):
            return None
    is_stop = nlp.vocab.lex_attr_getters.get(IS_STOP)
    stops = nlp.Defaults.stop_words
    if is_stop is None or not all(is_stop(w.upper()) and is_stop(w.title()) for w in stops):
        return None
    return reach + longest - 1


class StagedPipeline:
    """Early stage batched through `nlp.pipe`; late stage batched over the windows that need it."""

    # Above this share of a Doc's tokens, the late stage runs on the whole Doc (a part costs a
    # copy of its tokens, and its margins are computed twice where parts meet).
    WHOLE_SHARE = 0.6

    def __init__(self, nlp_engine, language: str):
        self.nlp_engine = nlp_engine
        self.language = language
        self.nlp = nlp_engine.nlp[language]
        stages = plan_stages(self.nlp)
        self.enabled = stages is not None
        late, disabled = stages if stages is not None else ([], [])
        self._late = [
            CachedLemmatizer.replacing(CachedAttributeRuler.replacing(self.nlp.get_pipe(name)))
            for name in late
        ]
        self._disabled = disabled
        # What a pass that needs NER entities only may disable (a second NER pass).
        self.early_disabled = list(disabled)
        self.late_runs = 0  # windows that needed lemmas (for profiling)
        self._margin = partial_late_stage_margin(self.nlp, late) if self.enabled and late else None
        self.partial = self._margin is not None  # the late stage may run on parts of a Doc

    def complete(self, artifacts: list[LazyNlpArtifacts], batch_size: int) -> None:
        """Run the late stage for these windows, batched (per Doc, tok2vec's fixed cost
        dominates short texts): on the parts of their Docs the enhancer asked for, or on a
        whole Doc when the parts would cover most of it."""
        self.late_runs += len(artifacts)
        whole: list[LazyNlpArtifacts] = []
        parts: list[tuple[LazyNlpArtifacts, int, int]] = []
        for a in artifacts:
            regions = self._regions(a) if a.partial else None
            a.pending = []
            if regions is None:
                whole.append(a)
            else:
                parts.extend((a, lo, hi) for lo, hi in regions)
        docs = [a.tokens for a in whole] + [a.tokens[lo:hi].as_doc() for a, lo, hi in parts]
        for component in self._late:
            docs = list(component.pipe(docs, batch_size=batch_size))
        for a in whole:
            a.ready = True
        for (a, lo, hi), sub in zip(parts, docs[len(whole) :], strict=True):
            n, margin = len(a.tokens), self._margin or 0  # parts come only with a margin
            strings = sub.vocab.strings
            lemmas = sub.to_array(LEMMA).tolist()
            first = lo if lo == 0 else lo + margin
            last = hi if hi == n else hi - margin
            for i in range(first, last):
                a.known.setdefault(i, strings[lemmas[i - lo]])

    def _regions(self, a: LazyNlpArtifacts) -> list[tuple[int, int]] | None:
        """The pending token ranges with their margins, merged; None for the whole Doc."""
        n, margin = len(a.tokens), self._margin
        if margin is None:  # the late stage cannot run on parts: the whole Doc
            return None
        merged: list[list[int]] = []
        for lo, hi in sorted(a.pending):
            lo, hi = max(0, lo - margin), min(n, hi + margin)
            if merged and lo <= merged[-1][1] + margin:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        if sum(hi - lo for lo, hi in merged) >= self.WHOLE_SHARE * n:
            return None
        return [(lo, hi) for lo, hi in merged]

    def artifacts(self, texts: Sequence[str], batch_size: int) -> Iterator[NlpArtifacts]:
        if not self.enabled:
            for _, artifacts in self.nlp_engine.process_batch(
                list(texts), self.language, batch_size=batch_size
            ):
                yield artifacts
            return
        engine = self.nlp_engine
        for doc in self.nlp.pipe(texts, batch_size=batch_size, disable=self._disabled):
            # As SpacyNlpEngine._doc_to_nlp_artifact, without the eager lemmas.
            entities = engine._get_entities(doc)
            scores = engine._get_scores_for_entities(doc)
            entities, scores = engine._get_updated_entities(entities, scores)
            artifacts = LazyNlpArtifacts(doc, entities, scores, engine, self.language)
            artifacts.partial = self.partial
            yield artifacts
