"""What the CLI tests share: one CliRunner, `invoke` (in-process, under PIIZONE_HOME) and
`piizone_cmd` (the command line of a fresh `piizone` process)."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from piizone.cli.main import app
from tests.conftest import REPO

runner = CliRunner()


def invoke(*args: str, home: Path | None = None, **kwargs):
    """Run `piizone ARGS` in this process and return the click Result. PIIZONE_HOME is `home`
    when given, else whatever the test set (e.g. the `piizone_home` fixture)."""
    if home is not None:
        kwargs["env"] = {**kwargs.get("env", {}), "PIIZONE_HOME": str(home)}
    return runner.invoke(app, list(args), **kwargs)


def invoke_ok(*args: str, home: Path | None = None, **kwargs):
    """`invoke`, asserting exit status 0 (the message shows the output when it is not)."""
    result = invoke(*args, home=home, **kwargs)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def piizone_cmd() -> list[str]:
    """The `piizone` console script of this venv (or `python -m piizone.cli.main` without it),
    for tests that need a real process: signals, exit codes, stdin pipes."""
    script = REPO / ".venv" / "bin" / "piizone"
    if not script.exists():
        script = Path(sys.executable).parent / "piizone"
    return [str(script)] if script.exists() else [sys.executable, "-m", "piizone.cli.main"]
