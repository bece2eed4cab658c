"""What a sandbox sees and where a session lives on the host.

`SandboxLayout` is the one description of a sandbox (the /zone tree, read-only binds, devices,
the command's environment) that both isolation builders (`isolation`) turn into arguments.
A session's host-side dir ($PIIZONE_HOME/zones/.sessions/<id>: its pid, the staging dir bound
at /zone/out) is created by `session` and removed here, leftovers of a killed piizone included.
"""

from __future__ import annotations

import glob
import os
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from piizone.fs import is_within
from piizone.zones.home import zones_dir
from piizone.zones.leakcheck.output_tree import remove_tree
from piizone.zones.sandbox.errors import SandboxError
from piizone.zones.sandbox.publish import PUBLISH_STEP, RELAY_SCRIPT, RELAY_SOCKET

SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ZONE_DATA = "/zone/data"
ZONE_OUT = "/zone/out"
ZONE_HOME = "/zone/home"
ZONE_WORK = "/zone/work"
ZONE_CODE = "/zone/code"
ZONE_PUBLISH = "/zone/publish"
DATA_FD = 3
# Device nodes the NVIDIA driver needs in user space; bound only when they exist on the host.
NVIDIA_DEVICE_GLOBS = (
    "/dev/nvidia[0-9]*",
    "/dev/nvidiactl",
    "/dev/nvidia-uvm*",
    "/dev/nvidia-modeset",
)

# The in-sandbox init step. It runs with CAP_SYS_ADMIN inside the new user namespace (needed to
# remount the data read-only), then `setpriv` empties the bounding set and forbids new privileges,
# so the command cannot remount /zone/data read-write nor regain anything via setuid binaries.
# The data fd is closed before exec: the command never sees the stream.
INIT_SCRIPT = (
    "tar -C {data} --no-same-owner -xf - <&{fd} && exec {fd}<&- && "
    "mount -o remount,bind,ro {data} && "
    'exec setpriv --bounding-set -all --inh-caps -all --no-new-privs -- "$@"'
)


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
    code_dir: str | None = None  # `--code DIR`, read-only at /zone/code
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
            remove_session_dir(entry)
        except OSError:
            continue  # never fail a new session over an old one's leftovers
        removed += 1
    return removed


def remove_session_dir(path: Path) -> None:
    """Remove a session's dir, however deep the command nested its outputs (not rmtree:
    it recurses, and a 1,200-deep /zone/out broke every later session)."""
    remove_tree(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
