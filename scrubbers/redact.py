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
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pandas as pd

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import (
    CHUNK_ROWS,
    TEXT_CHUNK_CHARS,
    DecodeCounter,
    detect_format,
    regular_file_stat,
)
from piizone.scrubbers.known_values import KnownValues
from piizone.scrubbers.output_files import open_output
from piizone.scrubbers.progress import ProgressCallback
from piizone.scrubbers.redact_columns import RedactSummary
from piizone.scrubbers.redact_formats import WRITERS, FormatJob
from piizone.scrubbers.text_passes import TextPass

if TYPE_CHECKING:  # the engine loads Presidio and spaCy; only type hints need it here
    from piizone.scrubbers.engines import AnalysisEngine
    from piizone.scrubbers.operators import Redactor

__all__ = [
    "STDIO",
    "STREAM_FORMATS",
    "ProgressCallback",
    "RedactSummary",
    "learn_values",
    "redact_file",
    "redact_frame",
    "redact_frames",
    "redact_into",
    "redact_records",
    "redact_string",
    "redact_text",
]

STDIO = "-"
STREAM_FORMATS = ("csv", "tsv", "jsonl", "json", "txt")  # parquet needs a seekable file


def redact_text(text: str, engine: AnalysisEngine, redactor: Redactor) -> str:
    """One text with every finding replaced by its entity's operator."""
    return redactor.redact_text(text, engine.analyze(text))


def redact_file(
    input_path: str | Path,
    output_path: str | Path,
    engine: AnalysisEngine,
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
    job = FormatJob(engine, redactor, summary, progress, str(input_path), size)
    job.set_encoding(source, fmt)
    if known_values and fmt != "txt":
        job.known = KnownValues()
        if str(input_path) != STDIO:
            job.learn_file(source, fmt, chunk_rows)
    job.advance.start()
    with DecodeCounter() as decoding, _open_output(output_path) as out:
        WRITERS[fmt](job, source, fmt, out, chunk_rows, chunk_chars)
    job.advance.finish()
    return _finish(summary, decoding, started)


def redact_into(
    source: Path,
    out: IO[bytes],
    engine: AnalysisEngine,
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
    job = FormatJob(engine, redactor, summary, progress, str(source), size)
    job.set_encoding(path, fmt)
    job.on_pass = on_pass
    job.known = known
    job.advance.start()
    with DecodeCounter() as decoding:
        WRITERS[fmt](job, path, fmt, out, CHUNK_ROWS, TEXT_CHUNK_CHARS)
    job.advance.finish()
    return _finish(summary, decoding, started)


def redact_frames(
    chunks: Iterable[pd.DataFrame],
    out: IO[bytes],
    engine: AnalysisEngine,
    redactor: Redactor,
    *,
    name: str = "table",
    progress: ProgressCallback | None = None,
    known: KnownValues | None = None,
    total_rows: int | None = None,
) -> RedactSummary:
    """Redact a table given as DataFrame chunks (a database query) into Parquet on `out`.

    `known` as for `redact_into`; each row's own identifier values are matched in its cells.
    Progress in rows, of `total_rows` when known (a database's count).
    """
    started = time.monotonic()
    summary = RedactSummary(format="parquet")
    job = FormatJob(engine, redactor, summary, progress, name, 0)
    job.known = known
    job.write_frames_parquet(chunks, out, total_rows)
    job.advance.finish()
    return _finish(summary, None, started)


def redact_string(
    text: str,
    engine: AnalysisEngine,
    redactor: Redactor,
    on_pass: Callable[[TextPass], None] | None = None,
) -> tuple[str, RedactSummary]:
    """`text` redacted exactly as a .txt file holding it would be, at any length.

    The same passes and cuts as `redact_file` (a text longer than one chunk is analysed a chunk
    at a time there): this is what keeps the Python API and `piizone serve` byte-identical to
    `redact` and `zone create`. `on_pass` sees each analysis pass (Scrubber.scan_text).
    """
    started = time.monotonic()
    summary = RedactSummary(format="txt")
    job = FormatJob(engine, redactor, summary, None, "<text>", 0)
    job.on_pass = on_pass
    sink = io.StringIO()
    job.text_into(io.StringIO(text), sink, TEXT_CHUNK_CHARS)
    return sink.getvalue(), _finish(summary, None, started)


def redact_records(
    records: list[dict], engine: AnalysisEngine, redactor: Redactor
) -> RedactSummary:
    """Redact JSON records in place exactly as one JSON Lines file holding them (one table).

    Fields are profiled on the first CHUNK_ROWS records like a file's first chunk, so a batch
    gives the values `redact` gives for the same lines in a .jsonl file.
    """
    started = time.monotonic()
    summary = RedactSummary(format="jsonl")
    job = FormatJob(engine, redactor, summary, None, "<records>", 0)
    # Read ahead to learn the batch's identifier values, as redact_file does for a file.
    job.known = KnownValues()
    for i in range(0, len(records), CHUNK_ROWS):
        job.learn_records(records[i : i + CHUNK_ROWS])
    job.row_values = None
    for i in range(0, len(records), CHUNK_ROWS):
        job.records(records[i : i + CHUNK_ROWS])
    return _finish(summary, None, started)


def redact_frame(
    frame: pd.DataFrame, engine: AnalysisEngine, redactor: Redactor
) -> tuple[pd.DataFrame, RedactSummary]:
    """A redacted copy of a DataFrame, handled as `redact` handles a table file.

    Chunked by CHUNK_ROWS like a file, so the column plans (decided on the first chunk) and the
    values equal those of `redact` on the same table; identifier columns are transformed
    vectorised (one operator call per distinct value). The index is kept.
    """
    started = time.monotonic()
    summary = RedactSummary(format="frame")
    job = FormatJob(engine, redactor, summary, None, "<frame>", 0)
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
    engine: AnalysisEngine,
    redactor: Redactor,
    *,
    path: Path | None = None,
    fmt: str | None = None,
    chunks: Iterable[pd.DataFrame] | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Add the identifier-column values of a table (a file, or DataFrame chunks) to `known`.

    Columns are planned exactly as the redaction plans them (scrubbers.tables classification,
    policy column rules), on the same first chunk. Returns how many rows were read.
    `progress` (a file): the bytes read, as the phase `learning`.
    """
    # The size is only for progress (the phase `learning`); without it, nothing more is opened.
    size = path.stat().st_size if progress is not None and path is not None else 0
    summary = RedactSummary(format=fmt or "parquet")
    job = FormatJob(engine, redactor, summary, progress, str(path), size)
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
