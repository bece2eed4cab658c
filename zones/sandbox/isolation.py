"""How a sandbox is isolated: the bubblewrap argv (`build_bwrap_args`), the unshare(1) fallback
for root without a working bwrap (`build_unshare_args`: the same layout by hand), and the probe
that picks one or refuses (`probe_isolation`: never unsandboxed).

Both builders are pure: every decision about what the sandbox sees is made from a
`SandboxLayout`, so the two describe the same layout from the same values.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from piizone.zones.sandbox.errors import SandboxError, SandboxUnavailable
from piizone.zones.sandbox.layout import (
    INIT_SCRIPT,
    ZONE_CODE,
    ZONE_DATA,
    ZONE_HOME,
    ZONE_OUT,
    ZONE_PUBLISH,
    ZONE_WORK,
    SandboxLayout,
)

ISOLATION_BWRAP = "bwrap"
ISOLATION_UNSHARE = "unshare"
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


@dataclass(frozen=True)
class Bind:
    """One host path shown inside the sandbox, read-only unless `writable`."""

    src: str
    dst: str
    writable: bool = False


# The host's system, read-only; its /lib, /bin, ... are links into /usr (merged-/usr layout).
SYSTEM_BINDS = (Bind("/usr", "/usr"), Bind("/etc", "/etc"))
SYSTEM_LINKS = (("usr/lib", "/lib"), ("usr/lib64", "/lib64"), ("usr/bin", "/bin"),
                ("usr/sbin", "/sbin"))  # fmt: skip


def extra_binds(layout: SandboxLayout) -> list[Bind]:
    """The interpreter's prefixes and the like, read-only at their own paths (after /tmp)."""
    return [Bind(path, path) for path in layout.ro_binds]


def zone_binds(layout: SandboxLayout) -> list[Bind]:
    """The session's host dirs under /zone: out (and --publish's relay dir) writable, --work and
    --code read-only. The one list both isolations render: they cannot disagree on it."""
    binds = [Bind(layout.out_dir, ZONE_OUT, writable=True)]
    if layout.publish_dir:
        # Writable only until the init step has created the relay's socket (see PUBLISH_STEP).
        binds.append(Bind(layout.publish_dir, ZONE_PUBLISH, writable=True))
    if layout.work_dir:
        binds.append(Bind(layout.work_dir, ZONE_WORK))
    if layout.code_dir:
        binds.append(Bind(layout.code_dir, ZONE_CODE))
    return binds


def _bwrap(binds: Sequence[Bind]) -> list[str]:
    return [a for b in binds for a in ("--bind" if b.writable else "--ro-bind", b.src, b.dst)]


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
        *_bwrap(SYSTEM_BINDS[:1]),
        *[a for target, link in SYSTEM_LINKS for a in ("--symlink", target, link)],
        *_bwrap(SYSTEM_BINDS[1:]),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    for device in layout.devices:
        args += ["--dev-bind", device, device]
    args += [*size, "--tmpfs", "/tmp", *_bwrap(extra_binds(layout))]
    args += ["--tmpfs", "/zone", *size, "--tmpfs", ZONE_DATA, "--tmpfs", ZONE_HOME]
    args += _bwrap(zone_binds(layout))
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
    script = "\n".join(
        [
            *_unshare_root(layout),
            *_unshare_proc_and_dev(layout),
            *_unshare_zone(layout),
            *_unshare_enter(layout),
        ]
    )
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
        # process.run_sandboxed): a SIGKILL of piizone leaves no sandboxed process, as with bwrap.
        "--kill-child",
        "--",
        "sh",
        "-c",
        script,
        "piizone-init",
        *layout.command,
    ]


def _ro(src: str, dst: str) -> list[str]:
    """Setup lines that bind `src` read-only at `dst` under the new root "$R"."""
    q = shlex.quote
    # Not --rbind: a remount makes only the top mount read-only, and mounts below it (in a
    # container, /etc/hosts and /etc/resolv.conf) would stay writable to the host's uid 0.
    return [
        f'mkdir -p "$R"{q(dst)}',
        f'mount --bind {q(src)} "$R"{q(dst)}',
        f'mount -o remount,bind,ro "$R"{q(dst)}',
    ]


def _unshare(binds: Sequence[Bind]) -> list[str]:
    """The setup lines of `binds` under "$R" (a writable one is a plain bind: /zone/... only)."""
    lines = []
    for b in binds:
        if b.writable:
            lines += [f'mkdir -p "$R{b.dst}"', f'mount --bind {shlex.quote(b.src)} "$R{b.dst}"']
        else:
            lines += _ro(b.src, b.dst)
    return lines


def _unshare_root(layout: SandboxLayout) -> list[str]:
    """The setup script's first step: a private tmpfs root with /usr, /etc, /tmp and the
    read-only binds."""
    q = shlex.quote
    size = f",size={layout.memory}" if layout.memory else ""
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
        "; ".join(f"ln -s {target} {link.lstrip('/')}" for target, link in SYSTEM_LINKS),
        *_unshare(SYSTEM_BINDS),
        # /tmp before the Python prefixes: a venv under /tmp (a CI checkout) is bound on top of
        # the fresh tmpfs instead of being hidden by it, as with bwrap's argument order.
        f'mount -t tmpfs -o mode=1777,nosuid,nodev{size} tmp "$R/tmp"',
        *_unshare(extra_binds(layout)),
    ]
    return lines


def _unshare_proc_and_dev(layout: SandboxLayout) -> list[str]:
    """/proc with its kernel knobs read-only, and a /dev of the usual character devices (plus
    the GPU's, when asked for)."""
    q = shlex.quote
    lines = [
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
    return lines


def _unshare_zone(layout: SandboxLayout) -> list[str]:
    """The /zone tree: the data unpacked from the stream and remounted read-only, home, out,
    and --work / --publish when given."""
    size = f",size={layout.memory}" if layout.memory else ""
    lines = [
        'mount -t tmpfs -o mode=0755 zone "$R/zone"',
        'mkdir "$R/zone/data" "$R/zone/home"',
        f'mount -t tmpfs -o mode=0755,nosuid,nodev{size} data "$R/zone/data"',
        'mount -t tmpfs -o mode=0700,nosuid,nodev home "$R/zone/home"',
        *_unshare(zone_binds(layout)),
    ]
    lines += [
        f'tar -C "$R/zone/data" --no-same-owner -xf - <&{layout.data_fd}',
        f"exec {layout.data_fd}<&-",
        'mount -o remount,bind,ro "$R/zone/data"',
    ]
    return lines


def _unshare_enter(layout: SandboxLayout) -> list[str]:
    """Into the new root (lo up, hostname set, the old root gone), then exec the command with
    no capability and only the layout's environment."""
    q = shlex.quote
    lines = [
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
    return lines


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
