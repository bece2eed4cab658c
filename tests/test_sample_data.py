"""Shape checks on the committed synthetic sample data (sample_data/), and that it regenerates."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA

CUSTOMER_COLUMNS = [
    "customer_id",
    "full_name",
    "email",
    "phone",
    "ssn",
    "date_of_birth",
    "street_address",
    "plan",
    "monthly_spend",
    "tenure_months",
    "churned",
    "notes",
]
TRANSACTION_COLUMNS = [
    "transaction_id",
    "customer_id",
    "card_number",
    "amount",
    "currency",
    "merchant",
    "timestamp",
    "ip_address",
    "status",
]
TICKET_KEYS = [
    "ticket_id",
    "created_at",
    "channel",
    "priority",
    "subject",
    "body",
    "customer_email",
    "tags",
]
WORD_DIGITS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
CARD_RE = re.compile(r"(?<!\d)\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?!\d)")


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def trailing_spoken_digits(text: str) -> str:
    """The digits spoken at the end of an ASR turn ('it's four five double oh' -> '4500')."""
    words = text.split()
    out: list[str] = []
    i = len(words) - 1
    while i >= 0:
        word = words[i]
        if word in WORD_DIGITS:
            if i > 0 and words[i - 1] == "double":
                out.append(WORD_DIGITS[word] * 2)
                i -= 2
            else:
                out.append(WORD_DIGITS[word])
                i -= 1
        else:
            break
    return "".join(reversed(out))


def spoken_runs(text: str) -> list[str]:
    """Every maximal run of spoken digits in an ASR turn, as digit strings."""
    runs, current = [], []
    words = text.split()
    i = 0
    while i < len(words):
        word = words[i]
        if word == "double" and i + 1 < len(words) and words[i + 1] in WORD_DIGITS:
            current.append(WORD_DIGITS[words[i + 1]] * 2)
            i += 2
            continue
        if word in WORD_DIGITS:
            current.append(WORD_DIGITS[word])
        elif current:
            runs.append("".join(current))
            current = []
        i += 1
    if current:
        runs.append("".join(current))
    return runs


def only_spoken_digits(text: str) -> bool:
    return all(w in WORD_DIGITS or w == "double" for w in text.split())


def read_customers() -> list[dict[str, str]]:
    with open(SAMPLE_DATA / "customers.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def transcripts() -> dict[str, list[tuple[str, str]]]:
    out = {}
    for path in sorted((SAMPLE_DATA / "call_transcripts").glob("call_*.txt")):
        turns = []
        for line in path.read_text(encoding="utf-8").splitlines():
            speaker, _, text = line.partition(": ")
            turns.append((speaker, text))
        out[path.name] = turns
    return out


def is_asr(turns: list[tuple[str, str]]) -> bool:
    return all(s in ("agent", "customer") and t == t.lower() for s, t in turns)


def test_total_size_under_5_mb():
    total = sum(p.stat().st_size for p in SAMPLE_DATA.rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024


def test_customers_columns_and_rows():
    with open(SAMPLE_DATA / "customers.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == CUSTOMER_COLUMNS
    rows = read_customers()
    assert len(rows) == 500
    assert [int(r["customer_id"]) for r in rows] == list(range(1, 501))
    for r in rows:
        assert all("\n" not in v and "\r" not in v for v in r.values()), r


def test_customers_identifier_formats():
    as_of = dt.date(2024, 12, 31)
    for r in read_customers():
        assert re.fullmatch(r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}", r["ssn"]), r
        digits = re.sub(r"\D", "", r["phone"])
        assert "x" not in r["phone"].lower()
        assert len(digits) == 10 or (len(digits) == 11 and digits[0] == "1"), r["phone"]
        nanp = digits[-10:]
        assert nanp[0] in "23456789" and nanp[3] in "23456789", r["phone"]
        dob = dt.date.fromisoformat(r["date_of_birth"])
        assert 18 <= (as_of - dob).days / 365.25 <= 90
        assert re.fullmatch(r"\d+ .+, .+, [A-Z]{2} \d{5}", r["street_address"]), r
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", r["email"]), r


def test_customers_clean_columns_stay_clean():
    rows = read_customers()
    for r in rows:
        assert r["plan"] in {"basic", "plus", "premium"}
        assert re.fullmatch(r"\d{1,3}\.\d{2}", r["monthly_spend"])
        assert re.fullmatch(r"\d{1,3}", r["tenure_months"])
        assert r["churned"] in {"true", "false"}


def test_customer_notes_mix_incidental_pii_and_clean_text():
    notes = [r["notes"] for r in read_customers()]
    distinct = set(notes)
    assert len({re.sub(r"[\d@().+-]|[A-Z][a-z]+", "", n) for n in distinct}) >= 20  # templates
    pii = [n for n in notes if re.search(r"\d{4}|@|[A-Z][a-z]+ [A-Z][a-z]+", n)]
    assert 0.3 <= len(pii) / len(notes) <= 0.5
    cards = [m.group(0) for n in notes for m in CARD_RE.finditer(n)]
    assert cards, "some notes carry a full card number"
    assert all(luhn_valid(c) for c in cards)


def test_transactions_shape_and_cards():
    df = pd.read_parquet(SAMPLE_DATA / "transactions.parquet")
    assert list(df.columns) == TRANSACTION_COLUMNS
    assert len(df) == 2000
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert (df["currency"] == "USD").all()
    assert set(df["status"]) == {"approved", "declined"}
    customer_ids = {int(r["customer_id"]) for r in read_customers()}
    assert set(df["customer_id"]) <= customer_ids
    for card in df["card_number"]:
        assert re.fullmatch(r"\d{16}|\d{4} \d{4} \d{4} \d{4}", card), card
        assert luhn_valid(card), card


def test_support_tickets_shape():
    lines = (SAMPLE_DATA / "support_tickets.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    tickets = [json.loads(line) for line in lines]
    for t in tickets:
        assert list(t) == TICKET_KEYS
        assert t["channel"] in {"email", "chat", "web"}
        assert t["priority"] in {1, 2, 3, 4}
        assert isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"])
        dt.datetime.fromisoformat(t["created_at"])
    bodies = " ".join(t["body"] for t in tickets)
    assert re.search(r"\b(DE|GB)\d{2}[A-Z0-9]{14,20}\b", bodies), "an IBAN"
    assert re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", bodies), "an IP address"
    assert all(luhn_valid(m.group(0)) for m in CARD_RE.finditer(bodies))


def test_transcripts_turns_and_styles():
    calls = transcripts()
    assert len(calls) >= 10
    asr = {name for name, turns in calls.items() if is_asr(turns)}
    assert 0 < len(asr) < len(calls), "a mix of clean and ASR-style transcripts"
    for name, turns in calls.items():
        assert 15 <= len(turns) <= 40, name
        speakers = {s.lower() for s, _ in turns}
        assert speakers == {"agent", "customer"}, name
    clean_text = " ".join(t for n, turns in calls.items() if n not in asr for _, t in turns)
    clean_cards = [m.group(0) for m in CARD_RE.finditer(clean_text)]
    assert clean_cards and all(luhn_valid(c) for c in clean_cards)


def test_asr_transcripts_have_spoken_and_turn_split_cards():
    calls = {n: t for n, t in transcripts().items() if is_asr(t)}
    assert any(
        len(run) >= 7 for turns in calls.values() for _, t in turns for run in spoken_runs(t)
    )
    assert any(" dot " in t and " at " in t for turns in calls.values() for _, t in turns)
    split_cards = []
    for turns in calls.values():
        for (s1, t1), (s2, t2), (s3, t3) in zip(turns, turns[1:], turns[2:], strict=False):
            if (s1, s2, s3) != ("customer", "agent", "customer") or len(t2.split()) > 6:
                continue
            # customer starts reading, agent backchannels, customer continues with digits only
            head, tail = trailing_spoken_digits(t1), trailing_spoken_digits(t3)
            if only_spoken_digits(t3) and head and len(head) < 16 and len(head + tail) == 16:
                split_cards.append(head + tail)
    assert split_cards, "a card number read across two customer turns"
    assert all(luhn_valid(c) for c in split_cards)


@pytest.mark.slow
def test_generator_is_deterministic(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(SAMPLE_DATA / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ["customers.csv", "support_tickets.jsonl"]:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DATA / name).read_bytes(), name
    committed = sorted(p.name for p in (SAMPLE_DATA / "call_transcripts").glob("*.txt"))
    fresh = sorted(p.name for p in (tmp_path / "call_transcripts").glob("*.txt"))
    assert fresh == committed
    for name in committed:
        fresh_bytes = (tmp_path / "call_transcripts" / name).read_bytes()
        assert fresh_bytes == (SAMPLE_DATA / "call_transcripts" / name).read_bytes(), name
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "transactions.parquet"),
        pd.read_parquet(SAMPLE_DATA / "transactions.parquet"),
    )
