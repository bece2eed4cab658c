"""`piizone serve` speed: requests/s and p50/p99 latency, next to the Python API in the same run.

    .venv/bin/python benchmarks/serve_bench.py [--singles 300] [--batches 20] [--workers 1,2]

- HTTP: `piizone serve` (default policy, loopback, no TLS) as a real process per worker count;
  a load generator (asyncio + httpx, `--concurrency` requests in flight) on the same machine
  sends POST /v1/scrub with one record, then with batches of 100 records.
- Python API: `Scrubber.scrub_record` / `scrub_records` called directly in this process, one
  call at a time, on the same kind of records.
Records are customer-support records drawn with Faker from a fixed seed, a fresh set for every
request, so the engine's findings memo never answers a request from an earlier one. The load
generator shares the CPUs with the server: on a small machine it costs the server some of them.
Prints a Markdown section (benchmarks/run.py puts it into RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from faker import Faker  # noqa: E402

from piizone.zones.config import load_config  # noqa: E402
from piizone.zones.lifecycle import init_home  # noqa: E402
from tests.zones.live_server import LiveServer  # noqa: E402

BATCH = 100
TOPICS = ("a double charge", "the mobile app login", "a late delivery", "cancelling the plan")


def make_records(n: int, seed: int) -> list[dict]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    out = []
    for _ in range(n):
        name, phone = fake.name(), fake.phone_number()
        out.append(
            {
                "customer": name,
                "email": fake.email(),
                "phone": phone,
                "plan": fake.random_element(("basic", "plus", "pro")),
                "spend": round(fake.pyfloat(min_value=5, max_value=200), 2),
                "note": f"{name} wrote about {fake.random_element(TOPICS)}; call back on {phone} "
                f"or write to {fake.street_address()}, {fake.city()}.",
            }
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(
    client: str, workers: str, kind: str, latencies: list[float], wall: float, per: int, cpu: float
) -> str:
    n = len(latencies)
    return (
        f"| {client} | {workers} | {kind} | {n} | {n / wall:.1f} | {n * per / wall:.0f} | "
        f"{percentile(latencies, 0.5) * 1000:.0f} | {percentile(latencies, 0.99) * 1000:.0f} | "
        f"{cpu / n * 1000:.0f} |"
    )


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server and its worker processes."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def load(url: str, token: str, bodies: list[dict], concurrency: int) -> tuple[list, float]:
    """Send every body with `concurrency` in flight; latencies of each, and the wall time."""
    latencies: list[float] = []
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=300) as c:

        async def user() -> None:
            while queue:
                body = queue.pop()
                started = time.perf_counter()
                response = await c.post("/v1/scrub", json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def bench_api(singles: list[dict], batches: list[list[dict]]) -> list[str]:
    from piizone import Scrubber

    scrubber = Scrubber.from_policy()
    scrubber.scrub_records(make_records(BATCH, seed=999))  # warm-up: lazy parts of the engine
    rows = []
    for kind, calls, per in (
        ("1 record", [lambda r=r: scrubber.scrub_record(r) for r in singles], 1),
        (f"{BATCH} records", [lambda b=b: scrubber.scrub_records(b) for b in batches], BATCH),
    ):
        latencies = []
        started, cpu = time.perf_counter(), time.process_time()
        for call in calls:
            t = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - t)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows.append(row("Python API", "-", kind, latencies, wall, per, cpu))
    return rows


def bench_http(
    home: Path, workers: int, singles: list[dict], batches: list[list[dict]], concurrency: int
) -> list[str]:
    server = LiveServer(["--workers", str(workers)], home)
    token = load_config(home).serve.token
    rows = []
    try:
        warm = [{"records": make_records(BATCH, seed=998 + i)} for i in range(workers)]
        asyncio.run(load(server.url, token, warm, workers))
        for kind, bodies, per in (
            ("1 record", [{"records": [r]} for r in singles], 1),
            (f"{BATCH} records", [{"records": b} for b in batches], BATCH),
        ):
            cpu = server_cpu(server.process.pid)
            latencies, wall = asyncio.run(load(server.url, token, bodies, concurrency))
            cpu = server_cpu(server.process.pid) - cpu
            rows.append(row("HTTP /v1/scrub", str(workers), kind, latencies, wall, per, cpu))
    finally:
        server.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=300, help="single-record requests")
    parser.add_argument("--batches", type=int, default=20, help="requests of 100 records")
    parser.add_argument("--workers", default="1,2", help="server worker counts to run")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]
    rows: list[str] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["PIIZONE_HOME"] = str(home)
        os.environ.pop("PIIZONE_SERVE_TOKEN", None)
        init_home(home)
        seed = 0

        def fresh() -> tuple[list[dict], list[list[dict]]]:
            nonlocal seed
            seed += 1
            singles = make_records(args.singles, seed=seed * 1000)
            batches = [make_records(BATCH, seed=seed * 1000 + 1 + i) for i in range(args.batches)]
            return singles, batches

        for workers in worker_counts:
            print(f"serve bench: HTTP, {workers} worker(s)", file=sys.stderr, flush=True)
            rows += bench_http(home, workers, *fresh(), args.concurrency)
        print("serve bench: Python API", file=sys.stderr, flush=True)
        rows = bench_api(*fresh()) + rows
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print("## Production service (piizone serve)\n")
    print(
        f"{platform.machine()}, {cpus} CPUs (load average {load_before:.1f} before the run, "
        f"{os.getloadavg()[0]:.1f} after: other work on the machine slows every figure alike), "
        f"Python {platform.python_version()}; default policy, "
        f"loopback HTTP without TLS; load generator: asyncio + httpx with {args.concurrency} "
        "requests in flight, on the same machine. Each request carries fresh Faker records "
        "(name, email, phone, plan, spend, a free-text note), so no result comes from the "
        "engine's memo. Python API: direct calls in one thread, same kind of records.\n"
    )
    print(
        "| client | workers | request | requests | req/s | records/s | p50 ms | p99 ms "
        "| CPU ms/request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)
    print(
        "\nCPU ms/request is the server's (all its processes) or, for the Python API, this "
        "process's CPU time per request: unlike the wall-clock figures it does not grow with "
        "other load on the machine.\n"
    )
    print(
        "A one-record request profiles each field like a one-line table (the same code as "
        "`redact` on a one-line .jsonl), so most of its time is NER on the note and the "
        "column checks; a batch of 100 is profiled once and its free text analysed in "
        "batched spaCy passes."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
