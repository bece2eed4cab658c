"""One zone version built in a staging directory: the sources resolved, every item scanned,
redacted and encrypted (or reused from the parent version), canaries planted, and the manifest
written. Publishing the staging directory is build.py's job."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piizone.scrubbers.engines import close_engine, make_engine
from piizone.scrubbers.known_values import KnownValues
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.policy import Policy
from piizone.scrubbers.prefetch import prefetch
from piizone.scrubbers.progress import (
    ENCRYPTING,
    READING,
    ItemProgress,
    ProgressCallback,
    relabelled,
)
from piizone.scrubbers.reports import Report, SourceReport, render_json, tool_version
from piizone.zones.exceptions import ZoneError
from piizone.zones.leakcheck.canaries import CANARY_DATA_PATH, load_canaries, make_canaries, plant
from piizone.zones.leakcheck.fingerprints import (
    FingerprintCollector,
    collecting_redactor,
    fingerprint_matcher,
    load_fingerprints,
    write_fingerprints,
)
from piizone.zones.leakcheck.path_names import (
    PeopleInNames,
    known_values_finder,
    matcher_finder,
)
from piizone.zones.provision.known_values import KnownPlan
from piizone.zones.provision.metadata_names import NameMasker, seal_spec
from piizone.zones.provision.sources import Source, SourceItem, refresh_spec, resolve_sources
from piizone.zones.provision.sources.probe import probe_digest
from piizone.zones.provision.zonefile import item_progress, prepare, provision_item
from piizone.zones.storage.keys import ensure_pseudonym_key
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import MANIFEST_FORMAT, MANIFEST_VERSION, ZoneStore


@dataclass
class BuildResult:
    manifest: ZoneManifest = field(init=False)  # set when the build completes
    reused: list[str] = field(default_factory=list)  # relpaths taken from the parent version
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unchanged: bool = False  # refresh found nothing changed and published no version


def build_version(
    store: ZoneStore,
    name: str,
    specs: list[str],
    policy: Policy,
    text: str,
    dek: bytes,
    meta: dict[str, Any],
    *,
    parent: tuple[ZoneManifest, Path] | None,
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
    for source in resolved:  # before any row is read: see sources.probe
        source.probe = probe_digest(source, dek)
    items = [item for source in resolved for item in source.items()]
    sizes = [item.size for item in items if item.size is not None]
    input_bytes = sum(sizes) if len(sizes) == len(items) else None  # None: a size unknown
    engine = make_engine(policy, **(engine_options or {}), input_bytes=input_bytes)
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
            known=KnownPlan(known_specs or [], known_sources, learn_known),
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
    parent: tuple[ZoneManifest, Path] | None,
    progress: ProgressCallback | None,
    engine: Any,
    canaries: int = 0,
    known: KnownPlan | None = None,
) -> BuildResult:
    # Every value the redactor transforms is fingerprinted on the way (leakcheck):
    # the cheapest place, it already sees each distinct redacted value once.
    collector = FingerprintCollector(dek)
    redactor = collecting_redactor(Redactor(policy, ensure_pseudonym_key(store.home)), collector)
    known = known or KnownPlan([], [], True)
    # While the tables are learned, their progress labels are masked by the regex rules and the
    # name lists (what the zone knows comes next).
    names = NameMasker(dek)
    # Tables first: their identifier values (and the --known-values sources') are learned
    # before anything is redacted, so a transcript naming a customer of the CRM table is
    # redacted with the table's values. In memory only.
    known_values = known.learn(items, engine, redactor, collector, progress, names.relpath)
    if parent:  # items reused from the parent were not redacted again: keep their fingerprints
        collector.fingerprints.update(load_fingerprints(parent[1], parent[0], dek))
    staging = store.staging_dir(name)
    result = BuildResult()
    # No raw source name in plaintext metadata: e-mails and long numbers by regex, person names
    # by the name lists and by what the zone knows so far (its tables' values, the parent's
    # fingerprints). NER on file names tags little and would cost an analysis per name.
    people = PeopleInNames.of(
        known_values_finder(known_values),
        matcher_finder(fingerprint_matcher(dek, collector.fingerprints)),
    )
    names = NameMasker(dek, people=people)
    try:
        (staging / "data").mkdir(mode=0o700)
        report = Report(policy_sha256=policy.sha256, policy_source=policy.source)
        redaction = _Redaction(engine, redactor, collector, known, known_values)
        files = _stage_items(
            items, staging, names, policy, dek, meta, redaction, report, result, parent, progress
        )
        source_entries = []
        ItemProgress(progress, ENCRYPTING, name, None).start()  # canaries, fingerprints, manifest
        side = _plant_canaries(staging, files, canaries, parent, dek, meta["id"])
        for spec, source in zip(specs, resolved, strict=True):
            source_entries.append(_source_entry(spec, source, files, names, dek, meta["id"]))
            result.skipped.extend((names.relpath(rel), why) for rel, why in source.skipped)
        report.filters = dict(engine.stats.filtered)
        (staging / "report.json").write_text(render_json(report))
        (staging / "policy.yaml").write_text(text)
        for p in (staging / "report.json", staging / "policy.yaml"):
            p.chmod(0o600)
        manifest = ZoneManifest.model_validate({
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
        })  # fmt: skip
        store.write_manifest(staging, manifest)
        result.manifest = manifest
        result.staging = staging  # type: ignore[attr-defined]
        return result
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@dataclass
class _Redaction:
    """What redacts this build's items: the engine, the redactor feeding the fingerprint
    collector, and the known values learned before any item is redacted."""

    engine: Any
    redactor: Redactor
    collector: FingerprintCollector
    known: KnownPlan
    known_values: KnownValues | None


def _stage_items(
    items: list[SourceItem],
    staging: Path,
    names: NameMasker,
    policy: Policy,
    dek: bytes,
    meta: dict[str, Any],
    redaction: _Redaction,
    report: Report,
    result: BuildResult,
    parent: tuple[ZoneManifest, Path] | None,
    progress: ProgressCallback | None,
) -> list[dict[str, Any]]:
    """Each item redacted into its encrypted file in staging, or linked from the parent version
    when neither it, the policy nor the known values changed; the manifest's file entries."""
    parent_files = {f.path: f for f in parent[0].files} if parent else {}
    parent_report = load_report(parent[1]) if parent else {}
    files: list[dict[str, Any]] = []

    def analysed_ahead(item: SourceItem) -> Path | None:
        # Files a refresh may reuse from the parent are not analysed ahead.
        return item.path if f"data/{names.relpath(item.relpath)}" not in parent_files else None

    for index, item in enumerate(prefetch(redaction.engine, items, analysed_ahead), 1):
        zone_path = f"data/{names.relpath(item.relpath)}"
        position = (index, len(items))
        # Hashing the content: a file at disk speed, a database table row batch by row batch.
        reading = item_progress(relabelled(progress, zone_path, position), READING, item)
        fingerprint = item.fingerprint(reading)
        reading.finish()
        previous = parent_files.get(zone_path)
        if (
            previous
            and parent is not None  # always so when there is a previous file
            and previous.source_sha256 == fingerprint
            and parent[0].policy.sha256 == policy.sha256
            # Redacted with other known values, it could keep a name the new set redacts.
            and (parent[0].known_values.digest if parent[0].known_values else None)
            == redaction.known.digest(redaction.known_values, dek)
        ):
            os.link(parent[1] / zone_path, prepare(staging / zone_path))
            files.append(previous.model_dump(mode="json", exclude_unset=True))
            if zone_path in parent_report:
                report.sources.append(parent_report[zone_path])
            result.reused.append(names.relpath(item.relpath))
        else:
            entry, source_report = provision_item(
                item,
                zone_path,
                staging,
                dek,
                meta["id"],
                redaction.engine,
                redaction.redactor,
                redaction.collector,
                redaction.known_values,
                progress,
                position,
            )
            entry["source_sha256"] = fingerprint
            entry["source"] = names.uri(entry["source"])
            files.append(entry)
            report.sources.append(source_report)
    return files


def _plant_canaries(
    staging: Path,
    files: list[dict[str, Any]],
    count: int,
    parent: tuple[ZoneManifest, Path] | None,
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
        "spec_sealed": seal_spec(refresh_spec(spec), dek, zone_id),
        "kind": source.kind,
        "sha256": _combined([f["source_sha256"] for f in mine]),
        "rows": sum(f.get("rows") or 0 for f in mine),
        "files": [f["path"] for f in mine],
        **({"probe": source.probe} if source.probe else {}),
    }


def _combined(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def load_report(directory: Path) -> dict[str, SourceReport]:
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
