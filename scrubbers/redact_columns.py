"""One redaction's shared state: column plans, value caches, known values and counts.

`RedactJob` decides how each table column is handled (on its first chunk, for the whole
file), learns the identifier values a table holds (known values), and redacts free-text
values once per distinct value. scrubbers/redact_formats.py reads and writes each format
through it; scrubbers/redact.py is the public entry point.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from piizone.scrubbers.entities import Risk, entity_risk
from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import LINE_BREAK, Finding
from piizone.scrubbers.formats import (
    MAX_JSON_BYTES,
    UTF8,
    detect_encoding,
    iter_jsonl_records,
    iter_table_chunks,
    open_text,
)
from piizone.scrubbers.known_values import KNOWN_VALUE_RECOGNIZER, KnownValues, merge_findings
from piizone.scrubbers.policy import Operator
from piizone.scrubbers.progress import (
    LEARNING,
    REDACTING,
    ItemProgress,
    ProgressCallback,
    ReadMeter,
    counting_rows,
    rows_share,
)
from piizone.scrubbers.tables import KIND_IDENTIFIER, classify_column, header_hint
from piizone.scrubbers.text_passes import TextPass

if TYPE_CHECKING:  # the engine loads Presidio and spaCy; only type hints need it here
    from piizone.scrubbers.engines import AnalysisEngine
    from piizone.scrubbers.operators import Redactor


# A free-text value's redaction: text, entity counts, findings and the known values among them.
CachedRedaction = tuple[str, Counter[str], list[Finding], dict[tuple[int, int], str]]
_VALUE_CACHE = 20_000  # distinct free-text values remembered per column (tables repeat values)


@dataclass
class RedactSummary:
    """What a redaction did, in counts: never a value, never a path's content."""

    format: str
    rows: int = 0  # table rows, JSON records or text lines
    entities: dict[str, int] = field(default_factory=dict)  # values replaced, per entity
    columns: dict[str, str] = field(default_factory=dict)  # column -> how it was handled
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    invalid_bytes: int = 0  # input bytes that could not be decoded (replaced)
    encoding: str = "utf-8"  # of the input, and so of the output (parquet: n/a)
    # Of `entities`: spans found as known values (piizone.scrubbers.known_values), per entity.
    known_values: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def one_line(self) -> str:
        counts = ", ".join(
            f"{e} {n}" for e, n in sorted(self.entities.items(), key=lambda kv: -kv[1])
        )
        unit = "lines" if self.format == "txt" else "rows"
        return (
            f"redacted {self.rows} {unit} ({self.format}) in {self.seconds:.1f} s: "
            f"{counts or 'no PII found'}"
        )


@dataclass
class ColumnPlan:
    """How one column is handled for the whole file."""

    action: str  # drop | keep | operator | scan
    label: str
    operator: Operator | None = None
    entity: str | None = None


def _column_entity(column: str) -> str:
    """The entity a column rule's operator names its tokens after: its header's, or its name."""
    hint = header_hint(column)
    if hint:
        return hint
    name = "".join(c if c.isalnum() else "_" for c in column.upper()).strip("_")
    return name or "COLUMN"


def _non_empty_strings(series: pd.Series) -> np.ndarray:
    """Mask of the cells holding a string with something besides whitespace."""
    try:
        mask = series.str.strip().str.len() > 0
    except AttributeError:  # no strings at all in an object column
        return np.zeros(len(series), dtype=bool)
    return mask.fillna(False).to_numpy(dtype=bool)


