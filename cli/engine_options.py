"""The options every analysing command shares: --workers, --engine, --scheduler."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from piizone.cli.verbosity import detail, verbose

if TYPE_CHECKING:
    from piizone.scrubbers.engines import AnalysisEngine
    from piizone.scrubbers.policy import Policy


class EngineKind(StrEnum):
    local = "local"
    dask = "dask"


WORKERS = typer.Option(
    None,
    "--workers",
    "-w",
    min=1,
    help="Processes analysing text (default: all cores for inputs over 4 MB, else 1).",
)
ENGINE = typer.Option(EngineKind.local, "--engine", help="local processes, or a Dask cluster.")
SCHEDULER = typer.Option(
    None, "--scheduler", help="Dask scheduler address (tcp://host:8786); none: a LocalCluster."
)


@dataclass(frozen=True)
class EngineOptions:
    workers: int | None = None
    engine: str = "local"
    scheduler: str | None = None


@contextmanager
def engine_from(
    policy: Policy, options: EngineOptions, input_bytes: int | None = None
) -> Iterator[AnalysisEngine]:
    # Imported here: loading Presidio and spaCy takes seconds, and `piizone --help` or
    # `piizone audit log` should not pay for it.
    from piizone.scrubbers.engines import close_engine, make_engine

    if options.engine == "dask" and options.scheduler:
        from piizone.scrubbers.dask_engine import insecure_scheduler_warning

        warning = insecure_scheduler_warning(options.scheduler)
        if warning:
            sys.stderr.write(f"warning: {warning}\n")
    engine = make_engine(
        policy,
        workers=options.workers,
        engine=options.engine,
        scheduler=options.scheduler,
        input_bytes=input_bytes,
    )
    _describe(engine, policy, options, input_bytes)
    try:
        yield engine
    finally:
        close_engine(engine)


def _describe(
    engine: AnalysisEngine, policy: Policy, options: EngineOptions, input_bytes: int | None
) -> None:
    """Under --verbose: which engine runs, on how many workers, with which model and policy."""
    if not verbose():
        return
    workers = getattr(engine, "workers", 1)
    where = {"dask": f"dask ({options.scheduler or 'LocalCluster'})"}.get(
        options.engine, "in-process" if workers <= 1 else "local process pool"
    )
    detail(
        f"engine {where}, {workers} worker(s), spaCy model {policy.model.engine.spacy_model}, "
        f"policy {policy.sha256[:12]}"
        + ("" if input_bytes is None else f", {input_bytes} input bytes")
    )
