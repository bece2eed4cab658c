"""`make soak`: the long variants of the security suite (issue 13), with a Markdown summary.

1. kill -9 loops: `zone create`, `zone refresh`, `zone destroy`, `keys rotate` and audit appends
   are SIGKILLed at random points (and at the named crash points of zones/journal.py). After
   each kill the next command runs, then the invariant is checked: the zone is in its old or
   its new state (and decrypts), `audit verify` passes, and no plaintext is on disk.
2. concurrency: N `zone create` and N `sandbox run` sessions at once (the sessions also try
   to get out: IPv4/IPv6/DNS, abstract sockets, the host's /proc, the keys, other zones).
3. the hypothesis fuzzers of tests/security with many more examples.
4. the egress channel cases of tests/security/test_egress_channels.py.

Usage: python scripts/soak.py [--quick] [--kills N] [--sessions N] [--fuzz-examples N]
SOAK_QUICK=1 is the same as --quick (a few kills per command, for a smoke run).
Exit 1 when any invariant was broken; the summary says which.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from piizone.zones import audit  # noqa: E402
from piizone.zones.lifecycle import verify_zone  # noqa: E402
from piizone.zones.storage.store import ZoneStore  # noqa: E402

# Values that must never be on disk in the clear: raw PII of the source, and a non-PII canary
# that survives redaction and so exists only inside the zone's encrypted files.
CANARY = "soakcanary" + secrets.token_hex(6)
RAW = ("Devin Sparks", "devin.sparks@yahoo.com", "Maria Ortega", "555-867-5309")
SOURCE_CSV = (
    "name,email,phone,note\n"
    f"Devin Sparks,devin.sparks@yahoo.com,555-867-5309,{CANARY}\n"
    f"Maria Ortega,maria.ortega@example.org,555-123-4567,{CANARY}\n"
)
CRASH_POINTS = {
    "create": ["after-publish", "after-record"],
    "destroy": ["shred-overwritten", "destroy-before-record"],
    "rotate": ["rotate-before-record"],
}


@dataclass
class Loop:
    """What one kill loop saw."""

    command: str
    killed: int = 0  # SIGKILLed before it finished
    finished: int = 0  # finished before the kill landed (no crash, still checked)
    crash_points: int = 0  # killed at a named crash point
    states: Counter = field(default_factory=Counter)  # "old" / "new"
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    finished_s: list[float] = field(default_factory=list)  # how long the unkilled runs took


class Home:
    """One $PIIZONE_HOME with its source dir and a private TMPDIR for the children."""

    def __init__(self, base: Path, label: str):
        self.base = base / label
        self.home = self.base / "home"
        self.tmp = self.base / "tmp"
        self.src = self.base / "src"
        for d in (self.tmp, self.src):
            d.mkdir(parents=True)
        (self.src / "people.csv").write_text(SOURCE_CSV)
        self.store = ZoneStore(self.home)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, PIIZONE_HOME=str(self.home), TMPDIR=str(self.tmp))
        env["PYTHONPATH"] = str(REPO)
        env.pop("PIIZONE_TEST_CRASH_AT", None)
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "piizone.cli.main", *args]

    def run(self, *args: str, timeout: float = 900, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            cwd=self.base,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def must(self, *args: str) -> subprocess.CompletedProcess:
        done = self.run(*args)
        if done.returncode != 0:
            raise SystemExit(f"soak set-up failed: piizone {' '.join(args)}: {done.stderr}")
        return done

    def start(self, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.base,
            env=self.env(**extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    # -- the invariant ------------------------------------------------------------------------

    def plaintext_on_disk(self) -> list[str]:
        """Files under the home or the children's TMPDIR holding a raw value or the canary."""
        needles = [CANARY.encode()] + [v.encode() for v in RAW]
        found = []
        for root in (self.home, self.tmp):
            for dirpath, _, files in os.walk(root):
                for name in files:
                    path = Path(dirpath) / name
                    if path.is_symlink() or not path.is_file():
                        continue
                    try:
                        data = path.read_bytes()
                    except OSError:
                        continue
                    if any(n in data for n in needles):
                        found.append(str(path.relative_to(self.base)))
        return found

    def check(self, names: list[str]) -> tuple[dict[str, int | None], list[str]]:
        """Run the next command (it settles the crash), then check log, zones and disk.

        Returns each zone's version (None: absent) and what is wrong."""
        problems = []
        nxt = self.run("zone", "list", "--json")
        if nxt.returncode != 0:
            problems.append(f"the next command failed: {nxt.stderr.strip()[-300:]}")
        result = audit.open_audit_log(self.home).verify()
        if not result.ok:
            problems.append(f"audit verify: {result.problem.describe() if result.problem else '?'}")
        versions: dict[str, int | None] = {}
        for name in names:
            if not self.store.exists(name):
                versions[name] = None
                continue
            try:
                report = verify_zone(name, self.store)
            except Exception as e:  # noqa: BLE001 - any failure here is the finding
                problems.append(f"zone {name} does not verify: {type(e).__name__}: {e}")
                versions[name] = -1
                continue
            if not report.ok:
                problems.append(f"zone {name} v{report.version} corrupt: {report.problems[:2]}")
            versions[name] = report.version
        leaked = self.plaintext_on_disk()
        if leaked:
            problems.append(f"plaintext on disk: {leaked[:5]}")
        return versions, problems


