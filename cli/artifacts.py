"""`piizone artifacts`: the files that left zones through sandbox sessions, and their lineage."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from piizone.cli.errors import handle_errors
from piizone.cli.output import ListFormat, echo_csv, print_table, write_output
from piizone.zones.lineage.artifacts import Artifact, get_artifact, list_artifacts

app = typer.Typer(
    help=(
        "Files released from sandbox sessions, with the zone version, policy, command, code and"
        " reviewer they came from.\n\nExample:\n\n    piizone artifacts list --zone churn"
    ),
    no_args_is_help=True,
)

LIST_COLUMNS = ("id", "created", "zone", "zone_version", "name", "bytes", "user", "verdict")


class ExportFormat(StrEnum):
    openlineage = "openlineage"


@app.command("list")
@handle_errors
def list_cmd(
    zone: str | None = typer.Option(None, "--zone", "-z", help="Only artifacts of this zone."),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table, json or csv."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """List released artifacts, oldest first.

    Example:

        piizone artifacts list --zone churn --format csv > artifacts.csv
    """
    artifacts = list_artifacts(zone=zone)
    if json_out or fmt is ListFormat.json:
        typer.echo(json.dumps([a.model_dump() for a in artifacts], indent=2))
    elif fmt is ListFormat.csv:
        echo_csv(LIST_COLUMNS, ([getattr(a, c) for c in LIST_COLUMNS] for a in artifacts))
    elif artifacts:
        print_table(LIST_COLUMNS, ([getattr(a, c) for c in LIST_COLUMNS] for a in artifacts))
    else:
        typer.echo("no artifacts" + (f" of zone {zone}" if zone else ""))


@app.command("show")
@handle_errors
def show_cmd(
    artifact_id: str = typer.Argument(..., metavar="ID", help="An id or a unique prefix of it."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one artifact's whole lineage record.

    Example:

        piizone artifacts show a3f9
    """
    artifact = get_artifact(artifact_id)
    if json_out:
        typer.echo(json.dumps(artifact.model_dump(), indent=2, sort_keys=True))
        return
    width = max(len(k) for k in Artifact.model_fields)
    for key, value in artifact.model_dump().items():
        typer.echo(f"{key:<{width}}  {'' if value is None else value}")


@app.command("export")
@handle_errors
def export_cmd(
    fmt: ExportFormat = typer.Option(..., "--format", help="openlineage: OpenLineage run events."),
    zone: str | None = typer.Option(None, "--zone", "-z", help="Only artifacts of this zone."),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the events here (default: stdout)."
    ),
) -> None:
    """Export the lineage of released artifacts (one OpenLineage COMPLETE event per session).

    Example:

        piizone artifacts export --format openlineage -o lineage.json
    """
    # Imported here: the OpenLineage client models are only needed by this command.
    from piizone.zones.lineage.openlineage import export_openlineage

    events = export_openlineage(zone)
    write_output(json.dumps(events, indent=2) + "\n", output)
