"""`piizone artifacts list | show | export`: listings in three formats, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from piizone.cli.main import app
from tests.zones.test_artifacts import make

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["artifacts", *args])


def test_list_in_every_format_and_by_zone(piizone_home: Path) -> None:
    a = make(piizone_home, zone="churn")
    b = make(piizone_home, zone="fraud")
    table = run("list")
    assert table.exit_code == 0 and a.id in table.output and b.id in table.output
    as_json = json.loads(run("list", "--zone", "fraud", "--json").output)
    assert [x["id"] for x in as_json] == [b.id]
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv").output)))
    assert {r["id"] for r in rows} == {a.id, b.id} and rows[0]["zone_version"] == "2"
    assert run("list", "--zone", "nothing").output.strip() == "no artifacts of zone nothing"


def test_show_by_prefix_and_errors_exit_2(piizone_home: Path) -> None:
    a = make(piizone_home)
    shown = run("show", a.id[:6], "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["sha256"] == a.sha256
    missing = run("show", "a0000000")
    assert missing.exit_code == 2 and "error: no artifact" in missing.output
    assert "Traceback" not in missing.output


def test_export_openlineage_to_a_file(piizone_home: Path, tmp_path: Path) -> None:
    make(piizone_home, session="one")
    make(piizone_home, session="two")
    out = tmp_path / "lineage.json"
    result = run("export", "--format", "openlineage", "-o", str(out))
    assert result.exit_code == 0, result.output
    events = json.loads(out.read_text())
    assert len(events) == 2 and {e["eventType"] for e in events} == {"COMPLETE"}
    assert run("export", "--format", "nope").exit_code == 2
