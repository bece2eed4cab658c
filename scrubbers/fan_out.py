"""The fan-out engine: the `Engine` interface over workers that each run their own `Engine`.

Texts are cut into windows here (engine.WindowAssembly), the windows travel to workers in
ordered batches and their results come back in input order, so any number of workers gives the
same findings, byte for byte, as one process. Subclasses say how a batch is submitted: a local
process pool (scrubbers/parallel.py) or a Dask cluster (scrubbers/dask_engine.py).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from piizone.scrubbers.engine import EngineStats, FindingsMemo, WindowAssembly, add_counts
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.policy import Policy

BATCH_TEXTS = 256
BATCH_CHARS = 32_000


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class FanOutEngine:
    """Engine interface over a pool: subclasses say how a batch is submitted."""

    def __init__(self, policy: Policy, workers: int):
        self.policy = policy
        self.workers = workers
        self.entities = policy.entities
        self.language = policy.model.engine.language
        self.stats = EngineStats()
        self._memo = FindingsMemo()

    def _submit(self, batch: list[str]) -> Any:
        raise NotImplementedError

    def _result(self, handle: Any) -> list[tuple[list[Finding], dict[str, int]]]:
        raise NotImplementedError

    def analyze(self, text: str) -> list[Finding]:
        return next(self.analyze_many([text]))

    def analyze_many(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[list[Finding]]:
        """Findings per text in input order; at most 2 batches per worker in flight (memory).

        Texts are cut into windows here and the windows travel in batches, so one long text
        (a 1 MB chunk of a transcript file) spreads over every worker too. Short texts already
        analysed in this process come from the memo, as with Engine.
        """
        assembly = WindowAssembly(self._memo, self.stats)
        in_flight: deque[Any] = deque()
        batch: list[str] = []
        chars = 0
        limit = max(2, self.workers * 2)

        def submit() -> None:
            nonlocal batch, chars
            if batch:
                in_flight.append(self._submit(batch))
                batch, chars = [], 0

        def drain() -> Iterator[list[Finding]]:
            for found, counts in assembly.ready():
                add_counts(self.stats.filtered, counts)
                yield found

        for text in texts:
            for window in assembly.add(text):
                batch.append(window)
                chars += len(window)
                if len(batch) >= BATCH_TEXTS or chars >= BATCH_CHARS:
                    submit()
                    if len(in_flight) >= limit:
                        assembly.settle(self._result(in_flight.popleft()))
            yield from drain()
        submit()
        while in_flight:
            assembly.settle(self._result(in_flight.popleft()))
            yield from drain()
        yield from drain()

    def forget(self) -> None:
        """Empty the findings memo (it lives in this process; workers keep none)."""
        self._memo.clear()

    def close(self) -> None:
        pass
