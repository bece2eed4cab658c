"""Audit log exports for SIEMs and spreadsheets: OCSF API Activity events, raw JSON lines, CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from piizone.zones.audit.format import ACTIONS, AuditError, AuditRecord, canonical_json
from piizone.zones.audit.log import AuditLog
from piizone.zones.audit.recorder import open_audit_log, record

EXPORT_FORMATS: tuple[str, ...] = ("ocsf", "jsonl", "csv")
OCSF_SCHEMA_VERSION = "1.1.0"
OCSF_CLASS_UID = 6003  # API Activity
OCSF_CATEGORY_UID = 6  # Application Activity

CREATE, READ, UPDATE, DELETE, OTHER = 1, 2, 3, 4, 99
ACTIVITY_NAMES = {
    CREATE: "Create",
    READ: "Read",
    UPDATE: "Update",
    DELETE: "Delete",
    OTHER: "Other",
}

# Every action maps to an OCSF activity; a test fails when an action is added without one.
ACTIVITY_IDS: dict[str, int] = {
    "init": CREATE,
    "zone.create": CREATE,
    "session.start": CREATE,
    "zone.open": READ,
    "zone.list": READ,
    "zone.show": READ,
    "zone.verify": READ,
    "zone.canary_check": READ,
    "zone.export_policy": READ,
    "scan.run": READ,
    "egress.scan": READ,
    "key.status": READ,
    "audit.export": READ,
    "audit.ropa": READ,
    "zone.diff": READ,
    "zone.status": READ,
    "artifacts.export": READ,
    "zone.refresh": UPDATE,
    "zone.hold": UPDATE,
    "zone.extend": UPDATE,
    "zone.grant": UPDATE,
    "zone.revoke": UPDATE,
    "key.rotate": UPDATE,
    "zone.destroy": DELETE,
    "zone.prune": DELETE,
    "zone.gc": DELETE,
    "key.retire": DELETE,
    "redact.run": OTHER,
    "zone.hook": OTHER,
    "session.end": OTHER,
    "access.denied": OTHER,
    "serve.start": OTHER,
    "serve.request": OTHER,
    "serve.stop": OTHER,
    "artifacts.register": CREATE,
    "airlock.show": READ,
    "airlock.approve": UPDATE,
    "airlock.reject": DELETE,
}
assert set(ACTIVITY_IDS) == ACTIONS, "map every audit action to an OCSF activity"

CSV_COLUMNS = (
    "seq",
    "time",
    "user",
    "uid",
    "host",
    "pid",
    "action",
    "zone",
    "outcome",
    "details",
    "prev",
    "mac",
)
# Spreadsheets execute cells starting with these; zone names and details come from users.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def product_version() -> str:
    try:
        return metadata.version("piizone")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def to_ocsf(record: AuditRecord | dict[str, Any], *, version: str | None = None) -> dict[str, Any]:
    """One audit record as an OCSF API Activity (class 6003) event."""
    rec = AuditRecord.of(record)
    activity_id = ACTIVITY_IDS.get(rec.action, OTHER)
    activity_name = ACTIVITY_NAMES[activity_id]
    success = rec.outcome == "success"
    t = rec.when
    actor = rec.actor
    event: dict[str, Any] = {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "API Activity",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": OCSF_CLASS_UID * 100 + activity_id,
        "type_name": f"API Activity: {activity_name}",
        "severity_id": 1,
        "severity": "Informational",
        "status_id": 1 if success else 2,
        "status": "Success" if success else "Failure",
        "status_detail": rec.outcome,
        "time": (t - _EPOCH) // timedelta(milliseconds=1),
        "actor": {
            "user": {"name": actor.user, "uid": str(actor.uid)},
            "process": {"pid": actor.pid},
        },
        "api": {"operation": rec.action, "service": {"name": "piizone"}},
        "src_endpoint": {"hostname": actor.host},
        "device": {"hostname": actor.host, "type_id": 0, "type": "Unknown"},
        "resources": [{"type": "zone", "name": rec.zone}] if rec.zone else [],
        "metadata": {
            "version": OCSF_SCHEMA_VERSION,
            "product": {
                "name": "piizone",
                "vendor_name": "piizone",
                "version": version or product_version(),
            },
            "uid": rec.mac,
            "sequence": rec.seq,
            "log_name": "piizone-audit",
            "original_time": rec.time,
        },
        # Keeping prev/mac lets a SIEM re-check the chain against the original log.
        "unmapped": {
            "piizone": {
                "v": rec.v,
                "seq": rec.seq,
                "outcome": rec.outcome,
                "details": rec.details,
                "prev": rec.prev,
                "mac": rec.mac,
            }
        },
    }
    return event


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def render_csv(records: Iterable[AuditRecord | dict[str, Any]]) -> tuple[str, int]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for stored in records:
        rec = AuditRecord.of(stored)
        a = rec.actor
        row = (
            rec.seq,
            rec.time,
            a.user,
            a.uid,
            a.host,
            a.pid,
            rec.action,
            rec.zone or "",
            rec.outcome,
            canonical_json(rec.details).decode("ascii"),
            rec.prev,
            rec.mac,
        )
        writer.writerow([_csv_cell(v) for v in row])
        n += 1
    return buf.getvalue(), n


def render_export(
    log: AuditLog,
    fmt: str,
    *,
    zone: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
) -> tuple[str, int]:
    """(text, record count) of the log in `fmt`; does not write an audit record itself."""
    if fmt not in EXPORT_FORMATS:
        raise AuditError(
            f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}"
        )
    records = log.read(zone=zone, since=since, until=until)
    if fmt == "csv":
        return render_csv(records)
    lines: list[str] = []
    if fmt == "jsonl":
        # Records are stored canonically, so this reproduces the stored, MAC-verifiable bytes.
        lines = [canonical_json(r.stored()).decode("ascii") for r in records]
    else:
        version = product_version()
        lines = [json.dumps(to_ocsf(r, version=version), sort_keys=True) for r in records]
    return "".join(line + "\n" for line in lines), len(lines)


def export_audit(
    fmt: str,
    *,
    zone: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    home: Path | None = None,
) -> str:
    """Render an export and audit it (`audit.export`); fails closed if it cannot be audited."""
    log = open_audit_log(home)
    text, count = render_export(log, fmt, zone=zone, since=since, until=until)
    details: dict[str, Any] = {
        "format": fmt,
        "records": count,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    for name, value in (("zone_filter", zone), ("since", since), ("until", until)):
        if value is not None:
            details[name] = str(value)
    record("audit.export", zone=zone, details=details, home=home)
    return text
