"""Progress of scan and redact: bytes advance per chunk or pass as they are processed, from 0
to the file's size, never going back (a table scan once sat at 0 until the end)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pandas as pd
import pytest

from piizone.scrubbers.convert import redact_table_to_parquet
from piizone.scrubbers.engine import Engine
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.progress import (
    LEARNING,
    REDACTING,
    SCANNING,
    ItemProgress,
    ProgressUpdate,
)
from piizone.scrubbers.redact import redact_file
from piizone.scrubbers.scan import scan_file, scan_paths
from tests.scrubbers.fanout import InProcessFanOut

ROWS = 45_000  # five 10,000-row chunks


def members(rows: int = ROWS) -> str:
    r = random.Random(3)
    lines = ["id,email,plan"]
    lines += [f"{i},m{i}.{r.randint(0, 999)}@example.net,{r.choice('ab')}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def assert_advances(updates: list[ProgressUpdate], total: int) -> list[int]:
    """From 0 to `total`, never back, with at least one update strictly in between."""
    done = [u.done for u in updates]
    assert done[0] == 0 and done[-1] == total, done
    assert done == sorted(done)
    assert {u.total for u in updates} == {total}
    between = [d for d in done if 0 < d < total]
    assert between, done
    return between


@pytest.mark.parametrize("name", ["members.csv", "members.csv.gz", "members.parquet"])
def test_table_scan_advances_per_chunk(engine: Engine, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(members().encode()))
    elif name.endswith(".parquet"):
        pd.read_csv(pd.io.common.StringIO(members()), dtype=str).to_parquet(path)
    else:
        path.write_text(members())
    updates: list[ProgressUpdate] = []
    report = scan_paths([path], engine, progress=updates.append)
    assert report.sources[0].rows == ROWS
    assert {(u.phase, u.item) for u in updates} == {(SCANNING, str(path))}
    # Compressed: in compressed bytes, like the size on disk.
    between = assert_advances(updates, path.stat().st_size)
    assert len(between) >= 2  # each of the first chunks, not one jump at the end


def test_scan_of_a_folder_reports_each_file(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(members())
    (tmp_path / "b.txt").write_text("Call with Maria Lopez, maria@example.com.\n")
    updates: list[ProgressUpdate] = []
    scan_paths([tmp_path], engine, progress=updates.append)
    items = [u.item for u in updates]
    assert items.index(str(tmp_path / "a.csv")) < items.index(str(tmp_path / "b.txt"))
    assert updates[-1].done == updates[-1].total == (tmp_path / "b.txt").stat().st_size


def test_redact_reports_learning_then_redacting(engine: Engine, tmp_path: Path) -> None:
    source = tmp_path / "members.csv"
    source.write_text(members())
    updates: list[ProgressUpdate] = []
    redact_file(source, tmp_path / "out.csv", engine, Redactor(engine.policy, None), updates.append)
    phases = [u.phase for u in updates]
    # The table is read ahead for its identifier values, then redacted: both in bytes.
    assert phases.index(REDACTING) > max(i for i, p in enumerate(phases) if p == LEARNING)
    size = source.stat().st_size
    assert_advances([u for u in updates if u.phase == LEARNING], size)
    assert_advances([u for u in updates if u.phase == REDACTING], size)


def test_text_redaction_advances_per_pass(engine: Engine, tmp_path: Path) -> None:
    """Each analysis pass moves the bar (by the bytes read: at most a read buffer ahead)."""
    source = tmp_path / "call.txt"
    line = "Agent: thanks for calling, how can I help with the order today?\n"
    source.write_text(line * 1000)
    updates: list[ProgressUpdate] = []
    redact_file(
        source,
        tmp_path / "out.txt",
        engine,
        Redactor(engine.policy, None),
        updates.append,
        chunk_chars=16_000,
    )
    between = assert_advances(updates, source.stat().st_size)
    assert len(between) >= 3


def test_item_progress_clamps_and_skips_repeats() -> None:
    seen: list[ProgressUpdate] = []
    p = ItemProgress(seen.append, SCANNING, "x", 100)
    p.start()
    for done in (10, 10, 5, 150):
        p(done)
    p.finish()
    assert [u.done for u in seen] == [0, 10, 100]
    rows = ItemProgress(seen.append, SCANNING, "t", None, "rows")
    rows(40)
    rows.finish()  # a total not known before: the rows counted
    assert (seen[-1].done, seen[-1].total) == (40, 40)
    ItemProgress(None, SCANNING, "quiet", 1)(1)  # no callback: nothing to call


# --- inside long texts, JSON documents and spreadsheets ------------------------------------

PASS = 1_000_000  # characters per analysis pass (formats.TEXT_CHUNK_CHARS)


def long_transcript(path: Path, chars: int) -> Path:
    """A multi-MB transcript: a call line every 50,000 characters, blanks between them. The
    engine cuts it into the same windows as any text of its length (it skips the blank ones),
    so the test stays fast."""
    line = "Agent: this is Michelle Hall, call me back on 212-555-0100.\n"
    block = line + " " * (50_000 - len(line) - 1) + "\n"
    path.write_text(block * (chars // len(block)))
    return path


def assert_moves_within_passes(updates: list[ProgressUpdate], total: int) -> None:
    """Several updates inside each pass, not one per pass (the bar sat at 0% for a whole
    megabyte of transcript), never back, ending at the total."""
    between = assert_advances(updates, total)
    passes = -(-total // PASS)
    assert len(between) >= 5 * passes, between
    # Inside the first pass: before its end was read, the windows already done moved the bar.
    assert len([d for d in between if d < PASS]) >= 5, between


def test_long_text_scan_advances_within_each_pass(engine: Engine, tmp_path: Path) -> None:
    path = long_transcript(tmp_path / "call.txt", 2_500_000)  # three passes
    engine.forget()  # analysed for real, not found in the memo of another test's run
    updates: list[ProgressUpdate] = []
    report = scan_paths([path], engine, progress=updates.append)
    assert report.sources[0].entities == {"PERSON": 50, "PHONE_NUMBER": 50}
    assert_moves_within_passes(updates, path.stat().st_size)


def test_long_text_redaction_advances_within_each_pass(engine: Engine, tmp_path: Path) -> None:
    source = long_transcript(tmp_path / "call.txt", 2_500_000)
    engine.forget()
    updates: list[ProgressUpdate] = []
    out = tmp_path / "out.txt"
    redact_file(source, out, engine, Redactor(engine.policy, None), updates.append)
    assert "Michelle Hall" not in out.read_text()
    assert {u.phase for u in updates} == {REDACTING}
    assert_moves_within_passes(updates, source.stat().st_size)


def test_long_text_advances_within_passes_on_a_fan_out_engine(
    engine: Engine, tmp_path: Path
) -> None:
    """--workers and Dask: the windows come back in batches (run here, as a worker would run
    them), and each batch moves the bar."""
    path = long_transcript(tmp_path / "call.txt", 2_500_000)
    engine.forget()
    fan_out = InProcessFanOut(engine, workers=2)
    updates: list[ProgressUpdate] = []
    report = scan_file(path, fan_out, updates.append)
    assert report.entities == {"PERSON": 50, "PHONE_NUMBER": 50}
    assert_moves_within_passes(updates, path.stat().st_size)


def members_records(rows: int = ROWS) -> list[dict[str, str]]:
    r = random.Random(5)
    return [
        {"id": str(i), "email": f"m{i}.{r.randint(0, 999)}@example.net", "plan": r.choice("ab")}
        for i in range(rows)
    ]


def test_json_document_scan_advances_by_rows(engine: Engine, tmp_path: Path) -> None:
    """A JSON document is parsed whole before its first chunk: its bytes are all read at once,
    so the bar goes by the rows' share of the size (it used to jump from 0 to the end)."""
    path = tmp_path / "members.json"
    path.write_text(json.dumps(members_records(6_000)))
    updates: list[ProgressUpdate] = []
    report = scan_file(path, engine, updates.append, chunk_rows=1_000)
    assert report.rows == 6_000
    size = path.stat().st_size
    between = assert_advances(updates, size)
    # After each 1,000-row chunk of the 6,000 records: exactly its share of the size.
    assert between == [size * n // 6 for n in range(1, 6)]


def test_json_document_redaction_advances_by_rows(engine: Engine, tmp_path: Path) -> None:
    source = tmp_path / "members.json"
    source.write_text(json.dumps(members_records(6_000)))
    updates: list[ProgressUpdate] = []
    out = tmp_path / "out.json"
    redact_file(
        source, out, engine, Redactor(engine.policy, None), updates.append, chunk_rows=1_000
    )
    assert len(json.loads(out.read_text())) == 6_000
    size = source.stat().st_size
    # Read ahead for its identifier values, then redacted: both by rows.
    for phase in (LEARNING, REDACTING):
        between = assert_advances([u for u in updates if u.phase == phase], size)
        assert between == [size * n // 6 for n in range(1, 6)], phase


def test_json_document_to_parquet_advances_by_rows(engine: Engine, tmp_path: Path) -> None:
    """`redact data.json -o data.parquet`: by rows too (it jumped to the end at the first
    chunk, the whole document being read by then)."""
    source = tmp_path / "members.json"
    source.write_text(json.dumps(members_records(25_000)))
    updates: list[ProgressUpdate] = []
    redactor = Redactor(engine.policy, None)
    redact_table_to_parquet(
        source, str(tmp_path / "out.parquet"), engine, redactor, "json", updates.append
    )
    size = source.stat().st_size
    between = assert_advances([u for u in updates if u.phase == REDACTING], size)
    assert between == [size * 2 // 5, size * 4 // 5]  # after each 10,000-row chunk


def members_workbook(path: Path, sheets: dict[str, int], write_only: bool = False) -> Path:
    """An .xlsx of member sheets (name: rows). Excel, LibreOffice and openpyxl record each
    sheet's size (its dimension); openpyxl's write-only mode does not."""
    from openpyxl import Workbook

    book = Workbook(write_only=write_only)
    records = iter(members_records(sum(sheets.values())))
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        sheet.append(["id", "email", "plan"])
        for _ in range(rows):
            sheet.append(list(next(records).values()))
    if not write_only:
        book.remove(book.worksheets[0])  # the empty sheet a new workbook starts with
    book.save(path)
    return path


def test_spreadsheet_scan_advances_by_rows(engine: Engine, tmp_path: Path) -> None:
    """openpyxl reads the workbook itself (no bytes to count): the sheets' recorded sizes give
    the rows, and the bar moves per chunk of rows, over every sheet."""
    path = members_workbook(tmp_path / "members.xlsx", {"north": 2_500, "south": 1_500})
    updates: list[ProgressUpdate] = []
    report = scan_file(path, engine, updates.append, chunk_rows=1_000)
    assert report.rows == 4_000
    size = path.stat().st_size
    between = assert_advances(updates, size)
    # Each sheet in its own chunks: 1,000, 2,000 and 2,500 rows of the north, then the south.
    assert between == [size * n // 4_000 for n in (1_000, 2_000, 2_500, 3_500)]


def test_spreadsheet_without_recorded_sizes_ends_at_its_size(
    engine: Engine, tmp_path: Path
) -> None:
    """No sheet size recorded: no share to show, and never a wrong one; done at the end."""
    path = members_workbook(tmp_path / "members.xlsx", {"north": 2_500}, write_only=True)
    updates: list[ProgressUpdate] = []
    assert scan_file(path, engine, updates.append, chunk_rows=1_000).rows == 2_500
    assert [u.done for u in updates] == [0, path.stat().st_size]
