"""Every listing takes `--format table|json|csv` (`--json` = `--format json`), and `zone gc --json`
says what it removed (issue 16, point 5).

Real zones (tests.conftest make_zone), real airlock requests (zones.lineage.airlock), the
commands through typer's CliRunner (stdout is not a terminal, as in a pipe).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from piizone.cli.output import echo_csv
from piizone.zones.leakcheck.egress import EgressReport, OutputFile
from piizone.zones.leakcheck.matching import Finding
from piizone.zones.lifecycle import set_hold
from piizone.zones.lineage.airlock import hold_outputs
from piizone.zones.lineage.provenance import Provenance
from tests.cli.conftest import invoke, invoke_ok
from tests.conftest import MakeZone, Zone

ZONE_COLUMNS = [
    "name",
    "version",
    "created",
    "owner",
    "expires",
    "expired",
    "legal_hold",
    "size",
    "risk",
    "files",
    "purpose",
]


@pytest.fixture(scope="module")
def zones(make_zone: MakeZone) -> tuple[Zone, Zone]:
    """Two zones in one home: churn (with a purpose) and fraud."""
    churn = make_zone("churn", purpose="churn model, quarterly")
    fraud = make_zone("fraud", home=churn.home)
    return churn, fraud


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of a rich table, header first (box characters as separators)."""
    lines = text.replace("┃", "│").splitlines()
    return [[cell.strip() for cell in ln.split("│")[1:-1]] for ln in lines if ln.startswith("│")]


# -- zone list ----------------------------------------------------------------------------------


def test_zone_list_in_three_formats(zones: tuple[Zone, Zone]) -> None:
    churn, _ = zones
    home = churn.home
    header, rows = csv_rows(invoke_ok("zone", "list", "--format", "csv", home=home).stdout)
    assert header == ZONE_COLUMNS
    assert [r["name"] for r in rows] == ["churn", "fraud"]
    assert rows[0]["purpose"] == "churn model, quarterly" and rows[0]["version"] == "1"
    assert rows[0]["expires"] == churn.store.manifest("churn").expires
    as_json = json.loads(invoke_ok("zone", "list", "--format", "json", home=home).stdout)
    assert [z["name"] for z in as_json] == ["churn", "fraud"]
    assert int(rows[1]["size"]) == as_json[1]["size"] > 0
    assert (
        invoke_ok("zone", "list", "--json", home=home).stdout
        == json.dumps(as_json, indent=2, sort_keys=True) + "\n"
    )
    table = invoke_ok("zone", "list", home=home).stdout
    cells = table_rows(table)
    assert cells[0][:2] == ["name", "version"]
    assert [row[0] for row in cells[1:]] == ["churn", "fraud"]
    assert table == invoke_ok("zone", "list", "--format", "table", home=home).stdout


def test_zone_list_of_an_empty_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke_ok("init", home=home)
    assert csv_rows(invoke_ok("zone", "list", "--format", "csv", home=home).stdout) == (
        ZONE_COLUMNS,
        [],
    )
    assert json.loads(invoke_ok("zone", "list", "--format", "json", home=home).stdout) == []
    assert "no zones" in invoke_ok("zone", "list", home=home).stdout


def test_an_unknown_format_is_a_usage_error(zones: tuple[Zone, Zone]) -> None:
    result = invoke("zone", "list", "--format", "xml", home=zones[0].home)
    assert result.exit_code == 2 and "xml" in result.stderr and result.stdout == ""


# -- keys status --------------------------------------------------------------------------------


def test_keys_status_in_three_formats(zones: tuple[Zone, Zone]) -> None:
    churn, _ = zones
    home = churn.home
    provider = churn.store.manifest("churn").key.provider
    header, rows = csv_rows(invoke_ok("keys", "status", "--format", "csv", home=home).stdout)
    assert header == ["zone", "provider"]
    assert rows == [
        {"zone": "churn", "provider": provider},
        {"zone": "fraud", "provider": provider},
    ]
    status = json.loads(invoke_ok("keys", "status", "--format", "json", home=home).stdout)
    assert status["configured"]["provider"] == "keyfile"
    assert [z["name"] for z in status["zones"]] == ["churn", "fraud"]
    assert json.loads(invoke_ok("keys", "status", "--json", home=home).stdout) == status
    table = invoke_ok("keys", "status", home=home).stdout
    assert table.startswith("configured KEK: ") and "{" not in table
    assert table_rows(table) == [["zone", "provider"], ["churn", provider], ["fraud", provider]]


# -- zone grants --------------------------------------------------------------------------------


def test_zone_grants_in_three_formats(make_zone: MakeZone) -> None:
    zone = make_zone("shared")
    home = zone.home
    owner = zone.store.manifest("shared").owner
    for user in ("bob", "alice"):
        invoke_ok("zone", "grant", "shared", user, home=home)
    expected = [
        {"user": owner, "access": "owner"},
        {"user": "alice", "access": "granted"},
        {"user": "bob", "access": "granted"},
    ]
    header, rows = csv_rows(
        invoke_ok("zone", "grants", "shared", "--format", "csv", home=home).stdout
    )
    assert header == ["user", "access"] and rows == expected
    assert json.loads(invoke_ok("zone", "grants", "shared", "--json", home=home).stdout) == expected
    table = table_rows(invoke_ok("zone", "grants", "shared", home=home).stdout)
    assert table == [["user", "access"]] + [[r["user"], r["access"]] for r in expected]
    invoke_ok("zone", "revoke", "shared", "bob", home=home)
    after = json.loads(invoke_ok("zone", "grants", "shared", "--format", "json", home=home).stdout)
    assert after == expected[:2]
    missing = invoke("zone", "grants", "ghost", home=home)
    assert missing.exit_code == 2 and missing.stderr.startswith("error: zone 'ghost'")


