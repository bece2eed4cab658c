"""Zone provisioning time: `piizone zone create` on sample_data, end to end, in a fresh process.

Prints a Markdown section. Run: .venv/bin/python benchmarks/zone_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIIZONE = [sys.executable, "-m", "piizone.cli.main"]


def run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*PIIZONE, *args], env=env, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sample = REPO / "sample_data"
    size = sum(p.stat().st_size for p in sample.rglob("*") if p.is_file())
    rows = []
    for workers in ("1", "2"):
        best = float("inf")
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory() as home:
                env = {**os.environ, "PIIZONE_HOME": home}
                run(["init"], env)
                best = min(
                    best,
                    run(
                        ["zone", "create", f"z{i}", "--from", str(sample), "--workers", workers],
                        env,
                    ),
                )
        rows.append((workers, best))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("## Zone provisioning\n")
    print(
        f"`.venv/bin/python benchmarks/zone_bench.py --repeat {args.repeat}`: "
        f"`piizone zone create` of sample_data ({size / 1e6:.2f} MB, 16 files) in a fresh "
        f"process (model load included), best of {args.repeat}; {os.cpu_count()} CPUs.\n"
    )
    print("| workers | wall time (s) | MB/s |")
    print("|---:|---:|---:|")
    for workers, best in rows:
        print(f"| {workers} | {best:.1f} | {size / 1e6 / best:.3f} |")
    print(f"\nPeak RSS of the largest run: {peak:.0f} MB.")


if __name__ == "__main__":
    main()
