"""Throughput and scale: piizone vs vanilla Presidio on text, tables of 100k/1M rows, growth, Dask.

    .venv/bin/python -m benchmarks.throughput [--quick] [--only text,tables,growth,dask]

Run by `make bench` through benchmarks/run.py (never by the test suite). Prints the Markdown
section for benchmarks/RESULTS.md on stdout, progress on stderr. Everything is offline and
generated with fixed seeds:
- text: the quality benchmark's presidio-evaluator sentences and call transcripts
  (benchmarks/quality), timed with its `systems.py` (detection + `replace` redaction): piizone in
  one process, piizone with a 2-process pool (`--workers 2`), vanilla Presidio; same model, same
  data, same run, best of N with the systems alternating;
- tables: a customers CSV (8 columns, a free-text `notes` column with incidental PII in ~10% of
  rows, repeated templates otherwise) of 100k and 1M rows through `redact_file` (default policy),
  each run in its own process for its peak RSS (VmHWM of the process and of its workers);
  vanilla Presidio per cell (analyze + anonymize every cell) on a timed sample, extrapolated;
- growth: redaction time at 1x, 4x, 16x input (table rows, transcript text), fresh process each;
- dask: the 100k table through `--engine dask` (LocalCluster, 2 worker processes) and through the
  local 2-process pool; outputs compared byte for byte (the benchmark fails if they differ).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
PY = ".venv/bin/python"
TABLE_SEED = 20_261_122
COLUMNS = [
    "customer_id",
    "full_name",
    "email",
    "phone",
    "city",
    "plan",
    "signup_date",
    "notes",
]
# Notes without personal information, as support tools write them: few templates, many repeats.
PLAIN_NOTES = [
    "Escalated to tier 2 for a recurring outage.",
    "Reported an issue with the mobile app login; resolved after reinstall.",
    "Asked about upgrading to the premium plan.",
    "Requested a copy of the last invoice.",
    "Billing question about a duplicate charge; refund issued.",
    "No answer on follow-up call.",
    "Customer satisfied with the resolution.",
    "Router replaced under warranty.",
    "Prefers contact by e-mail.",
    "Cancelled the add-on package.",
    "Password reset link sent.",
    "Service restored after the maintenance window.",
    "Complained about slow speeds in the evening.",
    "Moved to annual billing.",
    "Account review scheduled for next quarter.",
    "",
]
# Notes with incidental PII: a name, phone, e-mail or address filled in per row.
PII_NOTES = [
    "Spoke with {name}, who asked us to call back on {phone}.",
    "Customer's spouse {name} is now an authorised user.",
    "Send the replacement card to {address}.",
    "Alternate contact: {email}.",
    "Caller gave {phone} as the new number; verified by {name}.",
    "Shipping address updated to {address}.",
    "Forward invoices to {email} from now on.",
    "Per {name}: do not call before 10am.",
]


def _pools(seed: int):
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    firsts = [fake.first_name() for _ in range(3000)]
    lasts = [fake.last_name() for _ in range(3000)]
    cities = [fake.city() for _ in range(400)]
    streets = [fake.street_name() for _ in range(2000)]
    suffix = ["Street", "Avenue", "Road", "Lane", "Drive", "Court"]
    domains = ["gmail.com", "yahoo.com", "outlook.com", "example.org", "mail.com"]
    return firsts, lasts, cities, streets, suffix, domains


def customer_rows(n: int, seed: int = TABLE_SEED) -> list[dict[str, str]]:
    """`n` customers rows (dicts), deterministic for (n, seed); fast enough for 1M rows."""
    rng = random.Random(seed)
    firsts, lasts, cities, streets, suffix, domains = _pools(seed)
    rows = []
    start = dt.date(2015, 1, 1).toordinal()
    for i in range(n):
        first, last = rng.choice(firsts), rng.choice(lasts)
        phone = f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
        if rng.random() < 0.10:
            other = f"{rng.choice(firsts)} {rng.choice(lasts)}"
            address = (
                f"{rng.randint(1, 9999)} {rng.choice(streets)} {rng.choice(suffix)}, "
                f"{rng.choice(cities)}"
            )
            other_phone = (
                f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            )
            email = f"{other.split()[0].lower()}.{rng.randint(1, 99)}@{rng.choice(domains)}"
            note = rng.choice(PII_NOTES).format(
                name=other, phone=other_phone, address=address, email=email
            )
        else:
            note = rng.choice(PLAIN_NOTES)
        rows.append(
            {
                "customer_id": str(100_000 + i),
                "full_name": f"{first} {last}",
                "email": f"{first}.{last}{rng.randint(1, 999)}@{rng.choice(domains)}".lower(),
                "phone": phone,
                "city": rng.choice(cities),
                "plan": rng.choice(["basic", "plus", "premium", "family"]),
                "signup_date": dt.date.fromordinal(start + rng.randint(0, 3650)).isoformat(),
                "notes": note,
            }
        )
    return rows


def write_customers_csv(path: Path, n: int, seed: int = TABLE_SEED) -> int:
    """Write `n` rows to `path`; returns its size in bytes. Generated in slices (bounded memory)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        done, part = 0, 0
        while done < n:
            size = min(100_000, n - done)
            # Each slice has its own seed; the pools are the same, so values repeat across slices.
            rows = customer_rows(size, seed=seed + part)
            for j, row in enumerate(rows):
                row["customer_id"] = str(100_000 + done + j)
            writer.writerows(rows)
            done += size
            part += 1
    return path.stat().st_size


