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
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from piizone.fs import flocked, overwrite_in_place
from piizone.units import UnitError, parse_duration
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import (
    ensure_private_dir,
    fsync_dir,
    piizone_home,
    write_private_file,
    zones_dir,
)
from piizone.zones.storage.manifest import MANIFEST_FORMAT as MANIFEST_FORMAT  # re-exported:
from piizone.zones.storage.manifest import MANIFEST_VERSION as MANIFEST_VERSION  # their old home
from piizone.zones.storage.manifest import ZoneManifest, parse_manifest

# Where a zone being destroyed sits between its rename aside and the end of its shred.
SHREDDING_DIR = ".shredding"
# Zone names become directory names: anything else could walk out of $PIIZONE_HOME/zones.
ZONE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")  # \Z: "$" allows a final "\n"


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
    try:
        return parse_duration(ttl)
    except UnitError:
        raise ZoneError(
            f"invalid TTL {ttl!r}", hint="use a number and a unit: 90m, 12h, 30d, 2w"
        ) from None


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

    def manifest(self, name: str, version: int | None = None) -> ZoneManifest:
        directory = self.current_dir(name) if version is None else self.version_dir(name, version)
        try:
            data = json.loads((directory / "manifest.json").read_text("utf-8"))
        except FileNotFoundError:
            raise ZoneNotFound(f"zone {name!r} has no version {version}") from None
        # UnicodeDecodeError: a destroy killed mid-shred leaves random bytes there (make soak).
        except (OSError, ValueError) as e:
            raise ZoneError(f"zone {name!r}: unreadable manifest ({type(e).__name__})") from None
        return parse_manifest(data, name)

    def versions(self, name: str) -> list[int]:
        directory = self.versions_dir(name)
        if not directory.is_dir():
            return []
        return sorted(
            int(p.name[1:])
            for p in directory.iterdir()
            if re.fullmatch(r"v\d{6}", p.name) and (p / "manifest.json").is_file()
        )

    def wrapped_key(self, manifest: ZoneManifest) -> tuple[str, bytes]:
        return manifest.key.provider, base64.b64decode(manifest.key.wrapped)

    # -- writing ----------------------------------------------------------------------------

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Exclusive, non-blocking: a second create/refresh/destroy of NAME is refused."""
        locks = ensure_private_dir(self.root / ".locks")
        with flocked(locks / f"{validate_zone_name(name)}.lock", wait=False) as held:
            if not held:
                raise ZoneBusy(
                    f"zone {name!r} is being changed by another piizone process",
                    hint="wait for it to finish, then retry",
                )
            yield

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

    def write_manifest(self, directory: Path, manifest: ZoneManifest) -> None:
        write_private_file(directory / "manifest.json", manifest.to_json())

    def update_manifest(self, name: str, **changes: Any) -> ZoneManifest:
        """Change mutable attributes (legal hold, grants) of the current version in place."""
        manifest = self.manifest(name)
        for field, value in changes.items():
            setattr(manifest, field, value)  # validated (validate_assignment)
        self.write_manifest(self.current_dir(name), manifest)
        return manifest

    def shred(
        self, name: str, tag: str | None = None, checkpoint: Callable[[str], None] | None = None
    ) -> int:
        """Crypto-shred every version: wrapped data keys first (and synced), then the data.

        Once the wrapped DEKs are gone the ciphertext left on disk (even in snapshots or on a
        failing disk that refuses deletes) cannot be decrypted by anyone, including us.

        The versions are first renamed aside to `.shredding/NAME.TAG` in one atomic step: from
        then on the zone is gone for `list`/`show`, and a process killed mid-shred leaves no
        zone with a half-overwritten manifest, only a directory `finish_shred` (the journal's
        recovery, with the same tag) or `finish_shreds` (`zone gc`) completes. `checkpoint`
        is called between steps (fault injection for tests).
        """
        versions = self.versions(name)
        aside = self._shredding_path(name, tag or os.urandom(6).hex())
        source = self.versions_dir(name)
        if source.is_dir():
            os.rename(source, aside)
            fsync_dir(aside.parent)
            fsync_dir(source.parent)
        self._shred_aside(name, aside, checkpoint)
        return len(versions)

    def shred_versions(
        self,
        name: str,
        versions: list[int],
        tag: str,
        checkpoint: Callable[[str], None] | None = None,
    ) -> int:
        """Crypto-shred some versions of NAME (`zone prune`; never the current one, which the
        caller keeps): each is renamed aside into `.shredding/NAME.TAG`, then shredded as
        `shred` does, so a kill leaves a directory `finish_shred`/`finish_shreds` completes."""
        aside = self._shredding_path(name, tag)
        aside.mkdir(mode=0o700, exist_ok=True)
        for version in versions:
            source = self.version_dir(name, version)
            if source.is_dir():
                os.rename(source, aside / source.name)
        fsync_dir(aside)
        fsync_dir(self.versions_dir(name))
        self._shred_aside(name, aside, checkpoint)
        return len(versions)

    def finish_shred(self, name: str, tag: str) -> bool:
        """Complete a shred interrupted after its rename aside; False if there is none."""
        aside = self.root / SHREDDING_DIR / f"{validate_zone_name(name)}.{tag}"
        if not aside.is_dir():
            return False
        self._shred_aside(name, aside)
        return True

    def finish_shreds(self) -> int:
        """Complete every interrupted shred whose zone's lock is free (`zone gc`)."""
        directory = self.root / SHREDDING_DIR
        done = 0
        if not directory.is_dir():
            return 0
        for entry in directory.iterdir():
            name = entry.name.rsplit(".", 1)[0]
            if not ZONE_NAME.match(name):
                continue
            try:
                with self.lock(name):
                    self._shred_aside(name, entry)
                    done += 1
            except ZoneBusy:
                continue
        return done

    def _shredding_path(self, name: str, tag: str) -> Path:
        return ensure_private_dir(self.root / SHREDDING_DIR) / f"{validate_zone_name(name)}.{tag}"

    def _shred_aside(
        self, name: str, aside: Path, checkpoint: Callable[[str], None] | None = None
    ) -> None:
        link = self.link(name)
        if link.is_symlink() and not link.exists():  # it pointed into what was renamed aside
            link.unlink()
            fsync_dir(self.root)
        for manifest_path in sorted(aside.glob("v*/manifest.json")):
            overwrite_in_place(manifest_path)
            if checkpoint is not None:
                checkpoint("shred-overwritten")
            manifest_path.unlink()
            fsync_dir(manifest_path.parent)
        shutil.rmtree(aside, ignore_errors=True)
        fsync_dir(aside.parent)

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


def is_expired(manifest: ZoneManifest, now: datetime | None = None) -> bool:
    expires = manifest.expires
    return bool(expires and parse_iso(expires) <= (now or utc_now()))


def zone_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
