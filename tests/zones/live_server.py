"""Run `piizone serve` as a real process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick for port 0 on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`python -m cli.main serve ARGS --port P` with PIIZONE_HOME=home; waits for /healthz."""

    def __init__(
        self,
        args: list[str],
        home: Path,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 180.0,
        verify: ssl.SSLContext | None = None,
    ):
        self.port = free_port()
        self.verify = verify or True
        self.url = f"{'https' if verify else 'http'}://127.0.0.1:{self.port}"
        self.home = home
        self._log = home.parent / f"serve-{self.port}.log"
        full_env = {**os.environ, "PIIZONE_HOME": str(home), "PYTHONPATH": str(REPO)}
        full_env.pop("PIIZONE_SERVE_TOKEN", None)
        full_env.update(env or {})
        with open(self._log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "piizone.cli.main",
                    "serve",
                    *args,
                    "--port",
                    str(self.port),
                ],
                cwd=REPO,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"piizone serve exited {self.process.returncode}: {self.log()}")
            try:
                healthz = httpx.get(f"{self.url}/healthz", timeout=2, verify=self.verify)
                if healthz.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"piizone serve did not come up: {self.log()}")
            time.sleep(0.25)

    def log(self) -> str:
        return self._log.read_text("utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop it as an init system would; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
