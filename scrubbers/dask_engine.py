"""`--engine dask`: the same analysis, in batches, on a Dask cluster (dask.distributed).

Each worker builds the engine once, through a worker plugin, when it joins; batches of texts are
submitted in order and their results gathered in order, so the output equals the local engine's.
With no scheduler address a LocalCluster of worker processes on this machine is started.
"""

from __future__ import annotations

import logging
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, get_worker

from scrubbers.engine import engine_for
from scrubbers.exceptions import EngineError
from scrubbers.findings import Finding
from scrubbers.parallel import _FanOutEngine, default_workers
from scrubbers.policy import Policy

PLUGIN_NAME = "piizone-engine"


class EnginePlugin(WorkerPlugin):
    """Loads the policy's engine once per worker (the spaCy model is the expensive part)."""

    name = PLUGIN_NAME

    def __init__(self, policy: Policy):
        self.policy = policy
        self.engine = None

    def setup(self, worker) -> None:
        self.engine = engine_for(self.policy)


def _analyze_on_worker(windows: list[str]) -> list[tuple[list[Finding], dict[str, int]]]:
    return get_worker().plugins[PLUGIN_NAME].engine.analyze_windows(windows)


class DaskEngine(_FanOutEngine):
    """Engine interface over a Dask cluster (an address, or a LocalCluster of processes)."""

    def __init__(self, policy: Policy, *, scheduler: str | None = None, workers: int | None = None):
        workers = workers or default_workers()
        super().__init__(policy, workers)
        self._cluster = None
        # distributed logs cluster chatter at INFO; piizone's stderr is for the user.
        logging.getLogger("distributed").setLevel(logging.WARNING)
        try:
            if scheduler:
                self._client = Client(scheduler, timeout="30s")
            else:
                self._cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                )
                self._client = Client(self._cluster)
        except (OSError, TimeoutError) as e:
            raise EngineError(
                f"cannot reach the Dask scheduler {scheduler or '(local)'}: {type(e).__name__}",
                hint="check the address (tcp://host:8786) and that it is up",
            ) from None
        self._client.register_plugin(EnginePlugin(policy))
        self.workers = max(workers, len(self._client.scheduler_info().get("workers", {})))

    def _submit(self, batch: list[str]) -> Any:
        return self._client.submit(_analyze_on_worker, batch, pure=False)

    def _result(self, handle: Any) -> list[tuple[list[Finding], dict[str, int]]]:
        return handle.result()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
