"""`piizone scan` end to end on the real sample files, every report format and bad input."""

from __future__ import annotations

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


def test_missing_path(tmp_path):
    result = scan(str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "no such file or directory" in one_error_line(result)


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,email\nAnn,a@example.com\nBo,b@example.com,extra\n")
    result = scan(str(path), "--json")
    assert result.exit_code == 2
    assert "malformed CSV: Expected 2 fields in line 3" in one_error_line(result)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = scan(str(path), "--json")
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
    assert "2 bytes were not valid UTF-8" in one_error_line(result)
    report = json.loads(result.stdout)
    assert report["sources"][0]["entities"]["EMAIL_ADDRESS"] == 1


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux setpriv")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("a\n1\n")
    path.chmod(0)
    cmd = [sys.executable, "-m", "piizone.cli.main", "scan", str(path), "--json"]
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
