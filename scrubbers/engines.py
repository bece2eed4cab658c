"""Choosing the analysis engine for a command, and the interface every engine has.

Three engines detect the policy's entities with identical findings: the in-process `Engine`
(scrubbers/engine.py), a local process pool (`ProcessPoolEngine`, scrubbers/parallel.py) and a
Dask cluster (`DaskEngine`, scrubbers/dask_engine.py); the last two are fan-out engines
(scrubbers/fan_out.py). Callers get one from `make_engine` and use it through `AnalysisEngine`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from piizone.scrubbers.engine import EngineStats, engine_for
from piizone.scrubbers.fan_out import default_workers
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.parallel import ProcessPoolEngine
from piizone.scrubbers.policy import Policy


class AnalysisEngine(Protocol):
    """What scan, redaction, classification and prefetch use of an engine."""

    policy: Policy
    entities: list[str]
    language: str
    stats: EngineStats

    def analyze(self, text: str) -> list[Finding]: ...

    def analyze_many(
        self, texts: Iterable[str], batch_size: int = 32
    ) -> Iterator[list[Finding]]: ...

    def forget(self) -> None: ...


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
) -> AnalysisEngine:
    """The engine for a command: in-process, a local process pool, or a Dask cluster."""
    if engine == "dask":
        # Not a cycle (dask_engine imports nothing of this module): dask.distributed takes
        # ~0.4 s to import, and only --engine dask should pay for it.
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
