"""Is a zone stale? `piizone zone status`, `zone refresh --if-changed` and `--on-new-version`.

Status re-reads each recorded source (its spec unsealed with the zone key, as refresh does) and
compares what a refresh would compare:
  * files and directories: each item's sha256 (`SourceItem.fingerprint()`, the very hash a
    refresh checks before reusing a file) against the manifest's `source_sha256`, under the same
    masked zone path (NameMasker); an item added or removed is a change too;
  * SQL: the cheap probe recorded at build time (piizone.zones.provision.sources.probe), taken
    again; a zone built before probes existed says "unknown" (a refresh records one);
  * dictionary-only sources (`--known-values`): their content hash (`Source.fingerprint()`).
A source that cannot be read any more is "missing". The verdict is "fresh" when every source is
unchanged, "stale" otherwise ("unknown" counts as stale: a refresh decides, and makes no version
when nothing changed).

Nothing here prints a source's real path or URL: sources are named by their masked `uri`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Any

from piizone.zones import audit
from piizone.zones.config import require_initialized
from piizone.zones.exceptions import ZoneError
from piizone.zones.leakcheck.fingerprints import fingerprint_matcher, load_fingerprints
from piizone.zones.leakcheck.path_names import PeopleInNames, matcher_finder
from piizone.zones.lineage.diff import require_reader
from piizone.zones.provision.build import BuildResult, ProgressCallback, refresh_zone
from piizone.zones.provision.metadata_names import NameMasker, source_spec
from piizone.zones.provision.sources import SourceError, resolve_sources
from piizone.zones.provision.sources.probe import probe_digest
from piizone.zones.storage.manifest import KnownSource, SourceRecord, ZoneManifest
from piizone.zones.storage.store import ZoneStore, validate_zone_name
from piizone.zones.storage.zone_keys import unwrap_zone_key

STATES = ("changed", "unchanged", "missing", "unknown")
STDERR_FD = 2


class HookError(ZoneError):
    """The --on-new-version command failed or could not start: exit 1, the version stays."""

    exit_code = 1


@dataclass
class SourceStatus:
    uri: str  # masked, as in the manifest
    kind: str  # files | sql | known-values
    state: str  # one of STATES
    reason: str = ""


@dataclass
class ZoneStatus:
    zone: str
    version: int
    sources: list[SourceStatus] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        states = {s.state for s in self.sources}
        if states <= {"unchanged"}:
            return "fresh"
        return "stale" if states & {"changed", "missing"} else "unknown"

    @property
    def stale(self) -> bool:
        return self.verdict != "fresh"

    def counts(self) -> dict[str, int]:
        return {state: sum(s.state == state for s in self.sources) for state in STATES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "version": self.version,
            "verdict": self.verdict,
            "stale": self.stale,
            "sources": [vars(s) for s in self.sources],
        }


@dataclass
class _Recorded:
    """What status needs from a manifest (the one place this module reads one)."""

    id: str
    name: str
    version: int
    sources: list[SourceRecord]
    file_sha256: dict[str, str]  # zone path -> source_sha256
    known_sources: list[KnownSource]
    # Person names in zone paths as a refresh masks them: it knows this version's fingerprints.
    people: PeopleInNames | None = None


def _recorded(manifest: ZoneManifest, people: PeopleInNames | None = None) -> _Recorded:
    return _Recorded(
        id=manifest.id,
        name=manifest.name,
        version=manifest.version,
        sources=list(manifest.sources),
        file_sha256={f.path: f.source_sha256 for f in manifest.files if f.source_sha256},
        known_sources=list(manifest.known_values.sources if manifest.known_values else []),
        people=people,
    )


def zone_status(name: str, store: ZoneStore | None = None) -> ZoneStatus:
    """Compare the zone's current version with its sources as they are now; audited."""
    store = store or ZoneStore()
    with audit.audited("zone.status", zone=name, home=store.home) as details:
        validate_zone_name(name)
        require_initialized(store.home)
        manifest = store.manifest(name)
        require_reader(manifest, store, operation="status")
        dek = unwrap_zone_key(store, manifest)
        fingerprints = load_fingerprints(store.current_dir(name), manifest, dek)
        people = PeopleInNames.of(matcher_finder(fingerprint_matcher(dek, fingerprints)))
        recorded = _recorded(manifest, people)
        result = ZoneStatus(zone=name, version=recorded.version)
        for entry in recorded.sources:
            result.sources.append(_check_source(entry, recorded, dek))
        for known in recorded.known_sources:
            result.sources.append(_check_known(known, recorded, dek))
        details.update(version=recorded.version, verdict=result.verdict, **result.counts())
        return result


