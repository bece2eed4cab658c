"""`piizone sandbox run|shell`: help, usage errors, refusals and exit codes through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.zones.test_sandbox import require_isolation
from zones.lifecycle import init_home
from zones.provision import ZoneRequest, create_zone
from zones.store import ZoneStore

runner = CliRunner()


@pytest.mark.parametrize("command", [["sandbox", "run"], ["sandbox", "shell"]])
def test_help_has_an_example(command):
    done = runner.invoke(app, [*command, "--help"])
    assert done.exit_code == 0
    assert "Example" in done.output and "piizone sandbox" in done.output


def test_run_without_a_command_is_a_usage_error():
    done = runner.invoke(app, ["sandbox", "run", "churn"])
    assert done.exit_code == 2


@pytest.fixture(scope="module")
def cli_zone(tmp_path_factory):
    require_isolation()
    base = tmp_path_factory.mktemp("cli-sbx")
    (base / "src").mkdir()
    (base / "src" / "a.txt").write_text("plain text\n")
    init_home(base / "home")
    create_zone(ZoneRequest(name="c1", sources=[str(base / "src")]), ZoneStore(base / "home"))
    return base


def test_missing_zone_is_refused(cli_zone, monkeypatch):
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone / "home"))
    done = runner.invoke(app, ["sandbox", "run", "nope", "--", "true"])
    assert done.exit_code == 1
    assert "error: zone 'nope' does not exist" in done.output


def test_bad_memory_size_is_an_input_error(cli_zone, monkeypatch, tmp_path):
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone / "home"))
    done = runner.invoke(app, ["sandbox", "run", "c1", "--memory", "lots", "--", "true"])
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
    monkeypatch.setenv("PIIZONE_HOME", str(cli_zone / "home"))
    out = tmp_path / "out"
    done = runner.invoke(app, ["sandbox", "run", "c1", "--out", str(out), "--", "sh", "-c", script])
    assert done.exit_code == code, done.output
    assert (sorted(p.name for p in out.iterdir()) if out.exists() else []) == released
    if code == 1:
        assert "quarantined" in done.output and "jane.roe" not in done.output
