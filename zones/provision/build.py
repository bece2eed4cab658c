"""Provisioning: build a zone version from sources — scan, redact, encrypt — and publish it.

Plaintext never reaches the disk: redaction writes into an EncryptingWriter, so the only bytes
written under $PIIZONE_HOME are ciphertext, manifests and the (value-free) scan report. A
version is built in a staging directory and published with renames; an error or Ctrl-C removes
the staging directory, and a SIGKILL leaves only ciphertext there, which `zone gc` removes.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from piizone.scrubbers.policy import load_policy, parse_policy
from piizone.scrubbers.progress import PUBLISHING, ItemProgress
from piizone.zones import access, audit, journal
from piizone.zones.config import require_initialized
from piizone.zones.exceptions import ZoneError
from piizone.zones.provision.metadata_names import source_spec
from piizone.zones.provision.staging import BuildResult, ProgressCallback, build_version
from piizone.zones.storage.crypto import new_dek
from piizone.zones.storage.keys import load_kek, load_kek_for
from piizone.zones.storage.manifest import LAWFUL_BASES, ZoneManifest
from piizone.zones.storage.store import (
    ZoneStore,
    iso,
    parse_ttl,
    utc_now,
    validate_zone_name,
)

__all__ = [
    "BuildResult",
    "ProgressCallback",
    "ZoneRequest",
    "actor",
    "create_zone",
    "policy_text",
    "refresh_zone",
]


@dataclass
class ZoneRequest:
    """What `zone create` was asked for."""

    name: str
    sources: list[str]
    policy_path: str | None = None
    purpose: str = ""
    lawful_basis: str | None = None  # one of manifest.LAWFUL_BASES (GDPR Art. 6(1))
    ttl: str | None = None
    owner: str | None = None
    # Engine choice: {"workers": N, "engine": "local"|"dask", "scheduler": address}.
    engine: dict[str, Any] = field(default_factory=dict)
    canaries: int = 0  # synthetic records to plant (piizone.zones.leakcheck.canaries)
    # Dictionary-only sources (`--known-values`): their identifier values are learned and
    # redacted wherever they appear in the zone; their data is never copied into it.
    known_values: list[str] = field(default_factory=list)
    # Known-value redaction as a whole (the zone's own tables' values too); off only to
    # measure what it adds (benchmarks/known_values_check.py).
    learn_known_values: bool = True


# What a refresh keeps of the parent version's manifest as it is.
INHERITED = {
    "id",
    "name",
    "purpose",
    "lawful_basis",
    "owner",
    "expires",
    "legal_hold",
    "grants",
    "key",
}


def actor() -> dict[str, Any]:
    return {"user": access.current_user(), "uid": os.getuid(), "host": socket.gethostname()}


def policy_text(policy_path: str | None) -> str:
    if policy_path is None:
        return (
            resources.files("piizone.scrubbers").joinpath("default_policy.yaml").read_text("utf-8")
        )
    return Path(policy_path).read_text("utf-8")


def create_zone(
    request: ZoneRequest, store: ZoneStore | None = None, progress: ProgressCallback | None = None
) -> BuildResult:
    """Build and publish version 1 of a new zone; audited (zone.create) with its outcome."""
    store = store or ZoneStore()
    name = request.name
    started = {"sources": len(request.sources)}
    with (
        _os_errors(name),
        audit.audited("zone.create", zone=name, home=store.home, details=started) as details,
    ):
        validate_zone_name(name)  # inside the try: a refused name is audited too
        if request.lawful_basis is not None and request.lawful_basis not in LAWFUL_BASES:
            raise ZoneError("unknown lawful basis", hint=f"use one of: {', '.join(LAWFUL_BASES)}")
        config = require_initialized(store.home)
        audit.open_audit_log(store.home).check_writable()  # fail closed before any work
        policy = load_policy(request.policy_path)
        ttl = parse_ttl(request.ttl or config.zones.default_ttl)
        with store.lock(name):
            if store.exists(name):
                raise ZoneError(
                    f"zone {name!r} already exists",
                    hint=f"`piizone zone refresh {name}` makes a new version",
                )
            kek = load_kek(config.kek.options(), store.home)
            zone_id = uuid.uuid4().hex
            dek = new_dek()
            now = utc_now()
            meta = {
                "id": zone_id,
                "name": name,
                "version": 1,
                "parent": None,
                "created": iso(now),
                "created_by": actor(),
                "purpose": request.purpose,
                "owner": request.owner or access.current_user(),
                "expires": iso(now + ttl),
                "legal_hold": False,
                "grants": [],
                "key": {
                    "provider": kek.provider_id,
                    "wrapped": base64.b64encode(kek.wrap(dek, context=zone_id.encode())).decode(),
                },
            }
            if request.lawful_basis is not None:  # absent, not null, when not given
                meta["lawful_basis"] = request.lawful_basis
            result = build_version(
                store,
                name,
                request.sources,
                policy,
                policy_text(request.policy_path),
                dek,
                meta,
                parent=None,
                progress=progress,
                engine_options=request.engine,
                canaries=request.canaries,
                known_specs=request.known_values,
                learn_known=request.learn_known_values,
            )
            details.update(_summary(result))
            ItemProgress(progress, PUBLISHING, name, None).start()
            _publish_audited(store, "zone.create", name, result, previous=None, details=details)
            return result


def refresh_zone(
    name: str,
    store: ZoneStore | None = None,
    sources: list[str] | None = None,
    progress: ProgressCallback | None = None,
    engine_options: dict[str, Any] | None = None,
    only_if_changed: bool = False,
) -> BuildResult:
    """A new version from the same sources and policy; unchanged sources are reused as is.

    With `only_if_changed`, a build in which every item was reused and none was added or removed
    is discarded: no version, `result.unchanged`, audited as a successful refresh with
    `unchanged: true`.
    """
    store = store or ZoneStore()
    with _os_errors(name), audit.audited("zone.refresh", zone=name, home=store.home) as details:
        validate_zone_name(name)
        config = require_initialized(store.home)
        audit.open_audit_log(store.home).check_writable()
        with store.lock(name):
            parent = store.manifest(name)
            access.require_owner(parent, "refresh", store.home)
            parent_dir = store.current_dir(name)
            text = (parent_dir / "policy.yaml").read_text("utf-8")
            policy = parse_policy(
                text,
                source=f"zone {name} v{parent.version}",
                recorded_sha256=parent.policy.sha256,
            )
            provider, wrapped = store.wrapped_key(parent)
            dek = load_kek_for(provider, config.kek.options(), store.home).unwrap(
                wrapped, context=parent.id.encode()
            )
            meta = parent.model_dump(mode="json", exclude_unset=True, include=INHERITED)
            meta.update(
                version=parent.version + 1,
                parent=parent.version,
                created=iso(utc_now()),
                created_by=actor(),
            )
            specs = sources or [source_spec(s, dek, parent.id) for s in parent.sources]
            # The same dictionary-only sources as the parent, re-read: their values may have
            # changed like the zone's own sources.
            known_record = parent.known_values
            known_sources = known_record.sources if known_record else []
            known_specs = [source_spec(s, dek, parent.id) for s in known_sources]
            details.update(version=meta["version"], parent=parent.version)
            result = build_version(
                store,
                name,
                specs,
                policy,
                text,
                dek,
                meta,
                parent=(parent, parent_dir),
                progress=progress,
                engine_options=engine_options,
                known_specs=known_specs,
                learn_known=known_record.enabled if known_record else True,
            )
            if only_if_changed and _same_as_parent(parent, result):
                shutil.rmtree(result.staging, ignore_errors=True)  # type: ignore[attr-defined]
                details.update(version=parent.version, unchanged=True)
                result.unchanged = True
                return result
            details.update(_summary(result))
            ItemProgress(progress, PUBLISHING, name, None).start()
            _publish_audited(
                store, "zone.refresh", name, result, previous=parent.version, details=details
            )
            return result


def _same_as_parent(parent: ZoneManifest, result: BuildResult) -> bool:
    """Every source item reused (same content, policy, known values); none added or removed."""

    def items(manifest: ZoneManifest) -> list[tuple[str, str]]:
        return sorted((f.path, f.source_sha256) for f in manifest.files if f.source_sha256)

    mine = items(result.manifest)
    return items(parent) == mine and len(result.reused) == len(mine)


def _summary(result: BuildResult) -> dict[str, Any]:
    manifest = result.manifest
    totals: Counter[str] = Counter(manifest.scan.totals)
    return {
        "zone_id": manifest.id,  # ties the record to this zone, not to a later one of its name
        "version": manifest.version,
        "files": len(manifest.files),
        "rows": sum(f.rows or 0 for f in manifest.files),
        "reused": len(result.reused),
        "policy_sha256": manifest.policy.sha256,
        "entities": dict(totals),
        "risk": manifest.scan.risk,
    }


def _publish_audited(
    store: ZoneStore,
    action: str,
    name: str,
    result: BuildResult,
    previous: int | None,
    details: audit.AuditDetails,
) -> None:
    staging: Path = result.staging  # type: ignore[attr-defined]
    version = result.manifest.version
    # The publish and its record are one step: a crash between them is settled by the next
    # command from this intent (piizone.zones.journal), which the record names.
    intent = journal.begin(store.home, action, zone=name, version=version, previous=previous)
    try:
        store.publish(name, staging, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        journal.finish(store.home, intent)
        raise
    journal.crash_point("after-publish")
    try:
        audit.record(
            action,
            zone=name,
            outcome="success",
            details={**details, "intent": intent},
            home=store.home,
        )
        details.recorded()
    except BaseException:
        # Fail closed: a zone nobody can account for must not exist.
        store.unpublish(name, version, previous)
        journal.finish(store.home, intent)
        raise
    journal.crash_point("after-record")
    journal.finish(store.home, intent)


@contextlib.contextmanager
def _os_errors(name: str) -> Iterator[None]:
    """OSErrors of the body as one clear ZoneError (see `_raise_os_error`)."""
    try:
        yield
    except OSError as e:
        _raise_os_error(name, e)


def _raise_os_error(name: str, error: BaseException) -> None:
    """A full disk or an I/O error while writing the zone: one clear line, not a traceback."""
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        raise ZoneError(
            f"zone {name!r} not written: {error.strerror or error}{where}",
            hint="free space under $PIIZONE_HOME (or fix the error) and retry",
        ) from None