def killed_run(home: Home, args: list[str], delay: float, crash_at: str | None) -> bool:
    """Run `piizone args`; SIGKILL it after `delay` s (or let it crash at `crash_at`).

    True when the process died by SIGKILL, False when it finished first."""
    extra = {"PIIZONE_TEST_CRASH_AT": crash_at} if crash_at else {}
    proc = home.start(*args, **extra)
    try:
        proc.wait(timeout=delay if not crash_at else 900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and anything it started
        proc.wait()
    return proc.returncode == -signal.SIGKILL


def timed(home: Home, *args: str) -> float:
    start = time.monotonic()
    home.must(*args)
    return time.monotonic() - start


def delays(rng: random.Random, span: float | Callable[[], float], n: int, loop: Loop):
    """Kill delays until `n` kills have landed (at most 4n tries: a fast command may finish).

    From process start to a little past the measured duration: the import takes a good part
    of it, so the first quarter is sampled less than the working part."""
    tries = 0
    while loop.killed < n and tries < 4 * n:
        tries += 1
        s = span() if callable(span) else span  # a callable: re-read as the loop learns
        if loop.finished_s:  # runs got faster than measured (the load fell): kill sooner
            s = min(s, min(loop.finished_s[-5:]))
        early = rng.random() < 0.2
        yield rng.uniform(0.05, s * 0.25) if early else rng.uniform(s * 0.25, s)


def record(loop: Loop, i: int, versions, problems, old, new) -> None:
    state = {old: "old", new: "new"}
    for name, version in versions.items():
        where = state.get(version)
        if where is None:
            problems.append(f"{name}: version {version} is neither old ({old}) nor new ({new})")
        else:
            loop.states[where] += 1
    for p in problems:
        loop.violations.append(f"kill {i}: {p}")


@dataclass
class KillRun:
    """One run of a kill loop, after the next command has settled it."""

    i: int
    point: str | None  # the named crash point it was sent to, or None (a timed kill)
    died: bool
    seconds: float  # from its start to its death or exit
    versions: dict[str, int | None]  # of the zones checked (None: absent)
    problems: list[str]


def kill_plan(command: str, rng: random.Random, span, n: int, loop: Loop):
    """(crash point, delay) pairs: each named crash point of `command` once, then timed kills."""
    return itertools.chain(
        ((p, 0.0) for p in CRASH_POINTS.get(command, [])),
        ((None, d) for d in delays(rng, span, n, loop)),
    )


def run_kills(
    loop: Loop,
    home: Home,
    plan,
    step: Callable[[int], tuple[list[str], list[str], Any]],
    after: Callable[[KillRun, Any], None],
) -> None:
    """The loop every killed command shares: `step(i)` prepares run i and says what to run,
    which zones to check and what to remember (the old version, the key provider); the run is
    killed (or crashes at its point), the next command settles it, the invariants are checked,
    and `after` judges the outcome against what was remembered."""
    for i, (point, delay) in enumerate(plan):
        args, names, before = step(i)
        started = time.monotonic()
        died = killed_run(home, args, delay, point)
        seconds = time.monotonic() - started
        loop.killed += died
        loop.finished += not died
        if not died and point is None:
            loop.finished_s.append(seconds)
        loop.crash_points += bool(point and died)
        versions, problems = home.check(names)
        after(KillRun(i, point, died, seconds, versions, problems), before)


def loop_create(base: Path, n: int, rng: random.Random) -> Loop:
    loop, home = Loop("zone create"), Home(base, "create")
    t0 = time.monotonic()
    home.must("init")
    span = timed(home, "zone", "create", "warm", "--from", str(home.src)) * 1.1

    def step(i: int) -> tuple[list[str], list[str], Any]:
        name = f"c{i:03d}"
        return ["zone", "create", name, "--from", str(home.src)], [name], None

    def after(run: KillRun, _: Any) -> None:
        record(loop, run.i, run.versions, run.problems, None, 1)

    run_kills(loop, home, kill_plan("create", rng, span, n, loop), step, after)
    loop.seconds = time.monotonic() - t0
    return loop


def loop_refresh(base: Path, n: int, rng: random.Random) -> Loop:
    loop, home = Loop("zone refresh"), Home(base, "refresh")
    t0 = time.monotonic()
    home.must("init")
    home.must("zone", "create", "r", "--from", str(home.src))
    span = timed(home, "zone", "refresh", "r", "--force") * 1.1

    def step(i: int) -> tuple[list[str], list[str], Any]:
        return ["zone", "refresh", "r", "--force"], ["r"], home.store.manifest("r").version

    def after(run: KillRun, old: int) -> None:
        record(loop, run.i, run.versions, run.problems, old, old + 1)

    run_kills(loop, home, kill_plan("refresh", rng, span, n, loop), step, after)
    loop.seconds = time.monotonic() - t0
    return loop


def loop_destroy(base: Path, n: int, rng: random.Random) -> Loop:
    loop, home = Loop("zone destroy"), Home(base, "destroy")
    t0 = time.monotonic()
    home.must("init")
    home.must("zone", "create", "d-warm", "--from", str(home.src))
    # The warm-up destroy is slower than the later ones (cold caches): a span taken from it
    # alone let most runs finish before their kill. Each run that finishes first shrinks it.
    span = [timed(home, "zone", "destroy", "d-warm", "--yes") * 1.1]

    def step(i: int) -> tuple[list[str], list[str], Any]:
        name = f"d{i:03d}"
        home.must("zone", "create", name, "--from", str(home.src))
        return ["zone", "destroy", name, "--yes"], [name], None

    def after(run: KillRun, _: Any) -> None:
        name = f"d{run.i:03d}"
        if not run.died and run.point is None:
            span[0] = min(span[0], run.seconds * 1.05)
        if list((home.home / "zones" / ".shredding").glob(f"{name}.*")):
            run.problems.append(f"{name}: a half-done shred was left after the next command")
        record(loop, run.i, run.versions, run.problems, 1, None)
        if run.versions.get(name) is not None:  # left in its old state: the next destroy works
            again = home.run("zone", "destroy", name, "--yes")
            if again.returncode != 0:
                loop.violations.append(f"kill {run.i}: re-destroy failed: {again.stderr.strip()}")

    run_kills(loop, home, kill_plan("destroy", rng, lambda: span[0], n, loop), step, after)
    loop.seconds = time.monotonic() - t0
    return loop


def loop_rotate(base: Path, n: int, rng: random.Random) -> Loop:
    loop, home = Loop("keys rotate"), Home(base, "rotate")
    t0 = time.monotonic()
    home.must("init")
    home.must("zone", "create", "k", "--from", str(home.src))
    span = timed(home, "keys", "rotate", "--yes") * 1.1

    def step(i: int) -> tuple[list[str], list[str], Any]:
        return ["keys", "rotate", "--yes"], ["k"], home.store.manifest("k").key.provider

    def after(run: KillRun, before: str) -> None:
        for p in run.problems:
            loop.violations.append(f"kill {run.i}: {p}")
        if run.versions.get("k") in (None, -1):
            loop.violations.append(f"kill {run.i}: the zone is gone or unreadable after a rotation")
        else:
            after_rotation = home.store.manifest("k").key.provider
            loop.states["new" if after_rotation != before else "old"] += 1

    run_kills(loop, home, kill_plan("rotate", rng, span, n, loop), step, after)
    loop.seconds = time.monotonic() - t0
    return loop


APPENDER = """
import sys
from piizone.zones import audit
from pathlib import Path
log = audit.open_audit_log(Path(sys.argv[1]))
i = 0
while True:
    log.append("zone.list", details={"soak": i, "pad": "x" * (i % 700)})
    i += 1
"""


def loop_audit(base: Path, n: int, rng: random.Random) -> Loop:
    loop, home = Loop("audit append"), Home(base, "audit")
    t0 = time.monotonic()
    home.must("init")
    for i in range(n):
        before = sum(1 for _ in audit.open_audit_log(home.home).records())
        proc = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(home.home)],
            env=home.env(),
            cwd=home.base,
            stderr=subprocess.PIPE,
        )
        try:
            proc.wait(timeout=rng.uniform(0.8, 3.0))  # ~0.5 s of import, then appends
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        died = proc.returncode == -signal.SIGKILL
        loop.killed += died
        loop.finished += not died
        if not died:
            loop.violations.append(f"kill {i}: the appender exited: {proc.stderr.read()[-300:]!r}")
        proc.stderr.close()
        _, problems = home.check([])
        after = sum(1 for _ in audit.open_audit_log(home.home).records())
        loop.states["appended"] += after > before + 1  # the next command's record is 1
        for p in problems:
            loop.violations.append(f"kill {i}: {p}")
    loop.seconds = time.monotonic() - t0
    return loop


