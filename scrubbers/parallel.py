"""Engines that spread analysis over processes (local) or a Dask cluster, with the same output.

Both wrap the one-process `Engine`: each worker builds it once from the policy (the spaCy model
loads once per worker), texts travel in ordered batches, and results come back in input order.
Analysis of a text depends only on the text and the policy, so any number of workers gives the
same findings, byte for byte, as one.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

from piizone.scrubbers.engine import (
    Engine,
    EngineStats,
    FindingsMemo,
    WindowAssembly,
    add_counts,
    engine_for,
)
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.policy import Policy

BATCH_TEXTS = 256
BATCH_CHARS = 32_000
_worker_engine: Engine | None = None


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _init_worker(policy: Policy) -> None:
    global _worker_engine
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see _start_forkserver_without_sigint
    _worker_engine = engine_for(policy)


def _analyze_batch(windows: list[str]) -> list[tuple[list[Finding], dict[str, int]]]:
    engine = _worker_engine
    assert engine is not None, "worker initialiser did not run"
    return engine.analyze_windows(windows)


class _FanOutEngine:
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


def _worker_context():
    """Workers fork from a forkserver that has already imported the engine's libraries.

    Not a plain fork: the parent may run threads (progress bars), and a forked child of a
    threaded parent can deadlock on a lock held at fork time; the forkserver is a fresh,
    single-threaded process. Not spawn: every worker would import spaCy, Presidio and pandas
    again (seconds each on a small machine).
    """
    context = get_context("forkserver")
    context.set_forkserver_preload(["piizone.scrubbers.engine"])
    _start_forkserver_without_sigint()
    return context


def _start_forkserver_without_sigint() -> None:
    """Start the forkserver with SIGINT blocked, so it and every worker it forks never see it.

    Ctrl-C goes to the whole process group: a forkserver importing spaCy, or a worker, died on
    it with a KeyboardInterrupt traceback on the user's terminal. Only the parent should handle
    Ctrl-C (one `error: interrupted` line; it then shuts the pool down). The signal mask is
    inherited through fork and exec, so the forkserver and its children keep SIGINT blocked.
    Blocked, not ignored, in the parent: a Ctrl-C that arrives meanwhile stays pending and is
    delivered (KeyboardInterrupt) as soon as the mask is restored, instead of being lost.
    """
    from multiprocessing import forkserver, resource_tracker

    # forkserver.ensure_running() first starts the resource tracker, which blocks SIGINT around
    # its own spawn and then UNblocks it, so the forkserver was exec'd with SIGINT deliverable
    # (a Ctrl-C then killed it in its site import: "Fatal Python error"). Started here first,
    # the tracker is already running inside the block below and leaves the mask alone.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block; raise KeyboardInterrupt after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class ProcessPoolEngine(_FanOutEngine):
    """`--workers N` on one machine: N processes, each with its own Engine."""

    def __init__(self, policy: Policy, workers: int):
        super().__init__(policy, workers)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_worker_context(),
            initializer=_init_worker,
            initargs=(policy,),
        )

    def _submit(self, batch: list[str]) -> Future:
        # The first submit starts the workers; Ctrl-C in the middle of that left a half-started
        # worker reading its start-up data from a parent already gone (a traceback on the
        # terminal). The interrupt is held until the submit returns, then raised as usual.
        with _sigint_deferred():
            return self._pool.submit(_analyze_batch, batch)

    def _result(self, handle: Future) -> list[tuple[list[Finding], dict[str, int]]]:
        return handle.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# Below this much input the pool's start-up (a spawn and a model load per worker, seconds)
# costs more than it saves; an explicit --workers always wins.
AUTO_POOL_MIN_BYTES = 4 * 1024 * 1024


def make_engine(
    policy: Policy,
    *,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    input_bytes: int | None = None,
):
    """The engine for a command: in-process, a local process pool, or a Dask cluster."""
    if engine == "dask":
        from piizone.scrubbers.dask_engine import DaskEngine

        return DaskEngine(policy, scheduler=scheduler, workers=workers)
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}")
    if workers is None:
        small = input_bytes is not None and input_bytes < AUTO_POOL_MIN_BYTES
        workers = 1 if small else default_workers()
    if workers <= 1:
        return engine_for(policy)
    return ProcessPoolEngine(policy, workers)


def close_engine(engine) -> None:
    """Stop a pool or a Dask client; the in-process engine stays cached."""
    close = getattr(engine, "close", None)
    if close is not None:
        close()
