"""Provisioning: build a zone version from sources — scan, redact, encrypt — and publish it.

Plaintext never reaches the disk: redaction writes into an EncryptingWriter, so the only bytes
written under $PIIZONE_HOME are ciphertext, manifests and the (value-free) scan report. A
version is built in a staging directory and published with renames; an error or Ctrl-C removes
the staging directory, and a SIGKILL leaves only ciphertext there, which `zone gc` removes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy.engine import URL, make_url

from piizone.scrubbers.formats import iter_table_chunks
from piizone.scrubbers.known_values import KnownValues
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.parallel import close_engine, make_engine
from piizone.scrubbers.policy import Policy, load_policy, parse_policy
from piizone.scrubbers.prefetch import prefetch
from piizone.scrubbers.redact import learn_values, redact_frames, redact_into
from piizone.scrubbers.reports import Report, SourceReport, render_json, tool_version
from piizone.scrubbers.scan import TextScan, scan_file, scan_frames
from piizone.zones import access, journal
from piizone.zones.audit import log as audit
from piizone.zones.config import require_initialized
from piizone.zones.exceptions import AccessDenied, ZoneError
from piizone.zones.leakcheck.canaries import CANARY_DATA_PATH, load_canaries, make_canaries, plant
from piizone.zones.leakcheck.fingerprints import (
    FingerprintCollector,
    collect_columns,
    collecting_redactor,
    identifier_columns,
    load_fingerprints,
    write_fingerprints,
)
from piizone.zones.provision.metadata_names import NameMasker, seal_spec, source_spec
from piizone.zones.provision.sources import Source, SourceItem, resolve_sources
from piizone.zones.storage.crypto import EncryptingWriter, new_dek
from piizone.zones.storage.keys import ensure_pseudonym_key, load_kek, load_kek_for
from piizone.zones.storage.store import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    ZoneStore,
    iso,
    parse_ttl,
    utc_now,
    validate_zone_name,
)

# (item relpath, done, total) for progress bars: one tick per finished item.
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class ZoneRequest:
    """What `zone create` was asked for."""

    name: str
    sources: list[str]
    policy_path: str | None = None
    purpose: str = ""
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


@dataclass
class BuildResult:
    manifest: dict[str, Any]
    reused: list[str] = field(default_factory=list)  # relpaths taken from the parent version
    skipped: list[tuple[str, str]] = field(default_factory=list)


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
    details: dict[str, Any] = {"sources": len(request.sources)}
    try:
        validate_zone_name(name)  # inside the try: a refused name is audited too
        config = require_initialized(store.home)
        audit.open_audit_log(store.home).check_writable()  # fail closed before any work
        policy = load_policy(request.policy_path)
        ttl = parse_ttl(request.ttl or config["zones"].get("default_ttl", "30d"))
        with store.lock(name):
            if store.exists(name):
                raise ZoneError(
                    f"zone {name!r} already exists",
                    hint=f"`piizone zone refresh {name}` makes a new version",
                )
            kek = load_kek(config["kek"], store.home)
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
            result = _build(
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
            _publish_audited(store, "zone.create", name, result, previous=None, details=details)
            return result
    except BaseException as e:
        _audit_failure("zone.create", name, details, e, store)
        _raise_os_error(name, e)
        raise


def refresh_zone(
    name: str,
    store: ZoneStore | None = None,
    sources: list[str] | None = None,
    progress: ProgressCallback | None = None,
    engine_options: dict[str, Any] | None = None,
) -> BuildResult:
    """A new version from the same sources and policy; unchanged sources are reused as is."""
    store = store or ZoneStore()
    details: dict[str, Any] = {}
    try:
        validate_zone_name(name)
        config = require_initialized(store.home)
        audit.open_audit_log(store.home).check_writable()
        with store.lock(name):
            parent = store.manifest(name)
            access.require_owner(parent, "refresh", store.home)
            parent_dir = store.current_dir(name)
            text = (parent_dir / "policy.yaml").read_text("utf-8")
            policy = parse_policy(text, source=f"zone {name} v{parent['version']}")
            provider, wrapped = store.wrapped_key(parent)
            dek = load_kek_for(provider, config["kek"], store.home).unwrap(
                wrapped, context=parent["id"].encode()
            )
            meta = {
                k: v
                for k, v in parent.items()
                if k in ("id", "name", "purpose", "owner", "expires", "legal_hold", "grants", "key")
            }
            meta.update(
                version=parent["version"] + 1,
                parent=parent["version"],
                created=iso(utc_now()),
                created_by=actor(),
            )
            specs = sources or [source_spec(s, dek, parent["id"]) for s in parent["sources"]]
            # The same dictionary-only sources as the parent, re-read: their values may have
            # changed like the zone's own sources.
            known_record = parent.get("known_values") or {}
            known_specs = [
                source_spec(s, dek, parent["id"]) for s in known_record.get("sources", [])
            ]
            details = {"version": meta["version"], "parent": parent["version"]}
            result = _build(
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
                learn_known=known_record.get("enabled", True) if known_record else True,
            )
            details.update(_summary(result))
            _publish_audited(
                store, "zone.refresh", name, result, previous=parent["version"], details=details
            )
            return result
    except BaseException as e:
        _audit_failure("zone.refresh", name, details, e, store)
        _raise_os_error(name, e)
        raise


def _build(
    store: ZoneStore,
    name: str,
    specs: list[str],
    policy: Policy,
    text: str,
    dek: bytes,
    meta: dict[str, Any],
    *,
    parent: tuple[dict, Path] | None,
    progress: ProgressCallback | None,
    engine_options: dict[str, Any] | None = None,
    canaries: int = 0,
    known_specs: list[str] | None = None,
    learn_known: bool = True,
) -> BuildResult:
    resolved = resolve_sources(specs)
    known_sources = resolve_sources(known_specs) if known_specs else []
    if known_sources and not learn_known:
        raise ZoneError("--known-values sources given with known-value redaction turned off")
    items = [item for source in resolved for item in source.items()]
    sizes = [item.size for item in items if item.size is not None]
    engine = make_engine(
        policy,
        **(engine_options or {}),
        input_bytes=sum(sizes) if len(sizes) == len(items) else None,
    )
    try:
        return _build_with(
            store,
            name,
            resolved,
            specs,
            items,
            policy,
            text,
            dek,
            meta,
            parent=parent,
            progress=progress,
            engine=engine,
            canaries=canaries,
            known=_KnownPlan(known_specs or [], known_sources, learn_known),
        )
    finally:
        close_engine(engine)


def _build_with(
    store: ZoneStore,
    name: str,
    resolved: list[Source],
    specs: list[str],
    items: list[SourceItem],
    policy: Policy,
    text: str,
    dek: bytes,
    meta: dict[str, Any],
    *,
    parent: tuple[dict, Path] | None,
    progress: ProgressCallback | None,
    engine: Any,
    canaries: int = 0,
    known: _KnownPlan | None = None,
) -> BuildResult:
    # Every value the redactor transforms is fingerprinted on the way (leakcheck):
    # the cheapest place, it already sees each distinct redacted value once.
    collector = FingerprintCollector(dek)
    redactor = collecting_redactor(Redactor(policy, ensure_pseudonym_key(store.home)), collector)
    known = known or _KnownPlan([], [], True)
    # Tables first: their identifier values (and the --known-values sources') are learned
    # before anything is redacted, so a transcript naming a customer of the CRM table is
    # redacted with the table's values. In memory only.
    known_values = known.learn(items, engine, redactor, collector)
    if parent:  # items reused from the parent were not redacted again: keep their fingerprints
        collector.fingerprints.update(load_fingerprints(parent[1], parent[0], dek))
    parent_files = {f["path"]: f for f in parent[0]["files"]} if parent else {}
    parent_report = _load_report(parent[1]) if parent else {}
    staging = store.staging_dir(name)
    result = BuildResult(manifest={})
    # No raw source name in plaintext metadata. Regex rules only (e-mails, long numbers): NER on
    # file names tags little and would cost an analysis per name.
    names = NameMasker(dek)
    try:
        (staging / "data").mkdir(mode=0o700)
        report = Report(policy_sha256=policy.sha256, policy_source=policy.source)
        files: list[dict[str, Any]] = []
        source_entries = []

        def analysed_ahead(item: SourceItem) -> Path | None:
            # Files a refresh may reuse from the parent are not analysed ahead.
            return item.path if f"data/{names.relpath(item.relpath)}" not in parent_files else None

        for index, item in enumerate(prefetch(engine, items, analysed_ahead), 1):
            zone_path = f"data/{names.relpath(item.relpath)}"
            fingerprint = item.fingerprint()
            previous = parent_files.get(zone_path)
            if (
                previous
                and parent is not None
                and previous.get("source_sha256") == fingerprint
                and parent[0]["policy"]["sha256"] == policy.sha256
                # Redacted with other known values, it could keep a name the new set redacts.
                and (parent[0].get("known_values") or {}).get("digest")
                == known.digest(known_values, dek)
            ):
                os.link(parent[1] / zone_path, _prepare(staging / zone_path))
                files.append(dict(previous))
                if zone_path in parent_report:
                    report.sources.append(parent_report[zone_path])
                result.reused.append(names.relpath(item.relpath))
            else:
                entry, source_report = _provision_item(
                    item,
                    zone_path,
                    staging,
                    dek,
                    meta["id"],
                    engine,
                    redactor,
                    collector,
                    known_values,
                )
                entry["source_sha256"] = fingerprint
                entry["source"] = names.uri(entry["source"])
                files.append(entry)
                report.sources.append(source_report)
            if progress:
                progress(names.relpath(item.relpath), index, len(items))
        side = _plant_canaries(staging, files, canaries, parent, dek, meta["id"])
        for spec, source in zip(specs, resolved, strict=True):
            source_entries.append(_source_entry(spec, source, files, names, dek, meta["id"]))
            result.skipped.extend((names.relpath(rel), why) for rel, why in source.skipped)
        report.filters = dict(engine.stats.filtered)
        (staging / "report.json").write_text(render_json(report))
        (staging / "policy.yaml").write_text(text)
        for p in (staging / "report.json", staging / "policy.yaml"):
            p.chmod(0o600)
        manifest = {
            "format": MANIFEST_FORMAT,
            "manifest_version": MANIFEST_VERSION,
            **meta,
            "sources": source_entries,
            "policy": {"sha256": policy.sha256, "source": policy.source},
            "tool": {"name": "piizone", "version": tool_version()},
            "files": files,
            "scan": {"totals": report.totals, "risk": report.risk.label},
            "fingerprints": write_fingerprints(staging, collector.fingerprints, dek, meta["id"]),
            "known_values": known.manifest(known_values, dek, names, meta["id"]),
            **side,
        }
        store.write_manifest(staging, manifest)
        result.manifest = manifest
        result.staging = staging  # type: ignore[attr-defined]
        return result
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _provision_item(
    item: SourceItem,
    zone_path: str,
    staging: Path,
    dek: bytes,
    zone_id: str,
    engine,
    redactor,
    collector: FingerprintCollector | None = None,
    known: KnownValues | None = None,
) -> tuple[dict[str, Any], SourceReport]:
    """Scan one item for the report, then redact it straight into its encrypted file.

    A text file is analysed once: its report is built from the redactor's own passes (the
    engine's memo could not hold a file over its long-text budget between a scan and a
    redaction, so such a file used to be analysed twice).
    """
    source_report = SourceReport(
        path=zone_path, kind=item.kind, format=item.fmt, bytes=item.size or 0
    )
    text_scan = None
    if item.path is not None and item.fmt == "txt":
        text_scan = TextScan(source_report)
    elif item.path is not None:
        source_report = scan_file(item.path, engine)
        source_report.path = zone_path
    else:
        scan_frames(item.table_chunks(), engine, source_report)
    # Whole-column identifiers bypass the redactor's per-value hook: fingerprint them here.
    columns = identifier_columns(source_report, redactor.policy) if collector else {}
    if collector is not None and columns and item.path is not None:
        for _ in collect_columns(collector, iter_table_chunks(item.path, item.fmt), columns):
            pass
    target = _prepare(staging / zone_path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw:
        writer = EncryptingWriter(raw, dek, zone_id=zone_id, path=zone_path)
        sink = cast(IO[bytes], writer)  # a raw binary stream: the write/tell IO[bytes] offers
        if text_scan is not None and item.path is not None:
            summary = redact_into(
                item.path,
                sink,
                engine,
                redactor,
                fmt=item.fmt,
                on_pass=text_scan.add,
                known=known,
            )
            text_scan.finish(summary.invalid_bytes)
        elif item.path is not None:
            summary = redact_into(item.path, sink, engine, redactor, fmt=item.fmt, known=known)
        else:
            chunks = item.table_chunks()
            if collector is not None and columns:  # no second query: collect on the way
                chunks = collect_columns(collector, chunks, columns)
            summary = redact_frames(chunks, sink, engine, redactor, known=known)
        writer.close()
    return {
        "path": zone_path,
        "sha256": writer.sha256,
        "bytes": writer.size,
        "rows": summary.rows,
        "format": "parquet" if item.fmt == "sql" else item.fmt,
        "kind": item.kind,
        "entities": summary.entities,
        "known_values": summary.known_values,  # counts of spans found as known values
        "source": item.source_uri,
    }, source_report


@dataclass
class _KnownPlan:
    """Known-value redaction for one build: the dictionary-only sources and the switch."""

    specs: list[str]
    sources: list[Source]
    enabled: bool
    rows: list[int] = field(default_factory=list)  # rows learned per source
    hashes: list[str] = field(default_factory=list)  # content sha256 per source

    def learn(
        self,
        items: list[SourceItem],
        engine: Any,
        redactor: Redactor,
        collector: FingerprintCollector,
    ) -> KnownValues | None:
        if not self.enabled:
            return None
        known = KnownValues()
        for item in items:
            if item.kind == "table":
                _learn_item(known, item, engine, redactor)
        for source in self.sources:
            own = KnownValues()
            rows = 0
            for item in source.items():
                if item.kind != "table":
                    continue  # a text has no columns to say what its values are
                rows += _learn_item(own, item, engine, redactor)
            # Their values never reach the redactor unless they show up in the zone: the
            # egress check should still catch them leaving a session.
            for entity, value in own.values():
                collector.add(entity, value)
            known.update(own)
            self.rows.append(rows)
            self.hashes.append(source.fingerprint())
        return known

    def digest(self, known: KnownValues | None, dek: bytes) -> str | None:
        return known.digest(_known_values_key(dek)) if known is not None else None

    def manifest(
        self, known: KnownValues | None, dek: bytes, names: NameMasker, zone_id: str
    ) -> dict[str, Any]:
        """What the manifest says: the sources (masked, no password) and counts, never a value.

        Like the zone's own sources, the address is stored masked and what refresh re-reads is
        sealed under the zone's key (piizone.zones.provision.metadata_names).
        """
        return {
            "enabled": self.enabled,
            "sources": [
                {
                    "uri": names.uri(source.uri),
                    "spec": names.uri(source.uri),
                    "spec_sealed": seal_spec(_refresh_spec(spec), dek, zone_id),
                    "sha256": sha,
                    "rows": rows,
                }
                for spec, source, sha, rows in zip(
                    self.specs, self.sources, self.hashes, self.rows, strict=True
                )
            ],
            "values": len(known) if known is not None else 0,
            # Keyed by the zone's DEK: says whether a refresh learned the same values, and
            # nothing about them without the key.
            "digest": self.digest(known, dek),
        }


def _learn_item(known: KnownValues, item: SourceItem, engine: Any, redactor: Redactor) -> int:
    """Learn one table item's identifier values; the rows read."""
    if item.path is not None:
        return learn_values(known, engine, redactor, path=item.path, fmt=item.fmt)
    return learn_values(known, engine, redactor, chunks=item.table_chunks())


