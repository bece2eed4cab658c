"""Reading the supported file formats in bounded memory: tables in row chunks, text in windows."""

from __future__ import annotations

import codecs
import io
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import charset_normalizer
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from piizone.scrubbers.compression import compression_of, decompressing, inner_name
from piizone.scrubbers.exceptions import InputError, NotTextError
from piizone.scrubbers.progress import ReadMeter
from piizone.scrubbers.thread_scope import ThreadScoped

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
# Every column is profiled (a detector pass over a sample); 10,000 columns in one row took 80 s.
# Real tables stay far below this; a wider one is refused rather than slowly scanned.
MAX_COLUMNS = 2_000
# stdin is streamed, never spooled to disk; past this many bytes it is refused (a pipe from
# /dev/zero must not fill the disk with output). PIIZONE_MAX_STDIN_BYTES overrides it.
MAX_STDIN_BYTES = 1024**3


@contextmanager
def _opening(path: str | Path) -> Iterator[None]:
    """Opening an input: the OS's refusals as one InputError line each."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror})") from None


def regular_file_stat(path: str | Path) -> os.stat_result:
    """The stat of an input that must be a regular file; InputError otherwise.

    stat() never opens the path, so a FIFO cannot block us here; a FIFO, a device (/dev/zero
    never ends) or a socket is refused before anything reads it. stdin is `-`, not a path.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot access ({e.strerror})") from None
    except ValueError:  # a NUL in the path
        raise InputError("a path cannot contain a NUL character") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"{path}: not a regular file (a pipe, device or socket)",
            hint="to read a stream, pipe it into stdin: ... | piizone redact -",
        )
    return st


def detect_format(path: str | Path) -> str | None:
    """'csv', 'tsv', 'parquet', 'jsonl', 'json' or 'txt' by extension; None if unsupported."""
    suffix = Path(path).suffix.lower()
    return TABLE_FORMATS.get(suffix) or TEXT_FORMATS.get(suffix)


def is_table_format(fmt: str) -> bool:
    return fmt in TABLE_FORMATS.values() or fmt in SCAN_ONLY_FORMATS.values()


# Read by `scan` only (redact and zones write the input's own format back, and these have no
# writer): spreadsheets, and any supported text or table format compressed (compression.py).
SCAN_ONLY_FORMATS = {".xlsx": "xlsx"}


def detect_scan_format(path: str | Path) -> str | None:
    """What `scan` reads `path` as: detect_format's formats, `.xlsx`, and those compressed
    (`.csv.gz`, `.jsonl.zst`, `.txt.bz2`; not Parquet or xlsx, which compress themselves)."""
    if compression_of(path):
        fmt = detect_format(inner_name(path))
        return fmt if fmt not in (None, "parquet") else None
    return detect_format(path) or SCAN_ONLY_FORMATS.get(Path(path).suffix.lower())


class DecodeCounter(ThreadScoped):
    """Counts bytes that could not be decoded (replaced by U+FFFD) while it is current."""

    def __init__(self) -> None:
        self.invalid_bytes = 0

    @classmethod
    def handler(cls, err: UnicodeError) -> tuple[str, int]:
        if not isinstance(err, UnicodeDecodeError):  # registered for reading only (open_text)
            raise err
        current = cls.current()
        if current is not None:
            current.invalid_bytes += err.end - err.start
        return "\ufffd", err.end


codecs.register_error("piizone_count", DecodeCounter.handler)


@dataclass(frozen=True)
class TextEncoding:
    """How a text file is encoded: the codec that reads (and writes) it, and its byte-order mark."""

    codec: str  # a Python codec with a fixed byte order: utf-8, utf-16-le, utf-32-be, ...
    bom: bytes = b""  # the mark the file starts with; redacted output starts with it too

    @property
    def label(self) -> str:
        return self.codec.upper() + (" with BOM" if self.bom else "")

    def encoder(self) -> codecs.IncrementalEncoder:
        return codecs.getincrementalencoder(self.codec)()


UTF8 = TextEncoding("utf-8")
# UTF-32-LE's mark starts with UTF-16-LE's: longest first.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# What charset-normalizer may name for a BOM-less file we then read as UTF-16/32. Anything else
# holding NUL bytes is not text we can scan: reading it as UTF-8 would hide its PII from every
# detector (a UTF-16 "J\0a\0n\0e\0" matches no pattern) and copy it through unredacted.
WIDE_CODECS = {
    "utf_16_le": "utf-16-le",
    "utf_16_be": "utf-16-be",
    "utf_32_le": "utf-32-le",
    "utf_32_be": "utf-32-be",
}
ENCODING_PROBE = 64 * 1024