# -- concurrency ------------------------------------------------------------------------------

# The session's command: escape attempts, each printed as one JSON line, then a hold so that
# the sessions overlap. argv: the host's IPv4 port, IPv6 port, abstract socket name, the keys
# dir, another zone's versions dir, the planted environment value.
SESSION_PROBE = r"""
import json, os, socket, sys, time
port4, port6, abstract, keys, other, planted = sys.argv[1:7]
start = time.time()
r = {}
def attempt(name, fn):
    try:
        fn(); r[name] = "open"
    except OSError as e:
        r[name] = type(e).__name__
attempt("ipv4", lambda: socket.create_connection(("127.0.0.1", int(port4)), timeout=2).close())
def v6():
    s = socket.socket(socket.AF_INET6); s.settimeout(2); s.connect(("::1", int(port6))); s.close()
attempt("ipv6", v6)
attempt("dns", lambda: socket.getaddrinfo("example.com", 443))
def abstract_sock():
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect("\0" + abstract); s.close()
attempt("abstract", abstract_sock)
attempt("keys", lambda: os.listdir(keys))
attempt("other_zone", lambda: os.listdir(other))
environ = b""
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        environ += open(f"/proc/{pid}/environ", "rb").read()
    except OSError:
        pass
r["planted_env_seen"] = planted.encode() in environ
r["pids"] = len([p for p in os.listdir("/proc") if p.isdigit()])
r["data_files"] = sum(len(f) for _, _, f in os.walk("/zone/data"))
time.sleep(4)
r["start"], r["end"] = start, time.time()
print("SOAKPROBE " + json.dumps(r), flush=True)
"""


