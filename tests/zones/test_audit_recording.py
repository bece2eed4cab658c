"""`audited` (one success-or-failure record, the error written one way) and the typed record."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from piizone.scrubbers.exceptions import InputError
from piizone.zones import audit
from piizone.zones.audit.format import AuditRecord, canonical_json, parse_record
from piizone.zones.audit.log import AuditLog
from piizone.zones.exceptions import AccessDenied, ZoneError

KEY = bytes(range(32))


def records(home: Path) -> list[dict]:
    return list(audit.open_audit_log(home).records())


# -- audited -----------------------------------------------------------------------------------


def test_success_records_the_details_the_body_left(tmp_path: Path) -> None:
    with audit.audited("zone.verify", zone="z", home=tmp_path, details={"a": 1}) as details:
        details.update(files=3)
        details.outcome = "failure"  # a check that ran and found problems
    (rec,) = records(tmp_path)
    assert (rec["action"], rec["zone"], rec["outcome"]) == ("zone.verify", "z", "failure")
    assert rec["details"] == {"a": 1, "files": 3}


def test_failure_records_the_details_so_far_and_the_error(tmp_path: Path) -> None:
    with (
        pytest.raises(ZoneError, match="gone"),
        audit.audited("zone.show", zone="z", home=tmp_path, details={"a": 1}) as details,
    ):
        details["b"] = 2
        raise ZoneError("zone 'z' is gone")
    (rec,) = records(tmp_path)
    assert rec["outcome"] == "failure"
    assert rec["details"] == {"a": 1, "b": 2, "error": "zone 'z' is gone"}


def test_a_refusal_is_recorded_as_denied(tmp_path: Path) -> None:
    with (
        pytest.raises(ZoneError),
        audit.audited("zone.destroy", zone="z", home=tmp_path) as details,
    ):
        details.outcome = "denied"
        raise ZoneError("zone 'z' is under legal hold")
    assert records(tmp_path)[0]["outcome"] == "denied"


@pytest.mark.parametrize("error", [audit.AuditError("log is full"), AccessDenied("not yours")])
def test_audit_failures_and_access_denials_are_not_recorded_twice(
    tmp_path: Path, error: Exception
) -> None:
    with pytest.raises(type(error)), audit.audited("zone.show", zone="z", home=tmp_path):
        raise error
    assert records(tmp_path) == []


def test_recorded_by_the_body_means_no_second_record(tmp_path: Path) -> None:
    with audit.audited("zone.create", zone="z", home=tmp_path) as details:
        audit.record("zone.create", zone="z", details={"intent": "x"}, home=tmp_path)
        details.recorded()
    assert [r["details"] for r in records(tmp_path)] == [{"intent": "x"}]


def test_an_invalid_zone_name_is_neither_the_zone_nor_in_the_error(tmp_path: Path) -> None:
    typed = "ada@example.com"
    with pytest.raises(ZoneError), audit.audited("zone.create", zone=typed, home=tmp_path):
        raise ZoneError(f"invalid zone name {typed!r}")
    (rec,) = records(tmp_path)
    assert rec["zone"] is None and rec["details"]["zone_name"] == "invalid"
    assert typed not in canonical_json(rec).decode()


# -- error_detail: the one way -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (KeyboardInterrupt(), "interrupted"),
        (ZoneError("a\n  b"), "a b"),
        (InputError("x.jsonl:3: invalid JSON (Expecting value)"), "x.jsonl:3: invalid JSON (Expecting value)"),  # noqa: E501
        (OSError(errno.ENOSPC, "No space left on device", "/data/ada@x.com.csv"), "No space left on device"),  # noqa: E501
        (KeyError("ada@example.com"), "KeyError"),
        (ValueError("bad value 'Ada Lovelace'"), "ValueError"),
    ],
)  # fmt: skip
def test_error_detail(error: BaseException, expected: str) -> None:
    assert audit.error_detail(error) == expected


def test_error_detail_masks_what_a_message_should_never_hold() -> None:
    text = audit.error_detail(ZoneError("/data/ada@example.com/ssn_123456789.csv: vanished"))
    assert "ada@example.com" not in text and "123456789" not in text and "vanished" in text
    assert len(audit.error_detail(ZoneError("x" * 1000))) == 300


# -- the typed record --------------------------------------------------------------------------


def test_the_typed_record_gives_back_the_stored_bytes(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit", KEY)
    log.append("zone.create", zone="customers", details={"rows": 3, "f": 0.5, "n": None})
    log.append("session.end", outcome="denied", details={"nested": {"a": [1, "b"]}})
    lines = list(log.raw_lines())
    typed = list(log.read())
    assert [canonical_json(r.stored()) for r in typed] == lines
    assert [r.seq for r in typed] == [1, 2] and typed[0].actor.uid == typed[1].actor.uid
    assert typed[1].zone is None and typed[1].outcome == "denied"
    assert list(log.records()) == [r.stored() for r in typed]


def test_a_record_with_actor_values_of_the_wrong_type_is_malformed(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit", KEY)
    rec = log.append("init")
    rec["actor"]["uid"] = str(rec["actor"]["uid"])
    assert parse_record(canonical_json(rec)) == (None, "actor fields have the wrong types")
    with pytest.raises(ValueError):
        AuditRecord.model_validate({**rec, "seq": True})
