"""Issue 13, finding 14 (part): an interrupted session ends non-zero, audited as such.

Ctrl-C on `sandbox run … -- python …` reported exit 0 and `session.end` success. Now SIGINT
(the terminal's Ctrl-C, sent to piizone's process group) ends the session with 130 and SIGTERM
(to piizone) with 143; `session.end` is a failure naming the signal; the outputs of the
interrupted command are discarded unscanned (nothing released, nothing raw left) and no
sandboxed process survives.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from piizone.zones import audit
from tests.zones.test_sandbox import _processes_with, _wait_started, require_isolation

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def izone(make_zone):
    require_isolation()
    return make_zone("iz", {"t.txt": "hello from the zone\n"}).store


def _session_end(store) -> dict:
    key = (store.home / "keys" / audit.KEY_FILE).read_bytes()
    log = audit.AuditLog(store.home / "audit", key)
    return [r for r in log.records() if r["action"] == "session.end"][-1]


@pytest.mark.parametrize(
    "sig, group, code",
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_an_interrupted_session_exits_non_zero_and_releases_nothing(
    izone, tmp_path, sig, group, code
):
    tag = "INTRTAG" + secrets.token_hex(4)
    out = tmp_path / "out"
    script = (
        "echo 'partial results' > /zone/out/partial.txt && touch /zone/out/started && "
        f"exec python -c 'import time; time.sleep(600)' {tag}"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/root"),
        "PIIZONE_HOME": str(izone.home),
        "PYTHONPATH": str(REPO),
    }
    cmd = [
        sys.executable,
        "-m",
        "piizone.cli.main",
        "sandbox",
        "run",
        "iz",
        "--out",
        str(out),
        "--",
    ]
    proc = subprocess.Popen(
        [*cmd, "sh", "-c", script],
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # its own process group, like a shell's foreground job
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sessions = izone.home / "zones" / ".sessions"
    try:
        _wait_started(proc, sessions, timeout=120)
        if group:
            os.killpg(proc.pid, sig)  # what a terminal does on Ctrl-C
        else:
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, err
    end = _session_end(izone)
    assert end["outcome"] == "failure"
    assert end["details"]["interrupted"] == sig.name
    assert not out.exists() or list(out.iterdir()) == []
    deadline = time.monotonic() + 10
    while _processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(tag) == []
    assert list(sessions.iterdir()) == []
