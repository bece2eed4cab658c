"""`piizone zone diff | versions | extend` and `keys retire`: zones, versions and keys over time.

Registered on the `zone` group of cli/zone.py; kept apart so each module stays small.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from piizone.cli.confirm import confirm_or_abort
from piizone.cli.errors import handle_errors
from piizone.cli.output import ListFormat, echo_csv, print_table, table_console, write_output
from piizone.cli.zone import app, keys_app
from piizone.zones.lineage.diff import ZoneDiff, diff_zone
from piizone.zones.retention import extend_zone, list_versions, prune_versions, retire_keys


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"


def _print_diff(diff: ZoneDiff) -> None:
    console = table_console()
    policy = "changed" if diff.policy_changed else "unchanged"
    console.print(
        f"zone {diff.zone}: v{diff.old_version} -> v{diff.new_version}; policy {policy}; "
        f"worst PSI {diff.worst_psi:.3f}",
        highlight=False,
    )
    for t in diff.tables:
        table = Table(title=f"{t.path}: rows {t.rows_old} -> {t.rows_new}", title_justify="left")
        for column in ("column", "kind", "PSI", "level", "nulls", "new categories"):
            table.add_column(column, no_wrap=column != "new categories")
        for c in t.columns:
            nulls = (
                ""
                if c.nulls_old is None and c.nulls_new is None
                else (f"{c.nulls_old or 0:.1%} -> {c.nulls_new or 0:.1%}")
            )
            psi = "" if c.psi is None else f"{c.psi:.3f}"
            table.add_row(c.column, c.kind, psi, c.level, nulls, ", ".join(c.new_categories[:5]))
        console.print(table)
    for p in diff.pii:
        where = f"{p.source}:{p.column}" if p.column else p.source
        console.print(f"PII {p.entity} in {where}: {p.old} -> {p.new}", highlight=False)
    for s in diff.skipped:
        console.print(f"not compared: {s}", highlight=False)


@app.command("diff")
@handle_errors
def diff(
    name: str = typer.Argument(..., metavar="NAME"),
    from_version: str | None = typer.Option(
        None,
        "--from",
        metavar="VERSION",
        help="Older version (v2 or 2; default: the one before --to).",
    ),
    to_version: str | None = typer.Option(
        None, "--to", metavar="VERSION", help="Newer version (default: the latest)."
    ),
    fmt: DiffFormat = typer.Option(DiffFormat.table, "--format", help="table, json or html."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Write here."),
) -> None:
    """Show what changed between two versions: schema, rows, per-column PSI, PII found.

    Computed on the redacted data, decrypted in memory only. PSI < 0.1 is stable, 0.1-0.25
    moderate, > 0.25 a major shift (retrain, or look at the source).

    Example:

        piizone zone diff churn --from v1 --to v2 --format html -o drift.html
    """
    result = diff_zone(name, from_version, to_version)
    if json_out or fmt is DiffFormat.json:
        write_output(json.dumps(result.to_dict(), indent=2) + "\n", output)
    elif fmt is DiffFormat.html:
        from piizone.zones.lineage.diff_html import render_diff_html

        write_output(render_diff_html(result), output)
    else:
        _print_diff(result)


VERSION_COLUMNS = (
    "version",
    "current",
    "created",
    "created_by",
    "parent",
    "files",
    "rows",
    "bytes",
)


@app.command("versions")
@handle_errors
def versions(
    name: str = typer.Argument(..., metavar="NAME"),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table, json or csv."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """List a zone's versions still on disk, oldest first (the current one marked).

    Example:

        piizone zone versions churn --format csv
    """
    found = list_versions(name)
    if json_out or fmt is ListFormat.json:
        typer.echo(json.dumps([v.to_dict() for v in found], indent=2))
        return
    if fmt is ListFormat.csv:
        echo_csv(VERSION_COLUMNS, ([getattr(v, c) for c in VERSION_COLUMNS] for v in found))
        return
    print_table(
        VERSION_COLUMNS,
        (
            [f"v{v.version}", "*" if v.current else "", v.created, v.created_by]
            + ["" if v.parent is None else f"v{v.parent}", v.files, v.rows, v.bytes]
            for v in found
        ),
    )


@app.command("prune")
@handle_errors
def prune(
    name: str = typer.Argument(..., metavar="NAME"),
    keep: int = typer.Option(
        ..., "--keep", min=1, metavar="N", help="How many newest versions stay (at least 1)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Crypto-shred all but the N newest versions of a zone (the current one always stays).

    Owner or root; refused under legal hold; audited. Lineage and artifact records that name a
    pruned version stay, but its data is gone for good.

    Example:

        piizone zone prune churn --keep 3 --yes
    """
    confirm_or_abort(
        f"crypto-shred every version of zone {name} but the {keep} newest",
        yes,
        action="zone.prune",
        zone=name,
    )
    pruned = prune_versions(name, keep)
    if json_out:
        typer.echo(json.dumps({"zone": name, "pruned": pruned}))
    elif pruned:
        listed = ", ".join(f"v{v}" for v in pruned)
        typer.echo(f"zone {name}: crypto-shredded {len(pruned)} version(s): {listed}")
    else:
        typer.echo(f"zone {name}: nothing to prune (at most {keep} version(s) on disk)")


