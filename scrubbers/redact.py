"""Redacting files: the same format out as in, streamed in bounded memory, written atomically.

Tables (csv, tsv, parquet, jsonl, json) are handled column by column. A column rule in the policy
wins (`drop`, `keep`, `scan`, or an operator for every value). Otherwise the column is profiled
once, on the first chunk, and that profile holds for the whole file, so a value is treated the
same in row 10 and row 10 million: an identifier column gets its entity's operator on every
non-empty value without NER per cell; free-text and mixed columns have each distinct value
analysed once; clean columns and non-string columns (numbers, flags, timestamps) pass through.

Text is read in blocks; each block is cut at a line or word boundary well before its end, and a
finding that would straddle the cut moves the cut to its start, so every entity is seen whole
and every character is written exactly once.

Nothing is ever half-written at the destination: output goes to a temp file beside it that is
renamed into place only when the whole input was redacted.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from piizone.scrubbers.entities import Risk, entity_risk
from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import LINE_BREAK, Finding
from piizone.scrubbers.formats import (
    CHUNK_ROWS,
    MAX_JSON_BYTES,
    TEXT_CHUNK_CHARS,
    TEXT_CHUNK_OVERLAP,
    UTF8,
    DecodeCounter,
    TextEncoding,
    detect_encoding,
    detect_format,
    iter_jsonl_records,
    iter_table_chunks,
    open_text,
    regular_file_stat,
)
from piizone.scrubbers.known_values import KNOWN_VALUE_RECOGNIZER, KnownValues, merge_findings
from piizone.scrubbers.output_files import open_output
from piizone.scrubbers.policy import Operator
from piizone.scrubbers.tables import KIND_IDENTIFIER, classify_column, header_hint
from piizone.scrubbers.text_passes import TextPass, iter_text_passes

_Redacted = tuple[str, Counter[str], list[Finding], dict[tuple[int, int], str]]

if TYPE_CHECKING:  # the engine loads Presidio and spaCy; only type hints need it here
    from piizone.scrubbers.engine import Engine
    from piizone.scrubbers.operators import Redactor

# (path, bytes done, total bytes): called as work progresses, for progress bars.
ProgressCallback = Callable[[str, int, int], None]
STDIO = "-"
STREAM_FORMATS = ("csv", "tsv", "jsonl", "json", "txt")  # parquet needs a seekable file
_VALUE_CACHE = 20_000  # distinct free-text values remembered per column (tables repeat values)
_NESTED = "\0nested"  # cache slot for strings inside nested JSON values


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


def redact_text(text: str, engine: Engine, redactor: Redactor) -> str:
    """One text with every finding replaced by its entity's operator."""
    return redactor.redact_text(text, engine.analyze(text))


def redact_file(
    input_path: str | Path,
    output_path: str | Path,
    engine: Engine,
    redactor: Redactor,
    progress: ProgressCallback | None = None,
    fmt: str | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    chunk_chars: int = TEXT_CHUNK_CHARS,
    known_values: bool = True,
) -> RedactSummary:
    """Redact `input_path` into `output_path` in the same format. `-` is stdin / stdout.

    `fmt` overrides the extension and is needed for stdin (default txt). Raises InputError for
    unreadable or unsupported input; on any error nothing is left at `output_path`.

    A table's identifier values are redacted in its free-text columns too (known values: the
    row's own, and every value of the table; a file is read once ahead to learn them, stdin
    learns them as it goes). `known_values=False` turns that off.
    """
    started = time.monotonic()
    source, fmt, size = _resolve_input(input_path, fmt)
    summary = RedactSummary(format=fmt)
    job = _Job(engine, redactor, summary, progress, str(input_path), size)
    job.set_encoding(source, fmt)
    if known_values and fmt != "txt":
        job.known = KnownValues()
        if str(input_path) != STDIO:
            job.learn_file(source, fmt, chunk_rows)
    with DecodeCounter() as decoding, _open_output(output_path) as out:
        _WRITERS[fmt](job, source, fmt, out, chunk_rows, chunk_chars)
    if progress:
        progress(str(input_path), size, size)
    return _finish(summary, decoding, started)


