"""`piizone scan`: report the PII in files and directories."""

from __future__ import annotations

import json
import sys
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
from piizone.cli.policy import warn_disabled
from piizone.cli.progress import progress_bar
from piizone.scrubbers.entities import Risk
from piizone.scrubbers.exceptions import InputError, ScrubberError
from piizone.scrubbers.policy import load_policy
from piizone.scrubbers.reports import RENDERERS, Report, risk_of


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"
    markdown = "markdown"
    sarif = "sarif"


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
    skip_unsupported: bool = typer.Option(
        False,
        "--skip-unsupported",
        help="Files piizone cannot read (unsupported formats) are skipped, not errors, and do "
        "not fail --fail-on.",
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", metavar="FILE", help="Findings listed here do not count for --fail-on."
    ),
    update_baseline: bool = typer.Option(
        False, "--update-baseline", help="Write this scan's findings into --baseline."
    ),
    json_out: bool = typer.Option(False, "--json", help="Shorthand for --format json."),
    suggest_policy: bool = typer.Option(
        False,
        "--suggest-policy",
        help="Write the policy lines the report proposes, added to --policy (or to a new "
        "policy extending the default), to -o FILE (- for stdout); the report goes to stdout.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="With --suggest-policy: replace an existing -o file."
    ),
    workers: int | None = WORKERS,
    engine_kind: EngineKind = ENGINE,
    scheduler: str | None = SCHEDULER,
) -> None:
    """Scan files for PII and report counts per source, column and entity type.

    Tables (csv, tsv, parquet, jsonl, json, xlsx) are profiled column by column; text files
    (txt, md, log) are scanned as documents; .gz/.bz2/.zst copies of both are read as they are.
    Reports hold counts and masked contexts, never raw values. Every input that cannot be
    scanned is an error in the report. Exit codes: 0 ok, 1 risk reached --fail-on (or files were
    left unscanned), 2 input error (reported after the scan, JSON on stderr with --json).

    Example:

        piizone scan sample_data

        piizone scan exports/ --format sarif -o piizone.sarif --fail-on high

        piizone scan data/ --baseline .piizone-baseline.json --update-baseline

        piizone scan sample_data --suggest-policy -o policy.yaml
    """
    if json_out:
        fmt = ReportFormat.json
    as_json = fmt in (ReportFormat.json, ReportFormat.sarif)
    try:
        suggested_to = _suggestion_target(output, overwrite) if suggest_policy else None
        report = _run(
            paths,
            policy,
            fmt,
            None if suggest_policy else output,
            skip_unsupported,
            baseline,
            update_baseline,
            EngineOptions(workers, engine_kind.value, scheduler),
            render=suggested_to is None or str(suggested_to) != "-",
        )
        if suggested_to is not None:
            _write_suggested_policy(report, policy, suggested_to)
    except ScrubberError as e:
        if not as_json:
            raise
        _json_error({"error": str(e), **({"hint": e.hint} if e.hint else {})})
        raise typer.Exit(e.exit_code) from None
    for err in report.errors:
        if as_json:
            _json_error(err)
        else:
            report_error(f"{err['path']}: {err['error']}")
    if report.errors:
        raise typer.Exit(2)
    _gate(report, fail_on, skip_unsupported, as_json)


