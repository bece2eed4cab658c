"""Reading and writing each format for a redaction: csv/tsv, parquet, JSON, JSON Lines, text.

`FormatJob` is a `RedactJob` (scrubbers/redact_columns.py) that streams one format in chunks
and writes the same format out; `WRITERS` maps a format to its writer.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import (
    MAX_JSON_BYTES,
    TEXT_CHUNK_OVERLAP,
    UTF8,
    TextEncoding,
    iter_jsonl_records,
    iter_table_chunks,
    open_text,
)
from piizone.scrubbers.progress import (
    REDACTING,
    ROWS,
    ItemProgress,
    PassMeter,
    ReadMeter,
    metered,
    rows_share,
)
from piizone.scrubbers.text_passes import iter_text_passes

if TYPE_CHECKING:  # the engine loads Presidio and spaCy; only type hints need it here
    pass

from piizone.scrubbers.redact_columns import RedactJob, is_textual

_NESTED = "\0nested"  # cache slot for strings inside nested JSON values


class FormatJob(RedactJob):
    """A redaction job that reads and writes files, streams and DataFrames."""

    # --- csv / tsv -------------------------------------------------------------------------

    def write_csv(self, source: Path, fmt: str, out: IO[bytes], chunk_rows: int) -> None:
        sep = "," if fmt == "csv" else "\t"
        newline = _line_ending(source, self.encoding)
        meter = ReadMeter()
        chunks = iter_table_chunks(source, fmt, chunk_rows, self.encoding)
        for i, chunk in enumerate(metered(chunks, meter)):
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
            out.write(self.encode(data))
            self.summary.rows += len(chunk)
            self.tick(meter.position)

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
                self.tick(int(self.size * self.summary.rows / max(total, 1)))
        except pa.ArrowException as e:
            raise InputError(f"{source}: corrupt Parquet data ({type(e).__name__})") from None
        finally:
            if writer is not None:
                writer.close()

    def write_frames_parquet(
        self, chunks: Iterable[pd.DataFrame], out: IO[bytes], total_rows: int | None = None
    ) -> None:
        """DataFrame chunks to Parquet: the first chunk fixes the schema for the rest.
        Progress in rows (of `total_rows` when known, e.g. a database's count)."""
        self.advance = ItemProgress(self.progress, REDACTING, self.name, total_rows, ROWS)
        self.advance.start()
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        try:
            for chunk in chunks:
                frame = self.frame(chunk)
                if schema is None:
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
                assert writer is not None  # opened with the schema, on the first chunk
                writer.write_table(table)
                self.summary.rows += table.num_rows
                self.tick(self.summary.rows)
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
            self.plan(str(column), chunk[column], is_textual(chunk[column]))
        self.learn_columns({str(c): chunk[c] for c in chunk.columns}, len(chunk))
        kept = []
        for column in chunk.columns:
            series = chunk[column]
            plan = self.plan(str(column), series, is_textual(series))
            if plan.action == "drop":
                continue
            kept.append(column)
            if plan.action in ("operator", "scan"):
                chunk[column] = self.transform(str(column), plan, series.astype(object))
        return chunk[kept]

    # --- jsonl / json ------------------------------------------------------------------------

    def write_jsonl(self, source: Path, out: IO[bytes], chunk_rows: int) -> None:
        meter = ReadMeter()
        for records, _ in metered(iter_jsonl_records(source, chunk_rows, self.encoding), meter):
            self._jsonl_chunk(records, out)
            self.tick(meter.position)

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
            # Read whole before the first chunk: progress by the records' share of the size.
            self.tick(rows_share(self.size, i + chunk_rows, len(records)))
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
        mapping = self.redact_values(_NESTED, values, [leaves[v] for v in values])
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
        """A text file (or an open text stream) redacted pass by pass into a text sink.
        Progress: the bytes read after each pass (stdin or an open stream: characters done),
        and within a pass as the engine's windows are done (a file: PassMeter)."""
        done = 0
        last = ""
        meter = ReadMeter()
        passing = PassMeter(self.tick, meter)
        passes = iter_text_passes(
            source,
            self.engine,
            chunk_chars,
            TEXT_CHUNK_OVERLAP,
            known=self.known,
            encoding=self.encoding,
        )
        for p in metered(passes, meter, passing):
            if self.on_pass is not None:
                self.on_pass(p)
            emitted = p.emitted
            sink.write(self.redactor.redact_text(emitted, p.spans, p.emitted_values()))
            self.count(Counter(s.entity_type for s in p.spans))
            self.count_known(p.spans)
            self.summary.rows += emitted.count("\n")
            done += len(emitted)
            last = emitted[-1:] or last
            passing.passed(meter.position or done)
        if last and last != "\n":
            self.summary.rows += 1


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


WRITERS: dict[str, Callable[..., None]] = {
    "csv": lambda job, path, fmt, out, rows, chars: job.write_csv(path, fmt, out, rows),
    "tsv": lambda job, path, fmt, out, rows, chars: job.write_csv(path, fmt, out, rows),
    "parquet": lambda job, path, fmt, out, rows, chars: job.write_parquet(path, out, rows),
    "jsonl": lambda job, path, fmt, out, rows, chars: job.write_jsonl(path, out, rows),
    "json": lambda job, path, fmt, out, rows, chars: job.write_json(path, out, rows),
    "txt": lambda job, path, fmt, out, rows, chars: job.write_text(path, out, chars),
}
