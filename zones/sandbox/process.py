"""The sandbox process: started with the zone's data stream as fd 3, fed from a thread, its
output pumped through the stream scanner, and stopped by the signals that end a session
(`Interrupts`). It dies with piizone, under bwrap and the unshare fallback alike.
"""

from __future__ import annotations

import contextlib
import ctypes  # at the top: _child runs after fork, where an import could deadlock
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from piizone.zones.sandbox.errors import SandboxError, SandboxUnavailable, SessionInterrupted
from piizone.zones.sandbox.isolation import (
    ISOLATION_BWRAP,
    ISOLATION_UNSHARE,
    build_bwrap_args,
    build_unshare_args,
)
from piizone.zones.sandbox.layout import DATA_FD, SandboxLayout, host_process_env
from piizone.zones.sandbox.zone_stream import tar_stream, zone_entries
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore

# Signals that end a session early, and how a shell reports each (128 + number).
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupts:
    """While a session runs: a SIGINT/SIGTERM/SIGHUP stops the sandbox (terminate bwrap, which
    takes its pid namespace with it) and is remembered, so the session ends non-zero and
    audited as interrupted instead of looking like the command's own exit. After the command
    (during the egress check) the signal raises SessionInterrupted at once.

    Handlers can only be installed from the main thread; elsewhere KeyboardInterrupt keeps its
    usual path (`run_sandboxed` terminates the sandbox) and SIGTERM its default action.
    """

    def __init__(self) -> None:
        self.signal: str | None = None
        self.proc: subprocess.Popen | None = None
        self.running = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in INTERRUPT_SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum).name
        if self.running and self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.terminate()
            return
        if not self.running and self.proc is not None:  # the command is over: stop now
            raise self.error()

    def error(self) -> SessionInterrupted:
        name = self.signal or "SIGINT"
        return SessionInterrupted(name, 128 + signal.Signals[name].value)


def run_sandboxed(
    store: ZoneStore,
    manifest: ZoneManifest,
    dek: bytes,
    cmd: Sequence[str],
    *,
    session: str,
    host_out: str,
    ro_binds: list[str],
    work_dir: str | None,
    memory: int | None,
    devices: list[str],
    tty: bool,
    publish_dir: str | None = None,
    publish_port: int | None = None,
    isolation: str = ISOLATION_BWRAP,
    interrupts: Interrupts | None = None,
    streams: Any = None,
    code_dir: str | None = None,
) -> tuple[int, int, float | None]:
    """Run `cmd` in a sandbox on the zone's data until it exits: (its status, bytes of data
    streamed in, seconds that took). `streams` (a StreamScanner) masks what it prints."""
    layout = session_layout(
        manifest.name, cmd, session=session, host_out=host_out, ro_binds=ro_binds,
        work_dir=work_dir, memory=memory, devices=devices, tty=tty, publish_dir=publish_dir,
        publish_port=publish_port, code_dir=code_dir,
    )  # fmt: skip
    build = build_unshare_args if isolation == ISOLATION_UNSHARE else build_bwrap_args
    args = build(layout)
    # `run`: the command's stdout/stderr pass through the stream scanner (masked as they
    # stream); `shell` keeps the terminal (an audited exception, docs/sandbox.md).
    piped = streams is not None and not tty
    read_fd, write_fd = os.pipe()
    proc = _start(args, read_fd, write_fd, piped=piped)
    interrupts = interrupts or Interrupts()
    interrupts.proc, interrupts.running = proc, True
    if interrupts.signal:  # arrived while starting up
        proc.terminate()
    directory = store.version_dir(manifest.name, manifest.version)
    feeder, fed = _start_feed(write_fd, directory, manifest, dek)
    pumps = []
    if piped:
        for src, dst in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
            pump = threading.Thread(target=streams.pump, args=(src, dst), daemon=True)
            pump.start()
            pumps.append(pump)
    status = _wait(proc, interrupts)
    for pump in pumps:
        # The pid namespace is gone, so every writer of the pipes is: EOF comes. The bound is
        # for a scan still working through what was printed last.
        pump.join(timeout=600)
    feeder.join()
    if interrupts.signal:
        # The feed broke because the sandbox was stopped: report the interruption, not that.
        return status, fed.get("bytes", 0), fed.get("seconds")
    if "error" in fed:
        raise SandboxError(f"could not load zone {manifest.name!r}: {fed['error']}")
    if status < 0:  # killed by a signal: report it like a shell does
        status = 128 - status
    return status, fed.get("bytes", 0), fed.get("seconds")


