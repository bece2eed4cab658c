"""`piizone audit ropa` and `audit log --zone` by zone id, `zone create --lawful-basis`, the
[ropa] contacts in config.toml and the RoPA's markdown, html and json forms (issue 16 point 7).

Real zones, made through the CLI from the first rows of sample_data/customers.csv.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from piizone.zones import audit
from piizone.zones.storage.store import ZoneStore
from tests.cli.conftest import invoke, invoke_ok
from tests.conftest import REPO

SAMPLE = REPO / "sample_data" / "customers.csv"
# Values from those rows: none may appear in any form of the RoPA.
PII = ("Devin Sparks", "devin.sparks@yahoo.com", "780-64-0935", "Trevor Fritz")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The header and first 4 rows of sample_data/customers.csv."""
    path = tmp_path / "src" / "customers.csv"
    path.parent.mkdir()
    path.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:5]))
    return path


@pytest.fixture
def home(piizone_home: Path) -> Path:
    invoke_ok("init")
    return piizone_home


def create(name: str, source: Path, *extra: str) -> None:
    invoke_ok("zone", "create", name, "--from", str(source), *extra)


def ropa_json(name: str) -> dict:
    result = invoke_ok("audit", "ropa", name, "--json")
    return json.loads(result.stdout)


def test_lawful_basis_is_stored_shown_and_kept_by_refresh(home: Path, source: Path) -> None:
    create("churn", source, "--purpose", "churn model", "--lawful-basis", "legitimate_interests")
    store = ZoneStore(home)
    assert store.manifest("churn").lawful_basis == "legitimate_interests"
    shown = json.loads(invoke_ok("zone", "show", "churn", "--json").stdout)
    assert shown["lawful_basis"] == "legitimate_interests"
    text = invoke_ok("audit", "ropa", "churn").stdout
    assert "Lawful basis: Legitimate interests (GDPR Art. 6(1)(f))" in text
    assert ropa_json("churn")["lawful_basis"] == "legitimate_interests"
    invoke_ok("zone", "refresh", "churn", "--force")
    assert store.manifest("churn").version == 2
    assert store.manifest("churn").lawful_basis == "legitimate_interests"


def test_no_lawful_basis_is_left_out_of_the_manifest_and_said(home: Path, source: Path) -> None:
    create("churn", source)
    manifest = ZoneStore(home).current_dir("churn") / "manifest.json"
    assert "lawful_basis" not in json.loads(manifest.read_text())
    text = invoke_ok("audit", "ropa", "churn").stdout
    assert "Lawful basis: not recorded — set with `zone create --lawful-basis`" in text
    assert ropa_json("churn")["lawful_basis"] is None


def test_an_unknown_lawful_basis_is_a_usage_error(home: Path, source: Path) -> None:
    result = invoke("zone", "create", "churn", "--from", str(source), "--lawful-basis", "because")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--lawful-basis" in result.stderr and "'because'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not ZoneStore(home).exists("churn")


def test_ropa_and_log_match_records_by_zone_id_not_name(home: Path, source: Path) -> None:
    """Create Z, grant and destroy it, create Z again: only the second zone's records count."""
    create("z", source, "--purpose", "first")
    first_id = ZoneStore(home).manifest("z").id
    invoke_ok("zone", "grant", "z", "alice")
    invoke_ok("zone", "destroy", "z", "--yes")
    create("z", source, "--purpose", "second")
    second_id = ZoneStore(home).manifest("z").id
    invoke_ok("zone", "grant", "z", "bob")

    facts = ropa_json("z")
    assert facts["zone"]["id"] == second_id and facts["purpose"] == "second"
    assert facts["recipients"] == {"owner": facts["owner"], "grantees": ["bob"]}
    (me,) = facts["access"]
    assert me["actions"] == ["zone.create", "zone.grant"] and me["records"] == 2
    text = invoke_ok("audit", "ropa", "z").stdout
    assert "Granted users: bob" in text and "alice" not in text and "zone.destroy" not in text
    assert "| audit.ropa, zone.create, zone.grant | 3 | 0 |" in text  # + the JSON run

    # audit log --zone: the current zone (its create, grant and the RoPA runs) only.
    current = json.loads(invoke_ok("audit", "log", "--zone", "z", "--json").stdout)
    assert [r["action"] for r in current] == [
        "zone.create",
        "zone.grant",
        "audit.ropa",
        "audit.ropa",
    ]
    assert current[0]["details"]["zone_id"] == second_id and "zone_id" not in current[0]
    table = invoke_ok("audit", "log", "--zone", "z").stdout
    assert "zone.destroy" not in table and "alice" not in table

    every = json.loads(
        invoke_ok("audit", "log", "--zone", "z", "--include-destroyed", "--json").stdout
    )
    by_action = [(r["action"], r["zone_id"]) for r in every]
    assert by_action[:3] == [
        ("zone.create", first_id),
        ("zone.grant", first_id),
        ("zone.destroy", first_id),
    ]
    assert by_action[3:] == [(r["action"], second_id) for r in current]
    table = invoke_ok("audit", "log", "--zone", "z", "--include-destroyed").stdout
    assert "zone id" in table and first_id in table and second_id in table
    assert "zone.destroy" in table


