"""Zone lifecycle: init, list, show, verify, destroy, hold, gc, grant/revoke, keys rotate/status.

Each operation on a zone writes one audit record with its outcome through `zones.audit.log.record`;
operations that change or reveal a zone check the log is writable first (fail closed).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piizone.zones import access, audit, journal
from piizone.zones.config import (
    PiizoneConfig,
    config_path,
    ensure_serve_token,
    load_config,
    require_initialized,
    save_config,
)
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import audit_dir, ensure_private_dir, keys_dir, piizone_home, zones_dir
from piizone.zones.storage.crypto import CryptoError, iter_decrypt
from piizone.zones.storage.keys import (
    create_keyfile_kek,
    ensure_keyfile_kek,
    ensure_pseudonym_key,
)
from piizone.zones.storage.manifest import FileEntry, ZoneManifest
from piizone.zones.storage.signing import ensure_bundle_signing_key, signing_key_path
from piizone.zones.storage.store import ZONE_NAME, ZoneStore, is_expired, utc_now, zone_size
from piizone.zones.storage.zone_keys import finish_rotation, unwrap_zone_key


@dataclass
class InitResult:
    home: Path
    created: list[str] = field(default_factory=list)  # what this run created
    kek: str = ""


def init_home(home: Path | None = None) -> InitResult:
    """Create $PIIZONE_HOME: dirs, config, keyfile KEK, pseudonym key, audit key. Idempotent."""
    home = home or piizone_home()
    result = InitResult(home=home)
    for directory in (home, keys_dir(home), audit_dir(home), zones_dir(home)):
        if not directory.exists():
            result.created.append(str(directory))
        ensure_private_dir(directory)
    if not config_path(home).exists():
        kek = ensure_keyfile_kek(home)
        config = PiizoneConfig()
        config.kek.key_id = kek.provider_id.removeprefix("keyfile:")
        save_config(config, home)
        result.created.append(str(config_path(home)))
    kek_config = load_config(home).kek
    provider = kek_config.provider
    result.kek = f"keyfile:{kek_config.key_id or '?'}" if provider == "keyfile" else provider
    pseudonym = keys_dir(home) / "pseudonym.key"
    if not pseudonym.exists():
        result.created.append(str(pseudonym))
    ensure_pseudonym_key(home)
    audit_key = keys_dir(home) / audit.KEY_FILE
    if not audit_key.exists():
        result.created.append(str(audit_key))
    audit.ensure_audit_key(home)
    _ensure_audit_signing_key(home, result)
    _init_serving(home, result)
    audit.record("init", details={"created": len(result.created)}, home=home)
    return result


def _init_serving(home: Path, result: InitResult) -> None:
    """The bundle-signing key (zone export-policy) and the bearer token (piizone serve)."""
    if ensure_bundle_signing_key(home):
        result.created.append(str(signing_key_path(home)))
    if ensure_serve_token(home):
        result.created.append(f"{config_path(home)}: serve token")


def _ensure_audit_signing_key(home: Path, result: InitResult) -> None:
    """The Ed25519 key that signs the audit log's checkpoints (its .pub goes to auditors)."""
    signing_key = keys_dir(home) / audit.SIGNING_KEY_FILE
    if not signing_key.exists():
        result.created.append(str(signing_key))
    audit.ensure_signing_key(home)


# -- reading ------------------------------------------------------------------------------------


def zone_summary(store: ZoneStore, name: str) -> dict[str, Any]:
    m = store.manifest(name)
    return {
        "name": name,
        "version": m.version,
        "created": m.created,
        "owner": m.owner,
        "expires": m.expires,
        "expired": is_expired(m),
        "legal_hold": m.legal_hold,
        "size": zone_size(store.current_dir(name)),
        "risk": m.scan.risk,
        "purpose": m.purpose,
        "files": len(m.files),
    }


def list_zones(store: ZoneStore | None = None) -> list[dict[str, Any]]:
    store = store or ZoneStore()
    zones = [zone_summary(store, name) for name in store.names()]
    audit.record("zone.list", details={"zones": len(zones)}, home=store.home)
    return zones


