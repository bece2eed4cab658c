"""The LocalCluster behind `--engine dask` admits only this run (issue 13, finding 5).

Before: the cluster listened on plain TCP with no authentication, so any local user could
connect a Client and run code as piizone's user (reading $PIIZONE_HOME/keys/).
"""

from __future__ import annotations

import gc

import pytest
from distributed import Client
from distributed.security import Security

from piizone.scrubbers.dask_engine import DaskEngine, insecure_scheduler_warning
from piizone.scrubbers.policy import load_policy


@pytest.fixture(scope="module")
def dask_engine():
    engine = DaskEngine(load_policy(), workers=1)
    yield engine
    engine.close()


def _connects(address: str, security: Security | None) -> bool:
    try:
        client = Client(address, security=security, timeout="3s")
    except Exception:  # whichever way the handshake fails (TLS, timeout, config), it failed
        refused = True
    else:
        refused = False
    if refused:
        # The half-made Client sits in a reference cycle; its __del__ closes its loop runner.
        # Collected by chance inside the next Client's start, that close waits on the lock the
        # start holds: the suite hung there once. Collect it now, outside any Client call.
        gc.collect()
        return False
    try:
        # A connected client can run code on the workers: prove it, then leave.
        return client.submit(sum, [1, 2], pure=False).result(timeout=10) == 3
    finally:
        client.close()


def test_local_cluster_refuses_a_client_without_the_runs_certificate(dask_engine):
    address = dask_engine._client.scheduler.address
    assert address.startswith("tls://127.0.0.1:")
    port = address.rsplit(":", 1)[1]
    assert not _connects(address, None)
    assert not _connects(f"tcp://127.0.0.1:{port}", None)
    # Another self-signed certificate (what an attacker can make) is not this run's.
    assert not _connects(address, Security.temporary())


def test_local_cluster_admits_the_runs_own_client(dask_engine):
    security = dask_engine._client.security
    assert security.require_encryption
    assert _connects(dask_engine._client.scheduler.address, security)


@pytest.mark.parametrize(
    "address",
    [
        "tcp://10.1.2.3:8786",
        "tcp://dask-scheduler:8786",
        "dask-scheduler:8786",
        "tcp://[2001:db8::1]:8786",
    ],
)
def test_plain_tcp_to_another_host_is_warned_about(address):
    warning = insecure_scheduler_warning(address)
    assert warning is not None and "unencrypted" in warning


@pytest.mark.parametrize(
    "address",
    [
        "tls://dask-scheduler:8786",
        "tcp://127.0.0.1:8786",
        "tcp://localhost:8786",
        "tcp://[::1]:8786",
    ],
)
def test_tls_or_loopback_scheduler_is_not_warned_about(address):
    assert insecure_scheduler_warning(address) is None