def _known_values_key(dek: bytes) -> bytes:
    return hmac.new(dek, b"piizone-known-values", hashlib.sha256).digest()


def _plant_canaries(
    staging: Path,
    files: list[dict[str, Any]],
    count: int,
    parent: tuple[dict, Path] | None,
    dek: bytes,
    zone_id: str,
) -> dict[str, Any]:
    """Plant new canaries (create) or carry the parent's over (refresh); the manifest part."""
    records = load_canaries(parent[1], parent[0], dek) if parent else []
    if not records and count:
        records = make_canaries(count)
    if not records:
        return {}
    if any(f["path"] == CANARY_DATA_PATH for f in files):
        raise ZoneError(f"a source item already uses {CANARY_DATA_PATH}, where canaries go")
    data_entry, side = plant(staging, records, dek, zone_id)
    files.append(data_entry)
    return {"canaries": side}


def _prepare(path: Path) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _source_entry(
    spec: str,
    source: Source,
    files: list[dict[str, Any]],
    names: NameMasker,
    dek: bytes,
    zone_id: str,
) -> dict[str, Any]:
    uri = names.uri(source.uri)
    mine = [f for f in files if f.get("source") == uri or f.get("source_uri") == uri]
    return {
        "uri": uri,
        "spec": uri,  # masked; refresh reads spec_sealed
        "spec_sealed": seal_spec(_refresh_spec(spec), dek, zone_id),
        "kind": source.kind,
        "sha256": _combined([f["source_sha256"] for f in mine]),
        "rows": sum(f.get("rows") or 0 for f in mine),
        "files": [f["path"] for f in mine],
    }


