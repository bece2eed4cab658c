"""--workers and --engine dask give the same findings as one process, in the same order."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from piizone.scrubbers.engine import WINDOW_CHARS, Engine, engine_for
from piizone.scrubbers.engines import AUTO_POOL_MIN_BYTES, close_engine, make_engine
from piizone.scrubbers.fan_out import BATCH_CHARS
from piizone.scrubbers.parallel import ProcessPoolEngine
from piizone.scrubbers.policy import load_policy
from tests.conftest import SAMPLE_DATA
from tests.scrubbers.fanout import InProcessFanOut


@pytest.fixture(scope="module")
def texts() -> list[str]:
    bodies = [
        json.loads(line)["body"]
        for line in (SAMPLE_DATA / "support_tickets.jsonl").read_text().splitlines()[:120]
    ]
    transcript = (SAMPLE_DATA / "call_transcripts" / "call_006.txt").read_text()
    # Repeats exercise the memo; the empty text and a long document the edge cases.
    return bodies + bodies[:10] + ["", transcript, "lorem ipsum " * 5000 + bodies[0]]


def test_process_pool_equals_one_process(engine, texts):
    expected = list(engine.analyze_many(texts))
    pool = ProcessPoolEngine(load_policy(), workers=2)
    try:
        assert list(pool.analyze_many(texts)) == expected
        assert pool.stats.texts == len(texts)
    finally:
        pool.close()


def test_dask_local_cluster_equals_one_process(engine, texts):
    expected = list(engine.analyze_many(texts))
    dask_engine = make_engine(load_policy(), engine="dask", workers=2)
    try:
        assert dask_engine.workers == 2
        assert list(dask_engine.analyze_many(texts)) == expected
        # The local cluster's workers run without Dask's CPU-costly housekeeping defaults.
        seen = dask_engine._client.run(_worker_settings)
        assert list(seen.values()) == [(False, None)] * 2
    finally:
        dask_engine.close()


def _worker_settings() -> tuple[bool, str | None]:
    import os

    import dask.config

    profiling = dask.config.get("distributed.worker.profile.enabled")
    return profiling, os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_small_inputs_stay_in_process():
    # Below AUTO_POOL_MIN_BYTES (and with no --workers) the pool's start-up would cost more
    # than it saves: the command gets this process's cached Engine and no worker starts.
    policy = load_policy()
    children_before = set(multiprocessing.active_children())
    small = make_engine(policy, input_bytes=AUTO_POOL_MIN_BYTES - 1, workers=None)
    try:
        assert type(small) is Engine
        assert small is engine_for(policy)  # the one cached per policy, not a new one
        assert small.analyze("call Jane Smith at 212-555-0100")  # analysed here
        assert set(multiprocessing.active_children()) == children_before
    finally:
        close_engine(small)


def test_large_inputs_or_explicit_workers_use_a_pool():
    policy = load_policy()
    pool = make_engine(policy, input_bytes=AUTO_POOL_MIN_BYTES, workers=2)
    try:
        assert isinstance(pool, ProcessPoolEngine)
        assert pool.workers == 2
    finally:
        close_engine(pool)
    # An explicit --workers 1 stays in process whatever the input size.
    assert type(make_engine(policy, input_bytes=10**9, workers=1)) is Engine


def test_one_long_text_spreads_over_workers_in_window_batches(engine, texts):
    # A 1 MB chunk of a transcript file is one text: its windows, not the whole text, are the
    # unit of work, so every worker gets a share of it.
    long_text = " ".join(texts[:120]) * 8
    assert len(long_text) > 8 * WINDOW_CHARS
    fan_out = InProcessFanOut(engine, workers=2)
    assert fan_out.analyze(long_text) == engine.analyze(long_text)
    assert len(fan_out.batches) >= 4
    assert all(sum(map(len, b)) <= BATCH_CHARS + WINDOW_CHARS for b in fan_out.batches)
    assert max(len(w) for b in fan_out.batches for w in b) <= WINDOW_CHARS


def test_fan_out_keeps_order_and_filter_counts_with_memo_hits(engine, texts):
    fan_out = InProcessFanOut(engine, workers=2)
    mixed = texts[:5] + texts[:5] + [texts[-1]] + texts[:3]
    engine.stats.filtered.clear()
    expected = list(engine.analyze_many(mixed))
    expected_counts = dict(engine.stats.filtered)
    assert list(fan_out.analyze_many(mixed)) == expected
    assert fan_out.stats.filtered == expected_counts
    assert fan_out.stats.texts == len(mixed)
