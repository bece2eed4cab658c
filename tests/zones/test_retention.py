"""`zone versions` and `zone extend` (zones/retention.py) on a real zone with two versions."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import ZoneRequest, create_zone, refresh_zone
from piizone.zones.retention import extend_zone, list_versions
from piizone.zones.storage.store import ZoneStore, parse_iso, utc_now

runner = CliRunner()


def zone_with_versions(home: Path, source: Path, versions: int) -> ZoneStore:
    """Zone `churn` in `home` with `versions` versions, each one row longer (2 rows in v1)."""
    init_home(home)
    store = ZoneStore(home)
    rows = ["id,plan", "1,basic", "2,plus"]
    source.write_text("\n".join(rows) + "\n")
    create_zone(ZoneRequest("churn", [str(source)], ttl="1d"), store)
    for n in range(3, versions + 2):
        rows.append(f"{n},plus")
        source.write_text("\n".join(rows) + "\n")
        refresh_zone("churn", store)
    return store


@pytest.fixture
def store(piizone_home: Path, tmp_path: Path) -> ZoneStore:
    return zone_with_versions(piizone_home, tmp_path / "t.csv", 2)


def test_versions_list_both_and_mark_the_current(store: ZoneStore) -> None:
    found = list_versions("churn", store)
    assert [(v.version, v.current, v.parent, v.rows) for v in found] == [
        (1, False, None, 2),
        (2, True, 1, 3),
    ]
    out = runner.invoke(app, ["zone", "versions", "churn", "--format", "csv"]).output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["version"] for r in rows] == ["1", "2"] and rows[1]["current"] == "True"
    assert (
        json.loads(runner.invoke(app, ["zone", "versions", "churn", "--json"]).output)[1]["parent"]
        == 1
    )


def test_extend_moves_the_expiry_and_is_audited(store: ZoneStore) -> None:
    result = runner.invoke(app, ["zone", "extend", "churn", "--ttl", "30d", "--json"])
    assert result.exit_code == 0, result.output
    expires = parse_iso(json.loads(result.output)["expires"])
    assert timedelta(days=29) < expires - utc_now() <= timedelta(days=30)
    assert store.manifest("churn").expires == json.loads(result.output)["expires"]
    last = list(audit.open_audit_log(store.home).records())[-1]
    assert (last["action"], last["zone"]) == ("zone.extend", "churn")


@pytest.mark.parametrize(
    ("ttl", "message"),
    [("1h", "already expires"), ("400d", "longer than 366 days"), ("soon", "invalid TTL")],
)
def test_bad_extensions_change_nothing(store: ZoneStore, ttl: str, message: str) -> None:
    before = store.manifest("churn").expires
    result = runner.invoke(app, ["zone", "extend", "churn", "--ttl", ttl])
    assert result.exit_code == 2 and message in result.output
    assert store.manifest("churn").expires == before


def test_only_the_owner_or_root_extends(store: ZoneStore) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to act as another uid")  # tests/security/test_identity.py
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.setresuid(65534, 0, 0)  # the actor is the real uid
        try:
            extend_zone("churn", "30d", store)
            os._exit(0)
        except Exception as e:  # noqa: BLE001
            os._exit(3 if "may not extend" in str(e) else 4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3


def test_keys_retire_shreds_only_unused_keks(store: ZoneStore) -> None:
    from piizone.zones.lifecycle import rotate_keys
    from piizone.zones.storage.keys.keyfile import keyfile_keks

    old = {p.name for p in keyfile_keks(store.home)}
    rotate_keys(store)
    assert len(keyfile_keks(store.home)) == len(old) + 1
    declined = runner.invoke(app, ["keys", "retire"], input="n\n")
    assert declined.exit_code == 2 and len(keyfile_keks(store.home)) == len(old) + 1  # no tty
    result = runner.invoke(app, ["keys", "retire", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    retired = json.loads(result.output)["retired"]
    assert {f"kek-{k}.key" for k in retired} == old
    left = keyfile_keks(store.home)
    assert len(left) == 1 and left[0].name not in old
    # Every version still opens under the KEK that is left.
    from piizone.zones.lifecycle import verify_zone

    assert verify_zone("churn", store).ok
    assert json.loads(runner.invoke(app, ["keys", "retire", "--yes", "--json"]).output) == {
        "retired": []
    }
    last = list(audit.open_audit_log(store.home).records())[-1]
    assert last["action"] == "key.retire"
