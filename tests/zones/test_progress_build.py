"""Progress of `zone create` / `zone refresh`: each item's phases advance per chunk or batch
(bytes for files, rows for a database table), named by masked zone path, with its position."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from piizone.scrubbers.progress import (
    ENCRYPTING,
    FINGERPRINTING,
    LEARNING,
    PUBLISHING,
    READING,
    REDACTING,
    ROWS,
    SCANNING,
    ProgressUpdate,
)
from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import ZoneRequest, create_zone, refresh_zone
from piizone.zones.storage.store import ZoneStore

CHUNK = 100  # rows per database batch: the 500 customers come in 5 batches


@pytest.fixture
def store(piizone_home: Path) -> ZoneStore:
    init_home(piizone_home)
    return ZoneStore(piizone_home)


def big_csv(path: Path, rows: int = 25_000) -> Path:
    """A table of several 10,000-row chunks: e-mail identifiers and a clean plan column."""
    r = random.Random(7)
    with open(path, "w") as f:
        f.write("id,email,plan\n")
        for i in range(rows):
            f.write(f"{i},member{i}.{r.randint(0, 9999)}@example.org,{r.choice(['a', 'b'])}\n")
    return path


def by_item_phase(updates: list[ProgressUpdate]) -> dict[tuple[str, str], list[ProgressUpdate]]:
    out: dict[tuple[str, str], list[ProgressUpdate]] = defaultdict(list)
    for u in updates:
        out[(u.item, u.phase)].append(u)
    return out


def assert_advances(seen: list[ProgressUpdate]) -> None:
    """Starts at 0, never goes back, ends at the total, with updates strictly in between."""
    done = [u.done for u in seen]
    total = seen[-1].total
    assert total, seen
    assert done[0] == 0 and done[-1] == total
    assert done == sorted(done)
    assert any(0 < d < total for d in done), done


def test_zone_create_reports_phases_per_chunk_and_batch(
    store: ZoneStore, tmp_path: Path, sqlite_url: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big_csv(src / "members.csv")
    (src / "call.txt").write_text("Agent: hello.\nCustomer: this is Michelle Hall.\n")
    updates: list[ProgressUpdate] = []
    request = ZoneRequest(
        name="prog",
        sources=[str(src), f"{sqlite_url}?table=customers&chunksize={CHUNK}"],
    )
    create_zone(request, store, progress=updates.append)

    phases = by_item_phase(updates)
    items = {u.item for u in updates if u.position}
    # Zone paths only: the source directory's path is never shown.
    assert all(i.startswith("data/") for i in items), items
    assert not any(str(tmp_path) in u.item for u in updates)
    assert {u.position for u in updates if u.position} == {(1, 3), (2, 3), (3, 3)}

    csv_item = next(i for i in items if i.endswith("members.csv"))
    for phase in (LEARNING, READING, SCANNING, FINGERPRINTING, REDACTING):
        assert_advances(phases[(csv_item, phase)])
    assert phases[(csv_item, SCANNING)][-1].total == (src / "members.csv").stat().st_size

    sql_item = next(i for i in items if i.endswith(".parquet"))
    for phase in (LEARNING, SCANNING, REDACTING):
        seen = phases[(sql_item, phase)]
        assert {u.unit for u in seen} == {ROWS}
        assert_advances(seen)
        assert [u.done for u in seen[1:]] == [100, 200, 300, 400, 500]
    # Hashed in 10,000-row batches of its own: the 500 rows in one.
    assert [u.done for u in phases[(sql_item, READING)]] == [0, 500]

    # Within one item, the phases come in order: the redaction starts after the scan ended.
    order = [u.phase for u in updates if u.item == sql_item]
    assert order.index(REDACTING) > max(i for i, p in enumerate(order) if p == SCANNING)
    # The build ends with the zone's own steps.
    assert [u.phase for u in updates[-2:]] == [ENCRYPTING, PUBLISHING]


def test_refresh_reports_reused_items_as_read(store: ZoneStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    big_csv(src / "members.csv", rows=12_000)
    create_zone(ZoneRequest(name="again", sources=[str(src)]), store)
    updates: list[ProgressUpdate] = []
    refresh_zone("again", store, progress=updates.append)
    phases = {u.phase for u in updates}
    # Unchanged: hashed (read) and linked from the parent, never scanned or redacted again.
    assert READING in phases and PUBLISHING in phases
    assert SCANNING not in phases and REDACTING not in phases


def test_zone_create_moves_inside_long_texts_and_json_documents(
    store: ZoneStore, tmp_path: Path
) -> None:
    """A text item's bar moves as the engine's windows are done, not once per 1 MB pass; a
    JSON document's (parsed whole first) by its rows, in every phase that reads it."""
    src = tmp_path / "src"
    src.mkdir()
    line = "Agent: this is Michelle Hall, call me back on 212-555-0100.\n"
    block = line + " " * (50_000 - len(line) - 1) + "\n"  # blanks: quick to analyse
    (src / "call.txt").write_text(block * 42)  # 2.1 MB: three passes
    r = random.Random(11)
    records = [{"id": i, "email": f"m{i}.{r.randint(0, 99)}@example.org"} for i in range(25_000)]
    (src / "members.json").write_text(json.dumps(records))
    updates: list[ProgressUpdate] = []
    create_zone(ZoneRequest(name="long", sources=[str(src)]), store, progress=updates.append)
    phases = by_item_phase(updates)

    text_item = next(u.item for u in updates if u.item.endswith("call.txt"))
    redacting = phases[(text_item, REDACTING)]
    assert_advances(redacting)
    assert redacting[-1].total == (src / "call.txt").stat().st_size
    inside_first_pass = [u.done for u in redacting if 0 < u.done < 1_000_000]
    assert len(inside_first_pass) >= 5, [u.done for u in redacting]

    json_item = next(u.item for u in updates if u.item.endswith("members.json"))
    size = (src / "members.json").stat().st_size
    for phase in (LEARNING, SCANNING, FINGERPRINTING, REDACTING):
        seen = phases[(json_item, phase)]
        assert_advances(seen)
        # After each 10,000-record chunk: its share of the size.
        assert [u.done for u in seen] == [0, size * 2 // 5, size * 4 // 5, size], phase
