"""Detection quality and text throughput: piizone vs vanilla Presidio, same data, same run.

    .venv/bin/python -m benchmarks.quality.run_quality [--quick] [--sentences N] [--transcripts N]

Data sets (fixed seeds, generated in memory, nothing downloaded):
- presidio-evaluator sentences: Microsoft's templates filled by `PresidioSentenceFaker`
  (benchmarks/quality/sentences.py);
- call transcripts: half clean, half ASR-style (benchmarks/quality/transcripts.py).
Both systems redact every text with `replace`; benchmarks/quality/score.py scores what is left.
Writes benchmarks/quality/results.json and prints the Markdown section for RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.quality import sentences, transcripts  # noqa: E402
from benchmarks.quality.machine import machine_info, machine_markdown  # noqa: E402
from benchmarks.quality.score import DIRECT_TYPES, Sample, Score, score_samples  # noqa: E402
from benchmarks.quality.systems import Piizone, VanillaPresidio  # noqa: E402

RESULTS_JSON = Path(__file__).with_name("results.json")
TARGET_RECALL = 0.97
TARGET_OVER_REDACTION = 0.03
FULL_SIZES = {"sentences": 1000, "transcripts": 300}
QUICK_SIZES = {"sentences": 200, "transcripts": 60}
EXAMPLES_PER_TYPE = 6
DATASET_TITLES = {
    "sentences": "presidio-evaluator sentences",
    "transcripts": "call transcripts (clean + ASR)",
    "transcripts_asr": "call transcripts, ASR half only",
}


def _examples(score: Score) -> dict:
    misses: dict[str, list[dict]] = defaultdict(list)
    for m in score.misses:
        if len(misses[m.entity_type]) < EXAMPLES_PER_TYPE:
            misses[m.entity_type].append({"left": m.left, "context": m.context, "id": m.sample_id})
    spurious: dict[str, list[dict]] = defaultdict(list)
    for s in score.spurious:
        if len(spurious[s.entity_type]) < EXAMPLES_PER_TYPE:
            spurious[s.entity_type].append(
                {"value": s.value, "context": s.context, "id": s.sample_id}
            )
    return {"misses": dict(misses), "spurious": dict(spurious)}


def run(sizes: dict[str, int], repeat: int = 1) -> dict:
    t0 = time.perf_counter()
    data: dict[str, list[Sample]] = {
        "sentences": sentences.generate(sizes["sentences"]),
        "transcripts": transcripts.generate(sizes["transcripts"]),
    }
    generation_s = time.perf_counter() - t0
    systems = [Piizone(), VanillaPresidio()]
    out: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "sizes": sizes,
        "seeds": {"sentences": sentences.SEED, "transcripts": transcripts.SEED},
        "generation_seconds": round(generation_s, 1),
        "targets": {"direct_recall": TARGET_RECALL, "over_redaction": TARGET_OVER_REDACTION},
        "load_seconds": {s.name: round(s.load_seconds, 2) for s in systems},
        "timing_repeats": repeat,
        "datasets": {},
    }
    for system in systems:  # warm both up on the same few texts before anything is timed
        system.run([d.text for d in data["sentences"][:5]] + [data["transcripts"][0].text])
    for name, samples in data.items():
        texts = [s.text for s in samples]
        entry: dict = {"records": len(samples), "chars": sum(map(len, texts)), "systems": {}}
        asr = [i for i, s in enumerate(samples) if s.kind == "asr"]
        asr_entry: dict = {"records": len(asr), "chars": sum(len(texts[i]) for i in asr)}
        asr_entry["systems"] = {}
        # Timed `repeat` times, the systems alternating, best wall time kept: a neighbour's load
        # on a shared machine then hits both alike. Spans are deterministic; the first run's count.
        results = {system.name: system.run(texts) for system in systems}
        for _ in range(repeat - 1):
            for system in systems:
                again = system.run(texts)
                results[system.name].seconds = min(results[system.name].seconds, again.seconds)
        for system in systems:
            result = results[system.name]
            score = score_samples(samples, result.spans)
            entry["systems"][system.name] = {
                "seconds": round(result.seconds, 2),
                "records_per_s": round(result.records_per_s, 1),
                "kb_per_s": round(result.kb_per_s, 1),
                "score": score.as_dict(),
                "examples": _examples(score),
            }
            if asr:
                asr_score = score_samples([samples[i] for i in asr], [result.spans[i] for i in asr])
                asr_entry["systems"][system.name] = {"score": asr_score.as_dict()}
        base = entry["systems"]
        entry["speedup"] = round(
            base["piizone"]["records_per_s"] / base["vanilla Presidio"]["records_per_s"], 2
        )
        out["datasets"][name] = entry
        if asr:
            out["datasets"][f"{name}_asr"] = asr_entry
    out["total_seconds"] = round(time.perf_counter() - t0, 1)
    return out


# --------------------------------------------------------------------------- Markdown


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f}%"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _bold_if(text: str, cond: bool) -> str:
    return f"**{text}**" if cond else text


def targets_status(results: dict) -> list[str]:
    lines = []
    for name in ("sentences", "transcripts"):
        entry = results["datasets"].get(name)
        if not entry:
            continue
        score = entry["systems"]["piizone"]["score"]
        recall, over = score["direct"]["recall"], score["over_redaction"]
        ok = recall >= TARGET_RECALL and over <= TARGET_OVER_REDACTION
        below = [
            f"{t} {_num(s['recall'])} ({s['removed']}/{s['entities']})"
            for t, s in score["per_type"].items()
            if t in DIRECT_TYPES and s["recall"] is not None and s["recall"] < TARGET_RECALL
        ]
        verdict = "**met**" if ok else "**not met**"
        lines.append(
            f"- {DATASET_TITLES[name]}: {verdict} — direct-identifier recall {_num(recall)} "
            f"(target ≥ {TARGET_RECALL}), over-redaction {_pct(over)} (target ≤ "
            f"{TARGET_OVER_REDACTION:.0%})."
            + (f" Types below {TARGET_RECALL}: " + "; ".join(below) + "." if below else "")
        )
    return lines


def render_markdown(results: dict) -> str:
    systems = ["piizone", "vanilla Presidio"]
    out = [
        "## Detection quality (piizone vs vanilla Presidio)",
        "",
        f"Run {results['date']} by `make bench` (`.venv/bin/python -m benchmarks.run`); this "
        f"section alone: `.venv/bin/python -m benchmarks.quality.run_quality`. "
        f"Sizes: {results['sizes']['sentences']} sentences, {results['sizes']['transcripts']} "
        f"transcripts; seeds {results['seeds']}. Machine: {machine_markdown(results['machine'])}.",
        "",
        "piizone = default policy, `replace`; vanilla Presidio = `AnalyzerEngine()` defaults with "
        "the same spaCy model, `AnonymizerEngine()` default `replace` (see "
        "benchmarks/quality/systems.py). Scores are computed from character masks "
        "(benchmarks/quality/score.py): **recall** = gold entities with every non-blank character "
        "redacted; **leak** = gold non-blank characters left; **over-redaction** = non-PII "
        "non-blank characters destroyed (quasi-identifier characters count in neither). "
        "A span counts as removed whatever type the system gave it.",
        "",
        "### Targets (direct identifiers, piizone)",
        "",
        *targets_status(results),
        "",
        "### Summary",
        "",
        "| data set | system | direct recall | direct leak | over-redaction | spurious spans "
        "| records/s | KB/s | speed vs vanilla |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results["datasets"].items():
        for system in systems:
            s = entry["systems"].get(system)
            if not s:
                continue
            score = s["score"]
            spurious = sum(score["spurious_spans_by_predicted_type"].values())
            speed = "records_per_s" in s
            ratio = "1.00×" if system != "piizone" else f"{entry.get('speedup', 0):.2f}×"
            out.append(
                f"| {DATASET_TITLES[name]} ({entry['records']}) | {system} "
                f"| {_num(score['direct']['recall'])} | {_pct(score['direct']['leak_rate'])} "
                f"| {_pct(score['over_redaction'], 2)} | {spurious} "
                f"| {s['records_per_s'] if speed else '–'} | {s['kb_per_s'] if speed else '–'} "
                f"| {ratio if speed else '–'} |"
            )
    out += [
        "",
        "Throughput: wall time of detection + redaction over the whole data set, one process, "
        f"models loaded and warmed up beforehand (load: {results['load_seconds']} s); best of "
        f"{results.get('timing_repeats', 1)} runs, the two systems alternating.",
        "",
    ]
    for name, entry in results["datasets"].items():
        if name.endswith("_asr"):
            continue
        out += [
            f"### Per entity type — {DATASET_TITLES[name]}",
            "",
            "| gold type | kind | entities | piizone recall | piizone leak | vanilla recall "
            "| vanilla leak |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        per = {sys_: entry["systems"][sys_]["score"]["per_type"] for sys_ in systems}
        types = sorted(per["piizone"], key=lambda t: (t not in DIRECT_TYPES, t))
        for t in types:
            a, b = per["piizone"][t], per["vanilla Presidio"][t]
            direct = t in DIRECT_TYPES
            out.append(
                f"| {t} | {'direct' if direct else 'quasi'} | {a['entities']} "
                f"| {_bold_if(_num(a['recall']), direct and a['recall'] < TARGET_RECALL)} "
                f"| {_pct(a['leak_rate'])} | {_num(b['recall'])} | {_pct(b['leak_rate'])} |"
            )
        a = entry["systems"]["piizone"]["score"]["direct"]
        b = entry["systems"]["vanilla Presidio"]["score"]["direct"]
        out.append(
            f"| **all direct** | | {a['entities']} | **{_num(a['recall'])}** "
            f"| {_pct(a['leak_rate'])} | **{_num(b['recall'])}** | {_pct(b['leak_rate'])} |"
        )
        notes = []
        for system in systems:
            d = entry["systems"][system]["score"]
            by = ", ".join(
                f"{k} {v}" for k, v in list(d["over_redacted_chars_by_predicted_type"].items())[:6]
            )
            notes.append(f"over-redacted characters by predicted type ({system}): {by or 'none'}")
        out += ["", *(f"- {n}" for n in notes), ""]
    return "\n".join(out).rstrip() + "\n"


def _keep_real_text(results: dict, path: Path) -> None:
    """The real-text section (real_text.py) shares results.json; a rerun here keeps its key."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    if isinstance(previous, dict) and "real_text" in previous:
        results["real_text"] = previous["real_text"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--sentences", type=int)
    parser.add_argument("--transcripts", type=int)
    parser.add_argument("--repeat", type=int, help="timed runs per system (default 2, quick 1)")
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, help="where to write results")
    args = parser.parse_args(argv)
    sizes = dict(QUICK_SIZES if args.quick else FULL_SIZES)
    if args.sentences:
        sizes["sentences"] = args.sentences
    if args.transcripts:
        sizes["transcripts"] = args.transcripts
    repeat = args.repeat or (1 if args.quick else 2)
    results = run(sizes, repeat)
    _keep_real_text(results, args.json)
    args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(render_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
