"""How long zones, their versions and old keys live: list the versions, prune the old ones,
extend the time to live, retire the key-encryption keys a rotation left behind.

`zone versions` shows every version still on disk (older ones stay until pruned, so a model can
be traced to the data it was trained on) and `zone prune` crypto-shreds all but the newest
ones; `zone extend` moves the expiry of a zone whose work is
not done. Both work on the manifests only (nothing is decrypted) and are audited; extending is
the owner's (or root's), like every change to a zone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from piizone.fs import overwrite_in_place
from piizone.zones import access, audit, journal
from piizone.zones.config import require_initialized
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import fsync_dir
from piizone.zones.storage.keys.keyfile import keyfile_keks
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore, iso, parse_iso, parse_ttl, utc_now

# A zone holds production data: its life is extended a bounded step at a time.
MAX_EXTENSION_DAYS = 366


@dataclass(frozen=True)
class VersionInfo:
    version: int
    current: bool
    created: str
    created_by: str
    parent: int | None
    files: int
    rows: int
    bytes: int
    policy_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _created_by(manifest: ZoneManifest) -> str:
    return manifest.created_by.user


def list_versions(name: str, store: ZoneStore | None = None) -> list[VersionInfo]:
    """Every version of zone `name` on disk, oldest first; audited as zone.show."""
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    current = store.manifest(name).version
    found = []
    for version in store.versions(name):
        m = store.manifest(name, version)
        files = m.files
        found.append(
            VersionInfo(
                version=version,
                current=version == current,
                created=m.created,
                created_by=_created_by(m),
                parent=m.parent,
                files=len(files),
                rows=sum(f.rows or 0 for f in files),
                bytes=sum(f.bytes for f in files),
                policy_sha256=m.policy.sha256,
            )
        )
    details = {"versions": len(found), "listing": "versions"}
    audit.record("zone.show", zone=name, details=details, home=store.home)
    return found


def prune_versions(name: str, keep: int, store: ZoneStore | None = None) -> list[int]:
    """Crypto-shred every version of zone `name` but the `keep` newest (the current one is
    always kept); returns the versions shredded, oldest first. Owner or root only, refused
    under legal hold; audited as zone.prune. The shred and its record are one recoverable
    step, as for destroy (a journal intent; zones.journal finishes an interrupted one)."""
    if keep < 1:
        raise ZoneError("--keep must be at least 1", hint="the current version is always kept")
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    with audit.audited("zone.prune", zone=name, home=store.home) as details, store.lock(name):
        manifest = store.manifest(name)
        access.require_owner(manifest, "prune", store.home)
        versions = store.versions(name)
        kept = set(versions[-keep:]) | {manifest.version}
        doomed = [v for v in versions if v not in kept]
        details.update(keep=keep, kept=sorted(kept), pruned=doomed)
        if not doomed:
            return []
        access.refuse_under_legal_hold(manifest, details)
        intent = journal.begin(
            store.home, "zone.prune", zone=name, zone_id=manifest.id, versions=doomed
        )
        store.shred_versions(name, doomed, intent, checkpoint=journal.crash_point)
        journal.crash_point("prune-before-record")
        details.update(method="crypto-shred", intent=intent)
        audit.record("zone.prune", zone=name, details=dict(details), home=store.home)
        details.recorded()
        journal.finish(store.home, intent)
    return doomed


def extend_zone(name: str, ttl: str, store: ZoneStore | None = None) -> str:
    """Set the zone to expire `ttl` from now (never earlier than it already does); returns the
    new expiry. Owner or root only; audited as zone.extend."""
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    delta = parse_ttl(ttl)
    if delta.days > MAX_EXTENSION_DAYS:
        raise ZoneError(
            f"--ttl {ttl} is longer than {MAX_EXTENSION_DAYS} days",
            hint="extend again later: a zone holds production data",
        )
    with store.lock(name):
        manifest = store.manifest(name)
        access.require_owner(manifest, "extend", store.home)
        old = manifest.expires
        new = utc_now() + delta
        if old and parse_iso(old) >= new:
            raise ZoneError(
                f"zone {name!r} already expires at {old}, after {iso(new)}",
                hint="a TTL counts from now: give a longer one",
            )
        store.update_manifest(name, expires=iso(new))
    details = {"from": old, "to": iso(new)}
    audit.record("zone.extend", zone=name, details=details, home=store.home)
    return iso(new)


def retire_keys(store: ZoneStore | None = None) -> list[str]:
    """Shred the keyfile KEKs that neither the config nor any version of any zone uses (what
    `keys rotate` leaves behind); returns their ids. Refused while a rotation is running or
    unfinished. Audited as key.retire (the ids are fingerprints, never key material)."""
    store = store or ZoneStore()
    config = require_initialized(store.home)
    audit.open_audit_log(store.home).check_writable()
    with journal.rotate_lock(store.home) as taken:
        if not taken or any(i.get("action") == "key.rotate" for i in journal.pending(store.home)):
            raise ZoneError(
                "a key rotation is running or unfinished", hint="let `piizone keys rotate` finish"
            )
        in_use = {f"keyfile:{config.kek.key_id}"}
        # New versions are wrapped under the configured KEK, so no zone lock is needed here.
        for name in store.names():
            in_use.update(store.manifest(name, v).key.provider for v in store.versions(name))
        retired = []
        for path in keyfile_keks(store.home):
            key_id = path.name.removeprefix("kek-").removesuffix(".key")
            if f"keyfile:{key_id}" not in in_use:
                _shred_file(path)
                retired.append(key_id)
    audit.record("key.retire", details={"retired": retired}, home=store.home)
    return retired


def _shred_file(path: Path) -> None:
    """Overwrite a key file in place, sync, unlink, sync the directory."""
    overwrite_in_place(path)
    path.unlink()
    fsync_dir(path.parent)
