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
  inside (`publish.Publisher` on the host, `RELAY_SCRIPT` inside); the sandbox gains no way out.

Modules: `session` (this one: run_session, the steps of a session, its exit code and audit
records), `layout` (what the sandbox sees, the session dirs), `isolation` (bwrap and unshare
arguments, the probe), `process` (starting, feeding and stopping the sandbox process, signals),
`zone_stream` (the zone's data as a tar stream), `publish` (the --publish relay), `errors`.

The leak checks (egress, streams) are imported at the top, not inside the functions: the reason
for the old lazy import ("egress pulls in the NLP engine") no longer holds. The engine (spaCy,
Presidio) and pandas load inside the functions that scan; what egress adds at import is small
(masking, fingerprints, decoded views). Measured with `python -X importtime -c "import
piizone.zones.sandbox.session"`, best of 30 on a loaded 2-core machine: 67-68 ms either way
(egress imported lazily, as before, or at the top).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piizone import units
from piizone.fs import is_within
from piizone.zones import access, audit
from piizone.zones.access import may_open
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import ensure_private_dir, piizone_home
from piizone.zones.leakcheck.egress import EgressReport, check_work_dir, release_outputs
from piizone.zones.leakcheck.output_tree import EgressError, OutputLimitExceeded
from piizone.zones.leakcheck.release import check_release_dir
from piizone.zones.leakcheck.streams import StreamScanner
from piizone.zones.lifecycle import open_check
from piizone.zones.lineage.airlock import hold_outputs
from piizone.zones.lineage.artifacts import code_digest
from piizone.zones.lineage.provenance import register_output, session_provenance
from piizone.zones.sandbox.errors import (
    SandboxDenied,
    SandboxError,
    SandboxUnavailable,
    SessionInterrupted,
)
from piizone.zones.sandbox.isolation import (
    ISOLATION_BWRAP,
    ISOLATION_UNSHARE,
    build_bwrap_args,
    build_unshare_args,
    probe_isolation,
)
from piizone.zones.sandbox.layout import (
    SANDBOX_PATH,
    SandboxLayout,
    check_binds,
    clean_stale_sessions,
    gpu_devices,
    host_process_env,
    python_prefixes,
    remove_session_dir,
    sessions_dir,
)
from piizone.zones.sandbox.process import Interrupts, run_sandboxed
from piizone.zones.sandbox.publish import Publisher, check_port
from piizone.zones.sandbox.zone_stream import tar_stream, zone_entries
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore
from piizone.zones.storage.zone_keys import unwrap_zone_key

# The sandbox's API as callers (the CLI, benchmarks, tests) import it from this module; the
# names defined elsewhere in the package are re-exported here.
__all__ = [
    "ISOLATION_BWRAP",
    "ISOLATION_UNSHARE",
    "SANDBOX_PATH",
    "SandboxDenied",
    "SandboxError",
    "SandboxLayout",
    "SandboxUnavailable",
    "SessionInterrupted",
    "SessionResult",
    "build_bwrap_args",
    "build_unshare_args",
    "check_binds",
    "check_port",
    "clean_stale_sessions",
    "gpu_devices",
    "host_process_env",
    "may_open",
    "open_zone_for_session",
    "parse_size",
    "probe_isolation",
    "python_prefixes",
    "run_session",
    "sessions_dir",
    "shell_command",
    "tar_stream",
    "zone_entries",
]


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
    # Lineage: an Artifact per released file (same order as egress.released) and an airlock
    # request per quarantined one (same order as egress.quarantined).
    artifacts: list[Any] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)


# -- pure pieces (unit-tested without bubblewrap) ----------------------------------------------


def parse_size(text: str) -> int:
    """ "512M", "2G", "1048576" -> bytes (binary units)."""
    try:
        return units.parse_size(text)
    except units.UnitError:
        raise SandboxError(
            f"invalid size {text!r}", hint="use a number and a unit: 512M, 4G"
        ) from None


