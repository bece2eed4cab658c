"""Progress of scan and redact: bytes advance per chunk or pass as they are processed, from 0
to the file's size, never going back (a table scan once sat at 0 until the end)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pandas as pd
import pytest

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
from piizone.scrubbers.scan import scan_paths

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
