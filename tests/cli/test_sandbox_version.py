"""`piizone sandbox run NAME --version N`: an older version still on disk can be opened again
(to re-run a training on the data a model came from); the lineage names that version."""

from __future__ import annotations

import json

import pytest

from piizone.zones.provision.build import refresh_zone
from tests.cli.conftest import invoke
from tests.zones.test_sandbox import require_isolation

READ = "cat /zone/data/*/t.txt > /zone/out/seen.txt"


@pytest.fixture(scope="module")
def two_versions(make_zone):
    require_isolation()
    zone = make_zone("vz", {"t.txt": "first plan basic\n"})
    (zone.source / "t.txt").write_text("second plan premium\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIIZONE_HOME", str(zone.home))
        refresh_zone("vz", zone.store)
    assert zone.store.versions("vz") == [1, 2]
    return zone


def run(zone, tmp_path, monkeypatch, *options: str):
    monkeypatch.setenv("PIIZONE_HOME", str(zone.home))
    out = tmp_path / "out"
    args = ["sandbox", "run", "vz", "--out", str(out), *options, "--json", "--", "sh", "-c", READ]
    return invoke(*args), out


def test_the_current_version_by_default(two_versions, tmp_path, monkeypatch):
    done, out = run(two_versions, tmp_path, monkeypatch)
    assert done.exit_code == 0, done.output
    assert (out / "seen.txt").read_text() == "second plan premium\n"


def test_an_older_version_opens_and_its_lineage_says_so(two_versions, tmp_path, monkeypatch):
    done, out = run(two_versions, tmp_path, monkeypatch, "--version", "1")
    assert done.exit_code == 0, done.output
    assert (out / "seen.txt").read_text() == "first plan basic\n"
    result = json.loads(done.stderr)
    assert result["version"] == 1
    assert [a["zone_version"] for a in result["artifacts"]] == [1]


def test_a_version_not_on_disk_is_refused(two_versions, tmp_path, monkeypatch):
    done, out = run(two_versions, tmp_path, monkeypatch, "--version", "7")
    assert done.exit_code == 1
    assert "has no version 7" in done.output and "zone versions" in done.output
    assert not out.exists()


def test_version_zero_is_a_usage_error(two_versions, tmp_path, monkeypatch):
    done, _ = run(two_versions, tmp_path, monkeypatch, "--version", "0")
    assert done.exit_code == 2