def open_zone_for_session(
    store: ZoneStore, name: str, user: str, version: int | None = None
) -> ZoneManifest:
    """The manifest of the zone's current version (or of `version`, still on disk), if `user`
    may open the zone now; audited `access.denied` otherwise. Grants and expiry are the current
    version's: a revoked user opens no older version either."""
    try:
        manifest = store.manifest(name)
        if not may_open(manifest, user):
            raise SandboxDenied(
                f"{user} may not open zone {name!r}",
                hint=f"ask its owner to run `piizone zone grant {name} {user}`",
            )
        open_check(manifest)
        if version is not None and version != manifest.version:
            manifest = _older_version(store, name, version)
    except ZoneError as e:
        audit.record(
            "access.denied",
            zone=name,
            outcome="denied",
            details={"operation": "sandbox", "user": user, "reason": audit.error_detail(e)},
            home=store.home,
        )
        if isinstance(e, SandboxDenied):
            raise
        raise SandboxDenied(str(e), hint=e.hint) from None
    return manifest


def _older_version(store: ZoneStore, name: str, version: int) -> ZoneManifest:
    if version not in store.versions(name):
        raise SandboxError(
            f"zone {name!r} has no version {version} on disk",
            hint=f"see its versions with `piizone zone versions {name}`",
        )
    return store.manifest(name, version)


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
    code: Path | None = None,
    version: int | None = None,
) -> SessionResult:
    """Run `cmd` in a sandbox on zone `name` (its current version, or `version`); scan its
    outputs; release clean ones to `out_dir` (itself when new or empty, else a new
    `out_dir/<session>/`: see egress.claim_release_dir), each registered as an artifact;
    flagged ones wait in the airlock (lineage.airlock)."""
    plan = _plan_session(
        name, cmd, out_dir=out_dir, gpu=gpu, memory=memory, home=home, tty=tty,
        publish=publish, allow_dotfiles=allow_dotfiles, allow_binary=allow_binary, work=work,
        code=code, version=version,
    )  # fmt: skip
    clean_stale_sessions(plan.home)
    session = secrets.token_hex(8)
    session_dir = ensure_private_dir(ensure_private_dir(sessions_dir(plan.home)) / session)
    (session_dir / "pid").write_text(str(os.getpid()))
    status, data_bytes, ready, duration, report = _run_and_release(plan, session, session_dir)
    try:
        artifacts, held = _record_lineage(plan, session, report)
    except (ZoneError, OSError) as e:
        # Released but not registered: the session fails, audited, rather than pass unrecorded.
        details = {"session": session, "error": type(e).__name__, "stage": "lineage"}
        audit.record("session.end", zone=name, outcome="failure", details=details, home=plan.home)
        raise
    result = _end_session(plan, session, status, data_bytes, ready, duration, report)
    result.artifacts, result.held = artifacts, held
    return result


def _record_lineage(plan: _Plan, session: str, report: EgressReport) -> tuple[list, list]:
    """Register each released file as an artifact; open an airlock request for each
    quarantined one. Both carry the session's provenance (zone version, policy, code)."""
    code_sha256 = plan.code_sha256
    if plan.code_dir and code_digest(Path(plan.code_dir)) != code_sha256:
        # Changed on the host while mounted: which version the command read is unknowable.
        plan.notes.append("--code: the directory changed during the session; no code digest")
        code_sha256 = None
    prov = session_provenance(session, plan.manifest, plan.cmd, code_sha256=code_sha256)
    artifacts = [
        register_output(prov, name=f.file, sha256=f.sha256, size=f.bytes, home=plan.home)
        for f in report.released
    ]
    return artifacts, hold_outputs(report, prov, plan.out_dir, plan.home)


@dataclass
class _Plan:
    """A session checked and ready to start: what `run_session`'s steps share."""

    name: str
    cmd: Sequence[str]
    out_dir: Path
    home: Path
    store: ZoneStore
    manifest: ZoneManifest
    isolation: str
    memory: int | None
    publish: int | None
    devices: list[str]
    work_dir: str | None
    code_dir: str | None
    code_sha256: str | None
    ro_binds: list[str]
    tty: bool
    allow_dotfiles: bool
    allow_binary: bool
    notes: list[str]


