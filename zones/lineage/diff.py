"""`zone diff`: what changed between two versions of a zone, for retraining decisions.

Schema and row counts, per-column distribution shift (zones/lineage/drift.py) on the redacted
data, and the PII profile (entity counts per source and per column, from each version's scan
report). Each version's tables are decrypted into memory only: nothing is written to disk.
Whoever may open the zone (owner, grantees, root) may diff it; every diff is audited.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from piizone.zones import access, audit
from piizone.zones.exceptions import AccessDenied, ZoneError
from piizone.zones.lineage.drift import TableDrift, table_drift, worst
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore
from piizone.zones.storage.zone_keys import unwrap_zone_key

# Tables are held in memory to compare them; past this many plaintext bytes a table is left out
# of the distribution comparison (named in the result) rather than exhausting the machine.
MAX_TABLE_BYTES = 512 * 1024 * 1024
READERS = {
    "csv": lambda data: pd.read_csv(io.BytesIO(data), dtype_backend="numpy_nullable"),
    "tsv": lambda data: pd.read_csv(io.BytesIO(data), sep="\t", dtype_backend="numpy_nullable"),
    "parquet": lambda data: pd.read_parquet(io.BytesIO(data)),
    "jsonl": lambda data: pd.read_json(io.BytesIO(data), lines=True),
}


@dataclass
class PiiChange:
    source: str
    column: str | None  # None: the whole source
    entity: str
    old: int
    new: int


@dataclass
class ZoneDiff:
    zone: str
    zone_id: str
    old_version: int
    new_version: int
    policy_changed: bool
    tables: list[TableDrift] = field(default_factory=list)
    pii: list[PiiChange] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def worst_psi(self) -> float:
        return worst(self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "zone_id": self.zone_id,
            "from": self.old_version,
            "to": self.new_version,
            "policy_changed": self.policy_changed,
            "worst_psi": self.worst_psi,
            "tables": [t.to_dict() for t in self.tables],
            "pii": [vars(p) for p in self.pii],
            "skipped": self.skipped,
        }


def parse_version(text: str, versions: list[int], zone: str) -> int:
    """`v2`, `2` or `v000002` -> 2, if the zone has that version."""
    digits = text[1:] if text[:1] in ("v", "V") else text
    if not digits.isdecimal() or len(digits) > 9:
        raise ZoneError(
            f"{text!r} is not a version of zone {zone!r} (write v2 or 2)",
            hint=f"see `piizone zone versions {zone}`",
        )
    version = int(digits)
    if version not in versions:
        raise ZoneError(
            f"zone {zone!r} has no version {version} (it has {_listing(versions)})",
            hint=f"see `piizone zone versions {zone}`",
        )
    return version


def _listing(versions: list[int]) -> str:
    return ", ".join(f"v{v}" for v in versions) or "none"


def require_reader(manifest: ZoneManifest, store: ZoneStore, operation: str = "diff") -> None:
    """Owner, grantees or root; anyone else is recorded (access.denied) and refused."""
    user = access.current_user()
    if access.is_operator() or access.may_open(manifest, user):
        return
    audit.record(
        "access.denied",
        zone=manifest.name,
        outcome="denied",
        details={"operation": operation, "user": user, "reason": "not owner or grantee"},
        home=store.home,
    )
    raise AccessDenied(
        f"{user} may not read zone {manifest.name!r}", hint="ask the zone's owner for a grant"
    )


def _tables(
    store: ZoneStore, name: str, version: int, manifest: ZoneManifest, skipped: list[str]
) -> Iterator[tuple[str, pd.DataFrame]]:
    dek = unwrap_zone_key(store, manifest)
    directory = store.version_dir(name, version)
    for entry in manifest.files:
        if entry.kind != "table" or entry.format not in READERS:
            continue
        if entry.bytes > MAX_TABLE_BYTES:
            skipped.append(f"{entry.path} (v{version}: over {MAX_TABLE_BYTES} bytes)")
            continue
        with (directory / entry.path).open("rb") as f:
            data = b"".join(iter_decrypt(f, dek, zone_id=manifest.id, path=entry.path))
        yield entry.path, READERS[entry.format](data)


def _report(store: ZoneStore, name: str, version: int) -> dict[str, Any]:
    path = store.version_dir(name, version) / "report.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def _profile(report: dict[str, Any]) -> dict[tuple[str, str | None, str], int]:
    counts: dict[tuple[str, str | None, str], int] = {}
    for source in report.get("sources") or []:
        path = str(source.get("path"))
        for entity, n in (source.get("entities") or {}).items():
            counts[(path, None, entity)] = int(n)
        for column in source.get("columns") or []:
            for entity, n in (column.get("entities") or {}).items():
                counts[(path, str(column.get("name")), entity)] = int(n)
    return counts


def pii_changes(old: dict[str, Any], new: dict[str, Any]) -> list[PiiChange]:
    before, after = _profile(old), _profile(new)
    return [
        PiiChange(source, column, entity, before.get(key, 0), after.get(key, 0))
        for key in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or "", k[2]))
        for source, column, entity in [key]
        if before.get(key, 0) != after.get(key, 0)
    ]


def _compare(store: ZoneStore, name: str, old_v: int, new_v: int) -> ZoneDiff:
    old_m, new_m = store.manifest(name, old_v), store.manifest(name, new_v)
    result = ZoneDiff(
        zone=name,
        zone_id=new_m.id,
        old_version=old_v,
        new_version=new_v,
        policy_changed=old_m.policy.sha256 != new_m.policy.sha256,
    )
    old_tables = dict(_tables(store, name, old_v, old_m, result.skipped))
    for path, frame in _tables(store, name, new_v, new_m, result.skipped):
        result.tables.append(table_drift(path, old_tables.pop(path, None), frame))
    result.tables.extend(table_drift(path, frame, None) for path, frame in old_tables.items())
    result.pii = pii_changes(_report(store, name, old_v), _report(store, name, new_v))
    return result


def diff_zone(
    name: str,
    from_version: str | None = None,
    to_version: str | None = None,
    store: ZoneStore | None = None,
) -> ZoneDiff:
    """Compare two versions of zone `name` (default: the one before the latest, and the latest)."""
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    try:
        store.manifest(name)  # an unknown zone: its one clear error
        versions = store.versions(name)
        new_v = parse_version(to_version, versions, name) if to_version else max(versions)
        older = [v for v in versions if v < new_v]
        if from_version:
            old_v = parse_version(from_version, versions, name)
        elif older:
            old_v = max(older)
        else:
            raise ZoneError(
                f"zone {name!r} has only v{new_v} before or at --to: nothing to compare",
                hint=f"refresh it (`piizone zone refresh {name}`) or pass --from",
            )
        require_reader(store.manifest(name, new_v), store)
        result = _compare(store, name, old_v, new_v)
    except AccessDenied:
        raise
    except BaseException as e:
        if not isinstance(e, audit.AuditError):
            error = " ".join(str(e).split())[:300]
            audit.record(
                "zone.diff", zone=name, outcome="failure", details={"error": error}, home=store.home
            )
        raise
    details = {"from": old_v, "to": new_v, "tables": len(result.tables)}
    audit.record("zone.diff", zone=name, details=details, home=store.home)
    return result
