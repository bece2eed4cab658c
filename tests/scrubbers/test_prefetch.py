"""Several small text files go to the pool together; findings and reports stay the same."""

from __future__ import annotations

from piizone.scrubbers.prefetch import prefetch, single_chunk_text
from piizone.scrubbers.scan import scan_paths
from tests.conftest import SAMPLE_DATA
from tests.scrubbers.fanout import InProcessFanOut

CALLS = SAMPLE_DATA / "call_transcripts"


def _report(engine) -> list[tuple]:
    report = scan_paths([CALLS], engine)
    return [(s.path, s.rows, sorted(s.entities.items()), len(s.samples)) for s in report.sources]


def test_scan_of_a_directory_sends_several_files_per_batch_with_the_same_report(engine):
    fan_out = InProcessFanOut(engine, workers=2)
    assert _report(fan_out) == _report(engine)
    files = sorted(CALLS.glob("*.txt"))
    texts = {p.read_text() for p in files}
    per_batch = [sum(w in texts for w in batch) for batch in fan_out.batches]
    # Without prefetch every batch would hold one file; now a batch holds many.
    assert max(per_batch) > 4
    assert sum(per_batch) == len(files)  # each file analysed once: scan reads the memo


def test_prefetch_yields_every_item_in_order_and_skips_what_it_cannot_read(engine, tmp_path):
    (tmp_path / "a.txt").write_text("call Ingrid Svensson at 212-555-0199")
    (tmp_path / "b.bin.txt").write_bytes(b"\x00\x01binary")
    (tmp_path / "c.csv").write_text("name\nIngrid\n")
    missing = tmp_path / "gone.txt"
    items = [tmp_path / "a.txt", tmp_path / "b.bin.txt", tmp_path / "c.csv", missing]
    fan_out = InProcessFanOut(engine, workers=2)
    assert list(prefetch(fan_out, items, lambda p: p)) == items
    assert fan_out.batches == [["call Ingrid Svensson at 212-555-0199"]]
    assert [single_chunk_text(p) for p in items[1:]] == [None, None, None]
    # The in-process engine has nothing to gain: items pass straight through.
    assert list(prefetch(engine, items, lambda p: p)) == items