def detect_encoding(path: str | Path) -> TextEncoding:
    """The encoding of a text file, from its first bytes; InputError for what is not text.

    A byte-order mark decides. Without one, bytes with no NUL and valid UTF-8 are UTF-8 (so
    are other NUL-free bytes: they are read as UTF-8 with the bad bytes replaced, counted and
    reported, as before). Bytes with NULs are UTF-16/32 if charset-normalizer says so, else
    refused.
    """
    with _opening(path):
        if not stat.S_ISREG(os.stat(path).st_mode):
            # A pipe cannot be peeked without losing what was read: stdin is UTF-8.
            return UTF8
        with decompressing(open(path, "rb"), path) as f:
            head = f.read(ENCODING_PROBE)
    return encoding_of(head, str(path))


def encoding_of(head: bytes, name: str) -> TextEncoding:
    """The encoding of text that starts with `head` (see detect_encoding)."""
    for bom, codec in BYTE_ORDER_MARKS:
        if head.startswith(bom):
            return TextEncoding(codec, bom)
    if b"\x00" not in head:
        if not _valid_utf8_prefix(head):
            # NUL-free UTF-16 exists (CJK text): ask before settling for UTF-8 with replacements.
            wide = _wide_codec(head)
            if wide is not None:
                return TextEncoding(wide)
        return UTF8
    wide = _wide_codec(head)
    if wide is None:
        raise NotTextError(
            f"{name}: not text (NUL bytes, and not UTF-16 or UTF-32)",
            hint="save it as UTF-8 (or UTF-16/UTF-32), or leave it out of the input",
        )
    return TextEncoding(wide)