def _plan_session(
    name: str,
    cmd: Sequence[str],
    *,
    out_dir: Path,
    gpu: bool,
    memory: str | None,
    home: Path | None,
    tty: bool,
    publish: int | None,
    allow_dotfiles: bool,
    allow_binary: bool,
    work: Path | None,
    code: Path | None = None,
    version: int | None = None,
) -> _Plan:
    """Every check that comes before the session starts (and before its audit record)."""
    if not cmd:
        raise SandboxError("no command given", hint="piizone sandbox run NAME -- python train.py")
    home = Path(home or piizone_home())
    store = ZoneStore(home)
    user = access.current_user()  # the real uid's name: $LOGNAME/$USER are anyone's to set
    audit.open_audit_log(home).check_writable()
    try:
        check_release_dir(Path(out_dir), home)
    except EgressError as e:
        raise SandboxError(str(e), hint=e.hint) from None
    manifest = open_zone_for_session(store, name, user, version)
    isolation = probe_isolation()
    memory_bytes = parse_size(memory) if memory else None
    publish = check_port(publish) if publish is not None else None
    devices = gpu_devices() if gpu else []
    notes = []
    if gpu and not devices:
        notes.append("--gpu: no NVIDIA device nodes on this host; running without a GPU")

    real_home = os.path.realpath(home)
    work_dir = _work_dir(real_home, work) if work is not None else None
    code_dir = _work_dir(real_home, code, "--code") if code is not None else None
    ro_binds = python_prefixes()
    shared = [d for d in (work_dir, code_dir) if d]
    check_binds(["/usr", "/etc", *ro_binds, *shared], real_home)
    return _Plan(
        name=name, cmd=cmd, out_dir=Path(out_dir), home=home, store=store, manifest=manifest,
        isolation=isolation, memory=memory_bytes, publish=publish, devices=devices,
        work_dir=work_dir, code_dir=code_dir,
        code_sha256=code_digest(Path(code_dir)) if code_dir else None, ro_binds=ro_binds,
        tty=tty, allow_dotfiles=allow_dotfiles, allow_binary=allow_binary, notes=notes,
    )  # fmt: skip


def _run_and_release(
    plan: _Plan, session: str, session_dir: Path
) -> tuple[int, int, float | None, float, EgressReport]:
    """Audit the start, run the sandbox, check and release its outputs: (command status, data
    bytes, data ready seconds, duration, egress report). Audited as a failed session.end when
    anything goes wrong; the session dir is removed either way."""
    name, store, manifest = plan.name, plan.store, plan.manifest
    host_out = ensure_private_dir(session_dir / "out")
    publisher = None
    interrupts = Interrupts()
    try:
        interrupts.__enter__()
        _record_start(plan, session)  # fail closed: no audit record, no session
        publish_dir = None
        if plan.publish is not None:
            publish_dir = ensure_private_dir(session_dir / "publish")
            publisher = Publisher(plan.publish, publish_dir)
        started = time.monotonic()
        dek = unwrap_zone_key(store, manifest)
        for option, shared in (("--work", plan.work_dir), ("--code", plan.code_dir)):
            if shared:
                _check_work_dir(
                    shared, session_dir, store=store, name=name, manifest=manifest, dek=dek,
                    option=option,
                )  # fmt: skip
        streams = StreamScanner(store, name, manifest, dek)
        status, data_bytes, ready = run_sandboxed(
            store, manifest, dek, plan.cmd, session=session, host_out=str(host_out),
            ro_binds=plan.ro_binds, work_dir=plan.work_dir, memory=plan.memory,
            devices=plan.devices, tty=plan.tty,
            publish_dir=str(publish_dir) if publish_dir else None, publish_port=plan.publish,
            isolation=plan.isolation, interrupts=interrupts, streams=streams,
            code_dir=plan.code_dir,
        )  # fmt: skip
        if publisher is not None:  # the sandbox is gone: stop relaying before anything else
            publisher.close()
        if interrupts.signal:
            # The command did not finish: its outputs may be partial and are not what the
            # user asked for. Discarded unscanned (the staging dir goes in `finally`).
            raise interrupts.error()
        duration = time.monotonic() - started
        report = release_outputs(
            host_out, plan.out_dir, store=store, name=name, manifest=manifest, dek=dek,
            session=session, allow_dotfiles=plan.allow_dotfiles, allow_binary=plan.allow_binary,
        )  # fmt: skip
    except BaseException as e:
        if not isinstance(e, audit.AuditError):
            # The error as every audit record keeps one (audit.error_detail).
            details = {"session": session, "error": audit.error_detail(e)}
            if isinstance(e, SessionInterrupted):
                details["interrupted"] = e.signal
            elif isinstance(e, KeyboardInterrupt):
                details["interrupted"] = "SIGINT"
            audit.record(
                "session.end", zone=name, outcome="failure", details=details, home=plan.home
            )
        raise
    finally:
        interrupts.__exit__()
        if publisher is not None:
            publisher.close()
        with contextlib.suppress(OSError):  # left over: the next session's clean-up retries
            remove_session_dir(session_dir)
    report.stream_lines_masked = streams.lines_masked
    report.stream_entities = dict(streams.entities)
    return status, data_bytes, ready, duration, report