def redact_into(
    source: Path,
    out: IO[bytes],
    engine: Engine,
    redactor: Redactor,
    *,
    fmt: str | None = None,
    progress: ProgressCallback | None = None,
    on_pass: Callable[[TextPass], None] | None = None,
    known: KnownValues | None = None,
) -> RedactSummary:
    """Redact a file into an open binary stream (e.g. an encrypting writer), same format.

    The caller owns `out`: nothing is renamed or closed here. Zones use it so that redacted
    plaintext goes straight into encryption and never to disk. For a text file, `on_pass`
    sees every analysis pass (zone create builds the file's scan report from them).

    `known`: values already known to be PII (a zone's tables, learned first with
    `learn_values`), redacted wherever they appear; a table's own rows add theirs.
    """
    started = time.monotonic()
    path, fmt, size = _resolve_input(source, fmt)
    summary = RedactSummary(format=fmt)
    job = _Job(engine, redactor, summary, progress, str(source), size)
    job.set_encoding(path, fmt)
    job.on_pass = on_pass
    job.known = known
    with DecodeCounter() as decoding:
        _WRITERS[fmt](job, path, fmt, out, CHUNK_ROWS, TEXT_CHUNK_CHARS)
    return _finish(summary, decoding, started)


def redact_frames(
    chunks: Iterable[pd.DataFrame],
    out: IO[bytes],
    engine: Engine,
    redactor: Redactor,
    *,
    name: str = "table",
    progress: ProgressCallback | None = None,
    known: KnownValues | None = None,
) -> RedactSummary:
    """Redact a table given as DataFrame chunks (a database query) into Parquet on `out`.

    `known` as for `redact_into`; each row's own identifier values are matched in its cells.
    """
    started = time.monotonic()
    summary = RedactSummary(format="parquet")
    job = _Job(engine, redactor, summary, progress, name, 0)
    job.known = known
    job.write_frames_parquet(chunks, out)
    return _finish(summary, None, started)


def redact_string(
    text: str, engine: Engine, redactor: Redactor, on_pass: Callable[[TextPass], None] | None = None
) -> tuple[str, RedactSummary]:
    """`text` redacted exactly as a .txt file holding it would be, at any length.

    The same passes and cuts as `redact_file` (a text longer than one chunk is analysed a chunk
    at a time there): this is what keeps the Python API and `piizone serve` byte-identical to
    `redact` and `zone create`. `on_pass` sees each analysis pass (Scrubber.scan_text).
    """
    started = time.monotonic()
    summary = RedactSummary(format="txt")
    job = _Job(engine, redactor, summary, None, "<text>", 0)
    job.on_pass = on_pass
    sink = io.StringIO()
    job.text_into(io.StringIO(text), sink, TEXT_CHUNK_CHARS)
    return sink.getvalue(), _finish(summary, None, started)


def redact_records(records: list[dict], engine: Engine, redactor: Redactor) -> RedactSummary:
    """Redact JSON records in place exactly as one JSON Lines file holding them (one table).

    Fields are profiled on the first CHUNK_ROWS records like a file's first chunk, so a batch
    gives the values `redact` gives for the same lines in a .jsonl file.
    """
    started = time.monotonic()
    summary = RedactSummary(format="jsonl")
    job = _Job(engine, redactor, summary, None, "<records>", 0)
    # Read ahead to learn the batch's identifier values, as redact_file does for a file.
    job.known = KnownValues()
    for i in range(0, len(records), CHUNK_ROWS):
        job.learn_records(records[i : i + CHUNK_ROWS])
    job.row_values = None
    for i in range(0, len(records), CHUNK_ROWS):
        job.records(records[i : i + CHUNK_ROWS])
    return _finish(summary, None, started)


