"""`piizone audit`: read, verify and export the tamper-evident audit log."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from piizone.cli.errors import handle_errors
from piizone.cli.output import table_console, write_output
from piizone.zones.audit.checkpoints import load_public_key
from piizone.zones.audit.export import export_audit
from piizone.zones.audit.format import AuditError
from piizone.zones.audit.recorder import open_audit_log, verify_home
from piizone.zones.audit.ropa import produce_ropa
from piizone.zones.audit.verify import VerifyResult
from piizone.zones.lineage.artifacts import ropa_artifacts_section

app = typer.Typer(
    help=(
        "Read, verify and export the tamper-evident audit log.\n\nExample:\n\n"
        "    piizone audit log --zone churn --since 7d && piizone audit verify"
    ),
    no_args_is_help=True,
)


class ExportFormat(StrEnum):
    ocsf = "ocsf"
    jsonl = "jsonl"
    csv = "csv"


ZONE_OPT = typer.Option(None, "--zone", "-z", help="Only records about this zone.")
SINCE_OPT = typer.Option(
    None, "--since", help="From this time on: 2025-01-31, 2025-01-31T08:00:00Z, or 30m, 12h, 7d."
)
UNTIL_OPT = typer.Option(None, "--until", help="Up to this time (same forms as --since).")


@app.command("log")
@handle_errors
def log_cmd(
    zone: str | None = ZONE_OPT,
    actor: str | None = typer.Option(None, "--actor", "-u", help="Only this user name or uid."),
    action: str | None = typer.Option(
        None, "--action", "-a", help="Only this action; globs work: 'zone.*'."
    ),
    since: str | None = SINCE_OPT,
    until: str | None = UNTIL_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print a JSON array of records."),
) -> None:
    """Show audit records, oldest first, filtered by zone, actor, action and time.

    Example:

        piizone audit log --zone customers --since 7d

        piizone audit log --action 'zone.*' --actor ada --json
    """
    records = open_audit_log().read(zone=zone, actor=actor, action=action, since=since, until=until)
    if json_out:
        # Streamed element by element: a long log never sits in memory twice.
        out = sys.stdout
        out.write("[")
        for i, rec in enumerate(records):
            out.write(("," if i else "") + "\n" + json.dumps(rec.stored(), sort_keys=True))
        out.write("\n]\n")
        return
    console = table_console()
    # Details need room; on a narrow terminal they are left to --json rather than folded into
    # a column a few characters wide.
    show_details = console.width >= 110
    table = Table(show_lines=False, header_style="bold")
    for column, width in (
        ("seq", 3),
        ("time (UTC)", 19),
        ("user", 4),
        ("action", 13),
        ("zone", 4),
        ("outcome", 7),
    ):
        table.add_column(column, no_wrap=True, min_width=width)
    # One line per record: the table is for scanning by eye; --json has every detail.
    if show_details:
        table.add_column("details", overflow="fold")
    for rec in records:
        details = " ".join(f"{k}={_short(v)}" for k, v in sorted(rec.details.items()))
        if sys.stdout.isatty() and len(details) > 60:  # a pipe gets every detail
            details = details[:59] + "…"
        style = None if rec.outcome == "success" else "red"
        table.add_row(
            str(rec.seq),
            rec.time[:19].replace("T", " "),
            rec.actor.user,
            rec.action,
            rec.zone or "",
            rec.outcome,
            *([details] if show_details else []),
            style=style,
        )
    if table.row_count:
        console.print(table)
        if not show_details:
            console.print("details: widen the terminal or use --json", style="dim")
    else:
        typer.echo("no audit records match")


def _short(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{v}" for k, v in sorted(value.items())) + "}"
    return str(value)


def _describe(result: VerifyResult) -> str:
    if result.ok and not result.macs_checked:
        return (
            f"audit log intact: {result.records} record(s) in {len(result.files)} file(s) chain "
            f"to the signed checkpoint (seq {result.signed_seq}); MACs not checked (no audit key)"
        )
    if result.ok:
        signed = f"; signed checkpoint seq {result.signed_seq}" if result.signed_seq else ""
        return (
            f"audit log intact: {result.records} record(s) in {len(result.files)} file(s); "
            f"head seq {result.head_seq}, last sha256 {result.head_last[:16]}…{signed}"
        )
    assert result.problem is not None
    return (
        f"audit log FAILED verification after {result.records} good record(s): "
        f"{result.problem.describe()}"
    )


@app.command("verify")
@handle_errors
def verify(
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    public_key: Path | None = typer.Option(
        None,
        "--public-key",
        help="Verify without the audit key: the hash chain and the checkpoint signed by this "
        "Ed25519 key (keys/audit-signing.ed25519.pub).",
    ),
) -> None:
    """Check the chain, MACs, head and signed checkpoint; exit 1 naming the first bad record.

    Reports edited, deleted, reordered, inserted, truncated, bad_mac, bad_signature, malformed
    or stale_head with the record's seq, file and line. An empty or missing log in a home with
    zones, an audit key or a checkpoint fails. With --public-key an auditor needs only the
    audit directory ($PIIZONE_HOME/audit) and the public key, not the secret MAC key. Keep the
    printed head (seq and sha256) elsewhere to detect a later rollback of the whole log.

    Example:

        piizone audit verify

        piizone audit verify --json > audit-verify.json

        PIIZONE_HOME=/mnt/audit-copy piizone audit verify --public-key audit-signing.ed25519.pub
    """
    key = None
    if public_key is not None:
        try:
            data = public_key.read_bytes()
        except OSError as e:
            raise AuditError(f"cannot read {public_key} ({e.strerror})") from None
        key = load_public_key(data, str(public_key))
    result = verify_home(public_key=key)
    if json_out:
        typer.echo(json.dumps(result.to_dict(), sort_keys=True, indent=2))
    else:
        typer.echo(_describe(result))
    raise typer.Exit(0 if result.ok else 1)


@app.command("export")
@handle_errors
def export(
    fmt: ExportFormat = typer.Option(
        ExportFormat.jsonl, "--format", "-f", help="ocsf (API Activity events), jsonl or csv."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (atomically)."),
    zone: str | None = ZONE_OPT,
    since: str | None = SINCE_OPT,
    until: str | None = UNTIL_OPT,
) -> None:
    """Export audit records for a SIEM or a spreadsheet; the export itself is audited.

    ocsf writes one OCSF API Activity (class 6003) event per line; jsonl writes the stored,
    MAC-verifiable lines; csv writes one row per record with spreadsheet formulas neutralised.

    Example:

        piizone audit export --format ocsf -o audit.ocsf.jsonl

        piizone audit export --format csv --zone customers --since 30d -o customers-audit.csv
    """
    write_output(export_audit(fmt.value, zone=zone, since=since, until=until), output)


@app.command("ropa")
@handle_errors
def ropa(
    name: str = typer.Argument(..., help="Zone name."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (atomically)."),
) -> None:
    """Write the record of processing (GDPR Art. 30 style, Markdown) for one zone.

    Purpose, owner, categories of data from the scan, sources, policy version, who accessed the
    zone and when, retention and security measures. Producing it is audited.

    Example:

        piizone audit ropa customers -o customers-ropa.md
    """
    write_output(produce_ropa(name, appendix=ropa_artifacts_section(name)), output)
