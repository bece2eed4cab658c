"""Issue 13: escape attempts from a sandbox session that the other sandbox tests do not make.

tests/zones/test_sandbox.py::test_isolation already tries IPv4 to a host listener, DNS, the
interfaces, the keys dir, /root, /home and the pid count; tests/security/test_sandbox_env.py
reads every /proc/<pid>/environ. Here: IPv6 to a listener on the host's ::1, an abstract Unix
socket the host listens on, another zone's directory, a host process's command line through
/proc, and a process the command detaches (setsid) that must not outlive the session.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading

import pytest

from piizone.zones.sandbox import session as sandbox
from tests.zones.test_sandbox import require_isolation

PROBE = r"""
import json, os, socket, subprocess, sys
port6, abstract, other, marker, sleeper = sys.argv[1:6]
marker = marker[::-1]  # given reversed: our own argv must not match
r = {}
def attempt(name, fn):
    try:
        fn(); r[name] = "open"
    except OSError as e:
        r[name] = type(e).__name__
def v6():
    s = socket.socket(socket.AF_INET6); s.settimeout(3); s.connect(("::1", int(port6))); s.close()
def unix():
    s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect("\0" + abstract); s.close()
attempt("ipv6", v6)
attempt("abstract", unix)
attempt("other_zone", lambda: os.listdir(other))
cmdlines = b""
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        cmdlines += open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        pass
r["host_marker_seen"] = marker.encode() in cmdlines
subprocess.Popen(["setsid", "sleep", sleeper], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("PROBE " + json.dumps(r), flush=True)
"""


@pytest.fixture(scope="module")
def two_zones(make_zone):
    require_isolation()
    esc = make_zone("esc", {"t.txt": "redacted training text\n"})
    make_zone("other", sources=[str(esc.source)], home=esc.home)
    return esc.store


class Listener:
    """A host socket that counts connections; the session must never reach it."""

    def __init__(self, family: int, address):
        self.sock = socket.socket(family)
        self.sock.bind(address)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.hits, self.stop = 0, False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def _host_processes_with(marker: str) -> list[int]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_ipv6_abstract_sockets_other_zones_host_proc_and_detached_processes(
    two_zones, tmp_path, capfd
):
    store = two_zones
    v6 = Listener(socket.AF_INET6, ("::1", 0))
    abstract = "piizone-escape-" + secrets.token_hex(4)
    unix = Listener(socket.AF_UNIX, "\0" + abstract)
    # Both listeners answer on the host: a refusal inside is the sandbox's doing.
    socket.create_connection(("::1", v6.sock.getsockname()[1]), timeout=3).close()
    probe = socket.socket(socket.AF_UNIX)
    probe.connect("\0" + abstract)
    probe.close()
    marker = f"{secrets.randbelow(10**6) + 10**6}.{secrets.randbelow(10**6):06d}"
    host_sleeper = os.spawnlp(os.P_NOWAIT, "sleep", "sleep", marker)  # visible on the host
    sleeper = f"{secrets.randbelow(10**6) + 2 * 10**6}.5"
    try:
        capfd.readouterr()
        result = sandbox.run_session(
            "esc",
            [
                "python", "-c", PROBE, str(v6.sock.getsockname()[1]), abstract,
                str(store.root / ".versions" / "other"), marker[::-1], sleeper,
            ],
            out_dir=tmp_path / "out",
            home=store.home,
        )  # fmt: skip
        out = capfd.readouterr().out
    finally:
        os.kill(host_sleeper, 9)
        os.waitpid(host_sleeper, 0)
        v6.close()
        unix.close()
    assert result.exit_code == 0, out
    r = json.loads(out.split("PROBE ", 1)[1].splitlines()[0])
    assert r["ipv6"] != "open" and v6.hits == 1  # the host's own check above, nothing more
    assert r["abstract"] != "open" and unix.hits == 1
    assert r["other_zone"] == "FileNotFoundError"
    assert not r["host_marker_seen"]
    assert _host_processes_with(sleeper) == []  # the detached child died with the session
