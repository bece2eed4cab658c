"""Small shared fixtures: a temporary PIIZONE_HOME, a socket guard that fails any connect, and
`make_zone`, which makes real zones (init + create_zone) for the tests that need one."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from piizone.zones.storage.store import ZoneStore

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


@dataclass(frozen=True)
class Zone:
    """A real zone, made by `make_zone`: its home, name and the source it was made from."""

    home: Path
    name: str
    source: Path  # the directory of source files it was created from
    base: Path  # the temporary directory holding home/, the sources and the policy file

    @property
    def store(self) -> ZoneStore:
        from piizone.zones.storage.store import ZoneStore

        return ZoneStore(self.home)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.store.manifest(self.name)

    def dek(self) -> bytes:
        """The zone's data key, unwrapped with the home's key-encryption key."""
        from piizone.zones.storage.zone_keys import unwrap_zone_key

        store = self.store
        return unwrap_zone_key(store, store.manifest(self.name))


MakeZone = Callable[..., Zone]


@pytest.fixture(scope="session")
def make_zone(tmp_path_factory: pytest.TempPathFactory) -> MakeZone:
    """Make a zone: `make_zone(name, files, policy=YAML, home=..., **ZoneRequest fields)`.

    `files` ({relative path: text or bytes}, default one small text file) are written to a
    fresh source directory; `sources` (a list) replaces it with paths or URLs of your own.
    Without `home` the zone gets a new initialised home in a new temporary directory; with it
    (e.g. another zone's `home`) the zone is added there. PIIZONE_HOME points at the home while
    the zone is made. Session-scoped, so module-scoped fixtures can use it too.
    """
    from piizone.zones.lifecycle import init_home
    from piizone.zones.provision.build import ZoneRequest, create_zone
    from piizone.zones.storage.store import ZoneStore

    def make(
        name: str = "z",
        files: dict[str, str | bytes] | None = None,
        *,
        home: Path | None = None,
        policy: str | None = None,
        sources: list[str] | None = None,
        **request: Any,
    ) -> Zone:
        base = tmp_path_factory.mktemp(f"zone-{name}")
        home = home or base / "home"
        source = base / "src"
        source.mkdir()
        for relpath, content in (files or {"a.txt": "plain text\n"}).items():
            path = source / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        if policy is not None:
            (base / "policy.yaml").write_text(policy)
            request["policy_path"] = str(base / "policy.yaml")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PIIZONE_HOME", str(home))
            init_home(home)
            wanted = ZoneRequest(name, sources or [str(source)], **request)
            create_zone(wanted, ZoneStore(home))
        return Zone(home=home, name=name, source=source, base=base)

    return make
