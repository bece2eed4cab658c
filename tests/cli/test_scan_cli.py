"""`piizone scan` end to end on the real sample files, every report format and bad input."""

from __future__ import annotations

import codecs
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from tests.conftest import PEAK_RSS_KB, SAMPLE_DATA

IDENTIFIERS = {
    "full_name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "ssn": "US_SSN",
    "date_of_birth": "DATE_OF_BIRTH",
    "street_address": "STREET_ADDRESS",
}
CLEAN = ["customer_id", "plan", "monthly_spend", "tenure_months", "churned"]


def scan(*args: str):
    return invoke("scan", *args)


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("report") / "scan.json"
    result = scan(str(SAMPLE_DATA), "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return json.loads(out.read_text())


def source(report: dict, name: str) -> dict:
    return next(s for s in report["sources"] if s["path"].endswith(name))


def test_report_shape(sample_report):
    assert sample_report["version"] == 1
    assert sample_report["risk"] == "high"
    for s in sample_report["sources"]:
        assert {"path", "kind", "rows", "columns", "entities"} <= s.keys()
        assert s["kind"] in ("table", "text")
        if s["kind"] == "text":
            assert s["columns"] == []
    assert sum(sample_report["totals"].values()) > 0
    assert {
        "path": str(SAMPLE_DATA / "generate.py"),
        "reason": "unsupported format (.py)",
    } in sample_report["skipped"]


def test_customers_identifier_columns_classified_and_clean_columns_not(sample_report):
    columns = {c["name"]: c for c in source(sample_report, "customers.csv")["columns"]}
    for name, entity in IDENTIFIERS.items():
        assert columns[name]["classification"] == entity, name
        assert columns[name]["entities"] == {entity: 500}
    for name in CLEAN:
        assert columns[name]["classification"] is None, name
        assert columns[name]["entities"] == {}, name
    notes = columns["notes"]
    assert notes["kind"] == "free_text"
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"} <= notes["entities"].keys()


def test_other_tables(sample_report):
    tx = {c["name"]: c for c in source(sample_report, "transactions.parquet")["columns"]}
    assert tx["card_number"]["classification"] == "CREDIT_CARD"
    assert tx["ip_address"]["classification"] == "IP_ADDRESS"
    assert tx["amount"]["classification"] is None
    tickets = {c["name"]: c for c in source(sample_report, "support_tickets.jsonl")["columns"]}
    assert tickets["customer_email"]["classification"] == "EMAIL_ADDRESS"
    assert tickets["body"]["kind"] == "free_text"
    assert {"EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS"} <= tickets["body"]["entities"].keys()


def test_transcripts_including_spoken_digits(sample_report):
    transcripts = [s for s in sample_report["sources"] if "call_transcripts" in s["path"]]
    assert len(transcripts) == 12
    # Even-numbered calls are ASR-style: lowercase, digits spoken as words, split across turns.
    asr = [s for s in transcripts if int(Path(s["path"]).stem[-3:]) % 2 == 0]
    asr_cards = sum(s["entities"].get("CREDIT_CARD", 0) for s in asr)
    asr_emails = sum(s["entities"].get("EMAIL_ADDRESS", 0) for s in asr)
    assert asr_cards >= 4 and asr_emails >= 4
    text = (SAMPLE_DATA / "call_transcripts" / "call_006.txt").read_text()
    assert "four two one one eight one seven six" in text  # the spoken card the report must find
    call6 = source(sample_report, "call_006.txt")
    assert call6["entities"].get("CREDIT_CARD", 0) >= 2  # both halves of the split number
    assert call6["entities"].get("US_SSN", 0) >= 1  # "two six three nine" after "last four"


def test_report_never_contains_raw_values(sample_report):
    dumped = json.dumps(sample_report)
    with open(SAMPLE_DATA / "customers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for column in ("full_name", "email", "phone", "ssn", "street_address"):
            assert row[column] not in dumped, column
    samples = [x["context"] for s in sample_report["sources"] for x in s["samples"]]
    assert samples and any("*" in c for c in samples)


def test_formats(tmp_path):
    target = str(SAMPLE_DATA / "call_transcripts" / "call_001.txt")
    html = tmp_path / "r.html"
    assert scan(target, "--format", "html", "-o", str(html)).exit_code == 0
    page = html.read_text()
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script" not in page
    md = scan(target, "--format", "markdown")
    assert md.exit_code == 0 and md.stdout.startswith("# piizone scan report")
    table = scan(target)
    assert table.exit_code == 0 and "Overall risk" in table.stdout
    assert json.loads(scan(target, "--json").stdout)["version"] == 1


@pytest.mark.parametrize(("fail_on", "code"), [("none", 0), ("high", 1), ("medium", 1)])
def test_fail_on(fail_on, code):
    result = scan(
        str(SAMPLE_DATA / "call_transcripts" / "call_001.txt"), "--fail-on", fail_on, "--json"
    )
    assert result.exit_code == code


def test_fail_on_clean_data_passes(tmp_path):
    path = tmp_path / "clean.csv"
    path.write_text("plan,amount\nbasic,1.5\nplus,2.5\n")
    assert scan(str(path), "--fail-on", "low", "--json").exit_code == 0


def one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert all(ln.startswith(("error: ", "hint: ", "warning: ")) for ln in lines)
    return lines[0]


def json_errors(result) -> list[dict]:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and "Traceback" not in result.stderr
    return [json.loads(ln) for ln in lines]


def test_missing_path(tmp_path):
    result = scan(str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "no such file or directory" in one_error_line(result)


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,email\nAnn,a@example.com\nBo,b@example.com,extra\n")
    result = scan(str(path))
    assert result.exit_code == 2
    assert "malformed CSV: Expected 2 fields in line 3" in one_error_line(result)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = scan(str(path), "--format", "markdown")
    assert result.exit_code == 2
    assert one_error_line(result).endswith("empty.csv: empty file")


def test_empty_file_in_a_directory_is_skipped(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01binary")
    (tmp_path / "ok.txt").write_text("nothing personal here")
    result = scan(str(tmp_path), "--json")
    assert result.exit_code == 0
    reasons = {Path(x["path"]).name: x["reason"] for x in json.loads(result.stdout)["skipped"]}
    assert reasons == {"empty.txt": "empty file", "blob.txt": "binary content"}


def test_invalid_utf8_scans_the_rest_and_says_so(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"caf\xe9 \xff order. Email jane.roe@example.com for details.\n")
    result = scan(str(path), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["sources"][0]["entities"]["EMAIL_ADDRESS"] == 1
    # Every error is in the JSON report's errors, and on stderr as JSON.
    assert "2 bytes were not valid UTF-8" in report["errors"][0]["error"]
    errors = json_errors(result)
    assert errors == [{"level": "error", **report["errors"][0]}]


def test_invalid_bytes_in_utf16_name_the_detected_encoding(tmp_path):
    # A UTF-16 file ending in a lone surrogate: the warning named UTF-8 (issue 13, finding 6).
    text = "Email jane.roe@example.com for details.\n".encode("utf-16-le")
    path = tmp_path / "wide.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text + "\ud800".encode("utf-16-le", "surrogatepass"))
    result = scan(str(path), "--json")
    assert result.exit_code == 2
    [error] = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert error["level"] == "error"  # with --json, errors are JSON lines on stderr too
    assert "2 bytes were not valid UTF-16-LE" in error["error"] and "UTF-8" not in error["error"]
    assert json.loads(result.stdout)["sources"][0]["entities"]["EMAIL_ADDRESS"] == 1


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux setpriv")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("a\n1\n")
    path.chmod(0)
    cmd = [sys.executable, "-m", "piizone.cli.main", "scan", str(path), "--format", "markdown"]
    if os.geteuid() == 0:
        # root reads anything; without these capabilities it is bound by the mode bits like anyone.
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[0] == f"error: {path}: permission denied"


def test_fifty_megabyte_single_line_in_bounded_memory(tmp_path):
    path = tmp_path / "one-line.txt"
    blob = b"Zm9vYmFy" * 1024  # 8 KiB of base64-looking text, no newline anywhere
    with open(path, "wb") as f:
        for i in range(6400):
            f.write(blob)
            if i % 1000 == 0:
                f.write(b" contact ops%d@example.com " % i)
    assert path.stat().st_size > 50_000_000
    probe = PEAK_RSS_KB + (
        "import sys\n"
        "from piizone.cli.main import main\n"
        "try:\n    main()\n"
        "finally:\n"
        "    print('maxrss_kb', peak_rss_kb(), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "scan", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sources"][0]["entities"] == {"EMAIL_ADDRESS": 7}
    maxrss_mb = int(result.stderr.split("maxrss_kb")[1].split()[0]) / 1024
    # The model alone is ~300 MB; reading the file whole would add 50 MB of bytes plus ~200 MB
    # of str, and spaCy on one 50 MB doc several GB.
    assert maxrss_mb < 800, maxrss_mb


def test_workers_give_the_same_report():
    target = str(SAMPLE_DATA / "support_tickets.jsonl")
    one = json.loads(scan(target, "--json", "--workers", "1").stdout)
    two = json.loads(scan(target, "--json", "--workers", "2").stdout)
    for report in (one, two):
        report.pop("generated_at"), report.pop("duration_s")
    assert one == two and one["totals"]


@pytest.fixture
def gate_inputs(tmp_path):
    """cust.csv.gz, cust.xlsx and noext: the three files a gate once skipped with exit 0."""
    import gzip

    from openpyxl import Workbook

    rows = "name,email,ssn\nJane Roe,jane.roe@example.com,536-22-8727\n"
    (tmp_path / "cust.csv.gz").write_bytes(gzip.compress(rows.encode()))
    book = Workbook()
    book.active.append(["name", "email", "ssn"])
    book.active.append(["John Carter", "john.carter@example.org", "536-22-8727"])
    book.save(tmp_path / "cust.xlsx")
    (tmp_path / "noext").write_text(rows)
    return tmp_path


def test_the_gate_is_not_fooled_by_files_it_cannot_read(gate_inputs):
    paths = [str(gate_inputs / n) for n in ("cust.csv.gz", "cust.xlsx", "noext")]
    result = scan(*paths, "--fail-on", "high", "--json")
    assert result.exit_code == 2  # never 0 with risk none
    report = json.loads(result.stdout)
    scanned = {Path(s["path"]).name: s for s in report["sources"]}
    assert scanned["cust.csv.gz"]["format"] == "csv" and scanned["cust.xlsx"]["format"] == "xlsx"
    for s in scanned.values():
        assert {"EMAIL_ADDRESS", "US_SSN"} <= set(s["entities"])
    assert report["risk"] == "high"
    assert report["errors"] == [
        {"path": str(gate_inputs / "noext"), "error": "unsupported format (no extension)"}
    ]
    assert json_errors(result)[0]["path"].endswith("noext")
    accepted = scan(*paths[2:], "--skip-unsupported", "--fail-on", "high", "--json")
    assert accepted.exit_code == 0
    assert json.loads(accepted.stdout)["skipped"][0]["path"].endswith("noext")


def test_unscanned_files_in_a_directory_fail_the_gate_unless_accepted(tmp_path):
    (tmp_path / "clean.csv").write_text("plan,amount\nbasic,1.5\n")
    (tmp_path / "dump.bin").write_bytes(b"name,email\n")
    failed = scan(str(tmp_path), "--fail-on", "high")
    assert failed.exit_code == 1 and "1 file(s) were not scanned" in failed.stderr
    assert scan(str(tmp_path)).exit_code == 0
    assert scan(str(tmp_path), "--fail-on", "high", "--skip-unsupported").exit_code == 0


def test_a_missing_path_is_reported_with_the_rest(tmp_path):
    ok = tmp_path / "note.txt"
    ok.write_text("Mail jane.roe@example.com\n")
    result = scan(str(tmp_path / "nope.csv"), str(ok), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["sources"][0]["entities"] == {"EMAIL_ADDRESS": 1}
    assert report["errors"] == [
        {"path": str(tmp_path / "nope.csv"), "error": "no such file or directory"}
    ]
    assert json_errors(result) == [{"level": "error", **report["errors"][0]}]


def test_compressed_and_corrupt_inputs(tmp_path):
    import bz2

    import zstandard

    text = b"Mail jane.roe@example.com\n"
    (tmp_path / "a.txt.bz2").write_bytes(bz2.compress(text))
    (tmp_path / "b.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(b'{"email": "jo.doe@example.net"}\n')
    )
    (tmp_path / "c.csv.gz").write_bytes(b"\x1f\x8b not really gzip")
    result = scan(*(str(tmp_path / n) for n in ("a.txt.bz2", "b.jsonl.zst", "c.csv.gz")), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [s["entities"] for s in report["sources"]] == [{"EMAIL_ADDRESS": 1}] * 2
    assert report["errors"][0]["path"].endswith("c.csv.gz")
    assert "corrupt or truncated gzip data" in report["errors"][0]["error"]


def test_policy_errors_are_json_on_stderr_with_json(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\nentities:\n  PERSN: {}\n")
    result = scan(str(tmp_path), "--policy", str(bad), "--json")
    assert result.exit_code == 2
    (error,) = json_errors(result)
    assert "entities.PERSN: unknown entity" in error["error"]


SARIF_REQUIRED = {"version", "$schema", "runs"}


def test_sarif_has_the_required_shape_and_no_raw_values(tmp_path):
    target = SAMPLE_DATA / "customers.csv"
    out = tmp_path / "scan.sarif"
    result = scan(str(target), "--format", "sarif", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    sarif = json.loads(text)
    assert sarif.keys() >= SARIF_REQUIRED and sarif["version"] == "2.1.0"
    assert "sarif-2.1.0" in sarif["$schema"]
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "piizone"
    rule_ids = {r["id"] for r in driver["rules"]}
    assert {"EMAIL_ADDRESS", "US_SSN"} <= rule_ids
    assert run["results"]
    for r in run["results"]:
        assert r["ruleId"] in rule_ids
        assert r["level"] in ("none", "note", "warning", "error")
        assert r["message"]["text"]
        (loc,) = r["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith("customers.csv")
        assert loc["physicalLocation"]["region"]["startLine"] >= 2  # after the header
    with open(target, newline="") as f:
        values = [
            v for row in list(csv.DictReader(f))[:50] for k, v in row.items() if k in IDENTIFIERS
        ]
    assert not [v for v in values if v and v in text]


def test_a_baseline_accepts_known_findings_but_not_new_ones(tmp_path):
    data = tmp_path / "people.csv"
    data.write_text("name,email\nJane Roe,jane.roe@example.com\n")
    baseline = tmp_path / ".piizone-baseline.json"
    assert scan(str(data), "--fail-on", "low", "--json").exit_code == 1
    made = scan(str(data), "--baseline", str(baseline), "--update-baseline", "--fail-on", "low")
    assert made.exit_code == 0, made.stderr
    stored = baseline.read_text()
    assert "jane.roe" not in stored and "Jane Roe" not in stored
    assert {f["entity"] for f in json.loads(stored)["findings"]} >= {"EMAIL_ADDRESS"}
    again = scan(str(data), "--baseline", str(baseline), "--fail-on", "low", "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["baseline"]["new"] == {}
    relative = scan(os.path.relpath(data), "--baseline", str(baseline), "--fail-on", "low")
    assert relative.exit_code == 0  # the same file named another way is the same file
    with data.open("a") as f:
        f.write("Ann Lee,ann.lee@example.org\n")
    grown = scan(str(data), "--baseline", str(baseline), "--fail-on", "low", "--json")
    assert grown.exit_code == 1
    assert json.loads(grown.stdout)["baseline"]["new"]["EMAIL_ADDRESS"] == 1
    missing = scan(str(data), "--baseline", str(tmp_path / "none.json"))
    assert missing.exit_code == 2 and "no such baseline" in missing.stderr


def test_an_unreadable_file_in_a_directory_is_an_error_not_a_skip(tmp_path):
    (tmp_path / "broken.txt.gz").write_bytes(b"\x1f\x8b\x08\x00 truncated")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01binary")
    result = scan(str(tmp_path), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert [Path(x["path"]).name for x in report["errors"]] == ["broken.txt.gz"]
    assert [Path(x["path"]).name for x in report["skipped"]] == ["blob.txt"]