def test_records_without_zone_ids_are_split_by_create_and_destroy(piizone_home: Path) -> None:
    """Records written before create records carried the zone id: the log's zone.create and
    zone.destroy still bound each zone's life; a name with no zone now shows no destroyed
    zone's records, and an attempt on a name outside any life belongs to no zone."""
    audit.record("zone.show", zone="old", outcome="failure")  # before any zone of the name
    audit.record("zone.create", zone="old", details={"version": 1})
    audit.record("zone.open", zone="old")
    audit.record("zone.destroy", zone="old", details={"versions": 1})
    default = json.loads(invoke_ok("audit", "log", "--zone", "old", "--json").stdout)
    assert [r["action"] for r in default] == ["zone.show"]
    hint = invoke_ok("audit", "log", "--zone", "old", "--action", "zone.open").stdout
    assert hint == (
        "no audit records match; 1 of destroyed zones named old: add --include-destroyed\n"
    )
    every = json.loads(
        invoke_ok("audit", "log", "--zone", "old", "--include-destroyed", "--json").stdout
    )
    assert [(r["action"], r["zone_id"]) for r in every] == [
        ("zone.show", None),
        ("zone.create", None),
        ("zone.open", None),
        ("zone.destroy", None),
    ]


def test_include_destroyed_needs_a_zone(home: Path) -> None:
    result = invoke("audit", "log", "--include-destroyed")
    assert result.exit_code == 2 and "--include-destroyed needs --zone" in result.stderr


def test_controller_and_dpo_contact_come_from_config(home: Path, source: Path) -> None:
    create("churn", source)
    text = invoke_ok("audit", "ropa", "churn").stdout
    hint = (
        "- Controller and DPO contact: not configured — set `controller`, `controller_contact` "
        "and `dpo_contact` under `[ropa]` in $PIIZONE_HOME/config.toml"
    )
    assert hint in text
    assert ropa_json("churn")["controller"] == {"name": None, "contact": None, "dpo_contact": None}

    config = home / "config.toml"
    config.write_text(
        config.read_text()
        + '\n[ropa]\ncontroller = "Acme <Data> Ltd"\ndpo_contact = "dpo@acme.example"\n'
    )
    text = invoke_ok("audit", "ropa", "churn").stdout
    assert "- Controller: Acme <Data> Ltd" in text
    assert "- Controller contact: not configured (`[ropa] controller_contact`)" in text
    assert "- Data protection officer (DPO) contact: dpo@acme.example" in text
    assert "not configured — set" not in text
    assert ropa_json("churn")["controller"] == {
        "name": "Acme <Data> Ltd",
        "contact": None,
        "dpo_contact": "dpo@acme.example",
    }
    page = invoke_ok("audit", "ropa", "churn", "--format", "html").stdout
    assert "Acme &lt;Data&gt; Ltd" in page and "<Data>" not in page


def test_a_bad_ropa_section_is_one_error_line(home: Path, source: Path) -> None:
    create("churn", source)
    config = home / "config.toml"
    config.write_text(config.read_text() + '\n[ropa]\ncontroler = "typo"\n')
    result = invoke("audit", "ropa", "churn")
    assert result.exit_code != 0 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "ropa.controler" in result.stderr
    assert "Traceback" not in result.stderr


