"""Store: names, TTLs, layout and modes, atomic publish/unpublish, locks, shred, staging gc.

These need no scan engine: versions are made by hand in staging dirs, as provisioning does.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from piizone.zones.exceptions import ZoneError
from piizone.zones.storage.manifest import MANIFEST_FORMAT, ZoneManifest
from piizone.zones.storage.store import (
    ZoneBusy,
    ZoneNotFound,
    ZoneStore,
    is_expired,
    iso,
    parse_ttl,
    utc_now,
    validate_zone_name,
    zone_size,
)


@pytest.fixture
def store(tmp_path: Path) -> ZoneStore:
    return ZoneStore(tmp_path / "home")


def manifest(name: str, version: int, **extra) -> ZoneManifest:
    return ZoneManifest.model_validate({
        "format": MANIFEST_FORMAT,
        "manifest_version": 1,
        "id": "0" * 32,
        "name": name,
        "version": version,
        "parent": version - 1 or None,
        "created": "2025-01-30T09:00:00Z",
        "created_by": {"user": "ada", "uid": 1000, "host": "h"},
        "purpose": None,
        "owner": "ada",
        "expires": None,
        "legal_hold": False,
        "grants": [],
        "key": {"provider": "keyfile:abcd", "wrapped": "d3JhcHBlZA=="},
        "sources": [],
        "policy": {"sha256": "ab" * 32, "source": "<default policy>"},
        "tool": {"name": "piizone", "version": "0.1.0"},
        "files": [],
        "scan": {"totals": {}, "risk": "none"},
        **extra,
    })  # fmt: skip


def build(store: ZoneStore, name: str, version: int, payload: bytes = b"ciphertext") -> Path:
    staging = store.staging_dir(name)
    (staging / "data").mkdir(mode=0o700)
    (staging / "data" / "t.csv").write_bytes(payload)
    store.write_manifest(staging, manifest(name, version))
    return staging


def publish(store: ZoneStore, name: str, version: int, payload: bytes = b"ciphertext") -> Path:
    return store.publish(name, build(store, name, version, payload), version)


@pytest.mark.parametrize("name", ["a", "churn-2024", "A.b_c-1", "9", "x" * 128])
def test_valid_names(name: str) -> None:
    assert validate_zone_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "-x", "_x", "a b", "a\0b", "ü", "x" * 129,
     "a\\b", "a\n"],
)  # fmt: skip
def test_invalid_names_are_refused_everywhere(store: ZoneStore, name: str) -> None:
    with pytest.raises(ZoneError, match="invalid zone name"):
        validate_zone_name(name)
    for method in (store.link, store.versions_dir, store.staging_dir, store.exists):
        with pytest.raises(ZoneError, match="invalid zone name"):
            method(name)
    with pytest.raises(ZoneError, match="invalid zone name"), store.lock(name):
        pass


@pytest.mark.parametrize(
    "ttl, expected",
    [("1s", timedelta(seconds=1)), ("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)),
     ("30d", timedelta(days=30)), ("2w", timedelta(weeks=2)), (" 3d ", timedelta(days=3))],
)  # fmt: skip
def test_parse_ttl(ttl: str, expected: timedelta) -> None:
    assert parse_ttl(ttl) == expected


@pytest.mark.parametrize("ttl", ["", "0d", "30", "d", "1y", "-1d", "1.5d", "soon"])
def test_parse_ttl_refuses(ttl: str) -> None:
    with pytest.raises(ZoneError, match="invalid TTL"):
        parse_ttl(ttl)


def test_expiry() -> None:
    now = utc_now()
    assert is_expired(manifest("z", 1, expires=iso(now - timedelta(seconds=1))))
    assert not is_expired(manifest("z", 1, expires=iso(now + timedelta(hours=1))))
    assert not is_expired(manifest("z", 1))


def test_publish_layout_and_modes(store: ZoneStore) -> None:
    target = publish(store, "z", 1)
    assert target == store.version_dir("z", 1)
    link = store.link("z")
    assert link.is_symlink() and os.readlink(link) == ".versions/z/v000001"
    assert store.exists("z") and store.names() == ["z"] and store.versions("z") == [1]
    assert store.manifest("z").version == 1
    for p in store.root.rglob("*"):  # the root itself is made by `piizone init`
        if p.is_symlink():
            continue
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600) or p.name == "t.csv", (p, oct(mode))
    assert list((store.root / ".staging").iterdir()) == []


def test_a_new_version_replaces_the_link_and_keeps_the_old(store: ZoneStore) -> None:
    publish(store, "z", 1, b"one")
    publish(store, "z", 2, b"two")
    assert store.versions("z") == [1, 2]
    assert store.manifest("z").version == 2 and store.manifest("z", 1).version == 1
    assert (store.current_dir("z") / "data/t.csv").read_bytes() == b"two"
    store.unpublish("z", 2, previous=1)
    assert store.versions("z") == [1]
    assert (store.current_dir("z") / "data/t.csv").read_bytes() == b"one"
    store.unpublish("z", 1, previous=None)
    assert not store.exists("z") and store.names() == []


def test_staging_is_never_a_zone(store: ZoneStore) -> None:
    build(store, "z", 1)
    assert store.names() == [] and not store.exists("z")
    with pytest.raises(ZoneNotFound, match="zone 'z' does not exist"):
        store.manifest("z")


def test_missing_version_and_bad_manifests(store: ZoneStore) -> None:
    publish(store, "z", 1)
    with pytest.raises(ZoneNotFound, match="has no version 7"):
        store.manifest("z", 7)
    path = store.current_dir("z") / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "manifest_version": 99}))
    with pytest.raises(ZoneError, match="unsupported manifest version 99"):
        store.manifest("z")
    path.write_text("{not json")
    with pytest.raises(ZoneError, match="unreadable manifest"):
        store.manifest("z")


def test_update_manifest_changes_the_current_version_only(store: ZoneStore) -> None:
    publish(store, "z", 1)
    publish(store, "z", 2)
    store.update_manifest("z", legal_hold=True, grants=["bob"])
    assert store.manifest("z").legal_hold is True and store.manifest("z").grants == ["bob"]
    assert store.manifest("z", 1).legal_hold is False and store.manifest("z", 1).grants == []
    assert stat.S_IMODE((store.current_dir("z") / "manifest.json").stat().st_mode) == 0o600


def test_the_lock_is_exclusive_across_processes(store: ZoneStore, tmp_path: Path) -> None:
    with store.lock("z"):
        with (
            pytest.raises(ZoneBusy, match="being changed by another piizone process"),
            store.lock("z"),
        ):
            pass
        with store.lock("other"):  # per zone
            pass
        probe = (
            "import sys; from pathlib import Path\n"
            "from piizone.zones.storage.store import ZoneStore, ZoneBusy\n"
            "try:\n    ZoneStore(Path(sys.argv[1])).lock('z').__enter__()\n"
            "except ZoneBusy:\n    sys.exit(3)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, str(store.home)], capture_output=True, text=True
        )
        assert done.returncode == 3, done.stderr
    with store.lock("z"):  # released
        pass


def test_shred_removes_every_version_and_the_wrapped_keys(store: ZoneStore) -> None:
    publish(store, "z", 1)
    publish(store, "z", 2)
    publish(store, "keep", 1)
    manifests = [store.version_dir("z", v) / "manifest.json" for v in (1, 2)]
    inodes = [m.stat().st_ino for m in manifests]
    assert store.shred("z") == 2
    assert not store.link("z").exists() and not store.link("z").is_symlink()
    assert not store.versions_dir("z").exists()
    assert store.names() == ["keep"] and store.versions("keep") == [1]
    assert all(not m.exists() for m in manifests) and inodes


def test_clean_stale_staging_skips_zones_being_built(store: ZoneStore) -> None:
    stale = build(store, "dead", 1)
    busy = build(store, "busy", 1)
    with store.lock("busy"):
        assert store.clean_stale_staging() == 1
    assert not stale.exists() and busy.exists()
    assert store.clean_stale_staging() == 1 and not busy.exists()
    assert store.clean_stale_staging() == 0


def test_zone_size_counts_files(store: ZoneStore) -> None:
    target = publish(store, "z", 1, b"x" * 1000)
    assert zone_size(target) == 1000 + (target / "manifest.json").stat().st_size


def test_a_manifest_left_half_shredded_is_a_zone_error(store: ZoneStore) -> None:
    # A `zone destroy` killed between overwriting a manifest and unlinking it (make soak).
    publish(store, "z", 1)
    manifest = store.version_dir("z", 1) / "manifest.json"
    manifest.write_bytes(b"\x80\xeb" + os.urandom(200))
    with pytest.raises(ZoneError, match="unreadable manifest"):
        store.manifest("z")