def show_zone(name: str, store: ZoneStore | None = None) -> dict[str, Any]:
    """The manifest without the wrapped key, plus lineage (all versions) and the summary."""
    store = store or ZoneStore()
    manifest = _audited_read("zone.show", name, store, store.manifest)
    shown = manifest.dump()
    shown["key"] = {"provider": manifest.key.provider}
    shown["lineage"] = [
        {
            "version": v,
            "created": (m := store.manifest(name, v)).created,
            "parent": m.parent,
            "policy_sha256": m.policy.sha256,
            "files": len(m.files),
        }
        for v in store.versions(name)
    ]
    shown["size"] = zone_size(store.current_dir(name))
    return shown


def _audited_read(action: str, name: str, store: ZoneStore, read):
    with audit.audited(action, zone=name, home=store.home):
        return read(name)


@dataclass
class VerifyReport:
    name: str
    version: int
    files: int = 0
    bytes: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_zone(name: str, store: ZoneStore | None = None) -> VerifyReport:
    """Decrypt every file and check its sha256 against the manifest; name each bad file."""
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    with audit.audited("zone.verify", zone=name, home=store.home) as details:
        manifest = store.manifest(name)
        directory = store.current_dir(name)
        dek = unwrap_zone_key(store, manifest)
        report = VerifyReport(name=name, version=manifest.version)
        listed = set()
        for entry in manifest.files:
            listed.add(entry.path)
            problem = _verify_file(directory, entry, dek, manifest.id)
            report.files += 1
            report.bytes += entry.bytes
            if problem:
                report.problems.append({"path": entry.path, "problem": problem})
        for path in sorted((directory / "data").rglob("*")):
            rel = path.relative_to(directory).as_posix()
            if path.is_file() and rel not in listed:
                report.problems.append({"path": rel, "problem": "not in the manifest"})
        details.update(version=report.version, files=report.files, problems=len(report.problems))
        details.outcome = "success" if report.ok else "failure"
    return report


def _verify_file(directory: Path, entry: FileEntry, dek: bytes, zone_id: str) -> str | None:
    digest = hashlib.sha256()
    size = 0
    try:
        with open(directory / entry.path, "rb") as f:
            for chunk in iter_decrypt(f, dek, zone_id=zone_id, path=entry.path):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return "missing"
    except CryptoError as e:
        return str(e)
    if size != entry.bytes or digest.hexdigest() != entry.sha256:
        return "content does not match the manifest's sha256"
    return None


# -- changing -----------------------------------------------------------------------------------


def record_unconfirmed(
    action: str, name: str | None = None, store: ZoneStore | None = None
) -> None:
    """Audit an irreversible command refused for want of confirmation (nothing was changed).

    Best effort: with no valid zone name, or no audit log to write to, there is nothing to
    record, and the refusal itself must still reach the user.
    """
    if name is not None and not ZONE_NAME.match(name):
        return
    store = store or ZoneStore()
    with contextlib.suppress(ZoneError):  # AuditError included
        audit.record(
            action,
            zone=name,
            outcome="denied",
            details={"error": "not confirmed"},
            home=store.home,
        )


def destroy_zone(name: str, store: ZoneStore | None = None) -> int:
    """Crypto-shred every version (wrapped keys first); refused under legal hold.

    Only the owner or root (piizone.zones.access) may; a refusal is audited as access.denied.
    """
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    # An AccessDenied is audited as access.denied where it is raised.
    with audit.audited("zone.destroy", zone=name, home=store.home) as details, store.lock(name):
        manifest = store.manifest(name)
        access.require_owner(manifest, "destroy", store.home)
        access.refuse_under_legal_hold(manifest, details)
        # The shred and its record are one step: a kill between them (or mid-shred) is
        # finished and recorded by the next command from this intent (zones.journal).
        intent = journal.begin(
            store.home,
            "zone.destroy",
            zone=name,
            zone_id=manifest.id,
            versions=len(store.versions(name)),
        )
        versions = store.shred(name, intent, checkpoint=journal.crash_point)
        journal.crash_point("destroy-before-record")
        details.update(versions=versions, method="crypto-shred", intent=intent)
        audit.record("zone.destroy", zone=name, details=dict(details), home=store.home)
        details.recorded()
        journal.finish(store.home, intent)
    return versions


def set_hold(name: str, on: bool, store: ZoneStore | None = None) -> ZoneManifest:
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    with store.lock(name):
        access.require_owner(store.manifest(name), "hold", store.home)
        manifest = store.update_manifest(name, legal_hold=on)
    audit.record("zone.hold", zone=name, details={"legal_hold": on}, home=store.home)
    return manifest


