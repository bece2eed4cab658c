"""`--workers N`: the same analysis spread over N local processes (a fan-out engine).

Each worker builds the one-process `Engine` once from the policy (the spaCy model loads once per
worker); scrubbers/fan_out.py sends it windows in ordered batches and puts the results back in
input order. Analysis of a text depends only on the text and the policy, so any number of
workers gives the same findings, byte for byte, as one. scrubbers/engines.py chooses the engine.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from piizone.scrubbers.engine import Engine, engine_for
from piizone.scrubbers.fan_out import FanOutEngine
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.policy import Policy

_worker_engine: Engine | None = None


def _init_worker(policy: Policy) -> None:
    global _worker_engine
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see _start_forkserver_without_sigint
    _worker_engine = engine_for(policy)


def _analyze_batch(windows: list[str]) -> list[tuple[list[Finding], dict[str, int]]]:
    engine = _worker_engine
    assert engine is not None, "worker initialiser did not run"
    return engine.analyze_windows(windows)


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


class ProcessPoolEngine(FanOutEngine):
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