# -- zone status --------------------------------------------------------------------------------


def test_zone_status_lists_its_sources_in_three_formats(zones: tuple[Zone, Zone]) -> None:
    churn, _ = zones
    header, rows = csv_rows(
        invoke_ok("zone", "status", "churn", "--format", "csv", home=churn.home).stdout
    )
    assert header == ["source", "kind", "state", "why"]
    assert [(r["kind"], r["state"]) for r in rows] == [("files", "unchanged")]
    as_json = json.loads(
        invoke_ok("zone", "status", "churn", "--format", "json", home=churn.home).stdout
    )
    assert as_json["stale"] is False and as_json["sources"][0]["uri"] == rows[0]["source"]
    table = invoke_ok("zone", "status", "churn", home=churn.home).stdout
    assert "zone churn v1: fresh" in table and table_rows(table)[1][1:3] == ["files", "unchanged"]


# -- airlock list -------------------------------------------------------------------------------


def hold(zone: Zone, name: str, out: Path) -> str:
    """A pending airlock request for a quarantined output `name`, as a sandbox session makes."""
    manifest = zone.store.manifest(zone.name)
    report = EgressReport(
        session="s" + name[:4],
        quarantined=[OutputFile(name, 42, "text", "ab" * 32)],
        findings=[Finding(name, "EMAIL_ADDRESS", "contact: <EMAIL_ADDRESS>", 2)],
    )
    provenance = Provenance(
        session=report.session,
        zone=zone.name,
        zone_id=manifest.id,
        zone_version=manifest.version,
        policy_sha256=manifest.policy.sha256,
        command="python",
        argv_sha256="cd" * 32,
        code_sha256=None,
        user="ada",
        uid=1000,
    )
    return hold_outputs(report, provenance, out, zone.home)[0].id


def test_airlock_list_in_three_formats(make_zone: MakeZone, tmp_path: Path) -> None:
    zone = make_zone("held")
    first = hold(zone, "emails.csv", tmp_path)
    second = hold(zone, "notes, draft.txt", tmp_path)
    home = zone.home
    header, rows = csv_rows(invoke_ok("airlock", "list", "--format", "csv", home=home).stdout)
    assert header == ["id", "created", "zone", "version", "name", "bytes", "user", "status"]
    assert {r["id"]: r["name"] for r in rows} == {first: "emails.csv", second: "notes, draft.txt"}
    assert {(r["zone"], r["version"], r["user"], r["status"]) for r in rows} == {
        ("held", "1", "ada", "pending")
    }
    as_json = json.loads(invoke_ok("airlock", "list", "--format", "json", home=home).stdout)
    assert {r["id"] for r in as_json} == {first, second}
    assert as_json[0]["provenance"]["zone"] == "held"  # JSON keeps the whole record
    assert json.loads(invoke_ok("airlock", "list", "--json", home=home).stdout) == as_json
    table = table_rows(invoke_ok("airlock", "list", home=home).stdout)
    assert table[0][0] == "id" and {row[0] for row in table[1:]} == {first, second}
    empty = invoke_ok("airlock", "list", "--zone", "other", "--format", "csv", home=home).stdout
    assert csv_rows(empty) == (header, [])


# -- zone gc --json -----------------------------------------------------------------------------


def test_zone_gc_json_says_what_went(make_zone: MakeZone) -> None:
    old = make_zone("old")
    home = old.home
    make_zone("held", home=home)
    make_zone("fresh", home=home)
    for name in ("old", "held"):
        old.store.update_manifest(name, expires="2000-01-01T00:00:00Z")
    set_hold("held", True, old.store)
    crashed = home / "zones" / ".staging" / "crashed.1"
    crashed.mkdir(parents=True)
    (crashed / "part.piiz").write_bytes(b"ciphertext")

    dry = invoke_ok("zone", "gc", "--dry-run", "--json", home=home)
    assert json.loads(dry.stdout) == {
        "dry_run": True,
        "destroyed": [],
        "would_destroy": ["old"],
        "held": ["held"],
        "others": [],
        "stale_staging": 0,
        "shreds_finished": 0,
    }
    assert old.store.names() == ["fresh", "held", "old"] and crashed.exists()

    refused = invoke("zone", "gc", "--json", home=home)  # no terminal, no --yes: exit 2 as before
    assert refused.exit_code == 2 and refused.stdout == "" and "--yes" in refused.stderr

    done = invoke_ok("zone", "gc", "--yes", "--json", home=home)
    assert json.loads(done.stdout) == {
        "dry_run": False,
        "destroyed": ["old"],
        "would_destroy": [],
        "held": ["held"],
        "others": [],
        "stale_staging": 1,
        "shreds_finished": 0,
    }
    assert old.store.names() == ["fresh", "held"] and not crashed.exists()
    again = json.loads(invoke_ok("zone", "gc", "--yes", "--json", home=home).stdout)
    assert again["destroyed"] == [] and again["stale_staging"] == 0


# -- CSV cells ----------------------------------------------------------------------------------


def test_csv_cells_are_flat(capsys: pytest.CaptureFixture[str]) -> None:
    echo_csv(("zone", "grants", "note"), [("churn", ["ada", "bob"], None), ("fraud", [], "a,b")])
    assert capsys.readouterr().out.splitlines() == [
        "zone,grants,note",
        "churn,ada;bob,",
        'fraud,,"a,b"',
    ]