def set_grant(name: str, user: str, grant: bool, store: ZoneStore | None = None) -> list[str]:
    store = store or ZoneStore()
    if not user or not user.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ZoneError(f"invalid user name {user!r}")
    audit.open_audit_log(store.home).check_writable()
    with store.lock(name):
        manifest = store.manifest(name)
        access.require_owner(manifest, "grant" if grant else "revoke", store.home)
        grants = set(manifest.grants)
        (grants.add if grant else grants.discard)(user)
        store.update_manifest(name, grants=sorted(grants))
    audit.record(
        "zone.grant" if grant else "zone.revoke", zone=name, details={"user": user}, home=store.home
    )
    return sorted(grants)


def gc_zones(store: ZoneStore | None = None, *, dry_run: bool = False) -> dict[str, Any]:
    """Destroy expired zones not on hold; remove staging dirs left by crashed runs.

    Only the zones the actor may destroy (its own; all for root) count: others' expired zones
    are listed under "others" and left to their owners or the operator. "stale_staging" and
    "shreds_finished" count the leftovers of crashed builds and destroys cleaned up.
    """
    store = store or ZoneStore()
    expired: list[str] = []
    held: list[str] = []
    others: list[str] = []
    for name in store.names():
        manifest = store.manifest(name)
        if not is_expired(manifest):
            continue
        if not access.may_manage(manifest):
            others.append(name)
        else:
            (held if manifest.legal_hold else expired).append(name)
    staging = shreds = 0
    if not dry_run:
        for name in expired:
            destroy_zone(name, store)
        staging = store.clean_stale_staging()
        shreds = store.finish_shreds()
    audit.record(
        "zone.gc",
        details={
            "destroyed": 0 if dry_run else len(expired),
            "held": len(held),
            "others": len(others),
            "stale_staging": staging + shreds,
        },
        home=store.home,
    )
    return {
        "expired": expired,
        "held": held,
        "others": others,
        "stale_staging": staging,
        "shreds_finished": shreds,
    }


# -- keys ---------------------------------------------------------------------------------------


def keys_status(store: ZoneStore | None = None) -> dict[str, Any]:
    store = store or ZoneStore()
    config = require_initialized(store.home)
    zones = [{"name": n, "provider": store.manifest(n).key.provider} for n in store.names()]
    audit.record("key.status", details={"zones": len(zones)}, home=store.home)
    return {"configured": config.kek.options(), "zones": zones}


def rotate_keys(store: ZoneStore | None = None) -> dict[str, Any]:
    """New keyfile KEK; every version's DEK re-wrapped under it. No data is re-encrypted.

    Journaled (zones.journal): a crash before the audit record is settled by the next command,
    which completes the rotation and records it.
    """
    store = store or ZoneStore()
    config = require_initialized(store.home)
    audit.open_audit_log(store.home).check_writable()
    if config.kek.provider != "keyfile":
        raise ZoneError(
            f"keys rotate creates keyfile KEKs; this home uses {config.kek.provider}",
            hint="rotate that provider's key in its own system",
        )
    with journal.rotate_lock(store.home) as taken:
        if not taken:
            raise ZoneError(
                "keys rotate is already running in another piizone process",
                hint="wait for it to finish",
            )
        new = create_keyfile_kek(store.home)
        by = access.current_user()
        intent = journal.begin(store.home, "key.rotate", provider=new.provider_id, by=by)
        rewrapped = finish_rotation(store.home, new.provider_id, new)
        journal.crash_point("rotate-before-record")
        audit.record(
            "key.rotate",
            # not "rewrapped": the audit log strips detail keys naming wrapped key material
            details={
                "provider": new.provider_id,
                "versions": rewrapped,
                "by": by,
                "intent": intent,
            },
            home=store.home,
        )
        journal.finish(store.home, intent)
    return {"provider": new.provider_id, "rewrapped": rewrapped}


def open_check(manifest: ZoneManifest) -> None:
    """Expired zones cannot be opened."""
    if is_expired(manifest, utc_now()):
        raise ZoneError(
            f"zone {manifest.name!r} expired at {manifest.expires}",
            hint="refresh it or ask its owner",
        )
