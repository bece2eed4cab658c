"""`piizone sandbox run|shell`: help, usage errors, refusals and exit codes through the CLI."""

from __future__ import annotations

import pytest

from tests.cli.conftest import invoke
from tests.zones.test_sandbox import require_isolation


@pytest.mark.parametrize("command", [["sandbox", "run"], ["sandbox", "shell"]])
def test_help_has_an_example(command):
    done = invoke(*command, "--help")
    assert done.exit_code == 0
    assert "Example" in done.output and "piizone sandbox" in done.output


def test_run_without_a_command_is_a_usage_error():
    done = invoke("sandbox", "run", "churn")
    assert done.exit_code == 2


@pytest.fixture(scope="module")
def cli_zone(make_zone):
    require_isolation()
    return make_zone("c1")


def test_missing_zone_is_refused(cli_zone, monkeypatch):
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone.home))
    done = invoke("sandbox", "run", "nope", "--", "true")
    assert done.exit_code == 1
    assert "error: zone 'nope' does not exist" in done.output


def test_bad_memory_size_is_an_input_error(cli_zone, monkeypatch, tmp_path):
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone.home))
    done = invoke("sandbox", "run", "c1", "--memory", "lots", "--", "true")
    assert done.exit_code == 2
    assert "invalid size" in done.output


@pytest.mark.parametrize(
    "script, code, released",
    [
        ("echo 'auc,0.9' > /zone/out/m.csv", 0, ["m.csv"]),
        ("echo 'auc,0.9' > /zone/out/m.csv; exit 4", 4, ["m.csv"]),
        ("echo 'mail jane.roe@example.org now' > /zone/out/s.txt", 1, []),
    ],
)
def test_exit_codes(cli_zone, monkeypatch, tmp_path, script, code, released):
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone.home))
    out = tmp_path / "out"
    done = invoke("sandbox", "run", "c1", "--out", str(out), "--", "sh", "-c", script)
    assert done.exit_code == code, done.output
    assert (sorted(p.name for p in out.iterdir()) if out.exists() else []) == released
    if code == 1:
        assert "quarantined" in done.output and "jane.roe" not in done.output


def test_publish_is_in_the_help_and_a_bad_port_is_refused(cli_zone, monkeypatch):
    for command in (["sandbox", "run"], ["sandbox", "shell"]):
        assert "--publish" in invoke(*command, "--help").output
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone.home))
    done = invoke("sandbox", "run", "c1", "--publish", "0", "--", "true")
    assert done.exit_code == 2 and "invalid port 0" in done.output


def test_fingerprint_hit_is_reported_with_its_reason(tmp_path, monkeypatch, make_zone):
    require_isolation()
    zone = make_zone("f1", {"a.csv": "name,ssn\nMaria Gonzalez,219-09-9999\n"})
    monkeypatch.setenv("PIIZONE_HOME", str(zone.home))
    out = tmp_path / "out"
    # The raw SSN, without dashes: the command could not have read it in the redacted zone.
    script = "echo 'best id 219099999' > /zone/out/ids.txt; echo 'auc 0.9' > /zone/out/m.txt"
    done = invoke("sandbox", "run", "f1", "--out", str(out), "--", "sh", "-c", script)
    assert done.exit_code == 1, done.output
    assert "ids.txt:1: US_SSN (fingerprint)" in done.output
    assert "219099999" not in done.output
    assert sorted(p.name for p in out.iterdir()) == ["m.txt"]
