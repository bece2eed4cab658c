"""Run every benchmark and write benchmarks/RESULTS.md (what `make bench` calls).

    .venv/bin/python -m benchmarks.run [--quick] [--only quality,throughput,...] [-o FILE]

- quality: benchmarks/quality/run_quality.py (piizone vs vanilla Presidio, same run);
- realtext: benchmarks/quality/real_text.py (the same two on the real-text dev corpora in
  ../shared/data/quality-dev or $PIIZONE_QUALITY_DEV; skipped with a note when absent);
- throughput: benchmarks/throughput.py (text records/s vs vanilla Presidio, 1 and 2 workers;
  100k/1M-row tables with peak RSS; cost growth 1x/4x/16x; Dask vs the local pool);
- crypto, audit, zone, sandbox: benchmarks/{crypto,audit,zone,sandbox}_bench.py, run as scripts;
  their Markdown output is captured into RESULTS.md.
Each benchmark runs in its own process so one's memory and threads never skew another's timing.
Everything is offline: the data is generated in memory with fixed seeds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_MD = Path(__file__).with_name("RESULTS.md")
QUALITY_ANALYSIS = ROOT / "benchmarks" / "quality" / "ANALYSIS.md"
THROUGHPUT_ANALYSIS = ROOT / "benchmarks" / "THROUGHPUT_ANALYSIS.md"

# name -> (command, arguments for --quick, section title)
SCRIPTS = {
    "crypto": (
        ["benchmarks/crypto_bench.py"],
        ["--mib", "64", "--repeat", "1"],
        "Zone file format",
    ),
    "audit": (
        ["benchmarks/audit_bench.py"],
        ["--appends", "300", "--procs", "2", "--verify", "5000"],
        "Audit log",
    ),
    "zone": (
        ["benchmarks/zone_bench.py"],
        ["--repeat", "1"],
        "Zone provisioning",
    ),
    "sandbox": (
        ["benchmarks/sandbox_bench.py", "--mb", "1024", "--repeat", "2"],
        ["--mb", "128", "--repeat", "1"],
        "Sandbox sessions",
    ),
    "serve": (
        ["benchmarks/serve_bench.py"],
        ["--singles", "60", "--batches", "4"],
        "Production service (piizone serve)",
    ),
    "known_values": (
        ["benchmarks/known_values_check.py"],
        ["--rows", "80"],
        "Known-value redaction",
    ),
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0"})
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_step(title: str, cmd: list[str]) -> tuple[str, float, bool]:
    print(f"== {title}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    # stderr streams through (progress of the long steps); stdout is the Markdown section.
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        return (
            f"_failed (exit {proc.returncode}), see stderr of `{' '.join(cmd)}`_\n",
            seconds,
            False,
        )
    return proc.stdout, seconds, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes everywhere")
    parser.add_argument(
        "--only",
        help="comma-separated subset: quality,realtext,throughput,crypto,audit,zone,sandbox",
    )
    parser.add_argument("-o", "--output", type=Path, default=RESULTS_MD)
    args = parser.parse_args(argv)
    wanted = (
        set(args.only.split(",")) if args.only else {"quality", "realtext", "throughput", *SCRIPTS}
    )
    python = sys.executable
    sections: list[str] = []
    ok = True
    if "quality" in wanted:
        cmd = [python, "-m", "benchmarks.quality.run_quality"] + (["--quick"] if args.quick else [])
        out, seconds, good = run_step("quality", cmd)
        ok &= good
        sections.append(out if good else "## Detection quality\n\n" + out)
    if "realtext" in wanted:
        cmd = [python, "-m", "benchmarks.quality.real_text"] + (["--quick"] if args.quick else [])
        out, seconds, good = run_step("real text", cmd)
        ok &= good
        sections.append(out if good else "## Detection quality on real text\n\n" + out)
    if "throughput" in wanted:
        cmd = [python, "-m", "benchmarks.throughput"] + (["--quick"] if args.quick else [])
        out, seconds, good = run_step("throughput", cmd)
        ok &= good
        sections.append(out if good else "## Throughput and scale (issue 7)\n\n" + out)
    for name, (script, quick_args, title) in SCRIPTS.items():
        if name not in wanted or not (ROOT / script[0]).exists():
            continue
        cmd = [python, *script] + (quick_args if args.quick else [])
        out, seconds, good = run_step(name, cmd)
        ok &= good
        shown = " ".join(["python", *script] + (quick_args if args.quick else []))
        # A script that prints its own "## Title" line gets ours instead.
        if out.startswith("## "):
            out = out.split("\n", 1)[1] if "\n" in out else ""
        sections.append(f"## {title}\n\n`{shown}` ({seconds:.0f} s)\n\n" + out.strip() + "\n")
    header = (
        "# piizone benchmark results\n\n"
        "Reproduce with `make bench` (installs the `bench` extra, then runs "
        "`.venv/bin/python -m benchmarks.run`"
        + (" --quick" if args.quick else "")
        + f"). Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. "
        "Everything runs offline on data generated with fixed seeds.\n"
    )
    body = "\n".join([header, *sections])
    # Hand-written analyses, appended after the regenerated figures.
    for analysis in (QUALITY_ANALYSIS, THROUGHPUT_ANALYSIS):
        if analysis.exists():
            body += "\n" + analysis.read_text(encoding="utf-8")
    args.output.write_text(body, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
