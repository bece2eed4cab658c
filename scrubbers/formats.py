"""Reading the supported file formats in bounded memory: tables in row chunks, text in windows."""

from __future__ import annotations

import codecs
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scrubbers.exceptions import InputError

TABLE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
TEXT_FORMATS = {".txt": "txt", ".md": "txt", ".text": "txt", ".log": "txt", ".transcript": "txt"}
CHUNK_ROWS = 10_000
TEXT_CHUNK_CHARS = 1_000_000
TEXT_CHUNK_OVERLAP = 400
# A single JSON document must be parsed whole; past this size, ask for JSON Lines instead.
MAX_JSON_BYTES = 512 * 1024 * 1024


def detect_format(path: str | Path) -> str | None:
    """'csv', 'tsv', 'parquet', 'jsonl', 'json' or 'txt' by extension; None if unsupported."""
    suffix = Path(path).suffix.lower()
    return TABLE_FORMATS.get(suffix) or TEXT_FORMATS.get(suffix)


def is_table_format(fmt: str) -> bool:
    return fmt in TABLE_FORMATS.values()


class DecodeCounter:
    """Counts bytes that were not valid UTF-8 while decoding (replaced by U+FFFD)."""

    _local = threading.local()

    def __init__(self) -> None:
        self.invalid_bytes = 0

    def __enter__(self) -> DecodeCounter:
        self._previous = getattr(self._local, "current", None)
        self._local.current = self
        return self

    def __exit__(self, *exc) -> None:
        self._local.current = self._previous

    @classmethod
    def handler(cls, err: UnicodeDecodeError) -> tuple[str, int]:
        current = getattr(cls._local, "current", None)
        if current is not None:
            current.invalid_bytes += err.end - err.start
        return "\ufffd", err.end


codecs.register_error("piizone_count", DecodeCounter.handler)


def open_text(path: Path) -> IO[str]:
    """Open for text reading: UTF-8 (BOM tolerated), invalid bytes replaced and counted."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - handed to the wrapper, closed with it
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror})") from None
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="piizone_count", newline="")


@dataclass
class TextChunk:
    offset: int  # character offset of `text` in the document
    line: int  # 1-based line number where `text` starts
    text: str
    overlap: int  # leading characters already seen in the previous chunk


def iter_text_chunks(
    path: Path, chunk_chars: int = TEXT_CHUNK_CHARS, overlap: int = TEXT_CHUNK_OVERLAP
) -> Iterator[TextChunk]:
    """A text file as overlapping chunks; memory is bounded even for one 50 MB line."""
    with open_text(path) as f:
        offset, line, carry = 0, 1, ""
        while True:
            try:
                block = f.read(chunk_chars)
            except OSError as e:
                raise InputError(f"{path}: read failed ({e.strerror})") from None
            if not block:
                break
            text = carry + block
            yield TextChunk(
                offset=offset - len(carry),
                line=line - carry.count("\n"),
                text=text,
                overlap=len(carry),
            )
            offset += len(block)
            line += block.count("\n")
            carry = text[-overlap:] if overlap else ""


def iter_table_chunks(path: Path, fmt: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """A table file as DataFrame chunks. CSV/TSV cells stay strings, exactly as written."""
    if fmt in ("csv", "tsv"):
        yield from _csv_chunks(path, "," if fmt == "csv" else "\t", chunk_rows)
    elif fmt == "parquet":
        yield from _parquet_chunks(path, chunk_rows)
    elif fmt == "jsonl":
        yield from _jsonl_chunks(path, chunk_rows)
    elif fmt == "json":
        yield from _json_chunks(path, chunk_rows)
    else:
        raise InputError(f"{path}: not a table format ({fmt})")


def _csv_chunks(path: Path, sep: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    f = open_text(path)
    with f:
        try:
            reader = pd.read_csv(
                f,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                chunksize=chunk_rows,
                engine="c",
                on_bad_lines="error",
            )
            yield from reader
        except pd.errors.EmptyDataError:
            raise InputError(f"{path}: empty file (no header row)") from None
        except pd.errors.ParserError as e:
            # pandas names the line and the field counts; it never quotes the row's values.
            detail = str(e).replace("Error tokenizing data. C error: ", "").strip()
            raise InputError(
                f"{path}: malformed {sep == ',' and 'CSV' or 'TSV'}: {detail}"
            ) from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__})") from None
    if pf.metadata.num_rows == 0:
        yield pf.schema_arrow.empty_table().to_pandas()
        return
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{path}: corrupt Parquet data ({type(e).__name__})") from None


def _jsonl_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    for records, _ in iter_jsonl_records(path, chunk_rows):
        yield pd.DataFrame.from_records(records)


def iter_jsonl_records(path: Path, chunk_rows: int) -> Iterator[tuple[list[dict], int]]:
    """JSON Lines as batches of records (objects), each with the characters read so far."""
    rows: list[dict] = []
    done = 0
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            done += len(line)
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
            if not isinstance(value, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object per line")
            rows.append(value)
            if len(rows) >= chunk_rows:
                yield rows, done
                rows = []
    if rows:
        yield rows, done


def _json_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise InputError(
            f"{path}: JSON document too large to load whole",
            hint="convert it to JSON Lines (one record per line)",
        )
    with open_text(path) as f:
        try:
            value = json.load(f)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"{path}: expected a JSON array of objects (records)")
    for i in range(0, len(value), chunk_rows):
        yield pd.DataFrame.from_records(value[i : i + chunk_rows])
