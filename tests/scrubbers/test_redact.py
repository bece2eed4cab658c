"""redact_file on every format: structure kept, PII gone, seams, stdio, atomicity, memory."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import LINE_BREAK
from piizone.scrubbers.operators import Redactor, pseudonym_token
from piizone.scrubbers.policy import load_policy, parse_policy
from piizone.scrubbers.redact import redact_file, redact_text
from tests.conftest import PEAK_RSS_KB, REPO, SAMPLE_DATA

KEY = bytes(range(32))
CUSTOM = """
default_operator: replace
entities:
  PERSON: {operator: fake}
  EMAIL_ADDRESS: {operator: pseudonymize}
  PHONE_NUMBER: {operator: {type: mask, chars: 4, from_end: true}}
  US_SSN: {operator: redact}
  CREDIT_CARD: {operator: {type: replace, value: "[card]"}}
columns:
  ssn: drop
  card_number: drop
  full_name: keep
  customer_id: {type: mask, chars: 1}
  phone: pseudonymize
  notes: scan
"""


@pytest.fixture(scope="module")
def default() -> Redactor:
    return Redactor(load_policy(), KEY)


@pytest.fixture(scope="module")
def custom() -> Redactor:
    return Redactor(parse_policy(CUSTOM), KEY)


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


@pytest.fixture(scope="module")
def customers(tmp_path_factory) -> Path:
    """The first 40 customers: every identifier column plus free-text notes, quick to redact."""
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    lines = (SAMPLE_DATA / "customers.csv").read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:41]), "utf-8")
    return path


PII_COLUMNS = ("full_name", "email", "phone", "ssn", "date_of_birth", "street_address")


def test_csv_default_policy(engine, default, customers: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = redact_file(customers, out, engine, default)
    before, after = read_csv(customers), read_csv(out)
    assert list(after[0]) == list(before[0])
    assert len(after) == len(before) == summary.rows == 40
    for b, a in zip(before, after, strict=True):
        assert a["customer_id"] == b["customer_id"]  # row order
        for column in ("plan", "monthly_spend", "tenure_months", "churned"):
            assert a[column] == b[column]
        for column in PII_COLUMNS:
            # identifier columns are pseudonymized by default (identifier_columns)
            assert re.fullmatch(r"<[A-Z_]+_[0-9a-f]{8}>", a[column]), column
    assert after[0]["email"] == pseudonym_token(KEY, "EMAIL_ADDRESS", before[0]["email"])
    assert after[0]["ssn"] == pseudonym_token(KEY, "US_SSN", before[0]["ssn"])
    data = out.read_text("utf-8")
    for row in before:
        for column in PII_COLUMNS:
            assert row[column] not in data
    assert summary.columns["email"] == "identifier EMAIL_ADDRESS"
    assert summary.columns["notes"] == "free_text"
    assert summary.entities["US_SSN"] == 40
    flat = json.dumps(summary.to_dict())
    assert not any(row[c] in flat for row in before for c in PII_COLUMNS)


def test_csv_custom_policy_drop_keep_and_operators(engine, custom, customers, tmp_path) -> None:
    out = tmp_path / "out.csv"
    summary = redact_file(customers, out, engine, custom)
    before, after = read_csv(customers), read_csv(out)
    assert "ssn" not in after[0] and list(after[0]) == [c for c in before[0] if c != "ssn"]
    assert summary.columns["ssn"] == "drop (policy)"
    for b, a in zip(before, after, strict=True):
        assert a["full_name"] == b["full_name"]  # keep
        assert a["customer_id"] == "*" + b["customer_id"][1:]
        assert re.fullmatch(r"<PHONE_NUMBER_[0-9a-f]{8}>", a["phone"])
        assert re.fullmatch(r"<EMAIL_ADDRESS_[0-9a-f]{8}>", a["email"])
        assert b["email"] not in out.read_text("utf-8")
    # The same phone in two files gets the same token: joins survive redaction.
    token = custom.apply_operator(
        custom.policy.column_rule("phone"), "PHONE_NUMBER", before[0]["phone"]
    )
    assert after[0]["phone"] == token


def test_clean_csv_is_byte_identical(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "clean.csv"
    content = 'sku,qty,price,label\r\nA-1,3,9.99,"red, large"\r\nB-2,,0.50,"say ""hi"""\r\n'
    src.write_bytes(content.encode())
    out = tmp_path / "out.csv"
    redact_file(src, out, engine, default)
    assert out.read_bytes() == src.read_bytes()


