"""zones/storage/manifest.py: the typed manifest, its version, upgrades, and byte-exact writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from piizone.zones.exceptions import ZoneError
from piizone.zones.storage import manifest as manifest_format
from piizone.zones.storage.manifest import ZoneManifest, parse_manifest

V1_MANIFEST = (
    Path(__file__).resolve().parent.parent
    / "fixtures/home_v1/zones/.versions/fixture/v000001/manifest.json"
)


def v1() -> dict[str, Any]:
    return json.loads(V1_MANIFEST.read_text())


def test_reading_and_writing_keeps_exactly_the_stored_fields() -> None:
    data = v1()
    assert "canaries" not in data  # a zone without canaries has no such key, and keeps none
    m = parse_manifest(data, "fixture")
    assert m.canaries is None and m.dump() == data
    m.grants = ["bob"]
    assert m.dump() == {**data, "grants": ["bob"]}


def test_an_older_version_goes_through_the_upgrade_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def one_to_two(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data["manifest_version"])
        return {**data, "purpose": (data["purpose"] or "") + " (upgraded)"}

    monkeypatch.setattr(manifest_format, "MANIFEST_VERSION", 2)
    monkeypatch.setattr(manifest_format, "UPGRADES", {1: one_to_two})
    m = parse_manifest(v1(), "fixture")
    assert seen == [1] and m.manifest_version == 2 and m.purpose == "v1 fixture (upgraded)"


@pytest.mark.parametrize("version", [2, 0, "1", None, True])
def test_an_unknown_version_or_format_is_refused(version: Any) -> None:
    with pytest.raises(ZoneError, match="unsupported manifest version") as e:
        parse_manifest({**v1(), "manifest_version": version}, "fixture")
    assert e.value.hint
    with pytest.raises(ZoneError, match="unsupported manifest version"):
        parse_manifest({**v1(), "format": "something-else"}, "fixture")


def test_a_field_this_code_does_not_know_is_refused_without_its_value() -> None:
    with pytest.raises(ZoneError, match=r"invalid manifest \(surprise: extra_forbidden\)") as e:
        parse_manifest({**v1(), "surprise": "s3cr3t"}, "fixture")
    assert "s3cr3t" not in str(e.value)
    bad = v1()
    bad["files"][0]["rows"] = "ada.lovelace@example.com"
    with pytest.raises(ZoneError, match=r"files\.0\.rows") as e:
        parse_manifest(bad, "fixture")
    assert "ada" not in str(e.value)


def test_assignments_are_validated() -> None:
    m = parse_manifest(v1(), "fixture")
    with pytest.raises(ValueError):
        m.legal_hold = "maybe"  # type: ignore[assignment]
    assert isinstance(m, ZoneManifest) and m.legal_hold is False
