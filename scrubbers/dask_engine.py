"""`--engine dask`: the same analysis, in batches, on a Dask cluster (dask.distributed).

Each worker builds the engine once, through a worker plugin, when it joins; batches of texts are
submitted in order and their results gathered in order, so the output equals the local engine's.
With no scheduler address a LocalCluster of worker processes on this machine is started; it
speaks TLS with a certificate made for this run and held only in memory, and requires it of
every peer, so no other local user (or process without it) can connect and run code as
piizone's user, next to $PIIZONE_HOME/keys/.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import dask.config
from distributed import Client, LocalCluster, WorkerPlugin, get_worker
from distributed.security import Security

from piizone.scrubbers.engine import engine_for
from piizone.scrubbers.exceptions import EngineError
from piizone.scrubbers.fan_out import FanOutEngine, default_workers
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.policy import Policy

if TYPE_CHECKING:
    from piizone.scrubbers.engine import Engine

PLUGIN_NAME = "piizone-engine"

# A LocalCluster shares the machine with the analysis it runs; its housekeeping defaults are
# made for a dashboard nobody opens here. Measured on 2 cores, idle for 10 s: each worker used
# 0.47 s of CPU and the calling process (scheduler + client) 0.53 s; with these, 0.07 s and
# 0.16 s. Busy, a 50k-row redaction went from 1.2-1.5x the local pool's time to 1.1x.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,  # a stack sample every 10 ms per worker
    "distributed.admin.tick.interval": "200ms",  # event-loop blocked detection, 20 ms
    "distributed.admin.system-monitor.interval": "2s",  # psutil counters, 500 ms
    "distributed.worker.memory.monitor-interval": "1s",  # RSS poll, 100 ms
}


def _local_cluster_config() -> dict[str, Any]:
    """LOCAL_CLUSTER_CONFIG, and Dask's worker environment without MALLOC_TRIM_THRESHOLD_.

    Dask sets it (64 KiB) so workers hand freed memory back to the OS at once; spaCy allocates
    and frees per batch, and the trimming cost the local pool's workers 12% more CPU on the
    same redaction (10.4 s -> 11.7 s each) when set there. Worker memory stays bounded by the
    batch size (the local pool's workers run without it).
    """
    environ = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    kept = {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    return {**LOCAL_CLUSTER_CONFIG, "distributed.nanny.pre-spawn-environ": kept}


def insecure_scheduler_warning(address: str) -> str | None:
    """A warning when texts to analyse would cross the network in clear text, else None.

    Plain TCP (Dask's default protocol) is acceptable only to this machine's loopback. A host
    name other than localhost is not resolved (piizone does not look anything up): it counts
    as another host.
    """
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return None
    host = urlsplit(f"tcp://{location}").hostname or ""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"the Dask scheduler {address} is reached over unencrypted TCP: the texts to analyse "
        "cross the network in clear and anyone who reaches it can run code on its workers; "
        "use tls:// with certificates in Dask's distributed.comm.tls configuration"
    )


class EnginePlugin(WorkerPlugin):
    """Loads the policy's engine once per worker (the spaCy model is the expensive part)."""

    name = PLUGIN_NAME

    def __init__(self, policy: Policy):
        self.policy = policy
        self.engine: Engine | None = None

    def setup(self, worker) -> None:
        self.engine = engine_for(self.policy)


def _analyze_on_worker(windows: list[str]) -> list[tuple[list[Finding], dict[str, int]]]:
    # The client registers an EnginePlugin under this name; setup() ran before any task.
    engine = cast(EnginePlugin, get_worker().plugins[PLUGIN_NAME]).engine
    assert engine is not None
    return engine.analyze_windows(windows)


class DaskEngine(FanOutEngine):
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
                # Nannies hand the configuration (and the Security, in memory) to the worker
                # processes they start.
                with dask.config.set(_local_cluster_config()):
                    self._cluster = LocalCluster(
                        security=Security.temporary(),
                        protocol="tls://",
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