def _valid_utf8_prefix(head: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _wide_codec(head: bytes) -> str | None:
    # Whole code units only: a probe cut mid-character would look like a decoding error.
    head = head[: len(head) // 4 * 4]
    best = charset_normalizer.from_bytes(head).best()
    codec = WIDE_CODECS.get(best.encoding) if best is not None else None
    return codec if codec is not None and _looks_wide(head, codec) else None


def _looks_wide(head: bytes, codec: str) -> bool:
    """Structural check of a BOM-less UTF-16/32 guess (charset-normalizer alone calls a few
    binary bytes "UTF-16"): it decodes strictly to text without control characters, and its NUL
    bytes sit where that encoding puts them (the high bytes of ASCII characters)."""
    try:
        text = codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    if any(ord(c) < 32 and c not in "\t\n\r\f\v" for c in text):
        return False
    width = 4 if codec.startswith("utf-32") else 2
    little = codec.endswith("-le")
    units = [head[i : i + width] for i in range(0, len(head) - width + 1, width)]
    high = [u[1:] if little else u[:-1] for u in units]  # the bytes that are 0 for ASCII
    low = [u[0] if little else u[-1] for u in units]
    zeros_high = sum(1 for h in high if not any(h))
    zeros_low = sum(1 for b in low if b == 0)
    return zeros_low * 10 <= zeros_high or zeros_low == 0


def max_stdin_bytes() -> int:
    value = os.environ.get("PIIZONE_MAX_STDIN_BYTES", "")
    return int(value) if value.isdecimal() and int(value) > 0 else MAX_STDIN_BYTES


class _BoundedStream(io.RawIOBase):
    """A pipe read through a byte budget: InputError once more than `limit` bytes came."""

    def __init__(self, raw: io.RawIOBase, limit: int, name: str):
        self._raw, self._limit, self._name, self._read = raw, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        n = self._raw.readinto(buffer)
        self._read += n or 0
        if self._read > self._limit:
            raise InputError(
                f"{self._name}: stdin is larger than {self._limit} bytes; refused",
                hint="pass a file instead of -, or raise PIIZONE_MAX_STDIN_BYTES",
            )
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_text(path: Path, encoding: TextEncoding | None = None) -> IO[str]:
    """Open for text reading in its encoding (detect_encoding); bad bytes replaced and counted.

    Anything but a regular file (stdin) is read through a byte budget (max_stdin_bytes)."""
    encoding = encoding or detect_encoding(path)
    with _opening(path):
        file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the wrapper
        ReadMeter.track(file)
        stream: io.RawIOBase = file
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            stream = _BoundedStream(file, max_stdin_bytes(), str(path))
        raw = decompressing(io.BufferedReader(stream), path)
    if encoding.bom and raw.read(len(encoding.bom)) != encoding.bom:
        raw.close()
        raise InputError(f"{path}: changed while being read")
    return io.TextIOWrapper(raw, encoding=encoding.codec, errors="piizone_count", newline="")


@dataclass
class TextChunk:
    offset: int  # character offset of `text` in the document
    line: int  # 1-based line number where `text` starts
    text: str
    overlap: int  # leading characters already seen in the previous chunk


def iter_text_chunks(
    path: Path,
    chunk_chars: int = TEXT_CHUNK_CHARS,
    overlap: int = TEXT_CHUNK_OVERLAP,
    encoding: TextEncoding | None = None,
) -> Iterator[TextChunk]:
    """A text file as overlapping chunks; memory is bounded even for one 50 MB line."""
    with open_text(path, encoding) as f:
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


def iter_table_chunks(
    path: Path, fmt: str, chunk_rows: int = CHUNK_ROWS, encoding: TextEncoding | None = None
) -> Iterator[pd.DataFrame]:
    """A table file as DataFrame chunks. CSV/TSV cells stay strings, exactly as written."""
    if fmt in ("csv", "tsv"):
        yield from _csv_chunks(path, "," if fmt == "csv" else "\t", chunk_rows, encoding)
    elif fmt == "parquet":
        yield from _parquet_chunks(path, chunk_rows)
    elif fmt == "jsonl":
        yield from _jsonl_chunks(path, chunk_rows, encoding)
    elif fmt == "json":
        yield from _json_chunks(path, chunk_rows, encoding)
    elif fmt == "xlsx":
        from piizone.scrubbers.spreadsheets import iter_xlsx_chunks  # openpyxl: only when needed

        yield from (check_columns(c, path) for c in iter_xlsx_chunks(path, chunk_rows))
    else:
        raise InputError(f"{path}: not a table format ({fmt})")


def _csv_chunks(
    path: Path, sep: str, chunk_rows: int, encoding: TextEncoding | None = None
) -> Iterator[pd.DataFrame]:
    f = open_text(path, encoding)
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
            for chunk in reader:
                yield check_columns(chunk, path)
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
    # UnicodeDecodeError: pyarrow decodes a damaged footer's column names as UTF-8 (found by
    # make soak's fuzzing).
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a readable Parquet file ({type(e).__name__})") from None
    if len(pf.schema_arrow) > MAX_COLUMNS:
        raise _too_wide(path, len(pf.schema_arrow))
    if pf.metadata.num_rows == 0:
        yield pf.schema_arrow.empty_table().to_pandas()
        return
    ReadMeter.expect_rows(pf.metadata.num_rows)
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: corrupt Parquet data ({type(e).__name__})") from None


def _jsonl_chunks(
    path: Path, chunk_rows: int, encoding: TextEncoding | None = None
) -> Iterator[pd.DataFrame]:
    for records, _ in iter_jsonl_records(path, chunk_rows, encoding):
        yield check_columns(pd.DataFrame.from_records(records), path)


def iter_jsonl_records(
    path: Path, chunk_rows: int, encoding: TextEncoding | None = None
) -> Iterator[tuple[list[dict], int]]:
    """JSON Lines as batches of records (objects), each with the characters read so far."""
    rows: list[dict] = []
    done = 0
    with open_text(path, encoding) as f:
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
            if len(value) > MAX_COLUMNS:
                raise _too_wide(path, len(value))
            rows.append(value)
            if len(rows) >= chunk_rows:
                yield rows, done
                rows = []
    if rows:
        yield rows, done


def _json_chunks(
    path: Path, chunk_rows: int, encoding: TextEncoding | None = None
) -> Iterator[pd.DataFrame]:
    too_large = InputError(
        f"{path}: JSON document too large to load whole",
        hint="convert it to JSON Lines (one record per line)",
    )
    if path.stat().st_size > MAX_JSON_BYTES:
        raise too_large
    with open_text(path, encoding) as f:
        try:
            # A compressed document's size on disk does not bound what it expands to.
            text = f.read(MAX_JSON_BYTES + 1)
            if len(text) > MAX_JSON_BYTES:
                raise too_large
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"{path}: expected a JSON array of objects (records)")
    ReadMeter.expect_rows(len(value))  # read whole: its bytes are all read before a chunk
    for i in range(0, len(value), chunk_rows):
        yield check_columns(pd.DataFrame.from_records(value[i : i + chunk_rows]), path)


def check_columns(frame: pd.DataFrame, name: str | Path) -> pd.DataFrame:
    """`frame`, or InputError when it has more columns than MAX_COLUMNS."""
    if frame.shape[1] > MAX_COLUMNS:
        raise _too_wide(name, frame.shape[1])
    return frame


def _too_wide(name: str | Path, columns: int) -> InputError:
    return InputError(
        f"{name}: {columns} columns; more than {MAX_COLUMNS} is not supported",
        hint="split the table, or drop the columns you do not need",
    )
