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

from piizone.scrubbers.fast_nlp.artifacts import (
    Keywords,
    LazyNlpArtifacts,
    LemmasNeeded,
    replay_results,
)
from piizone.scrubbers.fast_nlp.components import CachedAttributeRuler, CachedLemmatizer
from piizone.scrubbers.fast_nlp.enhancer import GroupingAnalyzerEngine, ThresholdAwareEnhancer
from piizone.scrubbers.fast_nlp.stages import (
    StagedPipeline,
    partial_late_stage_margin,
    plan_stages,
)

__all__ = [
    "CachedAttributeRuler",
    "CachedLemmatizer",
    "GroupingAnalyzerEngine",
    "Keywords",
    "LazyNlpArtifacts",
    "LemmasNeeded",
    "StagedPipeline",
    "ThresholdAwareEnhancer",
    "partial_late_stage_margin",
    "plan_stages",
    "replay_results",
]
