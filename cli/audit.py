"""`piizone audit`: read, verify and export the tamper-evident audit log."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import typer

from piizone.cli.errors import handle_errors
from piizone.cli.output import echo_csv, print_table, write_output
from piizone.zones.audit.checkpoints import load_public_key
from piizone.zones.audit.export import export_audit
from piizone.zones.audit.format import AuditError, AuditRecord, RecordFilter
from piizone.zones.audit.recorder import open_audit_log, verify_home
from piizone.zones.audit.ropa import produce_ropa
from piizone.zones.audit.verify import VerifyResult
from piizone.zones.audit.zone_records import name_history, records_about
from piizone.zones.lineage.artifacts import list_artifacts
from piizone.zones.storage.store import ZoneStore

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


class LogFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


LOG_COLUMNS = ("seq", "time (UTC)", "user", "action", "zone", "outcome", "details")


@app.command("log")
@handle_errors
def log_cmd(
    zone: str | None = typer.Option(
        None,
        "--zone",
        "-z",
        help="Only records about the zone of this name that exists now (by its id), and "
        "attempts on the name that belong to no zone.",
    ),
    include_destroyed: bool = typer.Option(
        False,
        "--include-destroyed",
        help="With --zone: also the records of destroyed zones of that name, each with its "
        "zone id.",
    ),
    actor: str | None = typer.Option(None, "--actor", "-u", help="Only this user name or uid."),
    action: str | None = typer.Option(
        None, "--action", "-a", help="Only this action; globs work: 'zone.*'."
    ),
    since: str | None = SINCE_OPT,
    until: str | None = UNTIL_OPT,
    fmt: LogFormat = typer.Option(
        LogFormat.table, "--format", "-f", help="table, json (the stored records) or csv."
    ),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Show audit records, oldest first, filtered by zone, actor, action and time.

    --zone matches by zone id: the records of an earlier, destroyed zone of the same name are
    left out unless --include-destroyed is given (a zone's records run from its zone.create to
    its zone.destroy). With --include-destroyed every record carries the id of its zone
    ("zone id" column; `zone_id` in JSON; empty for records of no zone).

    Example:

        piizone audit log --zone customers --since 7d

        piizone audit log --action 'zone.*' --actor ada --json

        piizone audit log --zone churn --include-destroyed --format csv > churn-audit.csv
    """
    if include_destroyed and zone is None:
        raise typer.BadParameter("--include-destroyed needs --zone", param_hint="--zone")
    fmt = LogFormat.json if json_out else fmt
    records = _log_records(zone, include_destroyed, actor, action, since, until)
    with_id = include_destroyed
    if fmt is LogFormat.json:
        # Streamed element by element: a long log never sits in memory twice.
        out = sys.stdout
        out.write("[")
        for i, (rec, zone_id) in enumerate(records):
            obj = rec.stored() | ({"zone_id": zone_id} if with_id else {})
            out.write(("," if i else "") + "\n" + json.dumps(obj, sort_keys=True))
        out.write("\n]\n")
        return
    columns = (*LOG_COLUMNS[:5], *(["zone id"] if with_id else []), *LOG_COLUMNS[5:])
    rows = (_log_row(rec, [zone_id or ""] if with_id else []) for rec, zone_id in records)
    if fmt is LogFormat.csv:
        echo_csv(columns, rows)
        return
    listed = list(rows)
    if not listed:
        hidden = 0
        if zone is not None and not include_destroyed:
            hidden = sum(1 for _ in _log_records(zone, True, actor, action, since, until))
        more = f"; {hidden} of destroyed zones named {zone}: add --include-destroyed"
        typer.echo("no audit records match" + (more if hidden else ""))
        return
    print_table(columns, listed)


def _log_records(
    zone: str | None,
    include_destroyed: bool,
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
) -> Iterator[tuple[AuditRecord, str | None]]:
    if zone is None:
        log = open_audit_log()
        matching = log.read(actor=actor, action=action, since=since, until=until)
        yield from ((rec, None) for rec in matching)
        return
    # One read of the log: the zone's records, tied to its lives, then the other filters.
    wanted = RecordFilter(actor=actor, action=action, since=since, until=until)
    for rec, zone_id in records_about(name_history(zone), include_destroyed=include_destroyed):
        if wanted.matches(rec):
            yield rec, zone_id


def _log_row(rec: AuditRecord, id_cell: list[str]) -> tuple[object, ...]:
    """One record as a row: every detail (a pipe and CSV get them all; a terminal may cut)."""
    details = " ".join(f"{k}={_short(v)}" for k, v in sorted(rec.details.items()))
    return (
        rec.seq,
        rec.time[:19].replace("T", " "),
        rec.actor.user,
        rec.action,
        rec.zone or "",
        *id_cell,
        rec.outcome,
        details,
    )


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


class RopaFormat(StrEnum):
    markdown = "markdown"
    html = "html"
    json = "json"


@app.command("ropa")
@handle_errors
def ropa(
    name: str = typer.Argument(..., help="Zone name."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (atomically)."),
    fmt: RopaFormat = typer.Option(
        RopaFormat.markdown,
        "--format",
        "-f",
        help="markdown, html (one self-contained page) or json (the same facts as a dict).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Write the record of processing (GDPR Art. 30 style) for one zone.

    Controller and DPO contact ([ropa] in config.toml), purpose, lawful basis, owner,
    categories of personal data and of data subjects from the scan, sources, policy version,
    recipients (the owner and the users granted access now), who acted on the zone and when
    (this zone's audit records, matched by zone id: not those of an earlier zone of the same
    name), retention, safeguards and the files that left the zone. Producing it is audited.

    Example:

        piizone audit ropa customers -o customers-ropa.md

        piizone audit ropa customers --format html -o customers-ropa.html

        piizone audit ropa customers --json | jq .recipients
    """
    fmt = RopaFormat.json if json_out else fmt
    zone_id = ZoneStore().manifest(name).id  # ZoneError for a missing or unsafe name
    released = [
        {
            "id": a.id,
            "zone_version": a.zone_version,
            "verdict": a.verdict,
            "created": a.created,
            "bytes": a.bytes,
        }
        for a in list_artifacts(zone=name)
        if a.zone_id == zone_id  # not the files of an earlier zone of the same name
    ]
    write_output(produce_ropa(name, fmt=fmt.value, released=released), output)
