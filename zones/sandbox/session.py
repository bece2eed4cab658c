"""Sandbox sessions: run a command on a zone's decrypted data with no network, under bubblewrap.

How (docs/sandbox.md has the threat model and the measured numbers):

* bwrap unshares every namespace (user, mount, pid, ipc, uts, net, cgroup). The new network
  namespace has only `lo`, so nothing leaves; the pid namespace dies with bwrap, and bwrap dies
  with us (`--die-with-parent`), so a SIGKILL of piizone leaves no sandboxed process behind.
* The zone's plaintext is streamed by this process as a tar over a pipe straight into a tmpfs
  that exists only in the sandbox's mount namespace; an in-sandbox init step unpacks it, remounts
  it read-only and then drops every capability before exec'ing the command. Nothing decrypted
  touches a persistent filesystem, and the tmpfs vanishes with the namespace.
* Only /usr, /etc and the caller's Python prefixes are visible (read-only); $PIIZONE_HOME, the
  caller's home and the rest of /root are not. The command's outputs go to /zone/out, a private
  host dir that `piizone.zones.leakcheck.egress` scans before anything is released.
* Without a working bwrap, root falls back to unshare(1) with the same layout built by a setup
  script (`build_unshare_args`); anyone else is refused. Never unsandboxed.
* `--publish PORT` relays the host's 127.0.0.1:PORT over a Unix socket to 127.0.0.1:PORT
  inside (`Publisher` here, `RELAY_SCRIPT` inside); the sandbox gains no way out.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piizone.fs import is_within
from piizone.zones import access
from piizone.zones.audit import log as audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import ensure_private_dir, piizone_home, zones_dir
from piizone.zones.lifecycle import open_check
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.store import ZoneStore
from piizone.zones.storage.zone_keys import unwrap_zone_key

ISOLATION_BWRAP = "bwrap"
ISOLATION_UNSHARE = "unshare"
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ZONE_DATA = "/zone/data"
ZONE_OUT = "/zone/out"
ZONE_HOME = "/zone/home"
ZONE_WORK = "/zone/work"
ZONE_PUBLISH = "/zone/publish"
RELAY_SOCKET = "relay.sock"
DATA_FD = 3
_TAR_BUFSIZE = 1 << 20
# Device nodes the NVIDIA driver needs in user space; bound only when they exist on the host.
NVIDIA_DEVICE_GLOBS = (
    "/dev/nvidia[0-9]*",
    "/dev/nvidiactl",
    "/dev/nvidia-uvm*",
    "/dev/nvidia-modeset",
)
# How every bwrap call here starts (sessions and the probe that checks they can run): every
# namespace unshared, and uid 0 inside, mapped to the caller outside: the init step needs it to
# remount (mount(8) refuses non-zero uids); the command keeps the name but not one capability.
BWRAP_NAMESPACES = (
    "bwrap",
    "--unshare-all",
    "--unshare-user",
    "--uid",
    "0",
    "--gid",
    "0",
    "--die-with-parent",
)
_SIZE = re.compile(r"^(\d+)([kKmMgGtT]?)i?[bB]?$")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# The in-sandbox init step. It runs with CAP_SYS_ADMIN inside the new user namespace (needed to
# remount the data read-only), then `setpriv` empties the bounding set and forbids new privileges,
# so the command cannot remount /zone/data read-write nor regain anything via setuid binaries.
# The data fd is closed before exec: the command never sees the stream.
INIT_SCRIPT = (
    "tar -C {data} --no-same-owner -xf - <&{fd} && exec {fd}<&- && "
    "mount -o remount,bind,ro {data} && "
    'exec setpriv --bounding-set -all --inh-caps -all --no-new-privs -- "$@"'
)


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


class SandboxError(ZoneError):
    """A sandbox session could not be started or run."""


class SandboxUnavailable(SandboxError):
    """No isolation is available here (bubblewrap missing or user namespaces blocked)."""


class SessionInterrupted(SandboxError):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) ended the session; its outputs were discarded."""

    def __init__(self, signame: str, exit_code: int):
        super().__init__(
            f"session interrupted by {signame}; its outputs were discarded unscanned",
            hint="rerun the command to completion to get its outputs checked and released",
        )
        self.signal = signame
        self.exit_code = exit_code


class SandboxDenied(SandboxError):
    """The caller may not open this zone (not its owner, not granted, expired)."""

    exit_code = 1