@app.command("extend")
@handle_errors
def extend(
    name: str = typer.Argument(..., metavar="NAME"),
    ttl: str = typer.Option(..., "--ttl", metavar="DURATION", help="From now: 12h, 30d, 2w."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Make a zone expire later: DURATION from now (owner or root; audited).

    Example:

        piizone zone extend churn --ttl 30d
    """
    expires = extend_zone(name, ttl)
    if json_out:
        typer.echo(json.dumps({"zone": name, "expires": expires}))
    else:
        typer.echo(f"zone {name} now expires {expires}")


@keys_app.command("retire")
@handle_errors
def keys_retire(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Shred the keyfile KEKs no zone version and no config uses any more (after a rotate).

    Example:

        piizone keys rotate --yes && piizone keys retire --yes
    """
    confirm_or_abort(
        "shred every key-encryption key no zone uses any more", yes, action="key.retire"
    )
    retired = retire_keys()
    if json_out:
        typer.echo(json.dumps({"retired": retired}))
    elif retired:
        typer.echo(f"retired {len(retired)} key-encryption key(s): {', '.join(retired)}")
    else:
        typer.echo("no key-encryption key to retire")


@app.command("status")
@handle_errors
def status(
    name: str = typer.Argument(..., metavar="NAME"),
    fmt: ListFormat = typer.Option(
        ListFormat.table, "--format", help="table, json or csv (one row per source)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (`stale`: true/false)."),
) -> None:
    """Say whether the zone's sources changed since its current version (exit 0 either way).

    Files by content hash, SQL sources by a cheap probe (row count, max of each column) recorded
    at build time. Per source: changed, unchanged, missing or unknown; stale unless all unchanged.

    Example:

        piizone zone status churn --json
    """
    from piizone.zones.lineage.freshness import zone_status

    result = zone_status(name)
    if json_out or fmt is ListFormat.json:
        typer.echo(json.dumps(result.as_dict(), indent=2, sort_keys=True))
        return
    if fmt is ListFormat.csv:
        echo_csv(
            ("source", "kind", "state", "why"),
            ((s.uri, s.kind, s.state, s.reason) for s in result.sources),
        )
        return
    console = table_console()
    table = Table(
        title=f"zone {result.zone} v{result.version}: {result.verdict}", title_justify="left"
    )
    for column in ("source", "kind", "state", "why"):
        table.add_column(column)
    for s in result.sources:
        table.add_row(escape(s.uri), s.kind, s.state, s.reason)
    console.print(table)