class RedactJob:
    """One redaction: the column plans, value caches and counts shared by its chunks."""

    def __init__(
        self,
        engine: AnalysisEngine,
        redactor: Redactor,
        summary: RedactSummary,
        progress: ProgressCallback | None,
        name: str,
        size: int,
    ):
        self.engine, self.redactor, self.summary = engine, redactor, summary
        self.policy = redactor.policy  # column rules and operators; the engine only detects
        self.progress, self.name, self.size = progress, name, size
        # Bytes of the input through the redaction (started by the caller, after reading ahead).
        self.advance = ItemProgress(progress, REDACTING, name, size or None)
        self.plans: dict[str, ColumnPlan] = {}
        self.caches: dict[str, dict[str, CachedRedaction]] = {}
        self.counts: Counter[str] = Counter()
        self.on_pass: Callable[[TextPass], None] | None = None  # text files: sees each pass
        # Known PII values (piizone.scrubbers.known_values), and the current chunk's own per row.
        self.known: KnownValues | None = None
        self.row_values: list[list[tuple[str, str]]] | None = None
        self.learned_rows = 0

        self.encoding = UTF8  # of the input; the output is written in it too
        self._encoder: Any = None

    def set_encoding(self, source: Path, fmt: str) -> None:
        """Read (and write) text formats in the input's encoding: a UTF-16 file stays UTF-16."""
        if fmt != "parquet":
            self.encoding = detect_encoding(source)
            self.summary.encoding = self.encoding.codec

    def encode(self, text: str) -> bytes:
        """`text` in the output encoding; the first call puts the input's BOM in front."""
        if self._encoder is None:
            self._encoder = self.encoding.encoder()
            return self.encoding.bom + self._encoder.encode(text)
        return self._encoder.encode(text)

    def tick(self, done: int) -> None:
        self.advance(done)

    def count(self, entities: Counter[str] | dict[str, int], times: int = 1) -> None:
        for entity, n in entities.items():
            self.summary.entities[entity] = self.summary.entities.get(entity, 0) + n * times

    def count_known(self, findings: Iterable, times: int = 1) -> None:
        known = self.summary.known_values
        for f in findings:
            if f.recognizer == KNOWN_VALUE_RECOGNIZER:
                known[f.entity_type] = known.get(f.entity_type, 0) + times

    # --- known values ----------------------------------------------------------------------

    def _learned_entity(self, name: str, plan: ColumnPlan) -> str | None:
        """The entity a column's values are known PII of, if the plan says they all are."""
        entity: str | None
        if plan.action == "operator" and plan.entity is not None:
            if plan.operator is not None and plan.operator.type == "keep":
                return None
            entity = plan.entity
        elif plan.action == "drop":
            entity = header_hint(name)  # a dropped "full_name" still names people elsewhere
        else:
            return None
        return entity if entity and entity_risk(entity) >= Risk.MEDIUM else None

    def learn_columns(self, columns: dict[str, pd.Series], size: int) -> None:
        """Learn a chunk's identifier values: table-wide, and per row for its own cells."""
        if self.known is None:
            self.row_values = None
            return
        self.learned_rows += size
        rows: list[list[tuple[str, str]]] = [[] for _ in range(size)]
        for name, series in columns.items():
            plan = self.plans.get(name)
            entity = self._learned_entity(name, plan) if plan is not None else None
            if entity is None:
                continue
            for i, value in enumerate(series.tolist()):
                if isinstance(value, str) and value.strip():
                    rows[i].append((entity, value))
                    self.known.add(entity, value)
        self.row_values = rows if any(rows) else None

    def learn_frame(self, chunk: pd.DataFrame) -> None:
        columns = {}
        for column in chunk.columns:
            series = chunk[column]
            self.plan(str(column), series, is_textual(series))
            columns[str(column)] = series
        self.learn_columns(columns, len(chunk))

    def learn_file(self, source: Path, fmt: str, chunk_rows: int) -> None:
        """Read a table file once ahead, planning its columns and learning their values.
        Progress: the phase `learning`, in bytes read (Parquet: its share of the rows)."""
        reading = ItemProgress(self.progress, LEARNING, self.name, self.size or None)
        reading.start()
        with ReadMeter() as meter:
            self._learn_file(source, fmt, chunk_rows, reading, meter)
        reading.finish()
        self.row_values = None

    def _learn_file(
        self, source: Path, fmt: str, chunk_rows: int, reading: ItemProgress, meter: ReadMeter
    ) -> None:
        if fmt in ("csv", "tsv"):
            for chunk in iter_table_chunks(source, fmt, chunk_rows):
                self.learn_frame(chunk)
                reading(meter.position)
        elif fmt == "parquet":
            try:
                pf = pq.ParquetFile(source)
                rows, total = 0, max(pf.metadata.num_rows, 1)
                for batch in pf.iter_batches(batch_size=chunk_rows):
                    columns = {}
                    for i, f in enumerate(pf.schema_arrow):
                        textual = pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                        series = batch.column(i).to_pandas() if textual else pd.Series(dtype=object)
                        self.plan(f.name, series, textual)
                        if textual:
                            columns[f.name] = series
                    self.learn_columns(columns, batch.num_rows)
                    rows += batch.num_rows
                    reading(rows_share(self.size, rows, total))
            except (pa.ArrowException, OSError) as e:
                raise InputError(
                    f"{source}: not a readable Parquet file ({type(e).__name__})"
                ) from None
        elif fmt in ("jsonl", "json"):
            records = self._record_chunks(source, fmt, chunk_rows)
            # A JSON document is read whole: by rows (ReadMeter.done).
            for chunk in counting_rows(records, lambda rows: reading(meter.done(rows, self.size))):
                self.learn_records(chunk)

    def learn_records(self, records: list[dict]) -> None:
        """Plan a chunk of JSON records' top-level fields and learn their identifier values."""
        fields = list(dict.fromkeys(k for r in records for k in r))
        columns = {}
        for name in fields:
            strings = [r.get(name) if isinstance(r.get(name), str) else None for r in records]
            present = pd.Series([v for v in strings if v is not None], dtype=object)
            if name not in self.plans:
                self.plan(name, present, textual=not present.empty)
            columns[name] = pd.Series(strings, dtype=object)
        self.learn_columns(columns, len(records))

    def _record_chunks(self, source: Path, fmt: str, chunk_rows: int) -> Iterator[list[dict]]:
        if fmt == "jsonl":
            for records, _ in iter_jsonl_records(source, chunk_rows):
                yield records
            return
        if source.stat().st_size > MAX_JSON_BYTES:
            return  # the redaction pass refuses it with the error
        with open_text(source) as f:
            try:
                value = json.load(f)
            except json.JSONDecodeError:
                return
        records = [value] if isinstance(value, dict) else value
        if isinstance(records, list) and all(isinstance(v, dict) for v in records):
            ReadMeter.expect_rows(len(records))
            for i in range(0, len(records), chunk_rows):
                yield records[i : i + chunk_rows]

    # --- columns -------------------------------------------------------------------------

    def plan(self, name: str, series: pd.Series, textual: bool) -> ColumnPlan:
        """The column's plan, decided on its first chunk and kept for the whole file."""
        plan = self.plans.get(name)
        if plan is None:
            plan = self.plans[name] = self._decide(name, series, textual)
            self.summary.columns[name] = plan.label
        return plan

    def _decide(self, name: str, series: pd.Series, textual: bool) -> ColumnPlan:
        rule = self.policy.column_rule(name)
        if isinstance(rule, Operator) and rule.type in ("drop", "keep"):
            rule = rule.type
        if rule in ("drop", "keep", "scan"):
            return ColumnPlan(str(rule), f"{rule} (policy)")
        if isinstance(rule, Operator):
            entity = _column_entity(name)
            return ColumnPlan("operator", f"{rule.type} (policy)", rule, entity)
        if not textual:
            return ColumnPlan("keep", "non-string")
        profile = classify_column(self.engine, name, series)
        if profile.kind == KIND_IDENTIFIER and profile.classification:
            entity = profile.classification
            operator = self._identifier_operator(entity)
            if operator.type in ("drop", "keep"):
                return ColumnPlan(operator.type, f"identifier {entity}: {operator.type}")
            return ColumnPlan("operator", f"identifier {entity}", operator, entity)
        if profile.scan_values:
            return ColumnPlan("scan", profile.kind)
        return ColumnPlan("keep", profile.kind)

    def _identifier_operator(self, entity: str) -> Operator:
        """The redactor's operator for an identifier column; says once (a summary warning)
        when `identifier_columns: pseudonymize` falls back for want of a key."""
        operator = self.redactor.identifier_operator(entity)
        wanted = self.policy.identifier_operator(entity)
        if wanted.type == "pseudonymize" and operator.type != "pseudonymize":
            note = self.redactor.key_fallback_note()
            if note and note not in self.summary.warnings:
                self.summary.warnings.append(note)
        return operator

    def transform(self, name: str, plan: ColumnPlan, series: pd.Series) -> pd.Series:
        """`series` with the plan applied; values it does not touch keep their identity."""
        if plan.action == "operator":
            return self._apply_operator(plan, series)
        if plan.action == "scan":
            return self._scan(name, series)
        return series

    def _apply_operator(self, plan: ColumnPlan, series: pd.Series) -> pd.Series:
        assert plan.operator is not None and plan.entity is not None
        if plan.label.endswith("(policy)"):
            # A column rule covers every non-empty value, numbers included (they become text).
            series = series.map(lambda v: v if v is None or isinstance(v, str) else _scalar(v))
        operator, entity = plan.operator, plan.entity
        if operator.type in ("replace", "redact"):
            # The output does not depend on the value: one call, not one per distinct value;
            # but a multi-line cell keeps its lines (one replacement per line, operators.py).
            constant = self.redactor.apply_operator(operator, entity, "")

            def constants(uniques: list[str], _: list[int]) -> list[str]:
                return [
                    constant
                    if LINE_BREAK.search(v) is None
                    else self.redactor.apply_operator(operator, entity, v)
                    for v in uniques
                ]

            return self._per_distinct(series, constants, entity)
        return self._per_distinct(
            series,
            lambda uniques, _: [self.redactor.apply_operator(operator, entity, v) for v in uniques],
            entity,
        )

    def _scan(self, name: str, series: pd.Series) -> pd.Series:
        if self.known is not None and self.row_values is not None:
            return self._scan_rows(name, series, self.row_values)

        def redact(uniques: list[str], counts: list[int]) -> list[str]:
            mapping = self.redact_values(name, uniques, counts)
            return [mapping[v] for v in uniques]

        return self._per_distinct(series, redact)

    def _scan_rows(
        self, name: str, series: pd.Series, rows: list[list[tuple[str, str]]]
    ) -> pd.Series:
        """Like _scan, and each cell is also checked against its own row's identifier values.

        Each distinct value is still analysed once (with the table's known values); only a
        cell whose row adds a match is redacted again, from those findings plus the row's.
        """
        selected = _non_empty_strings(series)
        if not selected.any():
            return series
        assert self.known is not None
        codes, uniques = pd.factorize(series[selected])
        values = uniques.tolist()
        self.redact_values(name, values, [0] * len(values))  # analysed and cached, not counted
        cache = self.caches[name]
        out = series.astype(object)
        new = []
        for position, code in zip(np.flatnonzero(selected).tolist(), codes.tolist(), strict=True):
            value = values[code]
            redacted, entities, findings, known = cache[value]
            row = rows[position] if position < len(rows) else None
            matches = self.known.find(value, row, table=False) if row else []
            if matches:
                merged, spans = merge_findings(findings, matches, known)
                redacted = self.redactor.redact_text(value, merged, spans)
                entities = Counter(f.entity_type for f in merged)
                findings = merged
            self.count(entities)
            self.count_known(findings)
            new.append(redacted)
        out[selected] = np.array(new, dtype=object)
        return out

    def _per_distinct(
        self,
        series: pd.Series,
        redact: Callable[[list[str], list[int]], list[str]],
        entity: str | None = None,
    ) -> pd.Series:
        """Apply `redact` once per distinct non-empty string; other cells stay as they are.

        factorize and a take by codes stay in C (Arrow strings in pandas 3): tables repeat
        values, and a Python call per cell would cost more than the redaction itself.
        """
        selected = _non_empty_strings(series)
        if not selected.any():
            return series
        codes, uniques = pd.factorize(series[selected])
        counts = np.bincount(codes, minlength=len(uniques)).tolist()
        replaced = np.array(redact(uniques.tolist(), counts), dtype=object)
        if entity is not None:
            self.count({entity: int(selected.sum())})
        out = series.astype(object)
        out[selected] = replaced[codes]
        return out

    def redact_values(self, slot: str, values: list[str], times: list[int]) -> dict[str, str]:
        """Redacted form of each distinct value; new ones analysed in one batched NER pass.

        With known values, each value's matches are merged into its findings (the table's
        values only: a row's own are added by _scan_rows).
        """
        cache = self.caches.setdefault(slot, {})
        new = [v for v in values if v not in cache]
        if len(cache) + len(new) > _VALUE_CACHE:
            cache.clear()
            new = values
        for value, findings in zip(new, self.engine.analyze_many(new), strict=True):
            known: dict[tuple[int, int], str] = {}
            if self.known:
                findings, known = merge_findings(findings, self.known.find(value))
            cache[value] = (
                self.redactor.redact_text(value, findings, known),
                Counter(f.entity_type for f in findings),
                findings,
                known,
            )
        mapping = {}
        for value, n in zip(values, times, strict=True):
            redacted, entities, findings, _ = cache[value]
            if n:
                self.count(entities, n)
                self.count_known(findings, n)
            mapping[value] = redacted
        return mapping


def is_textual(series: pd.Series) -> bool:
    # pandas 3 gives string columns the "str" dtype, not object
    return (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)) and bool(
        series.map(lambda v: isinstance(v, str)).any()
    )


def _scalar(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
