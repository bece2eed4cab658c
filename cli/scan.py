"""`piizone scan`: report the PII in files and directories."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from piizone.cli.engine_options import (
    ENGINE,
    SCHEDULER,
    WORKERS,
    EngineKind,
    EngineOptions,
    engine_from,
)
from piizone.cli.errors import handle_errors, report_error
from piizone.cli.output import write_output
from piizone.cli.progress import byte_progress
from piizone.scrubbers.entities import Risk
from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.policy import load_policy
from piizone.scrubbers.reports import RENDERERS, Report


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"
    markdown = "markdown"


class FailOn(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


@handle_errors
def scan(
    paths: list[Path] = typer.Argument(
        ..., help="Files or directories (scanned recursively).", readable=False
    ),
    policy: Path | None = typer.Option(
        None, "--policy", "-p", help="Policy YAML (default: built-in)."
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="Report format."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here."),
    fail_on: FailOn = typer.Option(
        FailOn.none, "--fail-on", help="Exit 1 when the overall risk reaches this level."
    ),
    json_out: bool = typer.Option(False, "--json", help="Shorthand for --format json."),
    workers: int | None = WORKERS,
    engine_kind: EngineKind = ENGINE,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Scan files for PII and report counts per source, column and entity type.

    Tables (csv, tsv, parquet, jsonl, json) are profiled column by column; text files (txt, md)
    are scanned as documents. Reports hold counts and masked contexts, never raw values.
    Exit codes: 0 ok, 1 risk reached --fail-on, 2 input error (reported after the scan).

    Example:

        piizone scan sample_data

        piizone scan exports/ --format html -o scan.html --fail-on high
    """
    if json_out:
        fmt = ReportFormat.json
    from piizone.scrubbers.scan import (  # loads the NLP stack: not at import
        collect_targets,
        scan_paths,
    )

    total = sum(t.path.stat().st_size for t in collect_targets(paths))
    options = EngineOptions(workers, engine_kind.value, scheduler)
    with (
        engine_from(load_policy(policy), options, total) as engine,
        byte_progress("scanning", total) as progress,
    ):
        report = scan_paths(paths, engine, progress=progress)
    if fmt is ReportFormat.table:
        if output is not None:
            raise InputError(
                "--format table prints to the terminal",
                hint="use --format json, markdown or html with -o",
            )
        render_table(report)
    else:
        write_output(RENDERERS[fmt.value](report), output)
    for err in report.errors:
        report_error(f"{err['path']}: {err['error']}")
    warned = [(s.path, w) for s in report.sources for w in s.warnings]
    for path, warning in warned:
        report_error(f"{path}: {warning}")
    if report.errors or warned:
        raise typer.Exit(2)
    if fail_on is not FailOn.none and report.risk >= Risk.parse(fail_on.value):
        raise typer.Exit(1)


def render_table(report: Report) -> None:
    console = Console()
    summary = Table(title="PII by source", title_justify="left")
    for col in ("Source", "Kind", "Rows", "Risk", "Entities"):
        summary.add_column(col, justify="right" if col == "Rows" else "left")
    for s in report.sources:
        entities = ", ".join(
            f"{e} {n}" for e, n in sorted(s.entities.items(), key=lambda kv: -kv[1])
        )
        summary.add_row(s.path, s.kind, str(s.rows), s.risk.label, entities or "-")
    console.print(summary)
    for s in report.sources:
        if not s.columns:
            continue
        cols = Table(title=f"Columns of {s.path}", title_justify="left")
        for col in ("Column", "Kind", "Classification", "Entities"):
            cols.add_column(col)
        for c in s.columns:
            cols.add_row(
                c.name,
                c.kind,
                c.classification or "-",
                ", ".join(f"{e} {n}" for e, n in c.entities.items()) or "-",
            )
        console.print(cols)
    for item in report.skipped:
        console.print(f"skipped {item['path']}: {item['reason']}", style="dim")
    totals = ", ".join(f"{e} {n}" for e, n in report.totals.items()) or "none"
    console.print(
        f"[bold]Overall risk: {report.risk.label}[/bold]  ({totals}) in "
        f"{report.duration_s:.1f} s, policy {report.policy_sha256[:12]}"
    )