def _combined(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def _refresh_spec(spec: str) -> str:
    """What refresh re-reads: an absolute path, or the URL without its password.

    A password is never stored; refresh takes it from PGPASSWORD / ~/.pgpass as libpq does, or
    from `zone refresh --from URL`.
    """
    if "://" not in spec:
        return str(Path(spec).resolve())
    url = make_url(spec)
    if not url.password:
        return spec
    # Not url.set(password=None): to URL.set, None means "leave unchanged".
    bare = URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return bare.render_as_string(hide_password=False)


def _load_report(directory: Path) -> dict[str, SourceReport]:
    """The parent version's report, by zone path, for reused items."""
    from piizone.scrubbers.reports import ColumnReport, Sample

    try:
        data = json.loads((directory / "report.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    out = {}
    for s in data.get("sources", []):
        out[s["path"]] = SourceReport(
            path=s["path"],
            kind=s["kind"],
            format=s["format"],
            rows=s["rows"],
            bytes=s["bytes"],
            columns=[ColumnReport(**c) for c in s["columns"]],
            entities=s["entities"],
            samples=[Sample(**x) for x in s["samples"]],
            warnings=s.get("warnings", []),
        )
    return out


def _summary(result: BuildResult) -> dict[str, Any]:
    manifest = result.manifest
    totals: Counter[str] = Counter(manifest["scan"]["totals"])
    return {
        "version": manifest["version"],
        "files": len(manifest["files"]),
        "rows": sum(f.get("rows") or 0 for f in manifest["files"]),
        "reused": len(result.reused),
        "policy_sha256": manifest["policy"]["sha256"],
        "entities": dict(totals),
        "risk": manifest["scan"]["risk"],
    }


def _publish_audited(
    store: ZoneStore,
    action: str,
    name: str,
    result: BuildResult,
    previous: int | None,
    details: dict[str, Any],
) -> None:
    staging: Path = result.staging  # type: ignore[attr-defined]
    version = result.manifest["version"]
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
    except BaseException:
        # Fail closed: a zone nobody can account for must not exist.
        store.unpublish(name, version, previous)
        journal.finish(store.home, intent)
        raise
    journal.crash_point("after-record")
    journal.finish(store.home, intent)


def _audit_failure(
    action: str, name: str, details: dict[str, Any], error: BaseException, store: ZoneStore
) -> None:
    if isinstance(error, audit.AuditError | AccessDenied):
        return  # the log itself is what failed, or the refusal is already recorded
    reason = (
        "interrupted"
        if isinstance(error, KeyboardInterrupt)
        else " ".join(str(error).split())[:300] or type(error).__name__
    )
    with contextlib.suppress(Exception):  # the original error is the one to report
        audit.record(
            action,
            zone=name,  # audit.record drops a name that is not a zone name
            outcome="failure",
            details={**details, "error": reason},
            home=store.home,
        )


def _raise_os_error(name: str, error: BaseException) -> None:
    """A full disk or an I/O error while writing the zone: one clear line, not a traceback."""
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        raise ZoneError(
            f"zone {name!r} not written: {error.strerror or error}{where}",
            hint="free space under $PIIZONE_HOME (or fix the error) and retry",
        ) from None
