"""`redact` into another format than the input's: a table file redacted into Parquet.

redact.py writes the input's own format; here a CSV/TSV/JSON Lines/JSON table is read in
chunks and written through the same column plans as Parquet (redact_frames), after its
identifier values were learned as redact_file learns them. Other pairs are refused: a text
has no columns, and Parquet's typed columns have no faithful CSV/JSON form chosen here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import (
    DecodeCounter,
    detect_format,
    iter_table_chunks,
    regular_file_stat,
)
from piizone.scrubbers.known_values import KnownValues
from piizone.scrubbers.output_files import open_output
from piizone.scrubbers.progress import (
    REDACTING,
    ItemProgress,
    ProgressCallback,
    ReadMeter,
    counting_rows,
    metered,
)
from piizone.scrubbers.redact import RedactSummary, learn_values, redact_frames

if TYPE_CHECKING:
    from piizone.scrubbers.engines import AnalysisEngine
    from piizone.scrubbers.operators import Redactor

CONVERTIBLE = {("csv", "parquet"), ("tsv", "parquet"), ("jsonl", "parquet"), ("json", "parquet")}


def output_format(input_fmt: str, output_path: str) -> str:
    """The format `redact` writes to `output_path`: its extension's, when it names one.

    The input's format when the extension names none (or for stdout); InputError when it
    names a format this input cannot be written as.
    """
    if output_path == "-":
        return input_fmt
    wanted = detect_format(output_path)
    if wanted is None or wanted == input_fmt or (input_fmt, wanted) in CONVERTIBLE:
        return wanted or input_fmt
    raise InputError(
        f"-o {output_path}: a {input_fmt} input cannot be written as {wanted}",
        hint=f"name the output .{input_fmt} (or .parquet for a csv, tsv, jsonl or json table)",
    )


def redact_table_to_parquet(
    input_path: Path,
    output_path: str,
    engine: AnalysisEngine,
    redactor: Redactor,
    fmt: str,
    progress: ProgressCallback | None = None,
) -> RedactSummary:
    """Redact a table file into a Parquet file (atomic: nothing is left at -o on failure)."""
    if str(input_path) == "-":
        raise InputError(
            "stdin cannot be redacted into Parquet", hint="pass the file's path instead of -"
        )
    if (fmt, "parquet") not in CONVERTIBLE:
        raise InputError(f"{input_path}: a {fmt} input cannot be written as parquet")
    started = time.monotonic()
    size = regular_file_stat(input_path).st_size
    known = KnownValues()
    learn_values(known, engine, redactor, path=input_path, fmt=fmt, progress=progress)
    advance = ItemProgress(progress, REDACTING, str(input_path), size)
    advance.start()
    meter = ReadMeter()
    chunks = metered(iter_table_chunks(input_path, fmt), meter)
    with DecodeCounter() as decoding, open_output(output_path) as out:
        summary = redact_frames(
            counting_rows(chunks, lambda rows: advance(meter.done(rows, size))),
            out,
            engine,
            redactor,
            name=str(input_path),
            known=known,
        )
    advance.finish()
    summary.format = f"{fmt}->parquet"
    if decoding.invalid_bytes:
        summary.invalid_bytes = decoding.invalid_bytes
        summary.warnings.append(
            f"{decoding.invalid_bytes} bytes were not valid text; they were replaced (U+FFFD)"
        )
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