def redact_frame(
    frame: pd.DataFrame, engine: Engine, redactor: Redactor
) -> tuple[pd.DataFrame, RedactSummary]:
    """A redacted copy of a DataFrame, handled as `redact` handles a table file.

    Chunked by CHUNK_ROWS like a file, so the column plans (decided on the first chunk) and the
    values equal those of `redact` on the same table; identifier columns are transformed
    vectorised (one operator call per distinct value). The index is kept.
    """
    started = time.monotonic()
    summary = RedactSummary(format="frame")
    job = _Job(engine, redactor, summary, None, "<frame>", 0)
    # Read ahead to learn the table's identifier values, as redact_file does for a file.
    job.known = KnownValues()
    for i in range(0, max(len(frame), 1), CHUNK_ROWS):
        job.learn_frame(frame.iloc[i : i + CHUNK_ROWS])
    parts = []
    for i in range(0, max(len(frame), 1), CHUNK_ROWS):
        parts.append(job.frame(frame.iloc[i : i + CHUNK_ROWS].copy()))
        summary.rows += len(parts[-1])
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    return out, _finish(summary, None, started)


def learn_values(
    known: KnownValues,
    engine: Engine,
    redactor: Redactor,
    *,
    path: Path | None = None,
    fmt: str | None = None,
    chunks: Iterable[pd.DataFrame] | None = None,
) -> int:
    """Add the identifier-column values of a table (a file, or DataFrame chunks) to `known`.

    Columns are planned exactly as the redaction plans them (scrubbers.tables classification,
    policy column rules), on the same first chunk. Returns how many rows were read.
    """
    job = _Job(engine, redactor, RedactSummary(format=fmt or "parquet"), None, str(path), 0)
    job.known = known
    if path is not None:
        job.learn_file(path, fmt or detect_format(path) or "", CHUNK_ROWS)
    else:
        for chunk in chunks or ():
            job.learn_frame(chunk)
    return job.learned_rows


def _finish(
    summary: RedactSummary, decoding: DecodeCounter | None, started: float
) -> RedactSummary:
    if decoding is not None and decoding.invalid_bytes:
        summary.invalid_bytes = decoding.invalid_bytes
        summary.warnings.append(
            f"{decoding.invalid_bytes} bytes were not valid {summary.encoding.upper()}; "
            "they were replaced (U+FFFD)"
        )
    summary.entities = dict(sorted(summary.entities.items()))
    summary.known_values = dict(sorted(summary.known_values.items()))
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _resolve_input(input_path: str | Path, fmt: str | None) -> tuple[Path, str, int]:
    if str(input_path) == STDIO:
        fmt = fmt or "txt"
        if fmt not in STREAM_FORMATS:
            raise InputError(
                f"{fmt} cannot be read from stdin", hint="pass the file's path instead of -"
            )
        return Path("/dev/stdin"), fmt, 0
    path = Path(input_path)
    fmt = fmt or detect_format(path)
    if fmt is None:
        raise InputError(
            f"{path}: unsupported format ({path.suffix or 'no extension'})",
            hint="supported: csv, tsv, jsonl, json, parquet, txt, md",
        )
    st = regular_file_stat(path)
    return path, fmt, st.st_size


@contextmanager
def _open_output(output_path: str | Path) -> Iterator[IO[bytes]]:
    """A binary sink: stdout, or `output_path` through open_output (atomic for a file, in
    place for a device or FIFO, never through a symlink to a file)."""
    if str(output_path) == STDIO:
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    with open_output(output_path) as out:
        yield out


@dataclass
class _ColumnPlan:
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


