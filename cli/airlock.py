"""`piizone airlock`: review quarantined sandbox outputs; a second person approves or rejects."""

from __future__ import annotations

import json

import typer

from piizone.cli.errors import handle_errors
from piizone.cli.output import (
    LIST_FORMAT,
    LIST_JSON,
    ListFormat,
    echo_csv,
    list_format,
    print_table,
)
from piizone.cli.sandbox import printable
from piizone.zones.lineage.airlock import HeldOutput, approve, list_held, reject, show_held

app = typer.Typer(
    help=(
        "Quarantined sandbox outputs waiting for review: they stay encrypted until someone who"
        " is neither the session's user nor the zone's owner approves (release) or rejects"
        " (delete) them.\n\nExample:\n\n    piizone airlock list --zone churn"
    ),
    no_args_is_help=True,
)

LIST_COLUMNS = ("id", "created", "zone", "version", "name", "bytes", "user", "status")
REASON = typer.Option(..., "--reason", "-r", help="Why (kept in the record and the artifact).")


def _row(record: HeldOutput) -> dict[str, object]:
    prov = record.provenance
    return {
        "id": record.id,
        "created": record.created,
        "zone": prov.zone,
        "version": prov.zone_version,
        "name": printable(record.name),
        "bytes": record.bytes,
        "user": prov.user,
        "status": record.status,
    }


@app.command("list")
@handle_errors
def list_cmd(
    zone: str | None = typer.Option(None, "--zone", "-z", help="Only requests of this zone."),
    pending: bool = typer.Option(False, "--pending", help="Only requests not yet decided."),
    fmt: ListFormat = LIST_FORMAT,
    json_out: bool = LIST_JSON,
) -> None:
    """List airlock requests (quarantined outputs), oldest first.

    Example:

        piizone airlock list --zone churn --pending

        piizone airlock list --format csv > requests.csv
    """
    records = list_held(zone=zone, status="pending" if pending else None)
    fmt = list_format(fmt, json_out)
    if fmt is ListFormat.json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
    elif fmt is ListFormat.csv:
        echo_csv(LIST_COLUMNS, (list(_row(record).values()) for record in records))
    elif not records:
        typer.echo("no airlock requests" + (f" of zone {zone}" if zone else ""))
    else:
        print_table(LIST_COLUMNS, (list(_row(record).values()) for record in records))


@app.command("show")
@handle_errors
def show_cmd(
    request_id: str = typer.Argument(..., metavar="ID", help="An id or a unique prefix of it."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one request: its lineage and the flagged lines, values masked (never raw).

    Example:

        piizone airlock show q3f9
    """
    record = show_held(request_id)
    if json_out:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True))
        return
    prov = record.provenance
    fields = {
        **_row(record),
        "session": prov.session,
        "sha256": record.sha256,
        "kind": record.kind,
        "command": prov.command,
        "policy_sha256": prov.policy_sha256,
        "code_sha256": prov.code_sha256 or "",
        "out": printable(record.out_dir),
        "decided_by": record.decided_by or "",
        "decided": record.decided or "",
        "reason": printable(record.reason or ""),
        "artifact": record.artifact or "",
        "released_to": printable(record.released_to or ""),
    }
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        typer.echo(f"{key:<{width}}  {value}")
    typer.echo(f"flagged ({len(record.findings)}):")
    for f in record.findings:
        where = f"line {f.line}" if f.line else "file"
        why = "" if f.reason == "policy" else f" ({f.reason})"
        typer.echo(f"  {where}: {f.entity}{why}: {printable(f.context)}")


@app.command("approve")
@handle_errors
def approve_cmd(
    request_id: str = typer.Argument(..., metavar="ID", help="An id or a unique prefix of it."),
    reason: str = REASON,
) -> None:
    """Release a quarantined output to a fresh directory under the requester's --out.

    Released like a clean output (nothing overwritten, no exec bit) and registered as an
    artifact with verdict "approved", you as approved_by and the reason. The session's user
    and the zone's owner may not approve (exit 1) unless [airlock] allow_self_review = true.

    Example:

        piizone airlock approve q3f9 --reason "aggregate counts, every cell >= 10"
    """
    record = approve(request_id, reason)
    typer.echo(
        f"approved {record.id}: released to {printable(record.released_to or '')} "
        f"as artifact {record.artifact}"
    )


@app.command("reject")
@handle_errors
def reject_cmd(
    request_id: str = typer.Argument(..., metavar="ID", help="An id or a unique prefix of it."),
    reason: str = REASON,
) -> None:
    """Delete a quarantined output (its encrypted copy); the decision stays on record.

    Example:

        piizone airlock reject q3f9 --reason "row-level records with e-mail addresses"
    """
    record = reject(request_id, reason)
    typer.echo(f"rejected {record.id}: the held file is deleted")