def test_ropa_formats_say_the_same_facts(home: Path, source: Path, tmp_path: Path) -> None:
    create("churn", source, "--purpose", "churn <b>model</b>", "--lawful-basis", "contract")
    invoke_ok("zone", "grant", "churn", "bob")
    facts = ropa_json("churn")
    assert facts["format"] == "piizone-ropa" and facts["ropa_version"] == 1
    # --json is --format json; the runs in between are audited, so compare the stable parts.
    again = json.loads(invoke_ok("audit", "ropa", "churn", "-f", "json").stdout)
    for key in ("zone", "purpose", "lawful_basis", "recipients", "personal_data", "retention"):
        assert again[key] == facts[key]
    types = {c["entity_type"] for c in facts["personal_data"]["categories"]}
    assert {"PERSON", "EMAIL_ADDRESS"} <= types
    assert facts["data_subjects"]["found"] and set(facts["data_subjects"]["evidence"]) == types
    assert facts["recipients"]["grantees"] == ["bob"]
    assert facts["retention"]["expires"] == ZoneStore(home).manifest("churn").expires
    assert set(facts["safeguards"]) >= {"encryption", "sandbox", "egress_checks", "audit"}
    assert facts["released_artifacts"] == []

    markdown = invoke_ok("audit", "ropa", "churn").stdout
    assert markdown.startswith("# Record of processing — zone `churn`")
    page_file = tmp_path / "ropa.html"
    invoke_ok("audit", "ropa", "churn", "--format", "html", "-o", str(page_file))
    page = page_file.read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http" not in page  # self-contained, nothing fetched
    assert "churn &lt;b&gt;model&lt;/b&gt;" in page and "<b>model" not in page
    assert "Performance of a contract (GDPR Art. 6(1)(b))" in page
    assert "<h2>7. Recipients and access</h2>" in page and "Granted users: bob" in page
    for text in (markdown, page, json.dumps(facts)):
        for value in PII:
            assert value not in text
    records = [r for r in audit.open_audit_log(home).records() if r["action"] == "audit.ropa"]
    assert [r["details"]["format"] for r in records][-4:] == ["json", "json", "markdown", "html"]


def test_an_unknown_ropa_format_is_a_usage_error(home: Path, source: Path) -> None:
    create("churn", source)
    result = invoke("audit", "ropa", "churn", "--format", "pdf")
    assert result.exit_code == 2 and result.stdout == "" and "'pdf'" in result.stderr


def test_html_ropa_masks_a_query_source(home: Path, tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE people (name TEXT, email TEXT)")
        con.execute("INSERT INTO people VALUES ('Devin Sparks', 'devin.sparks@yahoo.com')")
    query = "SELECT name, email FROM people WHERE email = 'devin.sparks@yahoo.com'"
    invoke_ok("zone", "create", "crm", "--from", f"sqlite:///{db}?query={query}")
    for fmt in ("html", "json", "markdown"):
        text = invoke_ok("audit", "ropa", "crm", "--format", fmt).stdout
        assert "query=sha256:" in text and "devin.sparks" not in text and "Devin" not in text


def test_log_formats(home: Path, source: Path) -> None:
    create("churn", source)
    invoke_ok("zone", "grant", "churn", "bob")
    as_json = json.loads(invoke_ok("audit", "log", "--zone", "churn", "--format", "json").stdout)
    assert as_json == json.loads(invoke_ok("audit", "log", "--zone", "churn", "--json").stdout)
    assert [r["action"] for r in as_json] == ["zone.create", "zone.grant"]
    rows = list(
        csv.reader(io.StringIO(invoke_ok("audit", "log", "-z", "churn", "-f", "csv").stdout))
    )
    assert rows[0] == ["seq", "time (UTC)", "user", "action", "zone", "outcome", "details"]
    assert [(r[3], r[4], r[5]) for r in rows[1:]] == [
        ("zone.create", "churn", "success"),
        ("zone.grant", "churn", "success"),
    ]
    assert rows[2][6] == "user=bob" and str(as_json[1]["seq"]) == rows[2][0]
    table = invoke_ok("audit", "log", "--zone", "churn", "--format", "table").stdout
    assert "zone.grant" in table and "user=bob" in table
    bad = invoke("audit", "log", "--format", "xml")
    assert bad.exit_code == 2 and "'xml'" in bad.stderr
