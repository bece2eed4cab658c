"""Confirmation on a terminal: declining is a refusal (exit 1), not a usage error (exit 2)."""

from __future__ import annotations

import os
import pty
import sys
import time
from pathlib import Path

from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import ZoneRequest, create_zone
from piizone.zones.storage.store import ZoneStore


def _run_on_a_terminal(args: list[str], answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - child
        os.execve(sys.executable, [sys.executable, "-m", "piizone.cli.main", *args], env)
    output = b""
    deadline = time.monotonic() + 120
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(fd, answer)
            answered = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_declining_a_destroy_exits_1_and_keeps_the_zone(piizone_home: Path, tmp_path: Path):
    init_home(piizone_home)
    source = tmp_path / "a.txt"
    source.write_text("plain text\n")
    store = ZoneStore(piizone_home)
    create_zone(ZoneRequest("keep", [str(source)]), store)
    env = {**os.environ, "PIIZONE_HOME": str(piizone_home)}
    code, output = _run_on_a_terminal(["zone", "destroy", "keep"], b"n\n", env)
    assert code == 1, output
    assert "error: cancelled" in output
    assert store.exists("keep")
