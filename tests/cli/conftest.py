"""What the CLI tests share: one CliRunner, `invoke` (in-process, under PIIZONE_HOME),
`piizone_cmd` (the command line of a fresh `piizone` process) and `run_on_a_terminal` (a fresh
process whose stdin and stderr are a pseudo-terminal)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
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


def run_on_a_terminal(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    answer: bytes | None = None,
    timeout: float = 300,
) -> tuple[int, str, str]:
    """`piizone ARGS` in a real process whose stdin and stderr are a terminal (a pty, 160
    columns) and stdout a pipe: (exit status, what the terminal showed, stdout). `answer` is
    typed at the first `[y/N]` question. `env` defaults to this process's environment."""
    master, slave = os.openpty()
    env = {**(os.environ if env is None else env), "TERM": "xterm-256color", "COLUMNS": "160"}
    env.setdefault("PYTHONPATH", str(REPO))
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "piizone.cli.main", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    shown = bytearray()

    def drain() -> None:  # the terminal is read while stdout is: neither pipe can fill up
        answered = answer is None
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed its end
                return
            if not chunk:
                return
            shown.extend(chunk)
            if not answered and b"[y/N]" in shown:
                os.write(master, answer or b"")
                answered = True

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, shown.decode(errors="replace"), stdout.decode(errors="replace")
