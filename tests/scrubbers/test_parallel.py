"""--workers and --engine dask give the same findings as one process, in the same order."""

from __future__ import annotations

import json

import pytest

from scrubbers.parallel import ProcessPoolEngine, make_engine
from scrubbers.policy import load_policy
from tests.conftest import SAMPLE_DATA


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
    finally:
        dask_engine.close()


def test_small_inputs_stay_in_process():
    policy = load_policy()
    assert not isinstance(make_engine(policy, input_bytes=10_000), ProcessPoolEngine)
    pool = make_engine(policy, input_bytes=10**9, workers=None)
    try:
        assert isinstance(pool, ProcessPoolEngine) or pool.__class__.__name__ == "Engine"
    finally:
        getattr(pool, "close", lambda: None)()
