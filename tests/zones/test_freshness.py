"""zone_status on a real PostgreSQL table: the probe recorded at build time sees an in-place
update (same row count), an unchanged table stays "unchanged", and a zone whose manifest has no
probe says "unknown"."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from piizone.zones.lifecycle import init_home
from piizone.zones.lineage.freshness import refresh_if_changed, zone_status
from piizone.zones.provision.build import ZoneRequest, create_zone
from piizone.zones.storage.store import ZoneStore


@pytest.fixture
def pg_table(pg_url: str):
    """A two-row table of this test's own in the test database; dropped afterwards."""
    name = f"piizone_status_{os.getpid()}"
    conninfo = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", pg_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, plan TEXT, active BOOLEAN)")
        conn.execute(f"INSERT INTO {name} VALUES (1, 'basic', true), (2, 'pro', false)")
        yield conninfo, name
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def test_postgresql_probe_sees_an_update_in_place(
    piizone_home: Path, pg_url: str, pg_table, monkeypatch
) -> None:
    conninfo, table = pg_table
    password = make_url(pg_url).password
    if password:  # never stored: status and refresh take it from the environment, like libpq
        monkeypatch.setenv("PGPASSWORD", password)
    init_home(piizone_home)
    store = ZoneStore(piizone_home)
    create_zone(ZoneRequest(name="crm", sources=[f"{pg_url}?table={table}"]), store=store)
    first = zone_status("crm", store)
    assert [s.state for s in first.sources] == ["unchanged"] and first.verdict == "fresh"

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"UPDATE {table} SET plan = 'team' WHERE id = 2")  # same count, same max id
    second = zone_status("crm", store)
    assert [s.state for s in second.sources] == ["changed"] and second.stale

    outcome = refresh_if_changed("crm", precheck=True, store=store)
    assert not outcome.unchanged and store.versions("crm") == [1, 2]
    assert refresh_if_changed("crm", precheck=True, store=store).unchanged
    assert store.versions("crm") == [1, 2]


def test_a_manifest_without_probe_says_unknown(piizone_home: Path, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE plans (id INTEGER PRIMARY KEY, plan TEXT)")
        con.execute("INSERT INTO plans VALUES (1, 'basic')")
    con.close()
    init_home(piizone_home)
    store = ZoneStore(piizone_home)
    create_zone(ZoneRequest(name="old", sources=[f"sqlite:///{db}?table=plans"]), store=store)
    # As a zone built before probes were recorded.
    path = store.current_dir("old") / "manifest.json"
    manifest = json.loads(path.read_text())
    for source in manifest["sources"]:
        del source["probe"]
    path.write_text(json.dumps(manifest))
    result = zone_status("old", store)
    assert [s.state for s in result.sources] == ["unknown"]
    assert result.verdict == "unknown" and result.stale
    assert "no probe recorded" in result.sources[0].reason
