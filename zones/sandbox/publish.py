"""`--publish PORT`: the host's 127.0.0.1:PORT relayed over a Unix socket to 127.0.0.1:PORT inside
the sandbox (`Publisher` here, `RELAY_SCRIPT` inside). Only host-initiated connections cross;
the sandbox gains no way out."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from pathlib import Path

from piizone.zones.sandbox.errors import SandboxError

RELAY_SOCKET = "relay.sock"


# `--publish PORT`, the sandbox's end: started by the init step (capabilities dropped, like the
# command), it accepts on the Unix socket in the bind-mounted publish dir and connects each
# connection to 127.0.0.1:PORT *inside* the sandbox's network namespace. It only ever connects
# to that loopback port: nothing outbound exists to connect to.
RELAY_SCRIPT = """
import socket, sys, threading
path, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(64)
def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def serve(c):
    try:
        t = socket.create_connection(("127.0.0.1", port), timeout=10)
        t.settimeout(None)
    except OSError:
        c.close()
        return
    back = threading.Thread(target=pump, args=(t, c), daemon=True)
    back.start()
    pump(c, t)
    back.join()
    c.close()
    t.close()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""
# The init step starts the relay, waits for its socket, then remounts the publish dir read-only:
# the command (same uid) can then neither remove the socket nor plant a symlink in its place
# that the host side would follow. Connecting to a socket on a read-only mount still works.
# (`{ … & }`: a bare `&` would put the whole preceding && chain in the background.)
PUBLISH_STEP = (
    "{{ setpriv --bounding-set -all --inh-caps -all --no-new-privs -- "
    "{python} -c {script} {sock} {port} </dev/null >/dev/null 2>&1 & }} && n=0 && "
    "while [ ! -S {sock} ]; do n=$((n+1)); if [ $n -gt 200 ]; then "
    'echo "piizone: the publish relay did not start" >&2; exit 125; fi; sleep 0.05; done && '
    "mount -o remount,bind,ro {publish} && "
)


def check_port(port: int) -> int:
    if not 1 <= int(port) <= 65535:
        raise SandboxError(f"invalid port {port}", hint="--publish takes a TCP port, e.g. 8888")
    return int(port)


class Publisher:
    """Listens on the host's 127.0.0.1:PORT and relays each connection over the Unix socket that
    the sandbox's relay listens on. Only host-initiated connections to that one socket cross;
    the sandbox cannot initiate anything through it.

    The socket is reached through an O_PATH fd on the publish dir taken before the sandbox
    starts (`/proc/self/fd/N/relay.sock`: short enough for sun_path wherever $PIIZONE_HOME is),
    and must be a socket, not a symlink, each time: defence in depth on top of the read-only
    remount that keeps the command from touching the dir at all.
    """

    def __init__(self, port: int, publish_dir: Path):
        self.port = check_port(port)
        self._dir_fd = os.open(publish_dir, os.O_PATH | os.O_DIRECTORY)
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # Loopback only: publishing must not expose the notebook to the network.
            self._server.bind(("127.0.0.1", self.port))
            self._server.listen(64)
        except OSError as e:
            self.close()
            raise SandboxError(
                f"cannot publish port {self.port} on 127.0.0.1 ({e.strerror})",
                hint="pick another port with --publish",
            ) from None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="piizone-publish", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed at the end of the session
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _inner(self) -> socket.socket | None:
        try:
            st = os.stat(RELAY_SOCKET, dir_fd=self._dir_fd, follow_symlinks=False)
        except OSError:
            return None
        if not stat.S_ISSOCK(st.st_mode):
            return None
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            inner.connect(f"/proc/self/fd/{self._dir_fd}/{RELAY_SOCKET}")
        except OSError:
            inner.close()
            return None
        return inner

    def _serve(self, client: socket.socket) -> None:
        inner = self._inner()
        if inner is None:  # the sandbox is not (or no longer) listening
            client.close()
            return
        with self._lock:
            if self._closed:
                client.close()
                inner.close()
                return
            self._conns |= {client, inner}
        back = threading.Thread(target=_pump, args=(inner, client), daemon=True)
        back.start()
        _pump(client, inner)
        back.join()
        with self._lock:
            self._conns -= {client, inner}
        client.close()
        inner.close()

    def close(self) -> None:
        self._closed = True
        if hasattr(self, "_server"):
            self._server.close()
        with getattr(self, "_lock", threading.Lock()):
            for conn in list(getattr(self, "_conns", ())):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy one direction until EOF, then pass the EOF on (half-close keeps HTTP working)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
