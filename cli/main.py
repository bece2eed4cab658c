"""The `piizone` command: registers every command group and guards against tracebacks."""

from __future__ import annotations

import os
import sys
from types import ModuleType

import typer
import typer.main
from typer.exceptions import Abort as TyperAbort

from piizone.cli import airlock as airlock_cmd
from piizone.cli import artifacts as artifacts_cmd
from piizone.cli import audit as audit_cmd
from piizone.cli import policy as policy_cmd
from piizone.cli import redact as redact_cmd
from piizone.cli import sandbox as sandbox_cmd
from piizone.cli import scan as scan_cmd
from piizone.cli import serve as serve_cmd
from piizone.cli import zone as zone_cmd
from piizone.cli import zone_versions  # noqa: F401  (registers zone diff on the zone group)
from piizone.cli.errors import Terminated, install_signal_handlers, report_error
from piizone.cli.help import fill_metavars
from piizone.cli.verbosity import Verbosity, detail, set_verbosity, verbose

click_exceptions: ModuleType  # the same exceptions module, whichever click typer runs on
try:  # typer >= 0.20 vendors its own click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on plain click
    import click.exceptions as click_exceptions

app = typer.Typer(
    name="piizone",
    help=(
        "Provision PII-redacted, encrypted training zones from production data.\n\nExample:\n\n"
        "    piizone init && piizone zone create churn --from sample_data"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    # `piizone --install-completion` / `--show-completion [bash|zsh|fish|powershell]`: typer's
    # click-based completion, computed by piizone itself on TAB (no network, no extra files).
    add_completion=True,
)
app.command("scan")(scan_cmd.scan)
app.command("redact")(redact_cmd.redact)
app.add_typer(audit_cmd.app, name="audit")
app.command("init")(zone_cmd.init)
app.add_typer(zone_cmd.app, name="zone")
app.add_typer(zone_cmd.keys_app, name="keys")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.add_typer(artifacts_cmd.app, name="artifacts")
app.add_typer(airlock_cmd.app, name="airlock")
app.command("serve")(serve_cmd.serve)
app.add_typer(policy_cmd.app, name="policy")


def _print_version(value: bool) -> None:
    if value:
        from piizone.scrubbers.reports import tool_version

        typer.echo(f"piizone {tool_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Show the version."
    ),
    quiet_flag: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress bars or notices on stderr (warnings and errors still print).",
    ),
    verbose_flag: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Diagnostics on stderr: home and config paths, engine, per-file timing.",
    ),
) -> None:
    """Provision PII-redacted, encrypted training zones from production data.

    Example:

        piizone scan sample_data --format html -o scan.html
    """
    if quiet_flag and verbose_flag:
        raise click_exceptions.UsageError("--quiet and --verbose cannot be used together")
    level = Verbosity.verbose if verbose_flag else Verbosity.normal
    set_verbosity(Verbosity.quiet if quiet_flag else level)
    # Back to normal when the command is done (tests and notebooks run several in one process).
    ctx.call_on_close(lambda: set_verbosity(Verbosity.normal))
    _describe_setup()
    _settle_interrupted_changes()


def _describe_setup() -> None:
    """Under --verbose: the version, home and config file this run uses."""
    if not verbose():
        return
    from piizone.scrubbers.reports import tool_version
    from piizone.zones.config import config_path
    from piizone.zones.home import piizone_home

    home = piizone_home()
    config = config_path(home)
    detail(f"piizone {tool_version()}, Python {sys.version.split()[0]}")
    detail(f"home {home} ({'initialised' if config.is_file() else 'not initialised'})")
    detail(f"config {config}" + ("" if config.is_file() else " (missing: defaults)"))


def _settle_interrupted_changes() -> None:
    """A change killed between its effect and its audit record is settled first (zones.journal)."""
    from piizone.zones.home import piizone_home
    from piizone.zones.journal import recover_or_warn

    for line in recover_or_warn(piizone_home()):
        sys.stderr.write(f"warning: {line}\n")


def cli_command() -> typer.core.TyperGroup:
    """The command tree `piizone` runs: typer's, with metavars in place of Python types."""
    return fill_metavars(typer.main.get_command(app))


def main() -> None:
    """Console entry point: every failure is one `error:` line on stderr, never a traceback."""
    install_signal_handlers()
    try:
        # prog_name: `piizone` in usage lines and completion scripts, also under `python -m`.
        code = cli_command()(standalone_mode=False, prog_name="piizone")
    except KeyboardInterrupt:
        # Ctrl-C outside a command body (while workers start, during option parsing): the same
        # one line as inside one, never a traceback.
        report_error("interrupted")
        sys.exit(130)
    except Terminated:
        report_error("terminated")
        sys.exit(143)
    except click_exceptions.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # help was printed; nothing else to say
            sys.exit(e.exit_code)
        command = e.ctx.command_path if e.ctx else "piizone"
        report_error(e.format_message(), hint=f"see '{command} --help'")
        sys.exit(e.exit_code)
    except click_exceptions.ClickException as e:
        report_error(e.format_message())
        sys.exit(e.exit_code)
    except TyperAbort:
        report_error("aborted")
        sys.exit(1)
    except BrokenPipeError:
        # `piizone audit log --json | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as e:  # noqa: BLE001 - the last line of defence for users
        if os.environ.get("PIIZONE_DEBUG"):
            raise
        report_error(
            f"internal error ({type(e).__name__})", hint="rerun with PIIZONE_DEBUG=1 for details"
        )
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # python -m piizone.cli.main
    main()