def _check_source(entry: SourceRecord, recorded: _Recorded, dek: bytes) -> SourceStatus:
    uri, kind = entry.uri, entry.kind
    spec = source_spec(entry, dek, recorded.id)
    if kind == "sql" and not entry.probe:
        why = "no probe recorded (built before probes); `zone refresh` records one"
        return SourceStatus(uri, kind, "unknown", why)
    try:
        (source,) = resolve_sources([spec])
        if kind == "sql":
            same = probe_digest(source, dek) == entry.probe
            return SourceStatus(uri, kind, "unchanged" if same else "changed")
        names = NameMasker(dek, people=recorded.people)  # as a refresh would mask zone paths
        now = {f"data/{names.relpath(i.relpath)}": i.fingerprint() for i in source.items()}
    except SourceError:
        # The error text names the real path or URL: not for output or the audit log.
        if kind == "sql":  # down, a password not given, or the table gone: refresh will tell
            why = "cannot be read now (a password comes from PGPASSWORD or ~/.pgpass)"
            return SourceStatus(uri, kind, "unknown", why)
        return SourceStatus(uri, kind, "missing", "cannot be read now")
    before = {p: recorded.file_sha256.get(p) for p in entry.files}
    if now == before:
        return SourceStatus(uri, kind, "unchanged")
    added, removed = len(now.keys() - before.keys()), len(before.keys() - now.keys())
    edited = sum(now[p] != before[p] for p in now.keys() & before.keys())
    return SourceStatus(
        uri, kind, "changed", f"{edited} changed, {added} added, {removed} removed file(s)"
    )


def _check_known(entry: KnownSource, recorded: _Recorded, dek: bytes) -> SourceStatus:
    uri = entry.uri
    try:
        (source,) = resolve_sources([source_spec(entry, dek, recorded.id)])
        same = source.fingerprint() == entry.sha256
    except SourceError:
        return SourceStatus(uri, "known-values", "missing", "cannot be read now")
    return SourceStatus(uri, "known-values", "unchanged" if same else "changed")


@dataclass
class RefreshOutcome:
    """What `zone refresh` did: a version built, or nothing (unchanged)."""

    result: BuildResult | None
    status: ZoneStatus | None = None

    @property
    def unchanged(self) -> bool:
        return self.result is None or self.result.unchanged


def refresh_if_changed(
    name: str,
    *,
    force: bool = False,
    precheck: bool = False,
    store: ZoneStore | None = None,
    sources: list[str] | None = None,
    progress: ProgressCallback | None = None,
    engine_options: dict[str, Any] | None = None,
) -> RefreshOutcome:
    """Refresh unless nothing changed. `precheck` (--if-changed) asks `zone_status` first and
    builds nothing when the zone is fresh (audited: zone.refresh, unchanged, trigger
    if-changed); without `force`, a build that reused every item is discarded (no version)."""
    store = store or ZoneStore()
    status = None
    if precheck and not sources:
        status = zone_status(name, store)
        if not status.stale:
            details = {"version": status.version, "unchanged": True, "trigger": "if-changed"}
            audit.record("zone.refresh", zone=name, details=details, home=store.home)
            return RefreshOutcome(None, status)
    result = refresh_zone(
        name,
        store=store,
        sources=sources,
        progress=progress,
        engine_options=engine_options,
        only_if_changed=not force,
    )
    return RefreshOutcome(result, status)


def parse_hook(command: str) -> list[str]:
    """The --on-new-version command as an argv (shlex, no shell); a usage error if unusable."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ZoneError(f"--on-new-version: {e}") from None
    if not argv:
        raise ZoneError("--on-new-version: empty command")
    return argv


def run_hook(argv: list[str], manifest: ZoneManifest, store: ZoneStore | None = None) -> int:
    """Run the caller's hook for a new version, outside any sandbox, with PIIZONE_ZONE,
    PIIZONE_ZONE_VERSION and PIIZONE_ZONE_ID added to the caller's environment, its stdout on
    our stderr; audited
    (zone.hook, the program's name and exit status only: its arguments may name anything).
    A non-zero exit or a program that cannot start raises HookError; the version stays."""
    store = store or ZoneStore()
    recorded = _recorded(manifest)
    zone, version = recorded.name, recorded.version
    env = {
        **os.environ,
        "PIIZONE_ZONE": zone,
        "PIIZONE_ZONE_VERSION": str(version),
        "PIIZONE_ZONE_ID": recorded.id,
    }
    program = os.path.basename(argv[0])
    with audit.audited(
        "zone.hook", zone=zone, home=store.home, details={"version": version, "program": program}
    ) as details:
        try:
            # Its output goes to our stderr: `refresh --json` keeps stdout for the manifest.
            code = subprocess.run(argv, env=env, stdout=STDERR_FD, check=False).returncode
        except OSError as e:
            raise HookError(
                f"--on-new-version: cannot run {program} ({e.strerror or type(e).__name__})",
                hint=f"v{version} of zone {zone!r} was made; run the command yourself",
            ) from None
        details.update(exit_code=code)
        if code != 0:
            raise HookError(
                f"--on-new-version: {program} exited with status {code}",
                hint=f"v{version} of zone {zone!r} was made and stays",
            )
        return code
