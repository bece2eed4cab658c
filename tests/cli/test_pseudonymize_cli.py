"""Training-friendly defaults through the CLI (issue 16, point 2): identifier columns are
pseudonymized so joins survive, `redact` without a key says so and replaces, explicit operators
win, and `scan` proposes the policy lines that would change a column (`--suggest-policy`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from piizone.scrubbers.operators import pseudonym_token
from piizone.scrubbers.policy import load_policy
from piizone.zones.storage.keys import ensure_pseudonym_key
from tests.cli.conftest import invoke, invoke_ok
from tests.conftest import SAMPLE_DATA

TOKEN = r"<{}_[0-9a-f]{{8}}>"


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    """The first 25 customers and every support ticket of one of them or of a stranger."""
    customers = pd.read_csv(SAMPLE_DATA / "customers.csv", dtype=str).head(25)
    c = tmp_path / "customers.csv"
    customers.to_csv(c, index=False)
    tickets = pd.read_json(SAMPLE_DATA / "support_tickets.jsonl", lines=True, dtype=False)
    mine = tickets[tickets["customer_email"].isin(customers["email"])]
    stranger = tickets[~tickets["customer_email"].isin(customers["email"])].head(5)
    t = tmp_path / "tickets.jsonl"
    pd.concat([mine, stranger]).to_json(t, orient="records", lines=True)
    return c, t


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_a_join_survives_two_files_redacted_with_the_same_key(
    piizone_home: Path, tables: tuple[Path, Path], tmp_path: Path
) -> None:
    customers, tickets = tables
    invoke_ok("init")
    key = ensure_pseudonym_key(piizone_home)
    out_c, out_t = tmp_path / "c.csv", tmp_path / "t.jsonl"
    first = invoke_ok("redact", str(customers), "-o", str(out_c))
    invoke_ok("redact", str(tickets), "-o", str(out_t))
    assert "warning" not in first.stderr  # the key exists: no fallback note

    raw_c, raw_t = read_csv(customers), read_jsonl(tickets)
    red_c, red_t = read_csv(out_c), read_jsonl(out_t)
    # The same email gives the same token in both files (and the token `init`'s key makes).
    assert [r["email"] for r in red_c] == [
        pseudonym_token(key, "EMAIL_ADDRESS", r["email"]) for r in raw_c
    ]
    assert [r["customer_email"] for r in red_t] == [
        pseudonym_token(key, "EMAIL_ADDRESS", r["customer_email"]) for r in raw_t
    ]
    raw_join = pd.DataFrame(raw_t).merge(
        pd.DataFrame(raw_c), left_on="customer_email", right_on="email"
    )
    red_join = pd.DataFrame(red_t).merge(
        pd.DataFrame(red_c), left_on="customer_email", right_on="email"
    )
    assert len(raw_join) > 0 and len(red_join) == len(raw_join)
    assert len(red_t) > len(red_join)  # the strangers' tickets join nobody, as before
    # Per-customer counts survive too; raw values are gone from both outputs.
    assert sorted(raw_join.groupby("email").size()) == sorted(red_join.groupby("email").size())
    text = out_c.read_text("utf-8") + out_t.read_text("utf-8")
    for row in raw_c:
        for column in ("email", "ssn", "phone", "full_name"):
            assert row[column] not in text
    for row in raw_t:
        assert row["customer_email"] not in text


def test_without_a_key_redact_says_so_in_one_line_and_replaces(
    piizone_home: Path, tables: tuple[Path, Path], tmp_path: Path
) -> None:
    customers, _ = tables
    out = tmp_path / "c.csv"
    result = invoke("redact", str(customers), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    notes = [ln for ln in result.stderr.splitlines() if "pseudonym key" in ln]
    assert len(notes) == 1 and notes[0].startswith("warning: no pseudonym key")
    assert "piizone init" in notes[0] and "replace" in notes[0]
    rows = read_csv(out)
    assert {r["email"] for r in rows} == {"<EMAIL_ADDRESS>"}
    assert {r["ssn"] for r in rows} == {"<US_SSN>"}
    # A text file has no identifier columns: nothing falls back, nothing to say.
    note = tmp_path / "note.txt"
    note.write_text("Call Jane Doe at jane.doe@example.com\n")
    text = invoke("redact", str(note), "-o", str(tmp_path / "note.out.txt"))
    assert text.exit_code == 0 and "pseudonym key" not in text.stderr
    # With --json the note is in the summary's warnings: stderr stays one JSON line.
    as_json = invoke("redact", str(customers), "-o", str(tmp_path / "j.csv"), "--json")
    assert as_json.exit_code == 0
    summary = json.loads(as_json.stderr)
    assert any("no pseudonym key" in w for w in summary["warnings"])


def test_an_explicit_operator_wins_over_the_identifier_default(
    piizone_home: Path, tables: tuple[Path, Path], tmp_path: Path
) -> None:
    customers, _ = tables
    invoke_ok("init")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\n"
        "entities:\n"
        "  EMAIL_ADDRESS: {operator: {type: mask, chars: 4, from_end: true}}\n"
        "  DATE_OF_BIRTH: {operator: generalize}\n"
        "columns:\n"
        "  ssn: drop\n"
    )
    out = tmp_path / "c.csv"
    invoke_ok("redact", str(customers), "-o", str(out), "--policy", str(policy))
    raw, rows = read_csv(customers), read_csv(out)
    assert "ssn" not in rows[0]  # the column rule
    for r, b in zip(rows, raw, strict=True):
        assert r["email"] == b["email"][:-4] + "****"  # the entity's own operator
        assert r["date_of_birth"] == b["date_of_birth"][:4]
        assert pd.Series([r["phone"]]).str.fullmatch(TOKEN.format("PHONE_NUMBER")).all()

    off = tmp_path / "off.yaml"
    off.write_text("version: 1\nidentifier_columns: false\n")
    out_off = tmp_path / "off.csv"
    result = invoke_ok("redact", str(customers), "-o", str(out_off), "--policy", str(off))
    assert "pseudonym key" not in result.stderr
    assert {r["phone"] for r in read_csv(out_off)} == {"<PHONE_NUMBER>"}
    shown = invoke_ok("policy", "show", str(off))
    assert "identifier_columns" not in shown.stdout  # off: not in effect
    default = invoke_ok("policy", "show")
    assert "identifier_columns:\n  type: pseudonymize" in default.stdout


def test_policy_init_writes_the_identifier_setting(tmp_path: Path) -> None:
    out = tmp_path / "policy.yaml"
    invoke_ok("policy", "init", "-o", str(out))
    assert "\nidentifier_columns: pseudonymize\n" in out.read_text()
    assert load_policy(out).model.identifier_columns is not None


@pytest.fixture(scope="module")
def suggestion_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("suggest")
    pd.read_csv(SAMPLE_DATA / "customers.csv", dtype=str).head(40).to_csv(
        d / "customers.csv", index=False
    )
    frame = pd.read_parquet(SAMPLE_DATA / "transactions.parquet").head(200)
    frame[["transaction_id", "card_number", "merchant"]].to_parquet(d / "transactions.parquet")
    return d


def test_the_report_proposes_policy_lines_per_column(suggestion_inputs: Path) -> None:
    result = invoke("scan", str(suggestion_inputs), "--format", "json")
    assert result.exit_code == 0, result.stderr
    lines = {(s["column"], s["line"]) for s in json.loads(result.stdout)["suggestions"]}
    assert (
        "date_of_birth",
        "entities: {DATE_OF_BIRTH: {operator: {type: generalize, to: year}}}",
    ) in lines
    assert ("merchant", "columns: {merchant: keep}") in lines
    # The default already pseudonymizes identifier columns: nothing to propose for them.
    assert not any(column in ("email", "card_number") for column, _ in lines)

    table = invoke("scan", str(suggestion_inputs))
    assert table.exit_code == 0
    assert "Suggested policy lines" in table.stdout and "merchant: keep" in table.stdout
    html = invoke("scan", str(suggestion_inputs), "--format", "html")
    assert "Suggested policy lines" in html.stdout and "DATE_OF_BIRTH" in html.stdout
    markdown = invoke("scan", str(suggestion_inputs), "--format", "markdown")
    assert "## Suggested policy lines" in markdown.stdout


def test_a_policy_without_pseudonymize_gets_it_proposed(
    suggestion_inputs: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nidentifier_columns: false\n"
        "entities:\n  DATE_OF_BIRTH: {operator: date_shift}\n"
    )
    result = invoke("scan", str(suggestion_inputs), "--policy", str(policy), "--format", "json")
    assert result.exit_code == 0, result.stderr
    by_column = {s["column"]: s["line"] for s in json.loads(result.stdout)["suggestions"]}
    assert by_column["email"] == "identifier_columns: pseudonymize"
    assert by_column["card_number"] == "identifier_columns: pseudonymize"
    assert "date_of_birth" not in by_column  # the policy's own DATE_OF_BIRTH operator stands


def test_suggest_policy_writes_a_loadable_policy_and_never_overwrites(
    suggestion_inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "policy.yaml"
    result = invoke("scan", str(suggestion_inputs), "--suggest-policy", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Suggested policy lines" in result.stdout  # the report still goes to stdout
    assert f"wrote {out}" in result.stderr
    policy = load_policy(out)
    assert policy.operator_for("DATE_OF_BIRTH").type == "generalize"
    assert policy.column_rule("merchant") == "keep"
    assert invoke_ok("policy", "validate", str(out)).stdout.startswith(f"{out}: valid")
    # Scanned with it, nothing is left to propose.
    again = invoke("scan", str(suggestion_inputs), "--policy", str(out), "--format", "json")
    assert json.loads(again.stdout)["suggestions"] == []

    before = out.read_bytes()
    refused = invoke("scan", str(suggestion_inputs), "--suggest-policy", "-o", str(out))
    assert refused.exit_code == 2 and "already exists" in refused.stderr
    assert "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    assert out.read_bytes() == before
    missing_o = invoke("scan", str(suggestion_inputs), "--suggest-policy")
    assert missing_o.exit_code == 2 and "needs -o" in missing_o.stderr

    # --overwrite replaces it; a --policy's own settings are kept in what is written.
    mine = tmp_path / "mine.yaml"
    mine.write_text("version: 1\nname: mine\nentities:\n  PHONE_NUMBER: {threshold: 0.7}\n")
    replaced = invoke(
        "scan", str(suggestion_inputs), "--policy", str(mine), "--suggest-policy",
        "-o", str(out), "--overwrite",
    )  # fmt: skip
    assert replaced.exit_code == 0, replaced.stderr
    merged = load_policy(out)
    assert merged.model.name == "mine" and merged.threshold("PHONE_NUMBER") == 0.7
    assert merged.operator_for("DATE_OF_BIRTH").type == "generalize"
    # -o - writes the policy to stdout, and only it.
    printed = invoke("scan", str(suggestion_inputs), "--suggest-policy", "-o", "-")
    assert printed.exit_code == 0 and printed.stdout.startswith("# Suggested by")
    (tmp_path / "printed.yaml").write_text(printed.stdout)
    assert load_policy(tmp_path / "printed.yaml").column_rule("merchant") == "keep"