class Listeners:
    """Host listeners a session must not reach: TCP on 127.0.0.1 and ::1, an abstract socket."""

    def __init__(self):
        self.hits = 0
        self.socks = []
        self.abstract = "piizone-soak-" + secrets.token_hex(4)
        for family, addr in ((socket.AF_INET, ("127.0.0.1", 0)), (socket.AF_INET6, ("::1", 0))):
            s = socket.socket(family)
            s.bind(addr)
            s.listen(16)
            self.socks.append(s)
        u = socket.socket(socket.AF_UNIX)
        u.bind("\0" + self.abstract)
        u.listen(16)
        self.socks.append(u)
        self.stop = False
        self.threads = [
            threading.Thread(target=self._serve, args=(s,), daemon=True) for s in self.socks
        ]
        for t in self.threads:
            t.start()

    @property
    def ports(self) -> tuple[int, int]:
        return self.socks[0].getsockname()[1], self.socks[1].getsockname()[1]

    def _serve(self, s: socket.socket) -> None:
        s.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self.stop = True
        for t in self.threads:
            t.join()
        for s in self.socks:
            s.close()


@dataclass
class Concurrency:
    creates: int = 0
    creates_ok: int = 0
    sessions: int = 0
    sessions_ok: int = 0
    held_at_once: int = 0
    escapes_tried: int = 0
    escapes_blocked: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def concurrency(base: Path, n: int) -> Concurrency:
    c, home = Concurrency(creates=n, sessions=n), Home(base, "concurrent")
    t0 = time.monotonic()
    home.must("init")
    home.must("zone", "create", "held", "--from", str(home.src))
    home.must("zone", "create", "other", "--from", str(home.src))
    listeners = Listeners()
    planted = "soakplanted" + secrets.token_hex(6)
    port4, port6 = listeners.ports
    work = home.base / "work"  # --work must not expose the home
    work.mkdir()
    (work / "probe.py").write_text(SESSION_PROBE)
    procs = []
    for i in range(n):
        procs.append(("create", i, home.start("zone", "create", f"p{i}", "--from", str(home.src))))
    for i in range(n):
        cmd = [
            "sandbox", "run", "held", "--out", str(home.base / f"out{i}"), "--work", str(work),
            "--", "python", "probe.py", str(port4), str(port6), listeners.abstract,
            str(home.home / "keys"), str(home.home / "zones" / ".versions" / "other"), planted,
        ]  # fmt: skip
        proc = subprocess.Popen(
            home.argv(*cmd),
            cwd=home.base,
            env=home.env(SOAK_PLANTED=planted),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        procs.append(("session", i, proc))
    spans = []
    for kind, i, proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            c.violations.append(f"{kind} {i} exited {proc.returncode}: {(err or '')[-300:]}")
            continue
        if kind == "create":
            c.creates_ok += 1
            continue
        c.sessions_ok += 1
        line = next((x for x in out.splitlines() if x.startswith("SOAKPROBE ")), None)
        if line is None:
            c.violations.append(f"session {i}: no probe output")
            continue
        r = json.loads(line.split(" ", 1)[1])
        spans.append((r["start"], r["end"]))
        blocked = {
            "ipv4": r["ipv4"] != "open",
            "ipv6": r["ipv6"] != "open",
            "dns": r["dns"] != "open",
            "abstract": r["abstract"] != "open",
            "keys": r["keys"] != "open",
            "other_zone": r["other_zone"] != "open",
            "proc_environ": not r["planted_env_seen"],
            "host_proc": r["pids"] <= 3,
        }
        c.escapes_tried += len(blocked)
        c.escapes_blocked += sum(blocked.values())
        for what, ok in blocked.items():
            if not ok:
                c.violations.append(f"session {i}: escape not blocked: {what} ({r})")
        if r["data_files"] < 1:
            c.violations.append(f"session {i}: saw no zone data")
    listeners.close()
    if listeners.hits:
        c.violations.append(f"the host listeners were reached {listeners.hits} time(s)")
    c.held_at_once = max((sum(1 for s, e in spans if s <= t < e) for t, _ in spans), default=0)
    time.sleep(1)
    leftover = subprocess.run(
        ["pgrep", "-f", "probe.py " + str(port4)], capture_output=True, text=True, check=False
    ).stdout.split()
    if leftover:
        c.violations.append(f"{len(leftover)} session process(es) outlived their sessions")
    _, problems = home.check(["held", "other"] + [f"p{i}" for i in range(n)])
    c.violations += problems
    c.seconds = time.monotonic() - t0
    return c


# -- pytest-based parts -----------------------------------------------------------------------


def pytest_run(args: list[str], env_extra: dict[str, str]) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **env_extra)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _failures(out: str) -> str:
    """The error lines and failing cases of a pytest run, then its last lines."""
    keep = [x for x in out.splitlines() if x.startswith(("E ", "FAILED")) or "Failing" in x]
    return "\n".join(keep[:60]) + "\n...\n" + out[-800:]