class _Job:
    """One redaction: the column plans, value caches and counts shared by its chunks."""

    def __init__(
        self,
        engine: Engine,
        redactor: Redactor,
        summary: RedactSummary,
        progress: ProgressCallback | None,
        name: str,
        size: int,
    ):
        self.engine, self.redactor, self.summary = engine, redactor, summary
        self.policy = redactor.policy  # column rules and operators; the engine only detects
        self.progress, self.name, self.size = progress, name, size
        self.plans: dict[str, _ColumnPlan] = {}
        # value -> (redacted, entity counts, findings, known-value spans)
        self.caches: dict[str, dict[str, _Redacted]] = {}
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

    def _tick(self, done: int) -> None:
        if self.progress and self.size:
            self.progress(self.name, min(done, self.size), self.size)

    def _count(self, entities: Counter[str] | dict[str, int], times: int = 1) -> None:
        for entity, n in entities.items():
            self.summary.entities[entity] = self.summary.entities.get(entity, 0) + n * times

    def _count_known(self, findings: Iterable, times: int = 1) -> None:
        known = self.summary.known_values
        for f in findings:
            if f.recognizer == KNOWN_VALUE_RECOGNIZER:
                known[f.entity_type] = known.get(f.entity_type, 0) + times

    # --- known values ----------------------------------------------------------------------

    def _learned_entity(self, name: str, plan: _ColumnPlan) -> str | None:
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
            self.plan(str(column), series, _is_textual(series))
            columns[str(column)] = series
        self.learn_columns(columns, len(chunk))

    def learn_file(self, source: Path, fmt: str, chunk_rows: int) -> None:
        """Read a table file once ahead, planning its columns and learning their values."""
        if fmt in ("csv", "tsv"):
            for chunk in iter_table_chunks(source, fmt, chunk_rows):
                self.learn_frame(chunk)
        elif fmt == "parquet":
            try:
                pf = pq.ParquetFile(source)
                for batch in pf.iter_batches(batch_size=chunk_rows):
                    columns = {}
                    for i, f in enumerate(pf.schema_arrow):
                        textual = pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                        series = batch.column(i).to_pandas() if textual else pd.Series(dtype=object)
                        self.plan(f.name, series, textual)
                        if textual:
                            columns[f.name] = series
                    self.learn_columns(columns, batch.num_rows)
            except (pa.ArrowException, OSError) as e:
                raise InputError(
                    f"{source}: not a readable Parquet file ({type(e).__name__})"
                ) from None
        elif fmt in ("jsonl", "json"):
            for records in self._record_chunks(source, fmt, chunk_rows):
                self.learn_records(records)
        self.row_values = None

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
            for i in range(0, len(records), chunk_rows):
                yield records[i : i + chunk_rows]

    # --- columns -------------------------------------------------------------------------

    def plan(self, name: str, series: pd.Series, textual: bool) -> _ColumnPlan:
        """The column's plan, decided on its first chunk and kept for the whole file."""
        plan = self.plans.get(name)
        if plan is None:
            plan = self.plans[name] = self._decide(name, series, textual)
            self.summary.columns[name] = plan.label
        return plan

    def _decide(self, name: str, series: pd.Series, textual: bool) -> _ColumnPlan:
        rule = self.policy.column_rule(name)
        if isinstance(rule, Operator) and rule.type in ("drop", "keep"):
            rule = rule.type
        if rule in ("drop", "keep", "scan"):
            return _ColumnPlan(str(rule), f"{rule} (policy)")
        if isinstance(rule, Operator):
            entity = _column_entity(name)
            return _ColumnPlan("operator", f"{rule.type} (policy)", rule, entity)
        if not textual:
            return _ColumnPlan("keep", "non-string")
        profile = classify_column(self.engine, name, series)
        if profile.kind == KIND_IDENTIFIER and profile.classification:
            entity = profile.classification
            return _ColumnPlan(
                "operator", f"identifier {entity}", self.policy.operator_for(entity), entity
            )
        if profile.scan_values:
            return _ColumnPlan("scan", profile.kind)
        return _ColumnPlan("keep", profile.kind)

    def transform(self, name: str, plan: _ColumnPlan, series: pd.Series) -> pd.Series:
        """`series` with the plan applied; values it does not touch keep their identity."""
        if plan.action == "operator":
            return self._apply_operator(plan, series)
        if plan.action == "scan":
            return self._scan(name, series)
        return series

    def _apply_operator(self, plan: _ColumnPlan, series: pd.Series) -> pd.Series:
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
            mapping = self._redact_values(name, uniques, counts)
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
        self._redact_values(name, values, [0] * len(values))  # analysed and cached, not counted
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
            self._count(entities)
            self._count_known(findings)
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
            self._count({entity: int(selected.sum())})
        out = series.astype(object)
        out[selected] = replaced[codes]
        return out

    def _redact_values(self, slot: str, values: list[str], times: list[int]) -> dict[str, str]:
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
                self._count(entities, n)
                self._count_known(findings, n)
            mapping[value] = redacted
        return mapping

    # --- csv / tsv -------------------------------------------------------------------------

    def write_csv(self, source: Path, fmt: str, out: IO[bytes], chunk_rows: int) -> None:
        sep = "," if fmt == "csv" else "\t"
        newline = _line_ending(source, self.encoding)
        written = 0
        for i, chunk in enumerate(iter_table_chunks(source, fmt, chunk_rows, self.encoding)):
            kept = []
            for column in chunk.columns:
                self.plan(str(column), chunk[column], textual=True)
            self.learn_columns({str(c): chunk[c] for c in chunk.columns}, len(chunk))
            for column in chunk.columns:
                plan = self.plan(str(column), chunk[column], textual=True)
                if plan.action == "drop":
                    continue
                kept.append(column)
                if plan.action in ("operator", "scan"):
                    chunk[column] = self.transform(str(column), plan, chunk[column])
            data = chunk[kept].to_csv(index=False, header=i == 0, sep=sep, lineterminator=newline)
            encoded = self.encode(data)
            out.write(encoded)
            written += len(encoded)
            self.summary.rows += len(chunk)
            # Output bytes track input bytes closely for a mostly-unchanged table.
            self._tick(written)

    # --- parquet ---------------------------------------------------------------------------

    def write_parquet(self, source: Path, out: IO[bytes], chunk_rows: int) -> None:
        try:
            pf = pq.ParquetFile(source)
        except (pa.ArrowException, OSError) as e:
            raise InputError(
                f"{source}: not a readable Parquet file ({type(e).__name__})"
            ) from None
        schema = pf.schema_arrow
        total = pf.metadata.num_rows
        batches = pf.iter_batches(batch_size=chunk_rows) if total else [schema.empty_table()]
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                columns, fields = [], []
                texts = {}
                for i, f in enumerate(schema):
                    if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
                        texts[f.name] = batch.column(i).to_pandas()
                        self.plan(f.name, texts[f.name], True)
                self.learn_columns(texts, batch.num_rows)
                for i, f in enumerate(schema):
                    column = batch.column(i)
                    textual = f.name in texts
                    series = texts[f.name] if textual else pd.Series(dtype=object)
                    plan = self.plan(f.name, series, textual)
                    if plan.action == "drop":
                        continue
                    if plan.action in ("operator", "scan"):
                        if not textual:
                            series = column.to_pandas()
                        new = self.transform(f.name, plan, series.astype(object))
                        typ = f.type if textual else pa.string()
                        column = pa.array(new.where(new.notna(), None), type=typ)
                        f = f.with_type(typ)
                    columns.append(column)
                    fields.append(f)
                table = pa.Table.from_arrays(columns, schema=_out_schema(schema, fields))
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema)
                writer.write_table(table)
                self.summary.rows += table.num_rows
                self._tick(int(self.size * self.summary.rows / max(total, 1)))
        except pa.ArrowException as e:
            raise InputError(f"{source}: corrupt Parquet data ({type(e).__name__})") from None
        finally:
            if writer is not None:
                writer.close()

    def write_frames_parquet(self, chunks: Iterable[pd.DataFrame], out: IO[bytes]) -> None:
        """DataFrame chunks to Parquet: the first chunk fixes the schema for the rest."""
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        try:
            for chunk in chunks:
                frame = self.frame(chunk)
                if writer is None:  # the first chunk
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    # A column that is all NULL in the first chunk has no type yet; strings are
                    # the type later chunks can always be written as.
                    schema = pa.schema(
                        [
                            f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                            for f in table.schema
                        ]
                    ).remove_metadata()
                    writer = pq.ParquetWriter(out, schema)
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                writer.write_table(table)
                self.summary.rows += table.num_rows
            if writer is None:  # no rows at all: an empty file with no columns
                writer = pq.ParquetWriter(out, pa.schema([]))
        except (pa.ArrowException, ValueError, TypeError) as e:
            raise InputError(f"{self.name}: cannot write as Parquet ({type(e).__name__})") from None
        finally:
            if writer is not None:
                writer.close()

    def frame(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """One chunk of a table with its columns' plans applied (changed in place, returned).

        Every column is planned first, so the chunk's identifier values are known (row by row)
        before its free text is redacted.
        """
        for column in chunk.columns:
            self.plan(str(column), chunk[column], _is_textual(chunk[column]))
        self.learn_columns({str(c): chunk[c] for c in chunk.columns}, len(chunk))
        kept = []
        for column in chunk.columns:
            series = chunk[column]
            plan = self.plan(str(column), series, _is_textual(series))
            if plan.action == "drop":
                continue
            kept.append(column)
            if plan.action in ("operator", "scan"):
                chunk[column] = self.transform(str(column), plan, series.astype(object))
        return chunk[kept]

    # --- jsonl / json ------------------------------------------------------------------------

    def write_jsonl(self, source: Path, out: IO[bytes], chunk_rows: int) -> None:
        for records, done in iter_jsonl_records(source, chunk_rows, self.encoding):
            self._jsonl_chunk(records, out)
            self._tick(done)

    def _jsonl_chunk(self, records: list[dict], out: IO[bytes]) -> None:
        if not records:
            return
        self.records(records)
        out.write(self.encode("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)))

    def write_json(self, source: Path, out: IO[bytes], chunk_rows: int) -> None:
        if source.stat().st_size > MAX_JSON_BYTES:
            raise InputError(
                f"{source}: JSON document too large to load whole",
                hint="convert it to JSON Lines (one record per line)",
            )
        with open_text(source, self.encoding) as f:
            try:
                value = json.load(f)
            except json.JSONDecodeError as e:
                raise InputError(f"{source}:{e.lineno}: invalid JSON ({e.msg})") from None
        records = [value] if isinstance(value, dict) else value
        if not isinstance(records, list) or not all(isinstance(v, dict) for v in records):
            raise InputError(f"{source}: expected a JSON array of objects (records)")
        for i in range(0, len(records), chunk_rows):
            self.records(records[i : i + chunk_rows])
        doc = records[0] if isinstance(value, dict) else records
        out.write(self.encode(json.dumps(doc, ensure_ascii=False, indent=2) + "\n"))

    def records(self, records: list[dict]) -> None:
        """Redact JSON records in place: top-level fields by plan, nested strings as free text."""
        fields = list(dict.fromkeys(k for r in records for k in r))
        nested: list[tuple[dict, str]] = []
        self.row_values = None  # records: the table's known values, not per row
        for name in fields:
            holders = [r for r in records if name in r]
            strings = [r for r in holders if isinstance(r[name], str)]
            series = pd.Series([r[name] for r in strings], dtype=object)
            # A field first seen without strings is scanned if strings show up later; scanning
            # leaves its numbers and flags alone.
            plan = self.plans.get(name) or self.plan(name, series, textual=bool(strings))
            if plan.label == "non-string":
                plan.action = "scan"
                if any(isinstance(r[name], (dict, list)) for r in holders):
                    plan.label = self.summary.columns[name] = "nested (free text)"
            if plan.action == "drop":
                for r in holders:
                    del r[name]
                continue
            if plan.action == "keep":
                continue
            if plan.action == "operator" and plan.label.endswith("(policy)"):
                strings = [r for r in holders if not isinstance(r[name], (dict, list))]
                series = pd.Series([r[name] for r in strings], dtype=object)
            if strings:
                for r, v in zip(strings, self.transform(name, plan, series), strict=True):
                    r[name] = v
            nested.extend((r, name) for r in holders if isinstance(r[name], (dict, list)))
        if nested:
            self._redact_nested(nested)
        self.summary.rows += len(records)

    def _redact_nested(self, nested: list[tuple[dict, str]]) -> None:
        leaves: Counter[str] = Counter()
        for r, name in nested:
            _collect_strings(r[name], leaves)
        values = [v for v in leaves if v.strip()]
        mapping = self._redact_values(_NESTED, values, [leaves[v] for v in values])
        for r, name in nested:
            r[name] = _replace_strings(r[name], mapping)

    # --- text ------------------------------------------------------------------------------

    def write_text(self, source: Path | IO[str], out: IO[bytes], chunk_chars: int) -> None:
        out.write(self.encoding.bom)
        sink = io.TextIOWrapper(out, encoding=self.encoding.codec, newline="", write_through=True)
        try:
            self.text_into(source, sink, chunk_chars)
        finally:
            sink.flush()
            sink.detach()  # the caller owns `out` (it may be stdout)

    def text_into(self, source: Path | IO[str], sink: IO[str], chunk_chars: int) -> None:
        """A text file (or an open text stream) redacted pass by pass into a text sink."""
        done = 0
        last = ""
        passes = iter_text_passes(
            source,
            self.engine,
            chunk_chars,
            TEXT_CHUNK_OVERLAP,
            known=self.known,
            encoding=self.encoding,
        )
        for p in passes:
            if self.on_pass is not None:
                self.on_pass(p)
            emitted = p.emitted
            sink.write(self.redactor.redact_text(emitted, p.spans, p.emitted_values()))
            self._count(Counter(s.entity_type for s in p.spans))
            self._count_known(p.spans)
            self.summary.rows += emitted.count("\n")
            done += len(emitted)
            last = emitted[-1:] or last
            self._tick(done)
        if last and last != "\n":
            self.summary.rows += 1


def _is_textual(series: pd.Series) -> bool:
    # pandas 3 gives string columns the "str" dtype, not object
    return (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)) and bool(
        series.map(lambda v: isinstance(v, str)).any()
    )


def _line_ending(path: Path, encoding: TextEncoding = UTF8) -> str:
    """CSV output keeps the input's line ending (\\r\\n from Excel exports, else \\n)."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536) if path.is_file() else b""
    except OSError:
        return "\n"
    text = head[len(encoding.bom) :].decode(encoding.codec, errors="ignore")
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _out_schema(schema: pa.Schema, fields: list[pa.Field]) -> pa.Schema:
    """Original schema when unchanged; otherwise the new fields without stale pandas metadata."""
    if list(schema) == fields:
        return schema
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != b"pandas"}
    return pa.schema(fields, metadata=metadata or None)


def _scalar(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _collect_strings(value: Any, into: Counter[str]) -> None:
    if isinstance(value, str):
        into[value] += 1
    elif isinstance(value, dict):
        for v in value.values():
            _collect_strings(v, into)
    elif isinstance(value, list):
        for v in value:
            _collect_strings(v, into)


def _replace_strings(value: Any, mapping: dict[str, str]) -> Any:
    """`value` rebuilt with each string leaf mapped; keys, order and other leaves unchanged."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _replace_strings(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, mapping) for v in value]
    return value


_WRITERS: dict[str, Callable[..., None]] = {
    "csv": lambda job, path, fmt, out, rows, chars: job.write_csv(path, fmt, out, rows),
    "tsv": lambda job, path, fmt, out, rows, chars: job.write_csv(path, fmt, out, rows),
    "parquet": lambda job, path, fmt, out, rows, chars: job.write_parquet(path, out, rows),
    "jsonl": lambda job, path, fmt, out, rows, chars: job.write_jsonl(path, out, rows),
    "json": lambda job, path, fmt, out, rows, chars: job.write_json(path, out, rows),
    "txt": lambda job, path, fmt, out, rows, chars: job.write_text(path, out, chars),
}
