"""Run only the spaCy work a window's findings need, with exactly the findings of the full run.

Where the time went (profile of `Engine.analyze_many` on the quality benchmark's sentences and
call transcripts, en_core_web_sm): NER ~45%, the tagging chain (tok2vec + tagger +
attribute_ruler + lemmatizer) ~30%, Presidio's recognizers and context enhancement the rest.
The tagging chain feeds one consumer: Presidio's `LemmaContextAwareEnhancer`, which reads lemmas
to raise the score of a pattern match that has a context word ("phone", "ssn") before it.

So the pipeline is split in two stages:
- early: tokenizer + NER (+ a tok2vec NER listens to), batched through `nlp.pipe`;
- late: the tagging chain, only for the windows whose enhancement can change a finding, batched
  over those windows (run per Doc, tok2vec's fixed cost per call would dominate short cells).
`ThresholdAwareEnhancer` decides per window whether the enhancement matters (see
`_enhancement_matters`); when it does and the lemmas are not there yet it raises `LemmasNeeded`
before anything is changed, `Engine` runs the late stage on all such windows of the batch and
analyses them again, handing back the recognizers' first results (`replay_results`). When it
does not, the enhancement (and its deep copy of every result) is skipped. In the late stage the
attribute ruler's single-token rules are looked up per (text, tag) (`CachedAttributeRuler`).

The late stage runs on the parts of a Doc the enhancer reads, not the whole Doc: the ~20
tokens before each result it may boost, cut out with a margin of context that makes their
lemmas those of the whole Doc (`partial_late_stage_margin`). A walk back that reads further
asks for more and the window is analysed again. On the benchmark transcripts this tags ~35%
of the tokens and halves the late stage.

Why this is exact, not approximate:
- NER's own embedding reads only lexical attributes (NORM, PREFIX, SUFFIX, SHAPE), which the
  tagging chain never writes (checked at load time: otherwise the full pipeline is used), and
  `nlp.pipe` hands NER the same minibatches as before. Running the chain later on the same Doc
  gives the same tags and lemmas: every layer of tok2vec/tagger works row by row, and
  attribute_ruler/lemmatizer are deterministic rules on the Doc.
- A result whose score even after the enhancer's boost stays below its entity's threshold is
  dropped by `Engine` whatever the enhancer does; Presidio's `remove_duplicates` lets a result
  remove only same-type results contained in it with a score no higher, which are below the
  threshold then too. A result already at the maximum score cannot change.
`benchmarks/check_findings.py` compares findings with the previous engine on the benchmark data.
"""

from __future__ import annotations

