"""Faster drop-in replacements for spaCy late-stage components, with identical output:
the attribute ruler with its single-token rules cached per (text, tag), and the rule
lemmatizer with its per-token loop replaced by one cached lookup.
"""

from __future__ import annotations

import re

from spacy.attrs import LEMMA, MORPH, ORTH, POS
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler, Lemmatizer
from spacy.pipeline.attributeruler import set_token_attrs
from spacy.tokens import Doc


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
