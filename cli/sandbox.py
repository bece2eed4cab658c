"""`piizone sandbox …`: run a command or a shell on a zone's data, isolated, outputs checked."""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import typer
from rich.console import Console

from piizone.cli.errors import handle_errors
from piizone.cli.verbosity import quiet
from piizone.zones.sandbox import session as sandbox

PUBLISH = typer.Option(
    None,
    "--publish",
    help="Relay the host's 127.0.0.1:PORT to 127.0.0.1:PORT inside (e.g. a notebook).",
)
OUT = typer.Option(
    Path("sandbox-out"),
    "--out",
    "-o",
    help="Where clean outputs are released: DIR if new or empty, else a new DIR/<session>/.",
)
ALLOW_DOTFILES = typer.Option(
    False, "--allow-dotfiles", help="Also release hidden files (.env, .git/...)."
)
ALLOW_BINARY = typer.Option(
    False,
    "--allow-binary",
    help="Release binary outputs that cannot be read as data (weights), unscanned.",
)
WORK = typer.Option(
    None,
    "--work",
    help="Share DIR read-only at /zone/work and start there (refused if a scan flags a file).",
)
VERSION = typer.Option(
    None,
    "--version",
    min=1,
    metavar="N",
    help="Open version N (still on disk: `zone versions`) instead of the current one.",
)
CODE = typer.Option(
    None,
    "--code",
    help="Share DIR read-only at /zone/code; its digest goes into each artifact's lineage.",
)
app = typer.Typer(
    help=(
        "Work on a zone's data in an isolated sandbox.\n\nExample:\n\n"
        "    piizone sandbox run churn --out results -- python train.py"
    ),
    no_args_is_help=True,
)
# The sandboxed command owns stdout; everything piizone says goes to stderr. No markup, no
# emoji codes, no highlighting: output names are chosen by the sandboxed code and must be shown
# as they are (a name `[/bold]x.txt` crashed the report, `:smile:` would have been rewritten).
err = Console(stderr=True, highlight=False, emoji=False, markup=False)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with control and invisible format characters escaped (`\\x1b`, `\\u202e`).

    A name from the sandbox could otherwise move the cursor or repaint the terminal (ESC, the
    8-bit CSI), hide itself (zero-width) or read backwards (bidi overrides) in the report.
    """
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _render(result: sandbox.SessionResult) -> None:
    report = result.egress
    for note in result.notes if not quiet() else ():
        err.print(f"note: {note}", style="dim")
    artifacts = [a.id for a in result.artifacts] or [""] * len(report.released)
    for f, artifact in zip(report.released, artifacts, strict=False):
        extra = {"binary": " (binary: not content-scanned)", "data": " (data: scanned)"}.get(
            f.kind, ""
        )
        tag = f"  artifact {artifact}" if artifact else ""
        err.print(f"released    {printable(f.file)}  {f.bytes} bytes{extra}{tag}")
    held = [h.id for h in result.held] or [""] * len(report.quarantined)
    for f, request in zip(report.quarantined, held, strict=False):
        err.print("quarantined", style="bold red", end=" ")
        tag = f"  airlock {request}" if request else ""
        err.print(f"{printable(f.file)}  {f.bytes} bytes{tag}")
    for s in report.skipped:
        err.print(f"skipped     {printable(s['file'])}: {s['reason']}", style="dim")
    for finding in report.findings:
        where = f"{finding.file}:{finding.line}" if finding.line else finding.file
        # Say why when it is not the policy's detectors: a canary means memorisation.
        why = "" if finding.reason == "policy" else f" ({finding.reason})"
        err.print(f"  {printable(where)}: {finding.entity}{why}: {printable(finding.context)}")
    if report.stream_lines_masked:
        kinds = ", ".join(sorted(report.stream_entities))
        err.print(
            f"masked      {report.stream_lines_masked} line(s) of the command's output ({kinds})"
        )
    if report.withheld:
        err.print(f"withheld    every output, unscanned and discarded: {report.withheld}")
    if report.quarantined:
        err.print(
            f"quarantined outputs stay encrypted in {printable(report.quarantine_dir)}; "
            "another person reviews them: `piizone airlock show ID`",
            style="dim",
        )
    err.print(
        f"session {result.session}: exit {result.command_status}, "
        f"{result.duration_s:.1f}s, {len(report.released)} released to "
        f"{printable(report.out_dir)}, {len(report.quarantined)} quarantined",
        style="dim",
    )


@app.command("run")
@handle_errors
def run(
    name: str = typer.Argument(..., help="Zone name."),
    command: list[str] = typer.Argument(..., help="The command and its arguments, after --."),
    out: Path = OUT,
    memory: str | None = typer.Option(
        None, "--memory", help="Cap the data and /tmp tmpfs, e.g. 4G (not a cgroup limit)."
    ),
    gpu: bool = typer.Option(False, "--gpu", help="Bind the NVIDIA device nodes if present."),
    publish: int | None = PUBLISH,
    allow_dotfiles: bool = ALLOW_DOTFILES,
    allow_binary: bool = ALLOW_BINARY,
    work: Path | None = WORK,
    code: Path | None = CODE,
    version: int | None = VERSION,
    json_out: bool = typer.Option(
        False, "--json", help="Print the session's result as JSON on stderr (artifact ids too)."
    ),
) -> None:
    """Run CMD on the zone's data: no network, data read-only at /zone/data, outputs checked.

    The command writes results to /zone/out; text outputs are scanned with the zone's policy
    when it exits. Clean files are copied to --out (a fresh directory: DIR when it does not
    exist or is empty, else a new DIR/<session>/; never overwriting, no exec bits, no dotfiles
    without --allow-dotfiles), flagged ones stay encrypted in quarantine.
    Each released file is registered as an artifact (`piizone artifacts list`); each
    quarantined one waits in the airlock for a second person (`piizone airlock list`).
    --code DIR is shared read-only at /zone/code and its digest recorded in the lineage.
    Exits with CMD's status, or 1 when CMD succeeded but outputs were quarantined.
    --publish PORT makes a server listening on 127.0.0.1:PORT inside reachable at the host's
    127.0.0.1:PORT (through a Unix socket relay; nothing else crosses, nothing goes out).

    Example:

        piizone sandbox run churn --work . --out results -- python train.py --epochs 3

        piizone sandbox run churn --code ./src --out models -- python /zone/code/train.py

        piizone sandbox run churn --publish 8888 -- jupyter lab --port 8888 --no-browser

        piizone sandbox run churn --version 2 --out rerun -- python train.py
    """
    if publish is not None:
        err.print(f"publishing http://127.0.0.1:{publish}/ (host) -> 127.0.0.1:{publish} (sandbox)")
    result = sandbox.run_session(
        name,
        command,
        out_dir=out,
        gpu=gpu,
        memory=memory,
        publish=publish,
        allow_dotfiles=allow_dotfiles,
        allow_binary=allow_binary,
        work=work,
        code=code,
        version=version,
    )
    if json_out:
        _render_json(result)
    else:
        _render(result)
    raise typer.Exit(result.exit_code)


def _render_json(result: sandbox.SessionResult) -> None:
    """The session as one JSON document on stderr (stdout is the command's)."""
    data = {
        "session": result.session,
        "zone": result.zone,
        "version": result.version,
        "exit_code": result.exit_code,
        "command_status": result.command_status,
        "duration_s": round(result.duration_s, 3),
        "notes": result.notes,
        "egress": result.egress.to_dict(),
        "artifacts": [a.model_dump() for a in result.artifacts],
        "airlock": [h.id for h in result.held],
    }
    sys.stderr.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command("shell")
@handle_errors
def shell(
    name: str = typer.Argument(..., help="Zone name."),
    out: Path = OUT,
    memory: str | None = typer.Option(None, "--memory", help="Cap the data and /tmp tmpfs."),
    gpu: bool = typer.Option(False, "--gpu", help="Bind the NVIDIA device nodes if present."),
    publish: int | None = PUBLISH,
    allow_dotfiles: bool = ALLOW_DOTFILES,
    allow_binary: bool = ALLOW_BINARY,
    work: Path | None = WORK,
    version: int | None = VERSION,
) -> None:
    """An interactive shell in the sandbox (same isolation as `run`, its own terminal).

    Example:

        piizone sandbox shell churn

        piizone sandbox shell churn --publish 8888
    """
    if publish is not None:
        err.print(f"publishing http://127.0.0.1:{publish}/ (host) -> 127.0.0.1:{publish} (sandbox)")
    result = sandbox.run_session(
        name,
        sandbox.shell_command(),
        out_dir=out,
        gpu=gpu,
        memory=memory,
        tty=True,
        publish=publish,
        allow_dotfiles=allow_dotfiles,
        allow_binary=allow_binary,
        work=work,
        version=version,
    )
    _render(result)
    raise typer.Exit(result.exit_code)
