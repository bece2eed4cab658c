"""Speed changes must not change findings: this engine vs the engine at a git revision.

    .venv/bin/python -m benchmarks.check_findings [--rev HEAD] [--paths scrubbers/engine.py ...]
                                                 [--quick]

The baseline is this working tree's `scrubbers` package copied to a temp dir with the files under
`--paths` put back as they were at `--rev` (files added since are removed, so the baseline cannot
import them). Only those files differ between the two sides, so a colleague's uncommitted change
elsewhere in `scrubbers/` is on both sides and cannot show up as a difference.

Each side runs in its own process (same PYTHONHASHSEED) over the same texts, through
`Engine.analyze_many` (the batched path every command uses) and, for a sample, `Engine.analyze`:
- the quality benchmark's presidio-evaluator sentences and call transcripts (benchmarks/quality);
- sample_data: call transcripts, support tickets, every customers.csv cell;
- the throughput benchmark's customers table cells (names, e-mails, phones, addresses, notes);
- edge cases: empty, blanks, a 60,000-character text (several windows), a long base64 run.
Findings are compared as `Finding` compares them (start, end, type, score); which recognizer won a
tie is reported separately (Presidio breaks ties through a set: informational only).
Exit status 0 only when every text has identical findings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ["scrubbers/engine.py"]


def corpus(quick: bool = False) -> dict[str, list[str]]:
    """Named lists of texts; deterministic (fixed seeds, files in the repository)."""
    import pandas as pd

    from benchmarks.quality import sentences, transcripts

    out: dict[str, list[str]] = {
        "sentences": [s.text for s in sentences.generate(200 if quick else 1000)],
        "transcripts": [s.text for s in transcripts.generate(60 if quick else 300)],
    }
    sample = ROOT / "sample_data"
    out["sample_calls"] = [
        p.read_text(encoding="utf-8") for p in sorted((sample / "call_transcripts").glob("*.txt"))
    ]
    tickets = []
    for line in (sample / "support_tickets.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        tickets.extend(str(v) for v in record.values() if isinstance(v, str))
    out["sample_tickets"] = tickets
    frame = pd.read_csv(sample / "customers.csv", dtype=str, keep_default_na=False)
    out["sample_customer_cells"] = [v for col in frame.columns for v in frame[col].tolist()]
    try:
        from benchmarks.throughput import customer_rows
    except ImportError:
        pass
    else:
        rows = customer_rows(300 if quick else 2000, seed=7)
        out["table_cells"] = sorted({v for row in rows for v in row.values() if isinstance(v, str)})
    long_text = "\n".join(out["transcripts"])[:60_000]
    out["edge"] = [
        "",
        "   \n\t ",
        long_text,
        "token " + "QUJD" * 200 + " call 212-555-0100, ask for Jane Smith",
        "x" * 5000,
    ]
    return out


def _dump(out_path: str, quick: bool, per_text_sample: int) -> None:
    """Child process: analyse the corpus with the `scrubbers` package first on sys.path."""
    import piizone.scrubbers as scrubbers
    from piizone.scrubbers.engine import Engine
    from piizone.scrubbers.policy import load_policy

    texts = corpus(quick)
    policy = load_policy()
    result: dict = {"scrubbers": scrubbers.__file__, "sets": {}, "seconds": {}}
    for name, items in texts.items():
        engine = Engine(policy)  # fresh: the memo must not carry one set into the next
        started = time.perf_counter()
        batched = [
            [[f.start, f.end, f.entity_type, f.score, f.recognizer] for f in found]
            for found in engine.analyze_many(items)
        ]
        result["seconds"][name] = round(time.perf_counter() - started, 2)
        engine = Engine(policy)
        single = [
            [[f.start, f.end, f.entity_type, f.score, f.recognizer] for f in engine.analyze(t)]
            for t in items[:per_text_sample]
        ]
        result["sets"][name] = {"batched": batched, "single": single}
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


def _side(package_root: Path, out: Path, quick: bool, per_text_sample: int) -> dict:
    env = dict(os.environ)
    env.update({"PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    env["PYTHONPATH"] = os.pathsep.join([str(package_root), str(ROOT)])
    code = (
        "import sys; from benchmarks.check_findings import _dump; "
        f"_dump({str(out)!r}, {quick!r}, {per_text_sample!r})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=package_root, env=env, check=True)
    data = json.loads(out.read_text(encoding="utf-8"))
    expected = package_root / "scrubbers"
    if not Path(data["scrubbers"]).resolve().is_relative_to(expected.resolve()):
        raise SystemExit(f"imported {data['scrubbers']}, expected the package in {expected}")
    return data


def _baseline_tree(rev: str, paths: list[str], into: Path) -> None:
    shutil.copytree(
        ROOT / "scrubbers", into / "scrubbers", ignore=shutil.ignore_patterns("__pycache__")
    )
    # `piizone.scrubbers` is the checkout's scrubbers/ only when piizone/ sits beside it in a
    # checkout (piizone/__init__.py looks for pyproject.toml and zones/__init__.py there);
    # without these the baseline side would import this tree's scrubbers/.
    shutil.copytree(
        ROOT / "piizone", into / "piizone", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")
    (into / "zones").mkdir()
    shutil.copy2(ROOT / "zones" / "__init__.py", into / "zones" / "__init__.py")
    for spec in paths:
        listed = subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", rev, "--", spec],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        here = ROOT / spec
        current = (
            [str(p.relative_to(ROOT)) for p in here.rglob("*.py")] if here.is_dir() else [spec]
        )
        for rel in set(current) - set(listed):  # added since `rev`: the baseline has no such file
            (into / rel).unlink(missing_ok=True)
        for rel in listed:
            blob = subprocess.run(
                ["git", "show", f"{rev}:{rel}"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            (into / rel).write_bytes(blob)


def compare(base: dict, new: dict) -> tuple[list[str], dict]:
    problems: list[str] = []
    stats: dict = {}
    for name, sides in base["sets"].items():
        texts = findings = ties = 0
        for mode in ("batched", "single"):
            for i, (a, b) in enumerate(zip(sides[mode], new["sets"][name][mode], strict=True)):
                texts += 1
                findings += len(a)
                if [f[:4] for f in a] != [f[:4] for f in b]:
                    gone = [f for f in a if f[:4] not in [g[:4] for g in b]]
                    added = [f for f in b if f[:4] not in [g[:4] for g in a]]
                    problems.append(f"{name}[{i}] ({mode}): only before {gone}, only after {added}")
                elif a != b:
                    ties += 1
        stats[name] = {
            "texts": texts,
            "findings": findings,
            "recognizer_tie_differences": ties,
            "seconds_before": base["seconds"][name],
            "seconds_after": new["seconds"][name],
        }
    return problems, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision of the baseline (HEAD)")
    parser.add_argument("--paths", nargs="+", default=DEFAULT_PATHS, help="files/dirs that differ")
    parser.add_argument("--quick", action="store_true", help="a fifth of the quality data")
    parser.add_argument(
        "--single", type=int, default=150, help="texts per set also analysed one by one"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="piizone-check-") as tmp:
        tmp_path = Path(tmp)
        base_root = tmp_path / "baseline"
        base_root.mkdir()
        _baseline_tree(args.rev, args.paths, base_root)
        print(f"baseline: {args.rev} for {' '.join(args.paths)}", file=sys.stderr)
        base = _side(base_root, tmp_path / "before.json", args.quick, args.single)
        new = _side(ROOT, tmp_path / "after.json", args.quick, args.single)
    problems, stats = compare(base, new)
    print(
        "| text set | texts compared | findings | tie-break differences | before (s) | after (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in stats.items():
        print(
            f"| {name} | {s['texts']} | {s['findings']} | {s['recognizer_tie_differences']} "
            f"| {s['seconds_before']} | {s['seconds_after']} |"
        )
    for p in problems[:30]:
        print("DIFFERENT:", p)
    print(
        f"\n{'IDENTICAL' if not problems else f'{len(problems)} texts DIFFER'}: "
        f"{sum(s['texts'] for s in stats.values())} texts, "
        f"{sum(s['findings'] for s in stats.values())} findings (rev {args.rev} vs working tree)"
    )
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