def fuzz(examples: int) -> dict:
    files = ["tests/security/test_fuzz_formats.py", "tests/security/test_fuzz_parsers.py"]
    t0 = time.monotonic()
    rc, out = pytest_run(
        [*files, "--hypothesis-show-statistics"], {"PIIZONE_FUZZ_EXAMPLES": str(examples)}
    )
    # Sum the examples hypothesis generated (passing + failing; not the shrinks, not invalid).
    generated = re.compile(r"generate phase.*?- (\d+) passing, (\d+) failing", re.S)
    ran = sum(int(m.group(1)) + int(m.group(2)) for m in generated.finditer(out))
    props = len(re.findall(r"^tests/security/\S+::\S+:$", out, re.M))
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    return {
        "rc": rc,
        "examples": ran,
        "properties": props,
        "summary": summary,
        "seconds": time.monotonic() - t0,
        "tail": _failures(out) if rc else "",
    }


def egress() -> dict:
    t0 = time.monotonic()
    rc, out = pytest_run(["tests/security/test_egress_channels.py", "-rA"], {})
    passed = re.findall(r"^PASSED tests/security/test_egress_channels.py::(\w+)", out, re.M)
    counts = Counter(passed)
    return {
        "rc": rc,
        "encoded": counts["test_encoded_original_values_are_held"],
        "binary_formats": counts["test_binary_formats_are_read_as_data"],
        "all_passed": len(passed),
        "summary": out.strip().splitlines()[-1] if out.strip() else "",
        "seconds": time.monotonic() - t0,
        "tail": _failures(out) if rc else "",
    }