def test_header_only_csv(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "empty.csv"
    src.write_text("a,b\n")
    out = tmp_path / "out.csv"
    assert redact_file(src, out, engine, default).rows == 0
    assert out.read_text() == "a,b\n"


def test_tsv(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "people.tsv"
    rows = [
        (
            "Maria Garcia",
            "maria.garcia@example.com",
            "12",
            "Called from 415-555-0132 about billing",
        ),
        ("John Smith", "jsmith@example.org", "7", "Card 4111 1111 1111 1111 was declined twice"),
        ("Ann Lee", "ann.lee@example.net", "3", "No issue, just checking the plan"),
    ]
    src.write_text("name\temail\tcount\tnote\n" + "".join("\t".join(r) + "\n" for r in rows))
    out = tmp_path / "out.tsv"
    redact_file(src, out, engine, default)
    after = read_csv(out, "\t")
    assert [r["count"] for r in after] == ["12", "7", "3"]
    assert [r["email"] for r in after] == [
        pseudonym_token(KEY, "EMAIL_ADDRESS", r[1]) for r in rows
    ]
    data = out.read_text()
    for planted in ("maria.garcia", "415-555-0132", "4111 1111 1111 1111", "jsmith"):
        assert planted not in data


@pytest.fixture(scope="module")
def transactions(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "transactions.parquet"
    table = pq.read_table(SAMPLE_DATA / "transactions.parquet").slice(0, 300)
    pq.write_table(table, path)
    return path


def test_parquet_default_keeps_schema_and_non_strings(engine, default, transactions, tmp_path):
    out = tmp_path / "out.parquet"
    summary = redact_file(transactions, out, engine, default, chunk_rows=100)
    before, after = pq.read_table(transactions), pq.read_table(out)
    assert after.schema.equals(before.schema, check_metadata=True)
    assert summary.rows == after.num_rows == 300
    for column in ("transaction_id", "customer_id", "amount", "timestamp", "currency", "status"):
        assert after[column].equals(before[column]), column
    cards, ips = before["card_number"].to_pylist(), before["ip_address"].to_pylist()
    assert after["card_number"].to_pylist() == [
        pseudonym_token(KEY, "CREDIT_CARD", c) for c in cards
    ]
    assert after["ip_address"].to_pylist() == [pseudonym_token(KEY, "IP_ADDRESS", i) for i in ips]
    raw = out.read_bytes()
    assert not any(c.encode() in raw for c in before["card_number"].to_pylist()[:50])


def test_parquet_custom_drops_and_retypes(engine, custom, transactions, tmp_path) -> None:
    out = tmp_path / "out.parquet"
    redact_file(transactions, out, engine, custom, chunk_rows=128)
    before, after = pq.read_table(transactions), pq.read_table(out)
    assert "card_number" not in after.column_names
    assert after.column_names == [c for c in before.column_names if c != "card_number"]
    assert after.schema.field("customer_id").type == pa.string()  # a column rule made it text
    assert after["customer_id"].to_pylist() == [
        "*" + str(v)[1:] for v in before["customer_id"].to_pylist()
    ]
    assert after["timestamp"].equals(before["timestamp"])
    assert pq.read_table(out).to_pandas().shape == (300, len(before.column_names) - 1)


NESTED = [
    {
        "id": 1,
        "ok": True,
        "score": 0.25,
        "nil": None,
        "email": "maria.garcia@example.com",
        "contact": {"name": "Maria Garcia", "phones": ["call me on 415-555-0132 please"]},
        "jsmith@example.org": "the key is not redacted",
        "tags": ["vip", "billing"],
    },
    {
        "id": 2,
        "ok": False,
        "score": 1.5,
        "nil": None,
        "email": "john.smith@example.org",
        "contact": {"name": "My name is John Smith", "phones": []},
        "tags": [],
    },
]


def test_jsonl_nested_fields(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "records.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in NESTED))
    out = tmp_path / "out.jsonl"
    summary = redact_file(src, out, engine, default)
    after = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary.rows == 2
    for b, a in zip(NESTED, after, strict=True):
        assert list(a) == list(b)  # every field, in order
        for key in ("id", "ok", "score", "nil", "tags"):
            assert a[key] == b[key]
        assert a["email"] == pseudonym_token(KEY, "EMAIL_ADDRESS", b["email"])
        assert list(a["contact"]) == ["name", "phones"]
    assert after[0]["jsmith@example.org"] == "the key is not redacted"
    assert after[0]["contact"]["name"] == "<PERSON>"
    assert after[0]["contact"]["phones"] == ["call me on <PHONE_NUMBER> please"]
    data = out.read_text()
    for planted in ("maria.garcia@", "Maria Garcia", "415-555-0132", "John Smith"):
        assert planted not in data


def test_jsonl_support_tickets(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "tickets.jsonl"
    lines = (SAMPLE_DATA / "support_tickets.jsonl").read_text("utf-8").splitlines(keepends=True)
    src.write_text("".join(lines[:30]), "utf-8")
    out = tmp_path / "out.jsonl"
    redact_file(src, out, engine, default, chunk_rows=8)
    before = [json.loads(line) for line in lines[:30]]
    after = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["ticket_id"] for a in after] == [b["ticket_id"] for b in before]
    assert all(list(a) == list(b) for a, b in zip(before, after, strict=True))
    assert all(
        a["priority"] == b["priority"] and a["tags"] == b["tags"]
        for a, b in zip(before, after, strict=True)
    )
    assert all(
        a["customer_email"] == pseudonym_token(KEY, "EMAIL_ADDRESS", b["customer_email"])
        for b, a in zip(before, after, strict=True)
    )
    data = out.read_text()
    assert not any(b["customer_email"] in data for b in before)


def test_json_array(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "records.json"
    src.write_text(json.dumps(NESTED, indent=2))
    out = tmp_path / "out.json"
    redact_file(src, out, engine, default)
    after = json.loads(out.read_text())
    assert isinstance(after, list) and len(after) == 2
    assert [a["id"] for a in after] == [1, 2]
    assert after[1]["email"] == pseudonym_token(KEY, "EMAIL_ADDRESS", NESTED[1]["email"])
    assert "Maria Garcia" not in out.read_text()


def test_json_and_csv_pseudonyms_join(engine, tmp_path: Path) -> None:
    redactor = Redactor(parse_policy("default_operator: pseudonymize\n"), KEY)
    (tmp_path / "a.jsonl").write_text(json.dumps({"email": "maria.garcia@example.com"}) + "\n")
    (tmp_path / "b.csv").write_text("email,n\nmaria.garcia@example.com,1\n")
    redact_file(tmp_path / "a.jsonl", tmp_path / "a.out.jsonl", engine, redactor)
    redact_file(tmp_path / "b.csv", tmp_path / "b.out.csv", engine, redactor)
    token = json.loads((tmp_path / "a.out.jsonl").read_text())["email"]
    assert re.fullmatch(r"<EMAIL_ADDRESS_[0-9a-f]{8}>", token)
    assert read_csv(tmp_path / "b.out.csv")[0]["email"] == token


TRANSCRIPT = sorted((SAMPLE_DATA / "call_transcripts").glob("*.txt"))[0]


def test_text_transcript(engine, default, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    summary = redact_file(TRANSCRIPT, out, engine, default)
    original = TRANSCRIPT.read_text("utf-8")
    assert out.read_text("utf-8") == redact_text(original, engine, default)
    assert summary.rows == original.count("\n") + (not original.endswith("\n"))
    assert summary.entities.get("PERSON", 0) >= 1


SEAM_TEXT = (
    textwrap.dedent(
        """\
    Agent: May I have your full name and e-mail please?
    Customer: Sure, it is Maria Garcia and maria.garcia@example.com, and my phone is 415-555-0132.
    Agent: And the card on file?
    Customer: 4111 1111 1111 1111, expiring next year. My SSN is 536-22-8741 if you need it.
    Agent: Thank you, Mr. Jonathan Blackwood. Your IP was 203.0.113.77 during the login.
    """
    )
    * 6
)


@pytest.mark.parametrize("chunk_chars", [13, 64, 301])
def test_text_chunk_seams(engine, default, tmp_path: Path, chunk_chars: int) -> None:
    src = tmp_path / "seams.txt"
    src.write_text(SEAM_TEXT)
    out = tmp_path / "out.txt"
    redact_file(src, out, engine, default, chunk_chars=chunk_chars)
    result = out.read_text()
    assert result == redact_text(SEAM_TEXT, engine, default)
    for planted in ("maria.garcia@", "415-555-0132", "4111 1111", "536-22-8741", "203.0.113.77"):
        assert planted not in result


@pytest.mark.parametrize("overlap", [5, 40])
def test_text_seams_neither_lose_nor_duplicate(engine, monkeypatch, tmp_path, overlap) -> None:
    monkeypatch.setattr("piizone.scrubbers.redact_formats.TEXT_CHUNK_OVERLAP", overlap)
    keep_all = Redactor(parse_policy("default_operator: keep\n"), None)
    src = tmp_path / "seams.txt"
    src.write_bytes(("héllo wörld\r\n" + SEAM_TEXT + "no newline at the end").encode())
    out = tmp_path / "out.txt"
    summary = redact_file(src, out, engine, keep_all, chunk_chars=11)
    assert out.read_bytes() == src.read_bytes()
    assert summary.rows == src.read_bytes().count(b"\n") + 1


def test_stdin_to_stdout(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        from piizone.scrubbers.engine import engine_for
        from piizone.scrubbers.operators import Redactor
        from piizone.scrubbers.policy import load_policy
        from piizone.scrubbers.redact import redact_file
        policy = load_policy()
        redact_file("-", "-", engine_for(policy), Redactor(policy, None), fmt="csv")
        """
    )
    csv_in = "name,email,n\nMaria Garcia,maria.garcia@example.com,1\nJohn Smith,js@example.org,2\n"
    out = subprocess.run(
        [sys.executable, "-c", code], input=csv_in, capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode == 0, out.stderr[-500:]
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["n"] for r in rows] == ["1", "2"]
    assert all(r["email"] == "<EMAIL_ADDRESS>" for r in rows)
    assert "maria" not in out.stdout.lower()


def test_parquet_from_stdin_is_refused(engine, default) -> None:
    with pytest.raises(InputError, match="stdin"):
        redact_file("-", "-", engine, default, fmt="parquet")


def test_failure_leaves_nothing_at_the_destination(engine, default, tmp_path: Path) -> None:
    src = tmp_path / "broken.jsonl"
    good = json.dumps({"email": "maria.garcia@example.com", "n": 1}) + "\n"
    src.write_text(good * 50 + "{not json\n")
    out = tmp_path / "out" / "result.jsonl"
    out.parent.mkdir()
    with pytest.raises(InputError, match=r"broken.jsonl:51: invalid JSON"):
        redact_file(src, out, engine, default, chunk_rows=10)
    assert list(out.parent.iterdir()) == []
    out.write_text("previous result\n")
    with pytest.raises(InputError):
        redact_file(src, out, engine, default, chunk_rows=10)
    assert out.read_text() == "previous result\n"
    assert list(out.parent.iterdir()) == [out]


@pytest.mark.parametrize(
    ("name", "message"),
    [("data.xlsx", "unsupported format"), ("missing.csv", "no such file")],
)
def test_bad_inputs(engine, default, tmp_path: Path, name: str, message: str) -> None:
    if name.endswith(".xlsx"):
        (tmp_path / name).write_bytes(b"PK")
    with pytest.raises(InputError, match=message):
        redact_file(tmp_path / name, tmp_path / "out", engine, default)
    assert not (tmp_path / "out").exists()


MEMORY_SCRIPT = (
    PEAK_RSS_KB
    + """
import sys, time
from piizone.scrubbers.engine import engine_for
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.policy import load_policy
from piizone.scrubbers.redact import redact_file
policy = load_policy()
engine = engine_for(policy)
engine.analyze("warm up: John Smith, john@example.com")
base = peak_rss_kb()
started = time.monotonic()
summary = redact_file(sys.argv[1], sys.argv[2], engine, Redactor(policy, None))
peak = peak_rss_kb()
print(base, peak, summary.rows, round(time.monotonic() - started, 1), summary.columns)
"""
)


@pytest.mark.slow
def test_memory_is_bounded_on_a_large_csv(tmp_path: Path) -> None:
    """~110 MB of CSV: peak RSS grows by far less than the file (chunked read and write)."""
    import numpy as np
    import pandas as pd

    rows = 1_200_000
    rng = np.random.default_rng(0)
    ids = np.arange(rows)
    frame = pd.DataFrame(
        {
            "id": ids,
            "email": pd.Series(ids % 5000).map(lambda i: f"user{i}@example.com"),
            "amount": rng.integers(0, 100_000, rows) / 100,
            "qty": rng.integers(0, 50, rows),
            "sku": pd.Series(ids % 997).map(lambda i: f"SKU-{i:05d}"),
            "status": np.array(["shipped", "pending", "returned", "cancelled"])[ids % 4],
            "warehouse": np.array(["north-east-distribution-1", "south-central-hub-2"])[ids % 2],
            "seconds": rng.integers(0, 86400, rows),
        }
    )
    src = tmp_path / "big.csv"
    frame.to_csv(src, index=False)
    del frame
    size = src.stat().st_size
    assert size > 90_000_000
    out = tmp_path / "big.out.csv"
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(src), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-1000:]
    base_kb, peak_kb, n, seconds, columns = result.stdout.split(" ", 4)
    assert int(n) == rows
    assert "identifier EMAIL_ADDRESS" in columns
    growth = (int(peak_kb) - int(base_kb)) * 1024
    print(
        f"{size / 1e6:.0f} MB in {seconds} s, peak RSS {int(peak_kb) // 1024} MB, "
        f"{growth / 1e6:.0f} MB over the loaded engine"
    )
    assert growth < 150_000_000
    with open(out, encoding="utf-8") as f:
        assert f.readline() == "id,email,amount,qty,sku,status,warehouse,seconds\n"
        assert f.readline().startswith("0,<EMAIL_ADDRESS>,")


def test_jsonl_and_json_custom_policy(engine, custom, tmp_path: Path) -> None:
    records = [
        {"ssn": "078-05-1120", "full_name": "Maria Garcia", "customer_id": 1234, "notes": "ok"},
        {
            "ssn": "219-09-9999",
            "full_name": "John Smith",
            "customer_id": 98,
            "notes": "Call 415-555-0132",
        },
    ]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "a.json").write_text(json.dumps(records))
    redact_file(tmp_path / "a.jsonl", tmp_path / "out.jsonl", engine, custom)
    redact_file(tmp_path / "a.json", tmp_path / "out.json", engine, custom)
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for after in (lines, json.loads((tmp_path / "out.json").read_text())):
        assert [list(a) for a in after] == [
            ["full_name", "customer_id", "notes"]
        ] * 2  # ssn dropped
        assert [a["full_name"] for a in after] == ["Maria Garcia", "John Smith"]  # kept
        assert [a["customer_id"] for a in after] == ["*234", "*8"]  # column rule on numbers
        assert after[1]["notes"] == "Call 415-555-****"  # scanned, entity operator (mask)


def test_text_custom_policy(engine, custom, tmp_path: Path) -> None:
    src = tmp_path / "call.txt"
    src.write_text("Customer: My name is Maria Garcia, card 4111 1111 1111 1111.\n")
    out = tmp_path / "out.txt"
    redact_file(src, out, engine, custom)
    result = out.read_text()
    assert "[card]" in result and "Maria Garcia" not in result
    fake = custom.apply("PERSON", "Maria Garcia")
    assert result == f"Customer: My name is {fake}, card [card].\n"


class _Recording:
    """The engine, noting every text it is asked to analyse."""

    def __init__(self, engine):
        self.engine = engine
        self.texts: list[str] = []

    def analyze(self, text: str):
        self.texts.append(text)
        return self.engine.analyze(text)


def test_scan_and_redaction_analyse_a_text_file_in_the_same_passes(engine, default, tmp_path):
    # zone create scans a file for its report and then redacts it: with the same passes the
    # engine's memo serves the redaction, and the report counts what was redacted.
    from piizone.scrubbers.reports import SourceReport
    from piizone.scrubbers.scan import _scan_text

    src = tmp_path / "calls.txt"
    src.write_text(SEAM_TEXT)
    scanning = _Recording(engine)
    source = SourceReport(path=str(src), kind="text", format="txt", bytes=src.stat().st_size)
    _scan_text(src, scanning, source, None, chunk_chars=301)
    redacting = _Recording(engine)
    summary = redact_file(src, tmp_path / "out.txt", redacting, default, chunk_chars=301)
    assert len(scanning.texts) > 5  # several passes, not one text
    assert scanning.texts == redacting.texts
    assert source.entities == summary.entities
    assert source.rows == SEAM_TEXT.count("\n") + 1


# --- structure: redaction keeps every line break (issue 12, item 5) -------------------------


def test_two_names_on_two_lines_stay_on_two_lines(engine, default) -> None:
    # spaCy reads "Jakob Lauritsen\nDuygu Schakelaar" as one PERSON; the break between the
    # names is structure and survives (findings.split_at_line_breaks).
    text = "Name: Jakob Lauritsen\nDuygu Schakelaar lives at 12 Main Street."
    out = redact_text(text, engine, default)
    assert out.count("\n") == 1
    first, second = out.split("\n")
    assert first == "Name: <PERSON>"
    assert second.startswith("<PERSON> lives at")
    assert not any(name in out for name in ("Jakob", "Lauritsen", "Duygu", "Schakelaar"))
    assert all("\n" not in text[f.start : f.end] for f in engine.analyze(text))


_WORDS = [
    "Name:", "Jakob", "Lauritsen", "Duygu", "Schakelaar", "Dr.", "Maria", "Garcia", "call",
    "555-0132", "(415)", "415-555-0132", "maria.garcia@example.com", "SSN", "536-22-8741",
    "lives", "at", "12", "Main", "Street", "Boston", "the", "and", "-", ",",
]  # fmt: skip
_SEPARATORS = [" ", " ", " ", "\n", "\n\n", "\r\n", " \n  ", "\t"]
real_texts = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS)), min_size=1, max_size=25
).map(lambda pairs: "".join(w + s for w, s in pairs))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=real_texts, which=st.sampled_from(["default", "custom"]))
def test_redacted_text_keeps_its_lines_with_the_real_engine(engine, default, custom, text, which):
    redactor = default if which == "default" else custom  # replace; fake, pseudonymize, mask...
    out = redact_text(text, engine, redactor)
    assert out.count("\n") == text.count("\n")
    assert LINE_BREAK.findall(out) == LINE_BREAK.findall(text)


def test_multi_line_cells_keep_their_lines(engine, default, custom, tmp_path: Path) -> None:
    rows = [
        {
            "customer_id": f"C{i:03d}",
            "email": f"user{i}@example.com",
            "phone": f"415-555-01{i:02d}",
            "notes": f"Spoke with Maria Garcia\nabout the bill {i}.",
        }
        for i in range(12)
    ]
    rows[0]["email"] = "jakob@example.com\nduygu@example.com"  # an identifier column's cell
    rows[1]["phone"] = "415-555-0100\r\n415-555-0199"  # a column rule's cell (custom)
    rows[2]["notes"] = "Name: Jakob Lauritsen\nDuygu Schakelaar\n\ncalled twice"
    rows[3]["customer_id"] = "C\n003"  # a column rule: mask one character
    src = tmp_path / "cells.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name, redactor in (("default", default), ("custom", custom)):
        out = tmp_path / f"{name}.csv"
        summary = redact_file(src, out, engine, redactor)
        if name == "default":
            assert summary.columns["email"] == "identifier EMAIL_ADDRESS"
        after = read_csv(out)
        assert len(after) == len(rows)
        for b, a in zip(rows, after, strict=True):
            for column, value in b.items():
                assert a[column].count("\n") == value.count("\n"), (name, column)
                assert LINE_BREAK.findall(a[column]) == LINE_BREAK.findall(value), (name, column)
        assert "Jakob" not in out.read_text("utf-8") and "duygu@" not in out.read_text("utf-8")
    assert after[1]["phone"].count("\r\n") == 1
