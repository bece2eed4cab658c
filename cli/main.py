"""The `piizone` command: registers every command group and guards against tracebacks."""

from __future__ import annotations

import os
import sys

import typer

from cli import audit as audit_cmd
from cli import scan as scan_cmd

app = typer.Typer(
    name="piizone",
    help="Provision PII-redacted, encrypted training zones from production data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)
app.command("scan")(scan_cmd.scan)
app.add_typer(audit_cmd.app, name="audit")


def _print_version(value: bool) -> None:
    if value:
        from scrubbers.reports import tool_version

        typer.echo(f"piizone {tool_version()}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Provision PII-redacted, encrypted training zones from production data.

    Example:

        piizone scan sample_data --format html -o scan.html
    """


def main() -> None:
    """Console entry point: run the app; an unexpected failure is one line, not a traceback."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the last line of defence for users
        if os.environ.get("PIIZONE_DEBUG"):
            raise
        sys.stderr.write(
            f"error: internal error ({type(e).__name__}); rerun with PIIZONE_DEBUG=1 for details\n"
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
