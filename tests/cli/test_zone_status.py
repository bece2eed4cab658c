"""`zone status`, `zone refresh --if-changed | --force | --on-new-version` through the real app.

Real files and a real SQLite source; the hook is a real process that writes its environment.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from piizone.zones.storage.store import ZoneStore
from tests.cli.test_zone_cli import NOTE_TXT, PEOPLE_CSV, assert_one_line_error, records, run

HOOK = (
    "import os, sys\n"
    "keys = ('PIIZONE_ZONE', 'PIIZONE_ZONE_VERSION', 'PIIZONE_ZONE_ID', 'HOOK_CALLER')\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write('\\n'.join(f'{k}={os.environ.get(k)}' for k in keys))\n"
    "sys.exit(int(sys.argv[2]))\n"
)


@pytest.fixture
def world(piizone_home: Path, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "people.csv").write_text(PEOPLE_CSV)
    (src / "note.txt").write_text(NOTE_TXT)
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE plans (id INTEGER PRIMARY KEY, plan TEXT, spend REAL)")
        con.executemany("INSERT INTO plans VALUES (?, ?, ?)", [(1, "basic", 9.5), (2, "pro", 30)])
    con.close()
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    assert run("init").exit_code == 0
    result = run(
        "zone", "create", "churn", "--from", str(src), "--from", f"sqlite:///{db}?table=plans"
    )
    assert result.exit_code == 0, result.stderr
    return {"home": piizone_home, "src": src, "db": db, "hook": hook, "tmp": tmp_path}


def status(name: str = "churn") -> dict:
    result = run("zone", "status", name, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def states(report: dict) -> dict[str, str]:
    return {s["kind"]: s["state"] for s in report["sources"]}


def hook_cmd(world, out: Path, code: int = 0) -> str:
    return f"{sys.executable} {world['hook']} {out} {code}"


def test_retraining_loop(world, monkeypatch):
    home = world["home"]
    first = status()
    assert first["verdict"] == "fresh" and first["stale"] is False and first["version"] == 1
    assert states(first) == {"files": "unchanged", "sql": "unchanged"}
    store = ZoneStore(home)
    assert all(s.probe for s in store.manifest("churn").sources if s.kind == "sql")

    # A file changes: stale, files changed, the database still unchanged.
    with (world["src"] / "people.csv").open("a") as f:
        f.write("Ann Lee,ann.lee@example.org,555-201-3344,123-45-6789\n")
    second = status()
    assert second["stale"] is True and second["verdict"] == "stale"
    assert states(second) == {"files": "changed", "sql": "unchanged"}
    assert "1 changed, 0 added, 0 removed" in second["sources"][0]["reason"]

    monkeypatch.setenv("HOOK_CALLER", "ci")
    out = world["tmp"] / "hook.env"
    result = run(
        "zone", "refresh", "churn", "--if-changed", "--on-new-version", hook_cmd(world, out)
    )
    assert result.exit_code == 0, result.stderr
    assert store.versions("churn") == [1, 2]
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert env == {
        "PIIZONE_ZONE": "churn",
        "PIIZONE_ZONE_VERSION": "2",
        "PIIZONE_ZONE_ID": store.manifest("churn").id,
        "HOOK_CALLER": "ci",  # the caller's own environment goes on
    }
    assert status()["verdict"] == "fresh"

    # Nothing changed: exit 3, one line on stderr, no v3, the hook not run.
    out.unlink()
    again = run(
        "zone", "refresh", "churn", "--if-changed", "--on-new-version", hook_cmd(world, out)
    )
    assert again.exit_code == 3, again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "no new version" in again.stderr
    assert store.versions("churn") == [1, 2] and not out.exists()

    # The database changes: its probe sees a new row; a plain refresh makes v3.
    with sqlite3.connect(world["db"]) as con:
        con.execute("INSERT INTO plans VALUES (3, 'team', 99)")
    con.close()
    assert states(status()) == {"files": "unchanged", "sql": "changed"}
    assert run("zone", "refresh", "churn").exit_code == 0
    assert store.versions("churn") == [1, 2, 3]

    # A plain refresh with nothing changed makes no version either, unless --force.
    assert run("zone", "refresh", "churn").exit_code == 3
    assert store.versions("churn") == [1, 2, 3]
    assert run("zone", "refresh", "churn", "--force").exit_code == 0
    assert store.versions("churn") == [1, 2, 3, 4]

    log = records(home)
    actions = [r["action"] for r in log]
    assert actions.count("zone.status") >= 5 and actions.count("zone.hook") == 1
    hook = next(r for r in log if r["action"] == "zone.hook")
    assert hook["outcome"] == "success" and hook["details"]["exit_code"] == 0
    unchanged = [r for r in log if r["action"] == "zone.refresh" and r["details"].get("unchanged")]
    assert len(unchanged) == 2 and all(r["outcome"] == "success" for r in unchanged)
    assert unchanged[0]["details"]["trigger"] == "if-changed"
    text = json.dumps(log)
    assert str(world["src"]) not in text and "ann.lee@example.org" not in text


def test_missing_source(world):
    (world["src"] / "note.txt").unlink()
    report = status()
    assert states(report)["files"] == "changed" and report["stale"] is True
    assert "1 removed" in report["sources"][0]["reason"]
    world["db"].unlink()
    sql = next(s for s in status()["sources"] if s["kind"] == "sql")
    assert sql["state"] == "unknown" and "cannot be read now" in sql["reason"]


def test_failing_hook_exits_1_and_the_version_stays(world):
    (world["src"] / "people.csv").write_text(PEOPLE_CSV.replace("Devin", "Kevin"))
    out = world["tmp"] / "hook.env"
    result = run("zone", "refresh", "churn", "--on-new-version", hook_cmd(world, out, code=4))
    assert_one_line_error(result, 1, "exited with status 4")
    assert ZoneStore(world["home"]).versions("churn") == [1, 2] and out.exists()
    hook = [r for r in records(world["home"]) if r["action"] == "zone.hook"][-1]
    assert hook["outcome"] == "failure" and hook["details"]["exit_code"] == 4
    assert status()["verdict"] == "fresh"


def test_bad_input(world):
    assert_one_line_error(run("zone", "status", "ghost"), 2, "does not exist")
    assert_one_line_error(run("zone", "refresh", "ghost", "--if-changed"), 2, "does not exist")
    (world["src"] / "people.csv").write_text(PEOPLE_CSV.replace("Devin", "Kevin"))
    bad = run("zone", "refresh", "churn", "--on-new-version", "make 'train")
    assert_one_line_error(bad, 2, "--on-new-version")
    missing = run("zone", "refresh", "churn", "--on-new-version", "no-such-program-piizone")
    assert_one_line_error(missing, 1, "cannot run no-such-program-piizone")
    assert ZoneStore(world["home"]).versions("churn") == [1, 2]