# -- the summary ------------------------------------------------------------------------------


def markdown(args, loops: list[Loop], conc: Concurrency | None, fz: dict | None, eg: dict | None):
    mode = "quick" if args.quick else "full"
    lines = [
        f"## piizone security soak ({mode} mode, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{args.command_line}`",
    ]
    if loops:
        lines += [
            "",
            "| kill -9 loop | kills landed | finished first | named crash points | old / new state "
            "| violations | time |",
            "|---|---|---|---|---|---|---|",
        ]
    for lp in loops:
        states = " / ".join(f"{k} {v}" for k, v in sorted(lp.states.items())) or "-"
        lines.append(
            f"| {lp.command} | {lp.killed} | {lp.finished} | {lp.crash_points} | {states} "
            f"| {len(lp.violations)} | {lp.seconds:.0f} s |"
        )
    if conc:
        lines += [
            "",
            f"Concurrency: {conc.creates_ok}/{conc.creates} concurrent `zone create` and "
            f"{conc.sessions_ok}/{conc.sessions} concurrent `sandbox run` sessions succeeded; "
            f"{conc.held_at_once} sessions held at once; escape attempts blocked "
            f"{conc.escapes_blocked}/{conc.escapes_tried} (IPv4, IPv6, DNS, abstract socket, "
            f"keys dir, another zone, /proc/*/environ, host pids); {len(conc.violations)} "
            f"violations ({conc.seconds:.0f} s).",
        ]
    if fz:
        lines += [
            "",
            f"Fuzzing: {fz['examples']} hypothesis examples over {fz['properties']} properties "
            f"(PIIZONE_FUZZ_EXAMPLES={args.fuzz_examples}): {fz['summary']} "
            f"({fz['seconds']:.0f} s).",
        ]
    if eg:
        lines += [
            "",
            f"Egress: {eg['encoded']} encoded forms of original values held, "
            f"{eg['binary_formats']} binary data formats read as data; "
            f"{eg['all_passed']} egress channel cases passed: {eg['summary']} "
            f"({eg['seconds']:.0f} s).",
        ]
    problems = [v for lp in loops for v in lp.violations[:10]]
    problems += conc.violations[:10] if conc else []
    for part in (fz, eg):
        if part and part["rc"]:
            problems.append(f"pytest failed:\n```\n{part['tail']}\n```")
    if problems:
        lines += ["", "### Violations", ""] + [f"- {p}" for p in problems]
    return "\n".join(lines) + "\n", bool(problems)