@dataclass
class SessionResult:
    session: str
    zone: str
    version: int
    isolation: str
    command_status: int
    exit_code: int  # what `piizone sandbox run` exits with
    duration_s: float
    data_bytes: int
    data_ready_s: float | None  # time to stream the zone's data into the sandbox
    egress: Any = None  # piizone.zones.leakcheck.egress.EgressReport
    notes: list[str] = field(default_factory=list)


# -- pure pieces (unit-tested without bubblewrap) ----------------------------------------------


def parse_size(text: str) -> int:
    """ "512M", "2G", "1048576" -> bytes (binary units)."""
    match = _SIZE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise SandboxError(f"invalid size {text!r}", hint="use a number and a unit: 512M, 4G")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def gpu_devices(globs: Iterable[str] = NVIDIA_DEVICE_GLOBS) -> list[str]:
    return sorted({p for pattern in globs for p in glob.glob(pattern)})


def host_process_env() -> dict[str, str]:
    """The environment bwrap/unshare themselves start with: an allow-list, nothing else.

    bwrap is pid 1 of the sandbox (and the fallback's setup shell is), and `/proc/1/environ`
    is readable inside: `--clearenv` clears only the command's environment, so whatever the
    caller had (PIIZONE_PASSPHRASE, PGPASSWORD, cloud credentials) would be one `cat` away.
    """
    return {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def python_prefixes() -> list[str]:
    """The dirs `python` needs inside: the venv (sys.prefix) and the interpreter it points at."""
    prefixes = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted(p for p in prefixes if p not in ("/", "/usr") and not p.startswith("/usr/"))


@dataclass(frozen=True, kw_only=True)
class SandboxLayout:
    """What one sandbox sees and runs: the input of both builders (bwrap and the unshare
    fallback), so the two describe the same layout from the same values."""

    zone: str
    session: str
    out_dir: str  # host dir bound writable at /zone/out
    data_fd: int  # the fd the zone's tar stream arrives on
    command: Sequence[str]
    ro_binds: Sequence[str] = ()
    work_dir: str | None = None
    memory: int | None = None  # bytes; caps the /tmp and /zone/data tmpfs
    devices: Sequence[str] = ()
    new_session: bool = True
    lang: str = "C.UTF-8"
    extra_env: dict[str, str] | None = None
    path_prefix: Sequence[str] = ()
    publish_dir: str | None = None
    publish_port: int | None = None
    python: str | None = None

    def env(self) -> dict[str, str]:
        """The command's whole environment: an allow-list, nothing inherited from the caller."""
        return {
            "PATH": ":".join([*self.path_prefix, SANDBOX_PATH]),
            "LANG": self.lang,
            "HOME": ZONE_HOME,
            "PIIZONE_ZONE": self.zone,
            "PIIZONE_SESSION": self.session,
            **(self.extra_env or {}),
        }

    def publish_step(self) -> str:
        """The init step's part that starts the --publish relay (see PUBLISH_STEP)."""
        if not self.publish_port or not self.python:
            raise SandboxError("publishing needs a port and the relay's python")
        return PUBLISH_STEP.format(
            python=shlex.quote(self.python),
            script=shlex.quote(RELAY_SCRIPT),
            sock=f"{ZONE_PUBLISH}/{RELAY_SOCKET}",
            port=int(self.publish_port),
            publish=ZONE_PUBLISH,
        )


def build_bwrap_args(layout: SandboxLayout) -> list[str]:
    """The full bwrap argv. Pure: every decision about what the sandbox sees is made here."""
    size = ["--size", str(layout.memory)] if layout.memory else []
    args = [*BWRAP_NAMESPACES]
    if layout.new_session:
        # setsid(): the command cannot TIOCSTI keystrokes into the caller's terminal.
        args.append("--new-session")
    args += [
        "--cap-add",
        "CAP_SYS_ADMIN",
        "--cap-add",
        "CAP_SETPCAP",
        "--hostname",
        "piizone-sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    for device in layout.devices:
        args += ["--dev-bind", device, device]
    args += [*size, "--tmpfs", "/tmp"]
    for path in layout.ro_binds:
        args += ["--ro-bind", path, path]
    args += [
        "--tmpfs",
        "/zone",
        *size,
        "--tmpfs",
        ZONE_DATA,
        "--tmpfs",
        ZONE_HOME,
        "--bind",
        layout.out_dir,
        ZONE_OUT,
    ]
    if layout.publish_dir:
        # Writable only until the init step has created the relay's socket (see PUBLISH_STEP).
        args += ["--bind", layout.publish_dir, ZONE_PUBLISH]
    if layout.work_dir:
        args += ["--ro-bind", layout.work_dir, ZONE_WORK]
    args += ["--chdir", ZONE_WORK if layout.work_dir else ZONE_HOME, "--clearenv"]
    for key, value in layout.env().items():
        args += ["--setenv", key, value]
    init = INIT_SCRIPT.format(data=ZONE_DATA, fd=layout.data_fd)
    if layout.publish_dir:
        # After the data is loaded and fd 3 closed: the relay never holds the data stream.
        marker = f"mount -o remount,bind,ro {ZONE_DATA} && "
        init = init.replace(marker, marker + layout.publish_step(), 1)
    args += ["--", "sh", "-c", init, "piizone-init", *layout.command]
    return args


# Brings `lo` up in the fallback's new network namespace (bwrap does it itself): a notebook and
# the --publish relay listen on 127.0.0.1. Python, not ip(8), which may not be installed.
_LO_UP = (
    "import fcntl,socket,struct;s=socket.socket();"
    "f=struct.unpack('16sH',fcntl.ioctl(s,0x8913,struct.pack('16sH',b'lo',0)))[1];"
    "fcntl.ioctl(s,0x8914,struct.pack('16sH',b'lo',f|1))"
)


def build_unshare_args(layout: SandboxLayout) -> list[str]:
    """The fallback when bubblewrap cannot run: unshare(1) as root, the same layout by hand.

    New mount, pid, net, ipc, uts and cgroup namespaces; the setup script builds a root of
    tmpfs and read-only binds (what bwrap's arguments describe), pivots into it, and execs the
    command with every capability dropped. There is no user namespace: the command is the
    host's uid 0 without capabilities, so, as bwrap does, /proc/sys, /proc/sysrq-trigger,
    /proc/irq and /proc/bus are read-only, /sys is not mounted and /dev holds only the usual
    character devices (root's file permissions would otherwise reach kernel knobs).
    """
    if os.geteuid() != 0:
        raise SandboxError("the unshare fallback needs root")
    q = shlex.quote
    size = f",size={layout.memory}" if layout.memory else ""

    def ro(src: str, dst: str) -> list[str]:
        # Not --rbind: a remount makes only the top mount read-only, and mounts below it (in a
        # container, /etc/hosts and /etc/resolv.conf) would stay writable to the host's uid 0.
        return [
            f'mkdir -p "$R"{q(dst)}',
            f'mount --bind {q(src)} "$R"{q(dst)}',
            f'mount -o remount,bind,ro "$R"{q(dst)}',
        ]

    lines = [
        "set -eu",
        # Nothing mounted here propagates back to the host.
        "mount --make-rprivate /",
        # The new root is a tmpfs mounted, in this namespace only, on an empty dir of the
        # session (removed with it): nothing reaches the host's disk.
        f"R={q(os.path.join(os.path.dirname(layout.out_dir.rstrip('/')), 'root'))}",
        'mkdir -p "$R"',
        'mount -t tmpfs -o mode=0755 root "$R"',
        'cd "$R"',
        "mkdir -p usr etc proc dev tmp zone .old",
        "ln -s usr/lib lib; ln -s usr/lib64 lib64; ln -s usr/bin bin; ln -s usr/sbin sbin",
        *ro("/usr", "/usr"),
        *ro("/etc", "/etc"),
        # /tmp before the Python prefixes: a venv under /tmp (a CI checkout) is bound on top of
        # the fresh tmpfs instead of being hidden by it, as with bwrap's argument order.
        f'mount -t tmpfs -o mode=1777,nosuid,nodev{size} tmp "$R/tmp"',
    ]
    for path in layout.ro_binds:
        lines += ro(path, path)
    lines += [
        'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
        'for d in sys sysrq-trigger irq bus; do [ -e "$R/proc/$d" ] || continue; '
        'mount --bind "$R/proc/$d" "$R/proc/$d"; mount -o remount,bind,ro "$R/proc/$d"; done',
        'mount -t tmpfs -o mode=0755,nosuid dev "$R/dev"',
        "for n in null zero full random urandom tty; do "
        'touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done',
        'mkdir "$R/dev/pts" "$R/dev/shm"',
        'mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"',
        'ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"',
        'ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"',
        'ln -s /proc/self/fd/2 "$R/dev/stderr"',
        'mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"',
    ]
    for device in layout.devices:
        lines += [f'touch "$R"{q(device)}', f'mount --bind {q(device)} "$R"{q(device)}']
    lines += [
        'mount -t tmpfs -o mode=0755 zone "$R/zone"',
        'mkdir "$R/zone/data" "$R/zone/home" "$R/zone/out"',
        f'mount -t tmpfs -o mode=0755,nosuid,nodev{size} data "$R/zone/data"',
        'mount -t tmpfs -o mode=0700,nosuid,nodev home "$R/zone/home"',
        f'mount --bind {q(layout.out_dir)} "$R/zone/out"',
    ]
    if layout.work_dir:
        lines += ro(layout.work_dir, ZONE_WORK)
    if layout.publish_dir:
        publish = q(layout.publish_dir)
        lines += [f'mkdir "$R{ZONE_PUBLISH}"', f'mount --bind {publish} "$R{ZONE_PUBLISH}"']
    lines += [
        f'tar -C "$R/zone/data" --no-same-owner -xf - <&{layout.data_fd}',
        f"exec {layout.data_fd}<&-",
        'mount -o remount,bind,ro "$R/zone/data"',
        "hostname piizone-sandbox",
        f"{q(layout.python or sys.executable)} -c {q(_LO_UP)}",
        'pivot_root "$R" "$R/.old"',
        "cd /",
        "umount -l /.old",
        "rmdir /.old",
    ]
    if layout.publish_dir:
        lines.append(layout.publish_step().removesuffix(" && ") + " || exit 125")
    lines.append(f"cd {ZONE_WORK if layout.work_dir else ZONE_HOME}")
    env_args = " ".join(q(f"{k}={v}") for k, v in layout.env().items())
    # setsid (bwrap's --new-session): no TIOCSTI into the caller's terminal.
    session_cmd = "setsid -w " if layout.new_session else ""
    lines.append(
        "exec setpriv --bounding-set -all --inh-caps -all --no-new-privs -- "
        f'env -i {env_args} {session_cmd}"$@"'
    )
    script = "\n".join(lines)
    return [
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--pid",
        "--cgroup",
        "--fork",
        # The namespace's init dies with unshare, and unshare with us (PR_SET_PDEATHSIG in
        # _run_bwrap): a SIGKILL of piizone leaves no sandboxed process, as with bwrap.
        "--kill-child",
        "--",
        "sh",
        "-c",
        script,
        "piizone-init",
        *layout.command,
    ]


def check_binds(binds: Iterable[str], home: str, *, allowed_inside: Iterable[str] = ()) -> None:
    """Refuse when a bound dir would expose $PIIZONE_HOME (keys, other zones, the audit log)."""
    allowed = list(allowed_inside)
    for bind in binds:
        if is_within(home, bind) or (
            is_within(bind, home) and not any(is_within(bind, a) for a in allowed)
        ):
            raise SandboxError(
                f"$PIIZONE_HOME ({home}) overlaps {bind}, which the sandbox would see",
                hint="move $PIIZONE_HOME out of /usr, /etc, the Python environment and the "
                "working directory",
            )


def may_open(manifest: dict[str, Any], user: str) -> bool:
    return user == manifest.get("owner") or user in (manifest.get("grants") or [])


def tar_stream(
    entries: Iterable[tuple[str, int, Iterator[bytes]]], dst: Any, *, mtime: float | None = None
) -> int:
    """Write (relpath, size, chunks) as an uncompressed tar stream ('w|': never seeks, no temp
    files), so decrypted bytes go from memory straight into the pipe. Returns bytes of content."""
    total = 0
    now = time.time() if mtime is None else mtime
    # 1 MiB (one AEAD segment) both for reads and for the stream's buffer: tarfile's stream
    # re-slices its buffer per `bufsize` written, quadratic with the 10 KiB default.
    with tarfile.open(
        fileobj=dst, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_TAR_BUFSIZE
    ) as tar:
        # CPython's TarFile sets copybufsize in __init__; typeshed does not declare it.
        tar.copybufsize = _TAR_BUFSIZE  # type: ignore[attr-defined]
        for relpath, size, chunks in entries:
            info = tarfile.TarInfo(relpath)
            info.size, info.mode, info.mtime, info.uid, info.gid = size, 0o444, now, 0, 0
            tar.addfile(info, _ChunkReader(chunks, size))
            total += size
    return total


class _ChunkReader:
    """A read()-able view of an iterator of byte chunks; checks the promised size exactly.

    Reads return exactly n bytes until the end (tarfile treats a short read as truncation) and
    copy each byte once: slicing a growing buffer made streaming quadratic in the segment size.
    """

    def __init__(self, chunks: Iterator[bytes], size: int):
        self._chunks, self._left = iter(chunks), size
        self._view, self._pos = memoryview(b""), 0

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        if self._pos >= len(self._view) and n:
            chunk = next(self._chunks, None)
            if chunk is not None and len(chunk) == n:  # the common case: one whole segment
                self._left -= n
                return chunk
            self._view, self._pos = memoryview(chunk or b""), 0
            if chunk is None:
                raise SandboxError("zone file is shorter than the size in its manifest")
        out = bytearray()
        while len(out) < n:
            if self._pos >= len(self._view):
                chunk = next(self._chunks, None)
                if chunk is None:
                    # A short file would shift every later tar header; stop the stream instead.
                    raise SandboxError("zone file is shorter than the size in its manifest")
                self._view, self._pos = memoryview(chunk), 0
            take = min(n - len(out), len(self._view) - self._pos)
            out += self._view[self._pos : self._pos + take]
            self._pos += take
        self._left -= n
        return bytes(out)


def zone_entries(directory: Path, manifest: dict[str, Any], dek: bytes):
    """(relpath under /zone/data, size, decrypted chunks) for every file of the zone."""
    for entry in manifest["files"]:
        path = entry["path"]
        rel = path.removeprefix("data/")
        parts = Path(rel).parts
        if not path.startswith("data/") or Path(rel).is_absolute() or ".." in parts:
            raise SandboxError(f"zone {manifest['name']!r}: bad file path in the manifest")
        yield rel, entry["bytes"], _decrypted(directory / path, dek, manifest["id"], path)


def _decrypted(path: Path, dek: bytes, zone_id: str, rel: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from iter_decrypt(f, dek, zone_id=zone_id, path=rel)


# -- --publish PORT: the host's end of the relay ----------------------------------------------


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


# -- isolation probe ---------------------------------------------------------------------------


_PROBE_CACHE: dict[str, str | None] = {}


def probe_isolation() -> str:
    """Return the isolation method, or raise SandboxUnavailable (never run unsandboxed)."""
    if "result" not in _PROBE_CACHE:
        _PROBE_CACHE["result"] = _probe_bwrap()
    problem = _PROBE_CACHE["result"]
    if problem and os.geteuid() == 0:
        if "unshare" not in _PROBE_CACHE:
            _PROBE_CACHE["unshare"] = _probe_unshare()
        if _PROBE_CACHE["unshare"] is None:
            return ISOLATION_UNSHARE  # root without bwrap: the same guarantees by hand
        problem += f"; unshare fallback: {_PROBE_CACHE['unshare']}"
    if problem:
        raise SandboxUnavailable(
            f"cannot isolate a sandbox here: {problem}",
            hint="install bubblewrap (apt-get install bubblewrap) and allow user namespaces "
            "(Ubuntu >= 23.10: an AppArmor profile for bwrap or "
            "sysctl kernel.apparmor_restrict_unprivileged_userns=0; Docker: a seccomp profile "
            "that permits clone(CLONE_NEWUSER))",
        )
    return ISOLATION_BWRAP


def _probe_unshare() -> str | None:
    if not shutil.which("unshare"):
        return "unshare is not installed"
    probe = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
    probe += ["--", "sh", "-c", "mount --make-rprivate / && mount -t tmpfs piizone /tmp"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare could not run ({type(e).__name__})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"unshare failed: {last[:200]}"
    return None


def _probe_bwrap() -> str | None:
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    probe = [
        *BWRAP_NAMESPACES,
        "--cap-add",
        "CAP_SYS_ADMIN",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/zone",
        "sh",
        "-c",
        "mount -o remount,bind,ro /zone",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap could not run ({type(e).__name__})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"bwrap failed: {last[:200]}"
    return None


# -- sessions ----------------------------------------------------------------------------------


def sessions_dir(home: Path) -> Path:
    return zones_dir(home) / ".sessions"


def quarantine_dir(home: Path, session: str) -> Path:
    return zones_dir(home) / ".quarantine" / session


def clean_stale_sessions(home: Path) -> int:
    """Remove out dirs of sessions whose piizone died (SIGKILL): their outputs were never
    scanned, so they must not linger or be released."""
    root = sessions_dir(home)
    removed = 0
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        try:
            pid = int((entry / "pid").read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid and _alive(pid):
            continue
        try:
            _remove_session_dir(entry)
        except OSError:
            continue  # never fail a new session over an old one's leftovers
        removed += 1
    return removed


def _remove_session_dir(path: Path) -> None:
    """Remove a session's dir, however deep the command nested its outputs (not rmtree:
    it recurses, and a 1,200-deep /zone/out broke every later session)."""
    from piizone.zones.leakcheck.egress import remove_tree

    remove_tree(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_zone_for_session(store: ZoneStore, name: str, user: str) -> dict[str, Any]:
    """The manifest, if `user` may open the zone now; audited `access.denied` otherwise."""
    try:
        manifest = store.manifest(name)
        if not may_open(manifest, user):
            raise SandboxDenied(
                f"{user} may not open zone {name!r}",
                hint=f"ask its owner to run `piizone zone grant {name} {user}`",
            )
        open_check(manifest)
    except ZoneError as e:
        audit.record(
            "access.denied",
            zone=name,
            outcome="denied",
            details={"operation": "sandbox", "user": user, "reason": str(e)[:200]},
            home=store.home,
        )
        if isinstance(e, SandboxDenied):
            raise
        raise SandboxDenied(str(e), hint=e.hint) from None
    return manifest


def run_session(
    name: str,
    cmd: Sequence[str],
    *,
    out_dir: Path,
    gpu: bool = False,
    memory: str | None = None,
    home: Path | None = None,
    tty: bool = False,
    publish: int | None = None,
    allow_dotfiles: bool = False,
    allow_binary: bool = False,
    work: Path | None = None,
) -> SessionResult:
    """Run `cmd` in a sandbox on zone `name`; scan its outputs; release clean ones to `out_dir`
    (itself when new or empty, else a new `out_dir/<session>/`: see egress.claim_release_dir)."""
    from piizone.zones.leakcheck import (
        egress,  # egress pulls in the NLP engine; only needed after the command
    )

    if not cmd:
        raise SandboxError("no command given", hint="piizone sandbox run NAME -- python train.py")
    home = Path(home or piizone_home())
    store = ZoneStore(home)
    user = access.current_user()  # the real uid's name: $LOGNAME/$USER are anyone's to set
    audit.open_audit_log(home).check_writable()
    try:
        egress.check_release_dir(Path(out_dir), home)
    except egress.EgressError as e:
        raise SandboxError(str(e), hint=e.hint) from None
    manifest = open_zone_for_session(store, name, user)
    isolation = probe_isolation()
    memory_bytes = parse_size(memory) if memory else None
    publish = check_port(publish) if publish is not None else None
    devices = gpu_devices() if gpu else []
    notes = []
    if gpu and not devices:
        notes.append("--gpu: no NVIDIA device nodes on this host; running without a GPU")

    real_home = os.path.realpath(home)
    work_dir = _work_dir(real_home, work) if work is not None else None
    ro_binds = python_prefixes()
    check_binds(["/usr", "/etc", *ro_binds, *([work_dir] if work_dir else [])], real_home)

    clean_stale_sessions(home)
    session = secrets.token_hex(8)
    session_dir = ensure_private_dir(ensure_private_dir(sessions_dir(home)) / session)
    (session_dir / "pid").write_text(str(os.getpid()))
    host_out = ensure_private_dir(session_dir / "out")
    publisher = None
    interrupts = Interrupts()
    try:
        interrupts.__enter__()
        # Fail closed: no audit record, no session.
        audit.record(
            "session.start",
            zone=name,
            details={
                "session": session,
                "version": manifest["version"],
                "command": os.path.basename(cmd[0]),
                "isolation": isolation,
                "gpu": bool(devices),
                "memory_bytes": memory_bytes,
                "tty": tty,
                "publish": publish,
            },
            home=home,
        )
        publish_dir = None
        if publish is not None:
            publish_dir = ensure_private_dir(session_dir / "publish")
            publisher = Publisher(publish, publish_dir)
        started = time.monotonic()
        dek = unwrap_zone_key(store, manifest)
        if work_dir:
            _check_work_dir(
                work_dir, session_dir, store=store, name=name, manifest=manifest, dek=dek
            )
        streams = egress.StreamScanner(store, name, manifest, dek)
        status, data_bytes, ready = _run_bwrap(
            store,
            manifest,
            dek,
            cmd,
            session=session,
            host_out=str(host_out),
            ro_binds=ro_binds,
            work_dir=work_dir,
            memory=memory_bytes,
            devices=devices,
            tty=tty,
            publish_dir=str(publish_dir) if publish_dir else None,
            publish_port=publish,
            isolation=isolation,
            interrupts=interrupts,
            streams=streams,
        )
        if publisher is not None:  # the sandbox is gone: stop relaying before anything else
            publisher.close()
        if interrupts.signal:
            # The command did not finish: its outputs may be partial and are not what the
            # user asked for. Discarded unscanned (the staging dir goes in `finally`).
            raise interrupts.error()
        duration = time.monotonic() - started
        report = egress.release_outputs(
            host_out,
            Path(out_dir),
            store=store,
            name=name,
            manifest=manifest,
            dek=dek,
            session=session,
            allow_dotfiles=allow_dotfiles,
            allow_binary=allow_binary,
        )
    except BaseException as e:
        if not isinstance(e, audit.AuditError):
            details = {"session": session, "error": type(e).__name__}
            if isinstance(e, SessionInterrupted):
                details["interrupted"] = e.signal
            elif isinstance(e, KeyboardInterrupt):
                details["interrupted"] = "SIGINT"
            audit.record("session.end", zone=name, outcome="failure", details=details, home=home)
        raise
    finally:
        interrupts.__exit__()
        if publisher is not None:
            publisher.close()
        with contextlib.suppress(OSError):  # left over: the next session's clean-up retries
            _remove_session_dir(session_dir)
    report.stream_lines_masked = streams.lines_masked
    report.stream_entities = dict(streams.entities)
    # Masked output lines mark the session (report, session.end) but are not quarantined
    # outputs: the exit status stays the DESIGN's (CMD's, or 1 for quarantined/withheld files).
    held = report.quarantined or report.withheld
    exit_code = status if status != 0 else (1 if held else 0)
    audit.record(
        "session.end",
        zone=name,
        outcome="success" if exit_code == 0 else "failure",
        details={
            "session": session,
            "exit_code": status,
            "duration_s": round(duration, 3),
            "data_bytes": data_bytes,
            "bytes_released": report.bytes_released,
            "files_released": len(report.released),
            "files_quarantined": len(report.quarantined),
            "stream_lines_masked": report.stream_lines_masked,
            **({"withheld": report.withheld} if report.withheld else {}),
        },
        home=home,
    )
    return SessionResult(
        session=session,
        zone=name,
        version=manifest["version"],
        isolation=isolation,
        command_status=status,
        exit_code=exit_code,
        duration_s=duration,
        data_bytes=data_bytes,
        data_ready_s=ready,
        egress=report,
        notes=notes,
    )


# Signals that end a session early, and how a shell reports each (128 + number).
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupts:
    """While a session runs: a SIGINT/SIGTERM/SIGHUP stops the sandbox (terminate bwrap, which
    takes its pid namespace with it) and is remembered, so the session ends non-zero and
    audited as interrupted instead of looking like the command's own exit. After the command
    (during the egress check) the signal raises SessionInterrupted at once.

    Handlers can only be installed from the main thread; elsewhere KeyboardInterrupt keeps its
    usual path (`_run_bwrap` terminates the sandbox) and SIGTERM its default action.
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


def _work_dir(real_home: str, work: Path) -> str:
    """`--work DIR`, shared read-only at /zone/work (and where the command starts) — unless
    sharing it would show the whole home dir, / or $PIIZONE_HOME. Opt-in: the caller's cwd
    was once shared by default, raw exports and all."""
    real = os.path.realpath(work)
    if not os.path.isdir(real):
        raise SandboxError(f"--work {work} is not a directory")
    user_home = os.path.realpath(os.path.expanduser("~"))
    if real in ("/", user_home) or is_within(real_home, real) or is_within(real, real_home):
        raise SandboxError(
            f"--work {work} would show the sandbox your home, / or $PIIZONE_HOME",
            hint="point --work at the directory that holds your code",
        )
    return real


def _check_work_dir(work_dir: str, session_dir: Path, **zone: Any) -> None:
    """Refuse a --work DIR holding anything the egress check flags (see check_work_dir)."""
    from piizone.zones.leakcheck import egress

    scratch = ensure_private_dir(session_dir / "work-check")
    try:
        flagged = egress.check_work_dir(Path(work_dir), scratch=scratch, **zone)
    except egress.OutputLimitExceeded as e:
        raise SandboxError(
            f"--work {work_dir} is too large to check ({e})",
            hint="point --work at the directory that holds your code",
        ) from None
    finally:
        _remove_session_dir(scratch)
    if flagged:
        shown = "; ".join(f"{path} ({', '.join(kinds)})" for path, kinds in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        raise SandboxError(
            f"--work {work_dir} holds files the egress check flags: {shown}{more}",
            hint="move raw data out of the directory shared with --work",
        )


def _run_bwrap(
    store: ZoneStore,
    manifest: dict[str, Any],
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
) -> tuple[int, int, float | None]:
    read_fd, write_fd = os.pipe()
    command = list(cmd)
    extra_env = {}
    if tty:
        extra_env["TERM"] = os.environ.get("TERM", "xterm")
        # A shell needs a controlling terminal for job control, but sharing ours would let the
        # command TIOCSTI keystrokes into it. script(1) gives it a fresh pty from the sandbox's
        # own devpts instead, so --new-session stays on.
        command = ["script", "-qefc", shlex.join(cmd), "/dev/null"]
    build = build_unshare_args if isolation == ISOLATION_UNSHARE else build_bwrap_args
    layout = SandboxLayout(
        zone=manifest["name"],
        session=session,
        out_dir=host_out,
        data_fd=DATA_FD,
        command=command,
        ro_binds=ro_binds,
        work_dir=work_dir,
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
    args = build(layout)
    directory = store.current_dir(manifest["name"])
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

    try:
        # The stream always arrives as fd 3 (dash, the usual /bin/sh, cannot redirect from
        # fds above 9). dup2 in the child only; fd 3 in pass_fds keeps it open past close_fds.
        parent = os.getpid()
        # `run`: the command's stdout/stderr pass through the stream scanner (masked as they
        # stream); `shell` keeps the terminal (an audited exception, docs/sandbox.md).
        piped = streams is not None and not tty
        proc = subprocess.Popen(
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
    interrupts = interrupts or Interrupts()
    interrupts.proc, interrupts.running = proc, True
    if interrupts.signal:  # arrived while starting up
        proc.terminate()
    feeder = threading.Thread(target=feed, name="piizone-feed", daemon=True)
    feeder.start()
    pumps = []
    if piped:
        for src, dst in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
            pump = threading.Thread(target=streams.pump, args=(src, dst), daemon=True)
            pump.start()
            pumps.append(pump)
    try:
        status = proc.wait()
    except KeyboardInterrupt:  # no handler (not the main thread): the same, by hand
        interrupts.signal = interrupts.signal or "SIGINT"
        proc.terminate()
        status = proc.wait()
    finally:
        interrupts.running = False
    for pump in pumps:
        # The pid namespace is gone, so every writer of the pipes is: EOF comes. The bound is
        # for a scan still working through what was printed last.
        pump.join(timeout=600)
    feeder.join()
    if interrupts.signal:
        # The feed broke because the sandbox was stopped: report the interruption, not that.
        return status, fed.get("bytes", 0), fed.get("seconds")
    if "error" in fed:
        raise SandboxError(f"could not load zone {manifest['name']!r}: {fed['error']}")
    if status < 0:  # killed by a signal: report it like a shell does
        status = 128 - status
    return status, fed.get("bytes", 0), fed.get("seconds")


def _child(read_fd: int, parent: int) -> None:
    """In the forked child before exec: the data pipe as fd 3, and die with us (bwrap has
    --die-with-parent; unshare(1) has no such option, so PR_SET_PDEATHSIG is set here)."""
    import ctypes

    os.dup2(read_fd, DATA_FD)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
        os._exit(126)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(126)


def shell_command() -> list[str]:
    return ["bash", "-i"] if os.path.exists("/usr/bin/bash") else ["sh", "-i"]
