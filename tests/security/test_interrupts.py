"""Ctrl-C and SIGTERM end a command with one line and the right exit code (issue 13, 14 part).

Ctrl-C reaches the whole process group: while `scan --workers 2` started its workers, the
forkserver (importing spaCy) and half-started workers printed KeyboardInterrupt tracebacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE_DATA


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


@pytest.mark.parametrize("when", [1, 2], ids=["forkserver-up", "workers-forking"])
def test_ctrl_c_while_workers_start_is_one_line(when: int) -> None:
    """SIGINT to the process group as soon as `when` processes exist below the command."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "piizone.cli.main",
            "scan",
            "--workers",
            "2",
            str(SAMPLE_DATA),
            "--json",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(descendants(proc.pid)) < when and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = stderr.decode()
    if proc.returncode == 0:
        pytest.fail("the scan finished before it could be interrupted")
    assert proc.returncode == 130, text
    assert text.strip() == "error: interrupted", text