LOOPS = {
    "audit": loop_audit,
    "create": loop_create,
    "refresh": loop_refresh,
    "destroy": loop_destroy,
    "rotate": loop_rotate,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("SOAK_QUICK")))
    parser.add_argument("--kills", type=int, help="kills per command (default 50, quick 3)")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--fuzz-examples", type=int, help="per property (default 2000, quick 300)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--only", action="append", choices=["kill", "concurrency", "fuzz", "egress"]
    )
    parser.add_argument(
        "--command",
        action="append",
        choices=["audit", "create", "refresh", "destroy", "rotate"],
        help="only these kill loops (default: all)",
    )
    parser.add_argument("--summary", type=Path, help="also write the Markdown summary here")
    args = parser.parse_args(argv)
    env_quick = "SOAK_QUICK=1 " if os.environ.get("SOAK_QUICK") else ""
    args.command_line = env_quick + "make soak"
    if argv is None and len(sys.argv) > 1:
        args.command_line = env_quick + "python scripts/soak.py " + " ".join(sys.argv[1:])
    kills = args.kills or (3 if args.quick else 50)
    args.fuzz_examples = args.fuzz_examples or (300 if args.quick else 2000)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    rng = random.Random(seed)
    only = set(args.only or ["kill", "concurrency", "fuzz", "egress"])
    base = Path(tempfile.mkdtemp(prefix="piizone-soak-"))
    print(f"soak: seed {seed}, work dir {base}", file=sys.stderr)
    loops, conc, fz, eg = [], None, None, None
    try:
        if "kill" in only:
            chosen = args.command or ["audit", "create", "refresh", "destroy", "rotate"]
            for fn in [LOOPS[c] for c in chosen]:
                loops.append(fn(base, kills, rng))
                lp = loops[-1]
                print(
                    f"soak: {lp.command}: {lp.killed} kills, {lp.finished} finished first, "
                    f"{lp.crash_points} crash points, {dict(lp.states)}, "
                    f"{len(lp.violations)} violations {lp.violations[:3]}, {lp.seconds:.0f} s",
                    file=sys.stderr,
                )
        if "concurrency" in only:
            conc = concurrency(base, args.sessions)
            print(f"soak: concurrency done in {conc.seconds:.0f} s", file=sys.stderr)
        if "fuzz" in only:
            fz = fuzz(args.fuzz_examples)
        if "egress" in only:
            eg = egress()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    text, failed = markdown(args, loops, conc, fz, eg)
    text += f"\nSeed: {seed}.\n"
    print(text)
    if args.summary:
        args.summary.write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
