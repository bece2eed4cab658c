"""Small shared fixtures: a temporary PIIZONE_HOME and a socket guard that fails any connect."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"


class NetworkAccessError(AssertionError):
    """Raised when code under test tries to open a network connection."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch):
    """Fail any outbound connect or DNS lookup made while the test runs (piizone is offline)."""

    def refuse(*args, **kwargs):
        raise NetworkAccessError(f"network access attempted: {args[1:] if args else kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


@pytest.fixture
def piizone_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty PIIZONE_HOME for one test."""
    home = tmp_path / "piizone-home"
    monkeypatch.setenv("PIIZONE_HOME", str(home))
    return home


# Peak RSS of this process image, from /proc: ru_maxrss survives execve on Linux, so a child
# forked from a large pytest process would report the parent's high-water mark instead.
PEAK_RSS_KB = (
    "def peak_rss_kb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1])\n"
)
