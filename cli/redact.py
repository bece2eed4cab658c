"""`piizone redact`: one file in, the same format out, PII replaced under the policy."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer

from piizone.cli.engine_options import (
    ENGINE,
    SCHEDULER,
    WORKERS,
    EngineKind,
    EngineOptions,
    engine_from,
)
from piizone.cli.errors import handle_errors
from piizone.cli.policy import warn_disabled
from piizone.cli.progress import progress_bar
from piizone.cli.verbosity import notice
from piizone.scrubbers.exceptions import ScrubberError
from piizone.scrubbers.formats import detect_format
from piizone.scrubbers.policy import load_policy
from piizone.scrubbers.redact import STDIO, RedactSummary
from piizone.zones.audit.recorder import audited_redaction
from piizone.zones.home import keys_dir
from piizone.zones.storage.keys import PSEUDONYM_KEY_NAME


class StreamFormat(StrEnum):
    csv = "csv"
    tsv = "tsv"
    jsonl = "jsonl"
    json = "json"
    txt = "txt"


@handle_errors
def redact(
    input_path: str = typer.Argument(
        ..., metavar="INPUT", help="csv, tsv, jsonl, json, parquet, txt or md file; - for stdin."
    ),
    output: str = typer.Option(STDIO, "--output", "-o", help="Write here (default: stdout)."),
    policy: Path | None = typer.Option(
        None, "--policy", "-p", help="Policy YAML (default: built-in)."
    ),
    input_format: StreamFormat | None = typer.Option(
        None, "--input-format", help="Input format when reading stdin (default txt)."
    ),
    old_format: StreamFormat | None = typer.Option(
        None, "--format", "-f", hidden=True, help="Deprecated: --input-format."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON on stderr."),
    workers: int | None = WORKERS,
    engine_kind: EngineKind = ENGINE,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Redact PII from a file, keeping its format, rows, columns and non-string values.

    The output format follows -o's extension: the input's own, or .parquet for a csv, tsv,
    jsonl or json table; another extension that names a format is refused.

    The summary (counts per entity, rows, seconds; never values) goes to stderr. The output is
    written to a temp file and renamed, so a failure leaves nothing at -o. pseudonymize needs
    the key made by `piizone init`; fake without it is consistent within one run only.

    Example:

        piizone redact sample_data/customers.csv -o customers.redacted.csv

        cat call.txt | piizone redact - --policy policy.yaml > call.redacted.txt

        piizone redact sample_data/customers.csv -o customers.redacted.parquet
    """
    # Imported here, not at the top: they load Presidio, spaCy and Faker (seconds).
    from piizone.scrubbers.convert import output_format, redact_table_to_parquet
    from piizone.scrubbers.operators import Redactor
    from piizone.scrubbers.redact import redact_file

    if old_format is not None:
        sys.stderr.write("warning: -f/--format is deprecated here; use --input-format\n")
    fmt = input_format or old_format
    in_fmt = fmt.value if fmt else ("txt" if input_path == STDIO else detect_format(input_path))
    out_fmt = output_format(in_fmt, output) if in_fmt else None
    loaded = load_policy(policy)
    warn_disabled(loaded)
    redactor = Redactor(loaded, _pseudonym_key())
    size = (
        Path(input_path).stat().st_size if input_path != STDIO and Path(input_path).is_file() else 0
    )
    options = EngineOptions(workers, engine_kind.value, scheduler)
    with (
        audited_redaction(loaded.sha256) as details,
        engine_from(loaded, options, size) as engine,
        progress_bar() as progress,
    ):
        if in_fmt is not None and out_fmt != in_fmt:
            summary = redact_table_to_parquet(
                Path(input_path), output, engine, redactor, in_fmt, progress
            )
        else:
            summary = redact_file(input_path, output, engine, redactor, progress, in_fmt)
        details.update(format=summary.format, rows=summary.rows, entities=summary.entities)
    _render(summary, json_out)


def _pseudonym_key() -> bytes | None:
    path = keys_dir() / PSEUDONYM_KEY_NAME
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError as e:
        raise ScrubberError(
            f"cannot read the pseudonym key {path} ({e.strerror})", hint="check its permissions"
        ) from None


def _render(summary: RedactSummary, json_out: bool) -> None:
    if json_out:  # one JSON line: its `warnings` hold the warnings
        sys.stderr.write(json.dumps(summary.to_dict(), sort_keys=True) + "\n")
        return
    notice(summary.one_line())  # left out under --quiet; warnings below never are
    for warning in summary.warnings:
        sys.stderr.write(f"warning: {warning}\n")
