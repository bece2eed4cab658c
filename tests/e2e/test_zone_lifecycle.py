"""End to end: `init` -> `zone create` (sample_data, PostgreSQL, SQLite) -> verify -> refresh ->
destroy, through the real CLI, real files, real crypto and a real PostgreSQL; and no plaintext PII
value from the sources anywhere under $PIIZONE_HOME, read byte by byte.

The zones are built once per module (sample_data costs about a minute) and the tests run in file
order against them: refresh after create, destroy last.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from piizone.scrubbers.operators import pseudonym_token
from piizone.zones import audit
from piizone.zones.lifecycle import unwrap_zone_key
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.keys import ensure_pseudonym_key
from piizone.zones.storage.store import ZoneStore
from tests.cli.conftest import invoke
from tests.conftest import REPO, SAMPLE_DATA
from tests.zones.conftest import pg_url, sqlite_url  # noqa: F401 - fixtures used below

CHANGED = "call_transcripts/call_003.txt"
PLANTED_EMAIL = "devin.sparks@yahoo.com"  # customers.csv row 1; added to CHANGED for refresh


@dataclass
class World:
    home: Path
    src: Path
    pg: str
    sqlite: str

    @property
    def env(self) -> dict[str, str]:
        return {"PIIZONE_HOME": str(self.home)}

    def run(self, *args: str, env: dict[str, str] | None = None):
        return invoke(*args, env={**self.env, **(env or {})})

    @property
    def store(self) -> ZoneStore:
        return ZoneStore(self.home)

    def records(self) -> list[dict]:
        return list(audit.open_audit_log(self.home).records())

    def plaintext(self, name: str, path: str, version: int | None = None) -> bytes:
        manifest = self.store.manifest(name, version)
        directory = self.store.version_dir(name, manifest.version)
        dek = unwrap_zone_key(self.store, manifest)
        with open(directory / path, "rb") as f:
            return b"".join(iter_decrypt(f, dek, zone_id=manifest.id, path=path))


def pseudonymizing_policy(target: Path) -> Path:
    """The default policy with EMAIL_ADDRESS pseudonymized (everything else unchanged)."""
    from importlib import resources

    text = resources.files("piizone.scrubbers").joinpath("default_policy.yaml").read_text("utf-8")
    new = text.replace(
        "EMAIL_ADDRESS: {threshold: 0.5}",
        "EMAIL_ADDRESS: {threshold: 0.5, operator: pseudonymize}",
    )
    assert new != text
    target.write_text(new)
    return target


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pg_url: str, sqlite_url: str) -> World:  # noqa: F811
    base = tmp_path_factory.mktemp("e2e")
    src = base / "sample_data"
    shutil.copytree(SAMPLE_DATA, src)
    policy = pseudonymizing_policy(base / "emails-pseudonymized.yaml")
    w = World(
        home=base / "home",
        src=src,
        pg=f"{pg_url}?table=customers",
        sqlite=f"{sqlite_url}?query=SELECT customer_id, full_name, email, ssn, notes "
        "FROM customers WHERE customer_id <= 40",
    )
    result = w.run("init")
    assert result.exit_code == 0, result.stderr
    for argv in (
        ["sample", "--from", str(src), "--policy", str(policy), "--purpose", "churn model"],
        ["crm", "--from", w.pg, "--owner", "ada", "--ttl", "90d"],
        ["lite", "--from", w.sqlite],
    ):
        result = w.run("zone", "create", *argv)
        assert result.exit_code == 0, result.stderr
    return w


def planted_values(w: World) -> list[str]:
    """Identifiers of every customer, every card number, a few rows read back from PostgreSQL."""
    import psycopg

    with open(SAMPLE_DATA / "customers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    values = [r[k] for r in rows for k in ("full_name", "email", "phone", "ssn", "street_address")]
    cards = pd.read_parquet(SAMPLE_DATA / "transactions.parquet")["card_number"].tolist()
    conninfo = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", w.pg.split("?")[0])
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        pg_rows = conn.execute(
            "SELECT full_name, email, phone, ssn FROM customers ORDER BY customer_id DESC LIMIT 5"
        ).fetchall()
    password = re.match(r"^[^:]+://[^:]+:([^@]+)@", w.pg)
    return sorted(
        {*values, *cards, *(v for row in pg_rows for v in row), *(password.groups() or ())}
    )


def plaintext_hits(home: Path, values: list[str], min_files: int = 10) -> list[tuple[str, str]]:
    """(file, value) for every planted value found in any byte of any file under home."""
    assert len(values) > 1000
    hits, files = [], 0
    for dirpath, _dirs, names in os.walk(home):
        for name in names:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            data = path.read_bytes()
            files += 1
            hits += [(str(path), v) for v in values if v.encode() in data]
    assert files > min_files  # the walk saw the zone, not an empty directory
    return hits


# -- create and verify ----------------------------------------------------------------------


def test_zones_are_created_from_a_directory_postgresql_and_sqlite(world: World) -> None:
    store = world.store
    assert store.names() == ["crm", "lite", "sample"]
    sample = store.manifest("sample")
    paths = {f.path for f in sample.files}
    assert "data/sample_data/customers.csv" in paths
    assert f"data/sample_data/{CHANGED}" in paths and len(paths) == 16
    assert sample.policy.source.endswith("emails-pseudonymized.yaml")
    assert (store.current_dir("sample") / "policy.yaml").read_text() == (
        world.src.parent / "emails-pseudonymized.yaml"
    ).read_text()
    crm = store.manifest("crm")
    assert [f.path for f in crm.files] == ["data/customers.parquet"]
    assert crm.files[0].rows == 500 and crm.owner == "ada"
    assert crm.sources[0].kind == "sql" and crm.sources[0].rows == 500
    assert crm.scan.totals["US_SSN"] >= 500
    lite = store.manifest("lite")
    assert lite.files[0].rows == 40
    for name in ("sample", "crm", "lite"):
        assert store.manifest(name).version == 1
    created = [r for r in world.records() if r["action"] == "zone.create"]
    assert [(r["zone"], r["outcome"]) for r in created] == [
        ("sample", "success"),
        ("crm", "success"),
        ("lite", "success"),
    ]


def test_every_zone_verifies(world: World) -> None:
    for name in ("sample", "crm", "lite"):
        result = world.run("zone", "verify", name)
        assert result.exit_code == 0, result.stderr
        assert f"zone {name} v1:" in result.stdout and "verified" in result.stdout
    # and once through the installed console script, in a fresh process
    script = REPO / ".venv" / "bin" / "piizone"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "piizone.cli.main"]
    proc = subprocess.run(
        [*cmd, "zone", "verify", "crm", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **world.env},
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"ok": true' in proc.stdout


def test_the_zone_data_is_redacted(world: World) -> None:
    data = world.plaintext("sample", "data/sample_data/customers.csv").decode()
    with open(SAMPLE_DATA / "customers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert data.splitlines()[0] == ",".join(rows[0].keys())
    for row in rows:
        for column in ("full_name", "email", "ssn", "phone"):
            assert row[column] not in data
    lite_path = world.store.manifest("lite").files[0].path
    lite = pd.read_parquet(io.BytesIO(world.plaintext("lite", lite_path)))
    assert len(lite) == 40 and lite["ssn"].str.fullmatch(r"<US_SSN_[0-9a-f]{8}>").all()


# -- refresh ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refreshed(world: World) -> dict:
    """Change one transcript, then refresh `sample` (and `crm`, unchanged) through the CLI."""
    import piizone.zones.provision.staging as provision

    changed = world.src / CHANGED
    changed.write_text(
        changed.read_text() + f"Customer: and my email is {PLANTED_EMAIL} if you need it.\n"
    )
    provisioned: list[str] = []
    real = provision.provision_item

    def spy(item, zone_path, *args, **kwargs):
        provisioned.append(zone_path)
        return real(item, zone_path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(provision, "provision_item", spy)
        result = world.run("zone", "refresh", "sample")
        assert result.exit_code == 0, result.stderr
        sample_calls = list(provisioned)
        provisioned.clear()
        password = re.match(r"^[^:]+://[^:]+:([^@]+)@", world.pg)
        env = {"PGPASSWORD": password.group(1)} if password else {}
        crm = world.run("zone", "refresh", "crm", "--force", env=env)
        assert crm.exit_code == 0, crm.stderr
    return {"sample": sample_calls, "crm": list(provisioned), "output": result.stdout}


def test_refresh_makes_a_child_version_and_rescans_only_the_changed_file(
    world: World, refreshed: dict
) -> None:
    store = world.store
    assert refreshed["sample"] == [f"data/sample_data/{CHANGED}"]
    assert refreshed["crm"] == []  # table unchanged (same rows hash): reused, not re-read
    assert "reused unchanged" in refreshed["output"]
    v1, v2 = store.manifest("sample", 1), store.manifest("sample")
    assert (v2.version, v2.parent) == (2, 1)
    assert v2.id == v1.id and v2.key == v1.key
    assert store.versions("sample") == [1, 2]
    assert store.manifest("crm").parent == 1

    before = {f.path: f for f in v1.files}
    d1, d2 = store.version_dir("sample", 1), store.version_dir("sample", 2)
    reused = 0
    for entry in v2.files:
        path = entry.path
        if path.endswith(CHANGED):
            assert entry.sha256 != before[path].sha256
            assert entry.source_sha256 != before[path].source_sha256
            assert (d1 / path).read_bytes() != (d2 / path).read_bytes()
            assert os.stat(d1 / path).st_ino != os.stat(d2 / path).st_ino
        else:
            assert entry == before[path]
            assert (d1 / path).read_bytes() == (d2 / path).read_bytes()
            assert os.stat(d1 / path).st_ino == os.stat(d2 / path).st_ino  # a hard link
            reused += 1
    assert reused == 15
    rec = [r for r in world.records() if r["action"] == "zone.refresh" and r["zone"] == "sample"]
    assert rec[-1]["outcome"] == "success"
    assert (rec[-1]["details"]["reused"], rec[-1]["details"]["parent"]) == (15, 1)

    show = world.run("zone", "show", "sample", "--json")
    assert show.exit_code == 0
    lineage = json.loads(show.stdout)["lineage"]
    assert [(v["version"], v["parent"]) for v in lineage] == [(1, None), (2, 1)]

    for name in ("sample", "crm"):
        result = world.run("zone", "verify", name)
        assert result.exit_code == 0 and "v2:" in result.stdout, result.stderr


def test_pseudonyms_are_identical_across_files_and_versions(world: World, refreshed: dict) -> None:
    token = pseudonym_token(ensure_pseudonym_key(world.home), "EMAIL_ADDRESS", PLANTED_EMAIL)
    assert re.fullmatch(r"<EMAIL_ADDRESS_[0-9a-f]{8}>", token)
    table_v1 = world.plaintext("sample", "data/sample_data/customers.csv", version=1).decode()
    table_v2 = world.plaintext("sample", "data/sample_data/customers.csv", version=2).decode()
    text_v1 = world.plaintext("sample", f"data/sample_data/{CHANGED}", version=1).decode()
    text_v2 = world.plaintext("sample", f"data/sample_data/{CHANGED}", version=2).decode()
    assert table_v1 == table_v2
    assert table_v1.splitlines()[1].split(",")[2] == token  # row 1's email column
    assert token not in text_v1 and token in text_v2  # re-scanned text, same token as the table
    assert PLANTED_EMAIL not in text_v2 and PLANTED_EMAIL not in table_v2
    # other emails are pseudonymized too, each to its own stable token
    assert len(set(re.findall(r"<EMAIL_ADDRESS_[0-9a-f]{8}>", table_v1))) > 400


def test_no_plaintext_pii_anywhere_under_the_home(world: World, refreshed: dict) -> None:
    values = planted_values(world)
    assert plaintext_hits(world.home, values) == []
    # the walk really read the files that could leak: audit log, reports, manifests
    assert list(world.home.glob("audit/audit-*.jsonl"))
    assert (world.store.current_dir("sample") / "report.json").stat().st_size > 1000


# -- list, show --------------------------------------------------------------------------------


def test_list_json_has_the_documented_fields(world: World, refreshed: dict) -> None:
    result = world.run("zone", "list", "--json")
    assert result.exit_code == 0
    zones = {z["name"]: z for z in json.loads(result.stdout)}
    assert sorted(zones) == ["crm", "lite", "sample"]
    for z in zones.values():
        assert {"name", "version", "created", "owner", "expires", "size", "risk"} <= set(z)
        assert z["size"] > 0 and z["risk"] in ("low", "medium", "high")
    assert zones["sample"]["version"] == 2 and zones["lite"]["version"] == 1
    assert zones["crm"]["owner"] == "ada" and zones["sample"]["risk"] == "high"


# -- destroy -----------------------------------------------------------------------------------


def test_destroy_removes_every_version(world: World, refreshed: dict) -> None:
    store = world.store
    values = planted_values(world)
    for name, versions in (("sample", 2), ("crm", 2), ("lite", 1)):
        result = world.run("zone", "destroy", name, "--yes")
        assert result.exit_code == 0, result.stderr
        assert f"{versions} versions crypto-shredded" in result.stdout
        assert not (world.home / "zones" / name).exists()
        assert not (world.home / "zones" / ".versions" / name).exists()
        shown = world.run("zone", "show", name)
        assert shown.exit_code == 2
        assert shown.stderr.startswith(f"error: zone '{name}' does not exist")
        rec = [r for r in world.records() if r["action"] == "zone.destroy"][-1]
        assert (rec["zone"], rec["outcome"]) == (name, "success")
        # "intent": the journal entry that makes the shred and its record one step.
        assert rec["details"].pop("intent")
        assert rec["details"] == {"versions": versions, "method": "crypto-shred"}
    assert store.names() == []
    assert world.run("zone", "list", "--json").stdout.strip() == "[]"
    assert list((world.home / "zones" / ".versions").iterdir()) == []
    assert plaintext_hits(world.home, values, min_files=3) == []
    assert audit.open_audit_log(world.home).verify().ok