def _record_start(plan: _Plan, session: str) -> None:
    audit.record(
        "session.start",
        zone=plan.name,
        details={
            "session": session,
            "version": plan.manifest.version,
            "command": os.path.basename(plan.cmd[0]),
            "isolation": plan.isolation,
            "gpu": bool(plan.devices),
            "memory_bytes": plan.memory,
            "tty": plan.tty,
            "publish": plan.publish,
        },
        home=plan.home,
    )


def _end_session(
    plan: _Plan,
    session: str,
    status: int,
    data_bytes: int,
    ready: float | None,
    duration: float,
    report: EgressReport,
) -> SessionResult:
    """The session's exit code and its session.end record."""
    name, home = plan.name, plan.home
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
        version=plan.manifest.version,
        isolation=plan.isolation,
        command_status=status,
        exit_code=exit_code,
        duration_s=duration,
        data_bytes=data_bytes,
        data_ready_s=ready,
        egress=report,
        notes=plan.notes,
    )


def _work_dir(real_home: str, work: Path, option: str = "--work") -> str:
    """`--work DIR`, shared read-only at /zone/work (and where the command starts) — unless
    sharing it would show the whole home dir, / or $PIIZONE_HOME. Opt-in: the caller's cwd
    was once shared by default, raw exports and all. `--code DIR` (at /zone/code) likewise."""
    real = os.path.realpath(work)
    if not os.path.isdir(real):
        raise SandboxError(f"{option} {work} is not a directory")
    user_home = os.path.realpath(os.path.expanduser("~"))
    if real in ("/", user_home) or is_within(real_home, real) or is_within(real, real_home):
        raise SandboxError(
            f"{option} {work} would show the sandbox your home, / or $PIIZONE_HOME",
            hint=f"point {option} at the directory that holds your code",
        )
    return real


def _check_work_dir(work_dir: str, session_dir: Path, option: str = "--work", **zone: Any) -> None:
    """Refuse a --work (--code) DIR holding anything the egress check flags (check_work_dir)."""
    scratch = ensure_private_dir(session_dir / "work-check")
    try:
        flagged = check_work_dir(Path(work_dir), scratch=scratch, **zone)
    except OutputLimitExceeded as e:
        raise SandboxError(
            f"{option} {work_dir} is too large to check ({e})",
            hint=f"point {option} at the directory that holds your code",
        ) from None
    finally:
        remove_session_dir(scratch)
    if flagged:
        shown = "; ".join(f"{path} ({', '.join(kinds)})" for path, kinds in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        raise SandboxError(
            f"{option} {work_dir} holds files the egress check flags: {shown}{more}",
            hint=f"move raw data out of the directory shared with {option}",
        )


def shell_command() -> list[str]:
    return ["bash", "-i"] if os.path.exists("/usr/bin/bash") else ["sh", "-i"]