def session_layout(
    zone: str,
    cmd: Sequence[str],
    *,
    session: str,
    host_out: str,
    ro_binds: list[str],
    work_dir: str | None,
    memory: int | None,
    devices: list[str],
    tty: bool,
    publish_dir: str | None = None,
    publish_port: int | None = None,
    code_dir: str | None = None,
) -> SandboxLayout:
    """The layout of one session's sandbox, from its options and the caller's environment."""
    command = list(cmd)
    extra_env = {}
    if tty:
        extra_env["TERM"] = os.environ.get("TERM", "xterm")
        # A shell needs a controlling terminal for job control, but sharing ours would let the
        # command TIOCSTI keystrokes into it. script(1) gives it a fresh pty from the sandbox's
        # own devpts instead, so --new-session stays on.
        command = ["script", "-qefc", shlex.join(cmd), "/dev/null"]
    return SandboxLayout(
        zone=zone,
        session=session,
        out_dir=host_out,
        data_fd=DATA_FD,
        command=command,
        ro_binds=ro_binds,
        work_dir=work_dir,
        code_dir=code_dir,
        memory=memory,
        devices=devices,
        lang=os.environ.get("LANG") or "C.UTF-8",
        extra_env=extra_env,
        # The caller's venv first, so `python` inside is the interpreter with their packages.
        path_prefix=[os.path.join(sys.prefix, "bin")],
        publish_dir=publish_dir,
        publish_port=publish_port,
        python=sys.executable,
    )


def _start(args: list[str], read_fd: int, write_fd: int, *, piped: bool) -> subprocess.Popen:
    """Start bwrap (or unshare) with the read end of the data pipe as its fd 3."""
    try:
        # The stream always arrives as fd 3 (dash, the usual /bin/sh, cannot redirect from
        # fds above 9). dup2 in the child only; fd 3 in pass_fds keeps it open past close_fds.
        parent = os.getpid()
        return subprocess.Popen(
            args,
            pass_fds=(DATA_FD,),
            preexec_fn=lambda: _child(read_fd, parent),
            env=host_process_env(),
            stdout=subprocess.PIPE if piped else None,
            stderr=subprocess.PIPE if piped else None,
        )
    except OSError as e:
        os.close(write_fd)
        raise SandboxUnavailable(f"cannot start bwrap ({e.strerror})") from e
    finally:
        os.close(read_fd)


def _start_feed(
    write_fd: int, directory: Path, manifest: ZoneManifest, dek: bytes
) -> tuple[threading.Thread, dict[str, Any]]:
    """A thread streaming the zone's plaintext into the pipe; what it did lands in the dict
    (bytes and seconds, or the error that stopped it)."""
    fed: dict[str, Any] = {}

    def feed() -> None:
        start = time.monotonic()
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 20) as pipe:
                fed["bytes"] = tar_stream(zone_entries(directory, manifest, dek), pipe)
            fed["seconds"] = time.monotonic() - start
        except BrokenPipeError:
            fed["error"] = "the sandbox stopped reading the zone data"
        except Exception as e:  # noqa: BLE001 - reported below; closing the pipe stops tar
            fed["error"] = f"{type(e).__name__}: {str(e)[:200]}"

    feeder = threading.Thread(target=feed, name="piizone-feed", daemon=True)
    feeder.start()
    return feeder, fed


def _wait(proc: subprocess.Popen, interrupts: Interrupts) -> int:
    try:
        return proc.wait()
    except KeyboardInterrupt:  # no handler (not the main thread): the same, by hand
        interrupts.signal = interrupts.signal or "SIGINT"
        proc.terminate()
        return proc.wait()
    finally:
        interrupts.running = False


def _child(read_fd: int, parent: int) -> None:
    """In the forked child before exec: the data pipe as fd 3, and die with us (bwrap has
    --die-with-parent; unshare(1) has no such option, so PR_SET_PDEATHSIG is set here)."""
    os.dup2(read_fd, DATA_FD)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
        os._exit(126)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(126)
