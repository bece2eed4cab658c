"""Audit log speed: durable appends per second and verification in records per second.

    .venv/bin/python benchmarks/audit_bench.py [--appends 2000] [--procs 8] [--verify 50000]

- appends, 1 process: `AuditLog.append` as commands call it — flock, record, O_APPEND write,
  fsync of the log, atomic head replace (temp file, fsync, rename, fsync of the directory).
- appends, N processes: the same from N processes at once on one log (lock contention).
- verify: `AuditLog.verify` over a log built without fsync (the build is not what is measured):
  parse, canonical check, HMAC, hash chain, head.
The log lives in a temp directory on the same file system as the system temp dir, so the fsync
figures are that disk's. Prints a Markdown section to paste under "## Audit log" in RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from piizone.zones.audit.log import AuditLog  # noqa: E402

KEY = os.urandom(32)


def append_n(directory: Path, n: int, key: bytes = KEY) -> None:
    log = AuditLog(directory, key)
    for i in range(n):
        log.append("session.start", zone="bench", details={"i": i, "files": 3})


def bench_appends(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        append_n(Path(tmp) / "audit", n)
        return n / (time.perf_counter() - start)


def bench_concurrent(procs: int, per_proc: int) -> tuple[float, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "audit"
        ctx = multiprocessing.get_context("fork")
        workers = [
            ctx.Process(target=append_n, args=(directory, per_proc, KEY)) for _ in range(procs)
        ]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        result = AuditLog(directory, KEY).verify()
        return procs * per_proc / elapsed, result.ok and result.records == procs * per_proc


def bench_verify(n: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "audit"
        builder = AuditLog(directory, KEY, fsync=False)
        for i in range(n):
            builder.append("zone.open", zone=f"zone-{i % 7}", details={"i": i, "rows": 1000})
        size = sum(p.stat().st_size for p in directory.glob("audit-*.jsonl"))
        start = time.perf_counter()
        result = AuditLog(directory, KEY).verify()
        elapsed = time.perf_counter() - start
        if not result.ok or result.records != n:
            raise SystemExit(f"verify failed on an intact log: {result}")
        return n / elapsed, size / elapsed / 2**20, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--verify", type=int, default=50_000)
    args = parser.parse_args()

    single = bench_appends(args.appends)
    per_proc = max(1, args.appends // args.procs)
    concurrent, chain_ok = bench_concurrent(args.procs, per_proc)
    verify_rate, verify_mib, size = bench_verify(args.verify)

    print("## Audit log")
    print()
    print(
        f"`{' '.join(['.venv/bin/python', 'benchmarks/audit_bench.py', *sys.argv[1:]])}` — "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
        f"log in {tempfile.gettempdir()}"
    )
    print()
    print("| measurement | records | result |")
    print("|---|---:|---:|")
    print(f"| append with fsync, 1 process | {args.appends:,} | {single:,.0f} appends/s |")
    print(
        f"| append with fsync, {args.procs} processes at once | {args.procs * per_proc:,} | "
        f"{concurrent:,.0f} appends/s (chain {'verifies' if chain_ok else 'BROKEN'}) |"
    )
    print(
        f"| verify (MAC + chain + head) | {args.verify:,} | {verify_rate:,.0f} records/s "
        f"({verify_mib:.1f} MiB/s, {size / 2**20:.1f} MiB) |"
    )


if __name__ == "__main__":
    main()
