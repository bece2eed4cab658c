"""A `zone destroy` killed mid-shred is finished by the next command (issue 13, soak finding).

Before: `ZoneStore.shred` overwrote each version's manifest.json with random bytes, then
unlinked it. A SIGKILL between the two left a zone whose manifest was noise: `zone list`
stopped at it ("unreadable manifest") and so did `zone destroy`, until someone removed it by
hand; and the destroy had no audit record. Now the versions are renamed aside first (one atomic
step, the zone is gone for `list`), and the destroy's journal intent lets the next command
finish the shred and record it; `zone gc` finishes any shred left without an intent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit, journal
from piizone.zones.storage.store import SHREDDING_DIR, ZoneStore
from tests.conftest import REPO

runner = CliRunner()
EMAIL = "devin.sparks@yahoo.com"


def ok(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def destroys(home: Path) -> list[dict]:
    return [r for r in audit.open_audit_log(home).records() if r["action"] == "zone.destroy"]


def crash_at(home: Path, point: str, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI in a child that SIGKILLs itself at `point` (PIIZONE_TEST_CRASH_AT)."""
    env = dict(
        os.environ, PIIZONE_HOME=str(home), PIIZONE_TEST_CRASH_AT=point, PYTHONPATH=str(REPO)
    )
    return subprocess.run(
        [sys.executable, "-m", "piizone.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def leftovers(home: Path) -> list[str]:
    shredding = home / "zones" / SHREDDING_DIR
    return sorted(p.name for p in shredding.iterdir()) if shredding.is_dir() else []


@pytest.fixture
def home(piizone_home: Path, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "people.csv").write_text(f"name,email\nDevin Sparks,{EMAIL}\n")
    ok("init")
    ok("zone", "create", "churn", "--from", str(src))
    ok("zone", "refresh", "churn", "--force")  # two versions: the shred walks both
    ok("zone", "create", "other", "--from", str(src))
    return piizone_home


def test_sigkill_between_overwrite_and_unlink_is_finished_by_the_next_command(home: Path) -> None:
    done = crash_at(home, "shred-overwritten", "zone", "destroy", "churn", "--yes")
    assert done.returncode == -signal.SIGKILL, done.stderr
    # The crash hit mid-shred: a manifest overwritten with noise is still on disk, aside.
    assert leftovers(home) and not destroys(home)

    listed = json.loads(ok("zone", "list", "--json").stdout)  # recovers, does not stop
    assert [z["name"] for z in listed] == ["other"]
    assert leftovers(home) == []
    assert not (home / "zones" / ".versions" / "churn").exists()
    assert not os.path.lexists(home / "zones" / "churn")
    [rec] = destroys(home)
    assert rec["zone"] == "churn" and rec["outcome"] == "success"
    assert rec["details"]["recovered"] == "completed" and rec["details"]["versions"] == 2
    assert not list((home / "journal").iterdir())
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    ok("zone", "verify", "other")  # the other zone is untouched


def test_sigkill_after_the_shred_before_the_record_is_recorded(home: Path) -> None:
    done = crash_at(home, "destroy-before-record", "zone", "destroy", "churn", "--yes")
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not destroys(home)
    ok("zone", "show", "other")
    [rec] = destroys(home)
    assert rec["outcome"] == "success" and rec["details"]["recovered"] == "completed"
    assert not ZoneStore(home).exists("churn") and leftovers(home) == []


def test_an_intent_whose_destroy_never_started_leaves_the_zone(home: Path) -> None:
    # Killed right after writing the intent, before the rename aside: nothing was changed.
    manifest = ZoneStore(home).manifest("churn")
    journal.begin(home, "zone.destroy", zone="churn", zone_id=manifest.id, versions=2)
    listed = json.loads(ok("zone", "list", "--json").stdout)
    assert sorted(z["name"] for z in listed) == ["churn", "other"]
    [rec] = destroys(home)
    assert rec["outcome"] == "failure" and rec["details"]["recovered"] == "rolled back"
    ok("zone", "verify", "churn")


def test_gc_finishes_a_shred_left_without_its_intent(home: Path) -> None:
    done = crash_at(home, "shred-overwritten", "zone", "destroy", "churn", "--yes")
    assert done.returncode == -signal.SIGKILL, done.stderr
    for intent in (home / "journal").iterdir():
        intent.unlink()  # a torn or lost intent: only the directory aside is left
    listed = json.loads(ok("zone", "list", "--json").stdout)
    assert [z["name"] for z in listed] == ["other"]  # never stops at it
    assert leftovers(home)
    ok("zone", "gc", "--yes")
    assert leftovers(home) == []


def test_a_destroyed_name_can_be_created_again_after_recovery(home: Path, tmp_path: Path) -> None:
    crash_at(home, "shred-overwritten", "zone", "destroy", "churn", "--yes")
    ok("zone", "create", "churn", "--from", str(tmp_path / "src"))
    ok("zone", "verify", "churn")
    ok("zone", "destroy", "churn", "--yes")
    assert not ZoneStore(home).exists("churn") and leftovers(home) == []