import bisect
import copy
import re
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import (
    ContextAwareEnhancer,
    LemmaContextAwareEnhancer,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.attrs import IDX, IS_STOP, LEMMA, LENGTH, MORPH, ORTH, POS
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler, Lemmatizer
from spacy.pipeline.attributeruler import set_token_attrs
from spacy.tokens import Doc

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
# further asks again (_PartialLemmas), with _FURTHER more tokens.
_BACK, _AHEAD, _FURTHER = 20, 3, 48
# A window this short (tokens) gets the late stage whole: a part would be nearly as long.
_SHORT_DOC = 64


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
            self._artifacts.want(i - _FURTHER, i + _AHEAD + 1)
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


class CachedAttributeRuler:
    """spaCy's AttributeRuler with its single-token rules looked up instead of matched.

    The attribute ruler was the costliest part of the late stage (~half of it on transcripts):
    its Matcher tries the model's 179 rules on every token, and almost all of them are
    single-token rules on the token's TAG and text (the tag map: TAG -> POS, MORPH; a few
    LEMMA exceptions). What such a rule does to a token depends only on the token's text and
    tag, so the rules that fire are computed once per (text, tag) by the same Matcher on a
    one-token Doc and cached. The other rules (several tokens, DEP) still go through a Matcher
    on the whole Doc; those that need a dependency label no token has without a parser (the
    staged pipeline runs none) are matched only on a Doc that has DEP annotation. All firings
    are applied in the ruler's own order (rule index, then position), so a later rule overrides
    an earlier one exactly as in spaCy. spaCy has no such mode; no library does this, hence by
    hand.
    """

    # Token attributes that are fixed by the token's own text, or its tag.
    _SINGLE_KEYS = {"TAG", "ORTH", "TEXT", "LOWER", "IS_SPACE"}
    _MAX_CACHE = 500_000

    def __init__(self, ruler):
        self.vocab = ruler.vocab
        self._attrs = ruler.attrs
        self._indices = ruler.indices
        self._single = Matcher(self.vocab)
        self._rest = Matcher(self.vocab)
        self._parsed = Matcher(self.vocab)  # rules that cannot fire on a Doc without DEP
        for rule_id, rule in enumerate(ruler.patterns):
            patterns = rule["patterns"]
            single = rule["index"] in (0, -1) and all(
                len(p) == 1 and {str(k).upper() for k in p[0]} <= self._SINGLE_KEYS
                for p in patterns
            )
            if single:
                self._single.add(str(rule_id), patterns)
            elif all(any(_excludes_no_dep(t) for t in p) for p in patterns):
                self._parsed.add(str(rule_id), patterns)
            else:
                self._rest.add(str(rule_id), patterns)
        self._cache: dict[tuple[int, int], tuple[int, ...]] = {}

    @classmethod
    def replacing(cls, component):
        """The cached ruler for an AttributeRuler component; any other component unchanged."""
        return cls(component) if type(component) is AttributeRuler else component

    def _rule_id(self, match_id: int) -> int:
        return int(self.vocab.strings[match_id])

    def _single_rules(self, text: str, tag: str) -> tuple[int, ...]:
        doc = Doc(self.vocab, words=[text])
        doc[0].tag_ = tag
        found = self._single(doc, allow_missing=True, as_spans=False)
        return tuple(sorted(self._rule_id(m) for m, _, _ in found))

    def __call__(self, doc):
        # (rule id, start, end, token index): the order spaCy applies them in
        firings: list[tuple[int, int, int, int]] = []
        cache = self._cache
        if len(cache) > self._MAX_CACHE:
            cache.clear()
        for token in doc:
            key = (token.orth, token.tag)
            rules = cache.get(key)
            if rules is None:
                rules = cache[key] = self._single_rules(token.text, token.tag_)
            firings.extend((rule, token.i, token.i + 1, token.i) for rule in rules)
        matches = self._rest(doc, allow_missing=True, as_spans=False)
        if len(self._parsed) and doc.has_annotation("DEP"):
            matches += self._parsed(doc, allow_missing=True, as_spans=False)
        for match_id, start, end in matches:
            rule = self._rule_id(match_id)
            index = self._indices[rule]
            target = doc[start:end][index].i  # IndexError for a bad index, as spaCy's check
            firings.append((rule, start, end, target))
        firings.sort()
        for rule, _, _, target in firings:
            set_token_attrs(doc[target], self._attrs[rule])
        return doc

    def pipe(self, docs, batch_size: int = 128):
        for doc in docs:
            yield self(doc)


def _excludes_no_dep(token_spec: dict) -> bool:
    """Does this token pattern refuse a token without a dependency label (DEP == "")?

    Only the plain forms are read (a value, IN, NOT_IN, REGEX); anything else counts as
    possibly matching, which keeps its rule in the Matcher that always runs.
    """
    spec = {str(k).upper(): v for k, v in token_spec.items()}.get("DEP")
    if spec is None:
        return False
    if isinstance(spec, str):
        return spec != ""
    if isinstance(spec, dict) and len(spec) == 1:
        ((op, value),) = spec.items()
        if op == "IN":
            return "" not in value
        if op == "NOT_IN":
            return "" in value
        if op == "REGEX":
            return re.search(value, "") is None
    return False


class CachedLemmatizer:
    """spaCy's rule lemmatizer with its per-token Python loop replaced by one cached lookup.

    spaCy's Lemmatizer walks the Doc in Python, building a Token for each word, and caches the
    rule result by (ORTH, POS, MORPH) already: the lemma is a function of those three. Here
    the three are read as one array, the cache maps them straight to the lemma's string hash,
    and the lemmas are written back as one array; a token that already has a lemma (set by the
    attribute ruler) keeps it, as spaCy does without `overwrite`. Other modes are unchanged.
    """

    _MAX_CACHE = 500_000

    def __init__(self, lemmatizer: Lemmatizer):
        self._lemmatizer = lemmatizer
        self._cache: dict[tuple[int, int, int], int] = {}

    @classmethod
    def replacing(cls, component):
        """The cached lemmatizer for a rule Lemmatizer; any other component unchanged."""
        rule = isinstance(component, Lemmatizer) and component.mode == "rule"
        return cls(component) if rule and not component.overwrite else component

    def __call__(self, doc):
        if not len(doc) or not self._lemmatizer._validated:
            return self._lemmatizer(doc)  # spaCy checks its tables on the first call
        rows = doc.to_array([ORTH, POS, MORPH, LEMMA])
        lemmas = rows[:, 3:4].copy()
        cache = self._cache
        if len(cache) > self._MAX_CACHE:
            cache.clear()
        strings = doc.vocab.strings
        for i, (orth, pos, morph, lemma) in enumerate(rows.tolist()):
            if lemma:
                continue
            value = cache.get((orth, pos, morph))
            if value is None:
                word = self._lemmatizer.lemmatize(doc[i])[0]
                value = cache[(orth, pos, morph)] = strings.add(word)
            lemmas[i, 0] = value
        doc.from_array([LEMMA], lemmas)
        return doc

    def pipe(self, docs, batch_size: int = 128):
        for doc in docs:
            yield self(doc)


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
        margin = partial_late_stage_margin(self.nlp, late) if self.enabled and late else None
        self.partial = margin is not None  # the late stage may run on parts of a Doc
        self._margin = margin or 0  # read only when partial

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
            n, margin = len(a.tokens), self._margin
            strings = sub.vocab.strings
            lemmas = sub.to_array(LEMMA).tolist()
            first = lo if lo == 0 else lo + margin
            last = hi if hi == n else hi - margin
            for i in range(first, last):
                a.known.setdefault(i, strings[lemmas[i - lo]])

    def _regions(self, a: LazyNlpArtifacts) -> list[tuple[int, int]] | None:
        """The pending token ranges with their margins, merged; None for the whole Doc."""
        n, margin = len(a.tokens), self._margin
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
        if len(tokens) <= _SHORT_DOC:
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
            asked |= artifacts.want(i - _BACK, i + _AHEAD + 1)
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
