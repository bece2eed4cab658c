"""zones/audit/zone_records.py: the audit records of one zone name split into the lives of the
zones of that name (zone.create to zone.destroy), with real records in a real log."""

from __future__ import annotations

from pathlib import Path

from piizone.zones import audit
from piizone.zones.audit.zone_records import name_history, records_about, split_lives


def actions(records) -> list[str]:
    return [r.action for r in records]


def test_lives_run_from_a_successful_create_to_a_successful_destroy(piizone_home: Path) -> None:
    audit.record("zone.create", zone="z", outcome="failure", details={"error": "bad source"})
    audit.record("zone.create", zone="z", details={"zone_id": "a" * 32})
    audit.record("zone.destroy", zone="z", outcome="denied", details={"error": "legal hold"})
    audit.record("zone.destroy", zone="z")
    audit.record("zone.show", zone="z", outcome="failure")
    audit.record("zone.create", zone="z", details={"zone_id": "b" * 32})
    audit.record("zone.open", zone="z")
    audit.record("zone.open", zone="other")
    lives, unattached = split_lives(audit.open_audit_log().read(zone="z"))
    assert [(life.id, life.destroyed is not None) for life in lives] == [
        ("a" * 32, True),
        ("b" * 32, False),
    ]
    assert actions(lives[0].records) == ["zone.create", "zone.destroy", "zone.destroy"]
    assert actions(lives[1].records) == ["zone.create", "zone.open"]
    assert actions(unattached) == ["zone.create", "zone.show"]  # the failed create, the show

    # No zone `z` exists in this home: no life is current, and only the destroyed one is hidden.
    history = name_history("z")
    assert history.current is None
    shown = [(r.action, zone_id) for r, zone_id in records_about(history, include_destroyed=False)]
    assert shown == [
        ("zone.create", None),
        ("zone.show", None),
        ("zone.create", "b" * 32),
        ("zone.open", "b" * 32),
    ]
    every = list(records_about(history, include_destroyed=True))
    assert [r.seq for r, _ in every] == sorted(r.seq for r, _ in every) and len(every) == 7


def test_an_invalid_name_has_no_current_zone(piizone_home: Path) -> None:
    audit.record("zone.open", zone="z")
    assert name_history("../etc").current is None