# --------------------------------------------------------------------------- child processes


def _child_redact(args: argparse.Namespace) -> None:
    """In a fresh process: build the engine, redact one file, print timings and peak RSS."""
    from piizone.scrubbers.engines import close_engine, make_engine
    from piizone.scrubbers.operators import Redactor
    from piizone.scrubbers.policy import load_policy
    from piizone.scrubbers.redact import redact_file

    policy = load_policy()
    started = time.perf_counter()
    engine = make_engine(policy, workers=args.workers, engine=args.engine)
    if args.workers > 1 or args.engine == "dask":
        _warm_pool(engine, args.workers)
    else:
        engine.analyze("warm-up: call Jane Example at 212-555-0100")
    startup = time.perf_counter() - started
    started = time.perf_counter()
    summary = redact_file(args.input, args.output, engine, Redactor(policy, None))
    seconds = time.perf_counter() - started
    workers_rss = _workers_peak_rss_mib(engine, args.workers)
    close_engine(engine)
    out = {
        "startup_s": round(startup, 2),
        "seconds": round(seconds, 2),
        "rows": summary.rows,
        "columns": summary.columns,
        "rss_self_mib": _vm_hwm_mib(),
        "rss_children_mib": workers_rss,
        "output_sha256": hashlib.sha256(Path(args.output).read_bytes()).hexdigest(),
    }
    print(json.dumps(out))


