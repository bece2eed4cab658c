"""`zone prune NAME --keep N` (zones/retention.py prune_versions) on a real zone with three
versions: old versions are crypto-shredded, the current one stays and still verifies, the
prune is audited and, killed before its record, finished and recorded by the next command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.lifecycle import verify_zone
from piizone.zones.retention import prune_versions
from piizone.zones.storage.store import SHREDDING_DIR, ZoneStore
from tests.conftest import REPO
from tests.zones.test_retention import zone_with_versions

runner = CliRunner()


@pytest.fixture
def store(piizone_home: Path, tmp_path: Path) -> ZoneStore:
    return zone_with_versions(piizone_home, tmp_path / "t.csv", 3)


def prunes(store: ZoneStore) -> list[dict]:
    return [r for r in audit.open_audit_log(store.home).records() if r["action"] == "zone.prune"]


def test_prune_keeps_the_newest_and_shreds_the_rest(store: ZoneStore) -> None:
    assert store.versions("churn") == [1, 2, 3]
    result = runner.invoke(app, ["zone", "prune", "churn", "--keep", "1", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"zone": "churn", "pruned": [1, 2]}
    assert store.versions("churn") == [3]
    assert not store.version_dir("churn", 1).exists()
    assert not list((store.root / SHREDDING_DIR).iterdir())
    assert verify_zone("churn", store).ok and store.manifest("churn").version == 3
    [record] = prunes(store)
    assert record["outcome"] == "success"
    assert record["details"]["pruned"] == [1, 2] and record["details"]["kept"] == [3]
    listed = runner.invoke(app, ["zone", "versions", "churn", "--json"])
    assert [v["version"] for v in json.loads(listed.stdout)] == [3]


def test_nothing_to_prune_is_said_and_changes_nothing(store: ZoneStore) -> None:
    result = runner.invoke(app, ["zone", "prune", "churn", "--keep", "5", "--yes"])
    assert result.exit_code == 0 and "nothing to prune" in result.output
    assert store.versions("churn") == [1, 2, 3]


def test_keep_zero_is_a_usage_error(store: ZoneStore) -> None:
    result = runner.invoke(app, ["zone", "prune", "churn", "--keep", "0", "--yes"])
    assert result.exit_code == 2
    assert store.versions("churn") == [1, 2, 3]


def test_prune_without_yes_in_a_script_is_refused(store: ZoneStore) -> None:
    result = runner.invoke(app, ["zone", "prune", "churn", "--keep", "1"])
    assert result.exit_code != 0 and "--yes" in result.output
    assert store.versions("churn") == [1, 2, 3]


def test_legal_hold_refuses_prune(store: ZoneStore) -> None:
    assert runner.invoke(app, ["zone", "hold", "churn", "--on"]).exit_code == 0
    result = runner.invoke(app, ["zone", "prune", "churn", "--keep", "1", "--yes"])
    assert result.exit_code == 1 and "legal hold" in result.output
    assert store.versions("churn") == [1, 2, 3]
    assert prunes(store)[-1]["outcome"] == "denied"


def test_keep_counts_the_newest_but_never_drops_the_current(store: ZoneStore) -> None:
    assert prune_versions("churn", 2, store) == [1]
    assert store.versions("churn") == [2, 3]


def test_sigkill_before_the_record_is_finished_by_the_next_command(store: ZoneStore) -> None:
    env = dict(
        os.environ,
        PIIZONE_HOME=str(store.home),
        PIIZONE_TEST_CRASH_AT="shred-overwritten",
        PYTHONPATH=str(REPO),
    )
    argv = [sys.executable, "-m", "piizone.cli.main", "zone", "prune", "churn", "--keep", "1"]
    done = subprocess.run(
        [*argv, "--yes"], cwd=REPO, env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == -9, done.stderr
    assert not prunes(store)  # killed mid-shred: no record yet
    assert runner.invoke(app, ["zone", "list"]).exit_code == 0  # the next command recovers
    assert store.versions("churn") == [3]
    assert not list((store.root / SHREDDING_DIR).iterdir())
    [record] = prunes(store)
    assert record["details"]["recovered"] == "completed" and record["details"]["pruned"] == [1, 2]
    assert verify_zone("churn", store).ok
