"""zones/audit_export.py: OCSF mapping, raw JSON lines, CSV, and the audit.export record."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from piizone.zones import audit
from piizone.zones.audit import export as audit_export
from piizone.zones.audit.export import ACTIVITY_IDS, render_export, to_ocsf
from piizone.zones.audit.format import AuditError
from piizone.zones.audit.log import AuditLog

KEY = bytes(range(32))


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit", KEY)
    log.append("zone.create", zone="customers", details={"rows": 10})
    log.append("zone.open", zone="customers", outcome="denied")
    log.append("zone.destroy", zone="=HYPERLINK(1)", outcome="failure")
    log.append("scan.run", details={"note": "-starts with minus"})
    return log


@pytest.mark.parametrize(
    "action, outcome, activity_id, status_id",
    [
        ("zone.create", "success", 1, 1),
        ("zone.open", "denied", 2, 2),
        ("zone.refresh", "success", 3, 1),
        ("zone.destroy", "failure", 4, 2),
        ("session.end", "success", 99, 1),
    ],
)
def test_ocsf_api_activity(
    log: AuditLog, action: str, outcome: str, activity_id: int, status_id: int
) -> None:
    rec = log.append(action, zone="z", outcome=outcome)
    event = to_ocsf(rec, version="9.9.9")
    assert event["class_uid"] == 6003 and event["category_uid"] == 6
    assert event["class_name"] == "API Activity"
    assert event["activity_id"] == activity_id
    assert event["type_uid"] == 6003 * 100 + activity_id
    assert event["status_id"] == status_id and event["status_detail"] == outcome
    assert event["actor"]["user"] == {"name": rec["actor"]["user"], "uid": str(rec["actor"]["uid"])}
    assert event["device"]["hostname"] == rec["actor"]["host"]
    assert event["resources"] == [{"type": "zone", "name": "z"}]
    assert event["api"]["operation"] == action
    meta = event["metadata"]
    assert meta["product"] == {"name": "piizone", "vendor_name": "piizone", "version": "9.9.9"}
    assert meta["version"].startswith("1.") and meta["sequence"] == rec["seq"]


def test_ocsf_time_is_epoch_milliseconds() -> None:
    rec = {
        "v": 1,
        "seq": 1,
        "time": "2025-01-31T08:00:00.123456Z",
        "actor": {"uid": 1, "user": "ada", "host": "h", "pid": 2},
        "action": "init",
        "zone": None,
        "outcome": "success",
        "details": {},
        "prev": "0" * 64,
        "mac": "1" * 64,
    }
    event = to_ocsf(rec)
    assert event["time"] == 1738310400123
    assert event["resources"] == []


def test_every_action_has_an_ocsf_activity() -> None:
    assert set(ACTIVITY_IDS) == audit.ACTIONS
    assert set(ACTIVITY_IDS.values()) <= {1, 2, 3, 4, 99}


def test_jsonl_export_reproduces_the_stored_lines(log: AuditLog) -> None:
    text, n = render_export(log, "jsonl")
    assert n == 4
    assert text.encode() == (log.directory / audit.segment_name(1)).read_bytes()


def test_ocsf_export_is_one_event_per_line(log: AuditLog) -> None:
    text, n = render_export(log, "ocsf", zone="customers")
    events = [json.loads(line) for line in text.splitlines()]
    assert n == len(events) == 2
    assert [e["metadata"]["sequence"] for e in events] == [1, 2]


def test_csv_export_neutralises_formulas(log: AuditLog) -> None:
    text, n = render_export(log, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert n == len(rows) == 4
    assert list(rows[0]) == list(audit_export.CSV_COLUMNS)
    assert rows[2]["zone"] == "'=HYPERLINK(1)"
    assert json.loads(rows[0]["details"]) == {"rows": 10}
    assert rows[3]["zone"] == ""


def test_unknown_format_is_an_audit_error(log: AuditLog) -> None:
    with pytest.raises(AuditError) as e:
        render_export(log, "xml")
    assert "ocsf" in e.value.hint


def test_export_audit_writes_an_audit_export_record(piizone_home: Path) -> None:
    audit.record("zone.create", zone="customers")
    text = audit_export.export_audit("jsonl")
    assert text.count("\n") == 1
    last = list(audit.open_audit_log().records())[-1]
    assert last["action"] == "audit.export"
    assert last["details"]["format"] == "jsonl" and last["details"]["records"] == 1
    assert audit.open_audit_log().verify().ok


def test_export_fails_closed_when_it_cannot_be_audited(piizone_home: Path) -> None:
    audit.record("zone.create", zone="customers")
    head = piizone_home / "audit" / "head.json"
    head.write_bytes(b"{}")  # a tampered head: appends are refused
    with pytest.raises(AuditError):
        audit_export.export_audit("csv")
