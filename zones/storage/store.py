"""Zones on disk: names, versions, manifests, locks, and the lifecycle operations on them.

Layout under $PIIZONE_HOME/zones/ (dirs 0700, files 0600):

    NAME -> .versions/NAME/v000002     the current version (a symlink, swapped atomically)
    .versions/NAME/v000001/            manifest.json policy.yaml report.json data/...
    .staging/NAME.<random>/            a version being built; never visible as a zone
    .locks/NAME.lock                   held while a zone is created, refreshed or destroyed

A version is built in staging and renamed into .versions, then the NAME link is replaced with
rename(2): a crash leaves either the old zone or the new one, never half of one.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from piizone.zones.exceptions import ZoneError
from piizone.zones.home import (
    ensure_private_dir,
    fsync_dir,
    piizone_home,
    write_private_file,
    zones_dir,
)

MANIFEST_FORMAT = "piizone-zone-manifest"
MANIFEST_VERSION = 1
# Zone names become directory names: anything else could walk out of $PIIZONE_HOME/zones.
ZONE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")  # \Z: "$" allows a final "\n"
_TTL = re.compile(r"^(\d+)([smhdw])$")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ZoneNotFound(ZoneError):
    """The named zone does not exist (or was destroyed)."""


class ZoneBusy(ZoneError):
    """Another piizone process is creating, refreshing or destroying the zone."""


def validate_zone_name(name: str) -> str:
    if not ZONE_NAME.match(name or "") or name in (".", ".."):
        raise ZoneError(
            f"invalid zone name {name!r}",
            hint="use letters, digits, '.', '_' and '-' (not first), at most 128 characters",
        )
    return name


def parse_ttl(ttl: str) -> timedelta:
    """ "30d", "12h", "2w" -> timedelta."""
    match = _TTL.match(ttl.strip())
    if not match or int(match.group(1)) == 0:
        raise ZoneError(f"invalid TTL {ttl!r}", hint="use a number and a unit: 90m, 12h, 30d, 2w")
    return timedelta(seconds=int(match.group(1)) * _TTL_UNITS[match.group(2)])


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ZoneStore:
    """The zones under one $PIIZONE_HOME."""

    def __init__(self, home: Path | None = None):
        self.home = home or piizone_home()
        self.root = zones_dir(self.home)

    # -- paths ------------------------------------------------------------------------------

    def link(self, name: str) -> Path:
        return self.root / validate_zone_name(name)

    def versions_dir(self, name: str) -> Path:
        return self.root / ".versions" / validate_zone_name(name)

    def version_dir(self, name: str, version: int) -> Path:
        return self.versions_dir(name) / f"v{version:06d}"

    def staging_dir(self, name: str) -> Path:
        staging = ensure_private_dir(self.root / ".staging")
        path = staging / f"{validate_zone_name(name)}.{os.urandom(6).hex()}"
        path.mkdir(mode=0o700)
        return path

    # -- reading ----------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return (self.link(name) / "manifest.json").is_file()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and (p / "manifest.json").is_file()
        )

    def current_dir(self, name: str) -> Path:
        if not self.exists(name):
            raise ZoneNotFound(
                f"zone {name!r} does not exist", hint="see the zones with `piizone zone list`"
            )
        return self.link(name).resolve()

    def manifest(self, name: str, version: int | None = None) -> dict[str, Any]:
        directory = self.current_dir(name) if version is None else self.version_dir(name, version)
        try:
            data = json.loads((directory / "manifest.json").read_text("utf-8"))
        except FileNotFoundError:
            raise ZoneNotFound(f"zone {name!r} has no version {version}") from None
        # UnicodeDecodeError: a destroy killed mid-shred leaves random bytes there (make soak).
        except (OSError, ValueError) as e:
            raise ZoneError(f"zone {name!r}: unreadable manifest ({type(e).__name__})") from None
        if data.get("format") != MANIFEST_FORMAT or data.get("manifest_version") != 1:
            raise ZoneError(
                f"zone {name!r}: unsupported manifest version {data.get('manifest_version')!r}",
                hint="upgrade piizone to open this zone",
            )
        return data

    def versions(self, name: str) -> list[int]:
        directory = self.versions_dir(name)
        if not directory.is_dir():
            return []
        return sorted(
            int(p.name[1:])
            for p in directory.iterdir()
            if re.fullmatch(r"v\d{6}", p.name) and (p / "manifest.json").is_file()
        )

    def wrapped_key(self, manifest: dict[str, Any]) -> tuple[str, bytes]:
        key = manifest["key"]
        return key["provider"], base64.b64decode(key["wrapped"])

    # -- writing ----------------------------------------------------------------------------

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Exclusive, non-blocking: a second create/refresh/destroy of NAME is refused."""
        locks = ensure_private_dir(self.root / ".locks")
        fd = os.open(locks / f"{validate_zone_name(name)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ZoneBusy(
                    f"zone {name!r} is being changed by another piizone process",
                    hint="wait for it to finish, then retry",
                ) from None
            yield
        finally:
            os.close(fd)

    def publish(self, name: str, staging: Path, version: int) -> Path:
        """Move a finished staging dir into place and point NAME at it, atomically."""
        target = self.version_dir(name, version)
        ensure_private_dir(self.root / ".versions")  # parents=True would make it 0755
        ensure_private_dir(target.parent)
        fsync_tree(staging)
        os.rename(staging, target)
        fsync_dir(target.parent)
        tmp_link = self.root / f".{name}.link.{os.urandom(4).hex()}"
        os.symlink(os.path.relpath(target, self.root), tmp_link)
        os.replace(tmp_link, self.link(name))
        fsync_dir(self.root)
        return target

    def unpublish(self, name: str, version: int, previous: int | None) -> None:
        """Undo publish() (the audit record could not be written): back to `previous`."""
        link = self.link(name)
        if previous is None:
            link.unlink(missing_ok=True)
        else:
            tmp_link = self.root / f".{name}.link.{os.urandom(4).hex()}"
            os.symlink(os.path.relpath(self.version_dir(name, previous), self.root), tmp_link)
            os.replace(tmp_link, link)
        shutil.rmtree(self.version_dir(name, version), ignore_errors=True)
        fsync_dir(self.root)

    def write_manifest(self, directory: Path, manifest: dict[str, Any]) -> None:
        data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        write_private_file(directory / "manifest.json", data)

    def update_manifest(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change mutable attributes (legal hold, grants) of the current version in place."""
        manifest = self.manifest(name)
        manifest.update(changes)
        self.write_manifest(self.current_dir(name), manifest)
        return manifest

    def shred(self, name: str) -> int:
        """Crypto-shred every version: wrapped data keys first (and synced), then the data.

        Once the wrapped DEKs are gone the ciphertext left on disk (even in snapshots or on a
        failing disk that refuses deletes) cannot be decrypted by anyone, including us.
        """
        versions = self.versions(name)
        for version in versions:
            manifest_path = self.version_dir(name, version) / "manifest.json"
            size = manifest_path.stat().st_size
            with open(manifest_path, "r+b") as f:
                f.write(os.urandom(size))  # overwrite in place before unlinking
                f.flush()
                os.fsync(f.fileno())
            manifest_path.unlink()
            fsync_dir(manifest_path.parent)
        self.link(name).unlink(missing_ok=True)
        fsync_dir(self.root)
        shutil.rmtree(self.versions_dir(name), ignore_errors=True)
        return len(versions)

    def clean_stale_staging(self) -> int:
        """Remove staging dirs left by crashed runs (their zone's lock is free). Ciphertext only."""
        staging = self.root / ".staging"
        removed = 0
        if not staging.is_dir():
            return 0
        for entry in staging.iterdir():
            name = entry.name.rsplit(".", 1)[0]
            if not ZONE_NAME.match(name):
                continue
            try:
                with self.lock(name):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
            except ZoneBusy:
                continue
        return removed


def fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def is_expired(manifest: dict[str, Any], now: datetime | None = None) -> bool:
    expires = manifest.get("expires")
    if not expires:
        return False
    return parse_iso(expires) <= (now or utc_now())


def zone_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
