"""No raw PII in a zone's unencrypted metadata (issue 13, finding 13).

Source file names and `?query=` literals went raw into manifest.json, report.json, `zone show`
and the audit log, and report contexts showed PII the detectors missed right next to a masked
hit. Now names are masked (e-mails, digits, engine findings; a keyed hash keeps them apart),
the refresh spec is sealed with the zone key, a query is recorded with its literals as `?`, and
context around a hit keeps only lower-case words and punctuation.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import quote

from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.masking import mask_name, masked_context

runner = CliRunner()
EMAIL = "jane.doe@example.com"
SSN = "123-45-6789"
MEMBER = "99812345"
RAW = [EMAIL, SSN, "jane.doe", "example.com", MEMBER, "Ulrike"]
NOTE = f"Ticket from Ulrike, member {MEMBER}, wrote from {EMAIL} about her plan.\n"


def everything_under(home: Path) -> list[tuple[str, bytes]]:
    """(path, bytes) of every file under the home: names and plaintext metadata."""
    return [(str(p), p.read_bytes()) for p in home.rglob("*") if p.is_file()]


def leaks(text: str) -> list[str]:
    return [raw for raw in RAW if raw in text]


def test_zone_metadata_holds_no_raw_name_or_literal(tmp_path: Path, piizone_home: Path) -> None:
    src = tmp_path / "exports"
    src.mkdir()
    (src / f"{EMAIL}_{SSN}.csv").write_text("id,plan\n1,plus\n2,basic\n")
    (src / "note.txt").write_text(NOTE)
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, email TEXT, plan TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, ?, 'plus')", (EMAIL,))
    query = f"SELECT id, plan FROM customers WHERE email = '{EMAIL}'"
    url = f"sqlite:///{db}?query={quote(query)}"

    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(app, ["zone", "create", "z", "--from", str(src), "--from", url])
    assert created.exit_code == 0, created.stderr
    assert not leaks(created.stdout + created.stderr)

    for path, data in everything_under(piizone_home):
        assert not leaks(path), path
        assert not leaks(data.decode("utf-8", errors="replace")), path
    shown = runner.invoke(app, ["zone", "show", "z", "--json"])
    assert shown.exit_code == 0, shown.stderr
    assert not leaks(shown.stdout)
    manifest = json.loads(shown.stdout)
    assert len(manifest["files"]) >= 3  # the csv, the note and the query are all there

    # A refresh re-reads the very same sources from the sealed spec.
    refreshed = runner.invoke(app, ["zone", "refresh", "z", "--force"])
    assert refreshed.exit_code == 0, refreshed.stderr
    for path, data in everything_under(piizone_home):
        assert not leaks(path) and not leaks(data.decode("utf-8", errors="replace")), path


def test_mask_name_masks_emails_and_digits() -> None:
    assert mask_name(f"{EMAIL}_{SSN}.csv") == "EMAIL_###-##-####.csv"
    assert mask_name("customers.csv") == "customers.csv"


def test_context_keeps_no_missed_value_next_to_a_hit() -> None:
    start = NOTE.index(EMAIL)
    hit = Finding(start, start + len(EMAIL), "EMAIL_ADDRESS", 1.0)
    context = masked_context(NOTE, hit, [hit])
    assert not leaks(context), context
    assert "wrote from" in context and "****" in context