def _vm_hwm_mib() -> float:
    """Peak RSS of this process image (VmHWM). Not ru_maxrss: Linux keeps it across execve, so
    a child of the (large) benchmark process reported the parent's high-water mark."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _peak_rss_mib(pause: float = 0.3) -> float:
    time.sleep(pause)  # keep this worker busy so the others take the other calls
    return _vm_hwm_mib()


def _workers_peak_rss_mib(engine, workers: int) -> float:
    """Largest peak RSS among the pool's workers (they are the forkserver's children, not
    ours, so RUSAGE_CHILDREN would not see them); 0 without a pool."""
    pool = getattr(engine, "_pool", None)
    if pool is None:
        return 0.0
    return max(f.result() for f in [pool.submit(_peak_rss_mib) for _ in range(2 * workers)])


def _warm_worker(texts: list[str]) -> None:
    from piizone.scrubbers.parallel import _analyze_batch

    _analyze_batch(texts)
    time.sleep(0.5)  # keep this worker busy so the others take the other calls


def _warm_dask_worker(texts: list[str], dask_worker=None) -> None:
    from piizone.scrubbers.dask_engine import PLUGIN_NAME

    dask_worker.plugins[PLUGIN_NAME].engine.analyze_windows(texts)  # Client.run passes it


def _warm_pool(engine, workers: int) -> None:
    """Start every worker, load its model and warm it up as the one-process system is warmed
    up (benchmarks.quality.systems.WARM_UP) before the clock starts (start-up is reported)."""
    from benchmarks.quality.systems import WARM_UP

    pool = getattr(engine, "_pool", None)
    if pool is not None:
        # 2 calls per worker, each keeping its worker busy: every worker gets at least one.
        for f in [pool.submit(_warm_worker, WARM_UP) for _ in range(2 * workers)]:
            f.result()
    client = getattr(engine, "_client", None)
    if client is not None:
        # Every Dask worker (its engine is loaded by the plugin) runs the warm-up itself;
        # analyze_many would send the few warm-up texts to one worker only.
        client.run(_warm_dask_worker, WARM_UP)
    list(engine.analyze_many(WARM_UP))
    engine.forget()  # warm-up texts are not served from memory later


def _run_child(
    input_path: Path, output: Path, workers: int, engine: str = "local", timeout: int = 3600
) -> dict:
    cmd = [
        sys.executable, "-m", "benchmarks.throughput", "--child-redact", str(input_path),
        str(output), "--workers", str(workers), "--engine", engine,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONHASHSEED="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise RuntimeError(f"child failed: {' '.join(cmd)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _log(msg: str) -> None:
    print(f"[throughput] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- (a) text


class PoolPiizone:
    """piizone --workers N (ProcessPoolEngine), timed like systems.Piizone: the pool is started
    (and its start-up recorded) once, then kept across runs, the findings memo emptied."""

    def __init__(self, workers: int) -> None:
        from piizone.scrubbers.policy import load_policy

        self.workers = workers
        self.name = f"piizone --workers {workers}"
        self._policy = load_policy()
        self._engine = None
        self.startup_seconds: list[float] = []

    def run(self, texts):
        from benchmarks.quality.systems import timed_redaction
        from piizone.scrubbers.engines import make_engine

        if self._engine is None:
            started = time.perf_counter()
            self._engine = make_engine(self._policy, workers=self.workers)
            _warm_pool(self._engine, self.workers)
            self.startup_seconds.append(time.perf_counter() - started)
        return timed_redaction(self._engine, texts)

    def close(self) -> None:
        from piizone.scrubbers.engines import close_engine

        if self._engine is not None:
            close_engine(self._engine)
            self._engine = None


NER_FLOOR = "floor: spaCy tokenizer + NER alone"


class NerFloor:
    """The model's tokenizer + NER alone over the texts, one process: a lower bound on the time
    of any pipeline that runs this model's NER on every text (piizone's early stage is exactly
    this). Timed among the systems, alternating, so its ratio to vanilla is from the same run."""

    name = NER_FLOOR

    def __init__(self) -> None:
        import spacy

        from benchmarks.quality.systems import SPACY_MODEL

        self._nlp = spacy.load(SPACY_MODEL, enable=["ner"])

    def run(self, texts):
        from benchmarks.quality.systems import RunResult

        started = time.perf_counter()
        for _ in self._nlp.pipe(texts, batch_size=32):
            pass
        seconds = time.perf_counter() - started
        return RunResult(list(texts), [[] for _ in texts], seconds, sum(map(len, texts)))


def bench_text(quick: bool, repeat: int) -> dict:
    from benchmarks.quality import sentences, transcripts
    from benchmarks.quality.score import score_samples
    from benchmarks.quality.systems import Piizone, VanillaPresidio

    sizes = (
        {"sentences": 200, "transcripts": 60} if quick else {"sentences": 1000, "transcripts": 300}
    )
    data = {
        "sentences": sentences.generate(sizes["sentences"]),
        "transcripts": transcripts.generate(sizes["transcripts"]),
    }
    pool = PoolPiizone(2)
    systems = [Piizone(), pool, VanillaPresidio(), NerFloor()]
    for system in systems:
        system.run([d.text for d in data["sentences"][:5]])
    out: dict = {"sizes": sizes, "repeat": repeat, "datasets": {}}
    for name, samples in data.items():
        texts = [s.text for s in samples]
        runs: dict[str, list[float]] = {s.name: [] for s in systems}
        first: dict = {}
        for _ in range(repeat):
            for system in systems:
                _log(f"text {name}: {system.name}")
                result = system.run(texts)
                runs[system.name].append(result.seconds)
                first.setdefault(system.name, result)
        base = first["piizone"].spans
        if first["piizone --workers 2"].spans != base:
            raise AssertionError("--workers 2 findings differ from one process")
        entry: dict = {"records": len(texts), "chars": sum(map(len, texts)), "systems": {}}
        for system in systems:
            best = min(runs[system.name])
            entry["systems"][system.name] = {
                "seconds": [round(s, 2) for s in runs[system.name]],
                "best": round(best, 2),
                "records_per_s": round(len(texts) / best, 1),
                "kb_per_s": round(entry["chars"] / 1000 / best, 1),
            }
            if system.name != NER_FLOOR:  # it redacts nothing
                score = score_samples(samples, first[system.name].spans)
                entry["systems"][system.name].update(
                    direct_recall=round(score.direct.recall or 0.0, 3),
                    over_redaction=round(score.over_redaction or 0.0, 4),
                )
        van = entry["systems"]["vanilla Presidio"]["records_per_s"]
        for s in entry["systems"].values():
            s["vs_vanilla"] = round(s["records_per_s"] / van, 2)
        out["datasets"][name] = entry
    pool.close()
    out["pool_startup_s"] = [round(s, 1) for s in pool.startup_seconds]
    return out


def bench_files(quick: bool, tmp: Path, repeat: int) -> dict:
    """The CLI's path for a transcript corpus: one file per call, `scan_paths` over the folder.

    One file is one text, so before scrubbers/prefetch.py a pool had one busy worker here.
    """
    from benchmarks.quality import transcripts
    from piizone.scrubbers.engines import close_engine, make_engine
    from piizone.scrubbers.policy import load_policy
    from piizone.scrubbers.scan import scan_paths

    n = 60 if quick else 300
    folder = tmp / "calls"
    folder.mkdir()
    samples = transcripts.generate(n)
    for i, sample in enumerate(samples):
        (folder / f"call_{i:04d}.txt").write_text(sample.text, encoding="utf-8")
    policy = load_policy()
    runs: dict[int, list[float]] = {1: [], 2: []}
    totals: dict[int, dict] = {}
    for _ in range(repeat):
        for workers in (1, 2):
            _log(f"files: scan of {n} transcript files, --workers {workers}")
            engine = make_engine(policy, workers=workers)
            _warm_pool(engine, workers)  # also empties the memo of the cached in-process engine
            try:
                started = time.perf_counter()
                report = scan_paths([folder], engine)
                runs[workers].append(time.perf_counter() - started)
            finally:
                close_engine(engine)
            totals[workers] = report.totals
    if totals[1] != totals[2]:
        raise AssertionError("--workers 2 scan report differs from one process")
    best = {w: min(r) for w, r in runs.items()}
    return {
        "files": n,
        "chars": sum(len(s.text) for s in samples),
        "seconds": {str(w): [round(x, 2) for x in r] for w, r in runs.items()},
        "files_per_s": {str(w): round(n / b, 1) for w, b in best.items()},
        "speedup": round(best[1] / best[2], 2),
    }


# --------------------------------------------------------------------------- (b) tables


def vanilla_per_cell(csv_path: Path, sample_rows: int) -> dict:
    """Vanilla Presidio analyze + anonymize on every cell of the first `sample_rows` rows."""
    from benchmarks.quality.systems import VanillaPresidio

    system = VanillaPresidio()
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows = [row for _, row in zip(range(sample_rows), reader, strict=False)]
    cells = [c for row in rows for c in row]
    system.run(cells[:20])  # warm-up
    started = time.perf_counter()
    system.run(cells)
    seconds = time.perf_counter() - started
    return {"rows": len(rows), "cells": len(cells), "seconds": round(seconds, 1)}


def bench_tables(quick: bool, tmp: Path) -> dict:
    sizes = [20_000, 100_000] if quick else [100_000, 1_000_000]
    sample = 200 if quick else 500
    out: dict = {"runs": [], "sample_rows": sample}
    files = {}
    for n in sizes:
        path = tmp / f"customers_{n}.csv"
        _log(f"tables: generating {n:,} rows")
        started = time.perf_counter()
        size = write_customers_csv(path, n)
        files[n] = (path, size, round(time.perf_counter() - started, 1))
    small = sizes[0]
    for n, workers in [(small, 1), (small, 2), (sizes[1], 2)]:
        path, size, gen_s = files[n]
        _log(f"tables: redact_file {n:,} rows, --workers {workers}")
        result = _run_child(path, tmp / f"out_{n}_{workers}.csv", workers)
        result.update({"rows_in": n, "workers": workers, "bytes": size, "generate_s": gen_s})
        result["rows_per_s"] = round(n / result["seconds"], 1)
        out["runs"].append(result)
    _log(f"tables: vanilla Presidio per cell on {sample} rows")
    out["vanilla"] = vanilla_per_cell(files[small][0], sample)
    out["vanilla"]["rows_per_s"] = round(out["vanilla"]["rows"] / out["vanilla"]["seconds"], 2)
    out["small_rows"] = small
    return out


# --------------------------------------------------------------------------- (c) growth


def bench_growth(quick: bool, tmp: Path, repeat: int = 1) -> dict:
    from benchmarks.quality import transcripts

    base_rows = 2_500 if quick else 5_000
    base_calls = 10 if quick else 20
    out: dict = {"table": [], "text": []}
    for factor in (1, 4, 16):
        n = base_rows * factor
        path = tmp / f"growth_{n}.csv"
        write_customers_csv(path, n, seed=TABLE_SEED + 7)
        _log(f"growth: table {n:,} rows")
        best = min(
            _run_child(path, tmp / f"growth_out_{n}.csv", 1)["seconds"] for _ in range(repeat)
        )
        out["table"].append({"factor": factor, "rows": n, "seconds": best})
    calls = transcripts.generate(base_calls * 16)
    for factor in (1, 4, 16):
        text = "\n\n".join(c.text for c in calls[: base_calls * factor]) + "\n"
        path = tmp / f"growth_{factor}.txt"
        path.write_text(text, encoding="utf-8")
        _log(f"growth: text {len(text):,} chars")
        best = min(
            _run_child(path, tmp / f"growth_out_{factor}.txt", 1)["seconds"] for _ in range(repeat)
        )
        out["text"].append({"factor": factor, "chars": len(text), "seconds": best})
    return out


# --------------------------------------------------------------------------- (d) dask


def bench_dask(quick: bool, tmp: Path, repeat: int) -> dict:
    n = 20_000 if quick else 50_000
    path = tmp / f"dask_{n}.csv"
    write_customers_csv(path, n, seed=TABLE_SEED + 11)
    runs: dict[str, list[dict]] = {"local": [], "dask": []}
    for _ in range(repeat):
        for engine in ("local", "dask"):
            _log(f"dask: {n:,} rows, --engine {engine} --workers 2")
            runs[engine].append(_run_child(path, tmp / f"dask_out_{engine}.csv", 2, engine))
    digests = {r["output_sha256"] for rs in runs.values() for r in rs}
    if len(digests) != 1:
        raise AssertionError("--engine dask output differs from the local pool's")
    best = {k: min(rs, key=lambda r: r["seconds"]) for k, rs in runs.items()}
    return {
        "rows": n,
        "runs": runs,
        "best": best,
        "ratio": round(best["dask"]["seconds"] / best["local"]["seconds"], 2),
        "identical": True,
        "sha256": digests.pop(),
    }


# --------------------------------------------------------------------------- Markdown


def _machine() -> dict:
    from benchmarks.quality.machine import machine_info

    info = machine_info()
    info["load_average"] = os.getloadavg()
    return info


def render(results: dict, argv: list[str]) -> str:
    from benchmarks.quality.machine import machine_markdown

    m = results["machine"]
    command = " ".join([PY, "-m", "benchmarks.throughput", *argv])
    lines = [
        "## Throughput and scale (issue 7)",
        "",
        f"Run {results['date']} by `{command}` "
        f"({results['total_seconds']:.0f} s). Machine: {machine_markdown(m)}; "
        f"load average at the end {results['load_end'][0]:.2f} (the machine is shared: ratios "
        "are taken within one run, each system timed best-of-N with the systems alternating).",
        "",
    ]
    if "text" in results:
        t = results["text"]
        lines += [
            "### Text: records/s, piizone vs vanilla Presidio (same model, same data, same run)",
            "",
            "Detection + `replace` redaction over the whole data set, models loaded beforehand "
            "(pool start-up, reported below, excluded); best of "
            f"{t['repeat']} runs. Every system keeps its process warm between runs (spaCy's "
            "vocabulary and caches), as a long job does; piizone's findings memo is emptied "
            "before each run. Quality: direct-identifier recall / over-redaction of that "
            "run's output (benchmarks/quality/score.py).",
            "",
            "| data set | system | records/s | KB/s | vs vanilla | runs (s) | direct recall "
            "| over-redaction |",
            "|---|---|---:|---:|---:|---|---:|---:|",
        ]
        for name, entry in t["datasets"].items():
            label = f"{name} ({entry['records']}, {entry['chars'] / 1000:.0f} KB)"
            for sys_name, s in entry["systems"].items():
                quality = (
                    f"{s['direct_recall']:.3f} | {100 * s['over_redaction']:.2f}%"
                    if "direct_recall" in s
                    else "– | –"
                )
                lines.append(
                    f"| {label} | {sys_name} | {s['records_per_s']} | {s['kb_per_s']} | "
                    f"**{s['vs_vanilla']:.2f}×** | {', '.join(map(str, s['seconds']))} | "
                    f"{quality} |"
                )
        bounds = ", ".join(
            f"{name} {2 * entry['systems'][NER_FLOOR]['vs_vanilla']:.1f}×"
            for name, entry in t["datasets"].items()
            if NER_FLOOR in entry["systems"]
        )
        lines += [
            "",
            f"The floor row runs only what every piizone pass runs first: the model's tokenizer "
            f"and NER, in one process. With 2 cores and perfect scaling, any pipeline that runs "
            f"this NER on every text is at most twice the floor's ratio ahead of vanilla: "
            f"{bounds}.",
            "",
            f"Pool start-up (2 workers: fork from the forkserver + model load; not in the "
            "figures above): "
            f"{', '.join(map(str, t['pool_startup_s']))} s. `--workers 2` findings equal one "
            "process's (checked).",
            "",
        ]
    if "files" in results:
        fl = results["files"]
        vanilla = (
            results.get("text", {}).get("datasets", {}).get("transcripts", {}).get("systems", {})
        ).get("vanilla Presidio")
        lines += [
            "### Text files: `scan` of a folder of transcripts, one file per call",
            "",
            f"The same {fl['files']} transcripts ({fl['chars'] / 1000:.0f} KB) as files; "
            "`scan_paths` over the folder, as `piizone scan DIR` runs it (report built, "
            "pool start-up excluded); best of "
            f"{len(fl['seconds']['1'])}. The scan report is the same with 1 and 2 workers "
            "(asserted).",
            "",
            "| workers | runs (s) | files/s | vs vanilla Presidio (text section) |",
            "|---:|---|---:|---:|",
        ]
        for w in ("1", "2"):
            ratio = f"{fl['files_per_s'][w] / vanilla['records_per_s']:.2f}×" if vanilla else "–"
            lines.append(
                f"| {w} | {', '.join(map(str, fl['seconds'][w]))} | {fl['files_per_s'][w]} "
                f"| {ratio} |"
            )
        lines += ["", f"2 workers / 1 worker: **{fl['speedup']:.2f}×**.", ""]
    if "tables" in results:
        tb = results["tables"]
        lines += [
            "### Tables: `redact_file` on a customers CSV (default policy)",
            "",
            "8 columns (customer_id, full_name, email, phone, city, plan, signup_date, notes); "
            "`notes` is free text with incidental PII (name, phone, e-mail or address) in ~10% of "
            "rows and 16 repeated templates otherwise. Each run in a fresh process "
            f"(`{PY} -m benchmarks.throughput --child-redact IN OUT --workers N`); peak RSS = "
            "VmHWM of that process / of its largest worker process.",
            "",
            "| rows | CSV size | workers | start-up (s) | redact (s) | rows/s | peak RSS main "
            "| peak RSS worker |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in tb["runs"]:
            lines.append(
                f"| {r['rows_in']:,} | {r['bytes'] / 1e6:.1f} MB | {r['workers']} | "
                f"{r['startup_s']} | {r['seconds']} | {r['rows_per_s']:,.0f} | "
                f"{r['rss_self_mib']:,.0f} MiB | {r['rss_children_mib']:,.0f} MiB |"
            )
        v = tb["vanilla"]
        small = [r for r in tb["runs"] if r["rows_in"] == tb["small_rows"]]
        lines += [
            "",
            f"Column plans: {json.dumps(tb['runs'][0]['columns'])}.",
            "",
            f"Vanilla Presidio per cell (analyze + anonymize every one of the 8 cells): timed on "
            f"the first {v['rows']:,} rows ({v['cells']:,} cells) of the {tb['small_rows']:,}-row "
            f"table, {v['seconds']} s = {v['rows_per_s']} rows/s; a full pass is extrapolated "
            f"from that rate: {tb['small_rows'] / v['rows_per_s'] / 3600:.1f} h for "
            f"{tb['small_rows']:,} rows (not run: it would take hours).",
            "",
            "| piizone run | rows/s | vs vanilla per cell |",
            "|---|---:|---:|",
        ]
        for r in small:
            lines.append(
                f"| {r['rows_in']:,} rows, --workers {r['workers']} | {r['rows_per_s']:,.0f} | "
                f"**{r['rows_per_s'] / v['rows_per_s']:,.0f}×** |"
            )
        lines.append("")
    if "growth" in results:
        g = results["growth"]
        lines += [
            "### Cost growth (1 worker, fresh process per run, best of the runs per size)",
            "",
            "| input | 1× | 4× | 16× | time per unit 16× / 1× | marginal 4→16× / 1→4× |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for kind, unit, key in (("table", "rows", "rows"), ("text", "chars", "chars")):
            pts = g[kind]
            per = [p["seconds"] / p[key] for p in pts]
            lines.append(
                f"| {kind} ({', '.join(f'{p[key]:,}' for p in pts)} {unit}) | "
                + " | ".join(f"{p['seconds']} s" for p in pts)
                + f" | {per[-1] / per[0]:.2f} | {_slope_ratio(pts, key):.2f} |"
            )
        lines += ["", g.get("verdict", ""), ""]
    if "dask" in results:
        d = results["dask"]
        b = d["best"]
        lines += [
            "### Dask: `--engine dask` (LocalCluster, 2 worker processes) vs the local pool",
            "",
            f"Same {d['rows']:,}-row customers CSV through `redact_file`, fresh process per run "
            "(`--child-redact ... --workers 2 --engine dask|local`), "
            f"best of {len(d['runs']['local'])}.",
            "",
            "| engine | start-up (s) | redact (s), runs | best | peak RSS main |",
            "|---|---:|---|---:|---:|",
        ]
        for k in ("local", "dask"):
            runs = d["runs"][k]
            lines.append(
                f"| {k} | {b[k]['startup_s']} | {', '.join(str(r['seconds']) for r in runs)} | "
                f"{b[k]['seconds']} | {b[k]['rss_self_mib']:,.0f} MiB |"
            )
        lines += [
            "",
            f"Dask / local time: **{d['ratio']:.2f}×** (target ≤ 1.3×). Output identical byte for "
            f"byte across all runs (sha256 {d['sha256'][:16]}…): asserted.",
            "",
        ]
    return "\n".join(lines)


def _slope_ratio(pts: list[dict], key: str) -> float:
    """Marginal cost per unit from 4x to 16x over that from 1x to 4x: 1.0 = linear + fixed cost."""
    low = (pts[1]["seconds"] - pts[0]["seconds"]) / (pts[1][key] - pts[0][key])
    high = (pts[2]["seconds"] - pts[1]["seconds"]) / (pts[2][key] - pts[1][key])
    return high / low if low > 0 else float("inf")


def _growth_verdict(g: dict) -> str:
    parts = []
    for kind, key in (("table", "rows"), ("text", "chars")):
        slope = _slope_ratio(g[kind], key)
        # A fixed cost (column classification from a sample, the first batch) makes the time
        # per unit fall with size; the marginal cost shows whether growth is linear.
        shape = (
            "linear (marginal cost within ±25%)"
            if 0.75 <= slope <= 1.25
            else ("sub-linear" if slope < 0.75 else "super-linear")
        )
        parts.append(f"{kind}: marginal cost 4→16× is {slope:.2f}× that of 1→4× → {shape}")
    return "; ".join(parts) + "."


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--only", help="comma-separated subset of text,files,tables,growth,dask")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--child-redact", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="local", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_redact:
        args.input, args.output = args.child_redact
        _child_redact(args)
        return 0
    every = {"text", "files", "tables", "growth", "dask"}
    wanted = set(args.only.split(",")) if args.only else every
    repeat = 1 if args.quick else 2
    t0 = time.perf_counter()
    results: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
    }
    with tempfile.TemporaryDirectory(prefix="piizone-throughput-") as tmp:
        tmp_path = Path(tmp)
        if "text" in wanted:
            results["text"] = bench_text(args.quick, repeat)
        if "files" in wanted:
            results["files"] = bench_files(args.quick, tmp_path, repeat)
        if "tables" in wanted:
            results["tables"] = bench_tables(args.quick, tmp_path)
        if "growth" in wanted:
            # Best of 3: the verdict compares marginal costs, and one slow run of the 16x size
            # on this noisy machine reads as super-linear (20.97 s, then 16.93 s, for 80k rows).
            results["growth"] = bench_growth(args.quick, tmp_path, 1 if args.quick else 3)
            results["growth"]["verdict"] = _growth_verdict(results["growth"])
        if "dask" in wanted:
            results["dask"] = bench_dask(args.quick, tmp_path, repeat)
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    results["load_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    shown = list(argv)
    if "--json" in shown:
        at = shown.index("--json")
        del shown[at : at + 2]
    print(render(results, shown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