def _run(
    paths: list[Path],
    policy: Path | None,
    fmt: ReportFormat,
    output: Path | None,
    skip_unsupported: bool,
    baseline: Path | None,
    update_baseline: bool,
    options: EngineOptions,
    *,
    render: bool = True,
) -> Report:
    """Scan, apply (or update) the baseline and render; the report for the exit code."""
    from piizone.scrubbers.baseline import load_baseline
    from piizone.scrubbers.formats import detect_scan_format
    from piizone.scrubbers.scan import (  # loads the NLP stack: not at import
        collect_targets,
        scan_paths,
    )

    if update_baseline and baseline is None:
        raise InputError("--update-baseline needs --baseline FILE")
    if fmt is ReportFormat.table and output is not None:
        raise InputError(
            "--format table prints to the terminal",
            hint="use --format json, markdown, html or sarif with -o",
        )
    accepted = load_baseline(baseline, create=update_baseline) if baseline else None
    loaded = load_policy(policy)
    warn_disabled(loaded, as_json=fmt in (ReportFormat.json, ReportFormat.sarif))
    sizes = [(t.path, t.path.stat().st_size) for t in collect_targets(paths) if t.path.is_file()]
    total = sum(size for _, size in sizes)
    # The bar's total: the files that will be read (an unsupported one is only listed).
    readable = sum(size for path, size in sizes if detect_scan_format(path) is not None)
    with (
        engine_from(loaded, options, total) as engine,
        progress_bar(readable) as progress,
    ):
        report = scan_paths(
            paths,
            engine,
            progress=progress,
            skip_unsupported=skip_unsupported,
            fingerprint=accepted.fingerprint if accepted else None,
        )
    if accepted is not None:
        if update_baseline and baseline is not None:  # checked above: one needs the other
            accepted.update_from(report)
            accepted.save(baseline)
        accepted.apply(report)
    if not render:
        return report
    if fmt is ReportFormat.table:
        render_table(report)
    elif fmt is ReportFormat.sarif:
        from piizone.scrubbers.sarif import render_sarif

        write_output(render_sarif(report), output)
    else:
        write_output(RENDERERS[fmt.value](report), output)
    return report


def _suggestion_target(output: Path | None, overwrite: bool) -> Path:
    """Where --suggest-policy writes: -o, which must not exist unless --overwrite."""
    if output is None:
        raise InputError("--suggest-policy needs -o FILE (or -o - for stdout)")
    if str(output) != "-" and output.is_file() and not overwrite:
        raise InputError(
            f"{output}: already exists", hint="pass --overwrite to replace it, or choose another -o"
        )
    return output


def _write_suggested_policy(report: Report, policy: Path | None, output: Path) -> None:
    from piizone.scrubbers.suggestions import suggested_policy

    write_output(suggested_policy(report.suggestions, policy), output)
    if str(output) != "-":
        sys.stderr.write(
            f"wrote {output} ({len(report.suggestions)} suggested lines); "
            f"check it: piizone policy diff {output}\n"
        )


def _json_error(error: dict) -> None:
    sys.stderr.write(json.dumps({"level": "error", **error}, ensure_ascii=False) + "\n")


def _gate(report: Report, fail_on: FailOn, skip_unsupported: bool, as_json: bool) -> None:
    """--fail-on judges the findings a baseline did not accept, and the files left unscanned."""
    if fail_on is FailOn.none:
        return
    unscanned = [x for x in report.skipped if x["reason"] != "empty file"]
    if unscanned and not skip_unsupported:
        message = (
            f"{len(unscanned)} file(s) were not scanned (unsupported or binary): the gate cannot "
            "vouch for them"
        )
        hint = "pass --skip-unsupported to accept that, or convert them"
        if as_json:
            _json_error({"error": message, "hint": hint, "skipped": unscanned})
        else:
            report_error(message, hint)
        raise typer.Exit(1)
    totals = report.new_totals if report.accepted is not None else report.totals
    if risk_of(totals) >= Risk.parse(fail_on.value):
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
    if report.suggestions:
        lines = Table(title="Suggested policy lines", title_justify="left")
        for col in ("Source", "Column", "Policy line", "Why"):
            lines.add_column(col, overflow="fold")  # a cut policy line could not be pasted
        for x in report.suggestions:
            lines.add_row(x["path"], x["column"], x["line"], x["why"])
        console.print(lines, markup=False, highlight=False)
    for item in report.skipped:
        console.print(f"skipped {item['path']}: {item['reason']}", style="dim")
    totals = ", ".join(f"{e} {n}" for e, n in report.totals.items()) or "none"
    console.print(
        f"[bold]Overall risk: {report.risk.label}[/bold]  ({totals}) in "
        f"{report.duration_s:.1f} s, policy {report.policy_sha256[:12]}"
    )
