"""Detection quality on real text: the dev corpora beside the repository (issue 12, item 6).

    .venv/bin/python -m benchmarks.quality.real_text [--quick | --limit N] [--sets a,b] [--dir DIR]

The corpora live outside the repository (their licences forbid copying them in): by default
`<repo>/../shared/data/quality-dev`, or the folder named by PIIZONE_QUALITY_DEV. Read their
README.md. One JSON object a line, `{"id", "text", "spans": [{"start", "end", "type"}]}`.
PERSON and PHONE_NUMBER are the direct identifiers; every other annotated type marks characters
that count neither as missed PII nor as over-redaction (benchmarks/quality/score.py calls them
quasi). As that README defines the scores, only alphanumeric characters count: **recall** =
direct gold spans with every alphanumeric character redacted; **over-redaction** = alphanumeric
characters outside every gold span that were redacted; **spurious spans** = redactions touching
no gold span.

piizone and vanilla Presidio (benchmarks/quality/systems.py) redact every record, timed per set.
No misses are printed raw, here or in results.json: the data is licensed. A miss or a spurious
span is shown by its shape ("Xxxxx Xxxxx", "ddd-dddd": letters X/x, digits d), with the words
around it shaped the same way.

Without the folder the section says so and exits 0: the data is not part of the repository.
Writes its results under "real_text" in benchmarks/quality/results.json (other keys kept) and
prints the Markdown section for RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.quality.machine import machine_info, machine_markdown  # noqa: E402
from benchmarks.quality.score import DIRECT_TYPES, Sample, Score, Span, score_samples  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS_JSON = Path(__file__).with_name("results.json")
ENV_DIR = "PIIZONE_QUALITY_DEV"
REAL_DIRECT = ("PERSON", "PHONE_NUMBER")
TARGET_OVER_REDACTION = 0.03
QUICK_LIMIT = 60  # records per set for --quick
EXAMPLES = 8  # masked misses / spurious spans kept per set and system
MAX_RECORD_CHARS = 10_000_000  # one record (a line); the dev records are a few KB


@dataclass(frozen=True)
class DevSet:
    name: str
    file: str
    title: str
    target_recall: float


DEV_SETS = (
    DevSet("swne", "dev_swne.jsonl", "telephone calls as written (Switchboard)", 0.90),
    DevSet("swne_asr", "dev_swne_asr.jsonl", "telephone calls, ASR style (lower case)", 0.85),
    DevSet("deid", "dev_deid.jsonl", "ICU nursing notes (PhysioNet deid)", 0.90),
    DevSet("conll", "dev_conll.jsonl", "news (CoNLL-2003 dev)", 0.90),
    DevSet("wnut", "dev_wnut.jsonl", "social media (WNUT-17 dev)", 0.75),
)


class DevDataError(ValueError):
    """A dev-set file that is not the documented format."""


def data_dir(root: Path = ROOT) -> Path:
    """PIIZONE_QUALITY_DEV if set, else `<repo>/../shared/data/quality-dev`."""
    configured = os.environ.get(ENV_DIR)
    return Path(configured) if configured else root.parent / "shared" / "data" / "quality-dev"


def gold_type(label: str) -> str:
    """The scorer's type for a dev-set label: the direct ones as they are; any other label is
    kept apart from score.DIRECT_TYPES, so a set labelling e.g. STREET_ADDRESS (not a direct
    identifier here) can never count towards the direct recall."""
    if label in REAL_DIRECT or label not in DIRECT_TYPES:
        return label
    return f"{label} (not direct here)"


def load_set(path: Path, limit: int | None = None) -> list[Sample]:
    """The records of one dev-set file (the first `limit`), checked: offsets inside the text."""
    samples: list[Sample] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if limit is not None and len(samples) >= limit:
                break
            if not line.strip():
                continue
            if len(line) > MAX_RECORD_CHARS:
                raise DevDataError(f"{path.name}:{number}: record longer than {MAX_RECORD_CHARS}")
            try:
                record = json.loads(line)
                text = record["text"]
                spans = [
                    Span(int(s["start"]), int(s["end"]), gold_type(str(s["type"])))
                    for s in record["spans"]
                ]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise DevDataError(f"{path.name}:{number}: not a dev record ({e})") from None
            if not isinstance(text, str):
                raise DevDataError(f"{path.name}:{number}: text is not a string")
            for s in spans:
                if not 0 <= s.start < s.end <= len(text):
                    raise DevDataError(f"{path.name}:{number}: span {s.start}-{s.end} outside")
            samples.append(Sample(text, spans, id=str(record.get("id", number))))
    return samples


# --------------------------------------------------------------------------- masking


def shape(value: str) -> str:
    """Letters as X/x, digits as d, the rest kept; runs longer than 4 cut to 4 (spaCy's
    shape_), so no value can be read back from it."""
    out: list[str] = []
    run = 0
    for c in value:
        s = ("X" if c.isupper() else "x") if c.isalpha() else ("d" if c.isdigit() else c)
        run = run + 1 if out and out[-1] == s else 1
        if run <= 4:
            out.append(s)
    return "".join(out).replace("\n", " | ")


def masked_context(text: str, start: int, end: int, removed: bytearray) -> str:
    """The span and up to 3 words either side, all shaped; redacted characters as '#'."""
    before = _WORDS_BEFORE.search(text, max(0, start - 200), start)
    after = _WORDS_AFTER.match(text, end, min(len(text), end + 200))
    a = before.start() if before else start
    b = after.end() if after else end

    def masked(i: int, j: int) -> str:
        return shape("".join("#" if removed[k] else text[k] for k in range(i, j)))

    return f"{masked(a, start)}[[{masked(start, end)}]]{masked(end, b)}".strip()


# The rest of the token the span touches, then up to 3 words.
_WORDS_BEFORE = re.compile(r"(?:\S+\s+){0,3}\S*\Z")
_WORDS_AFTER = re.compile(r"\S*(?:\s+\S+){0,3}")


def masked_examples(
    samples: Sequence[Sample], spans: Sequence[Sequence[tuple[int, int, str]]], score: Score
) -> dict:
    """One system's misses and spurious spans, masked (at most EXAMPLES of each), and its
    misses counted by kind: the casing of the name and whether it was partly redacted."""
    by_id = {s.id: (s, sp) for s, sp in zip(samples, spans, strict=True)}

    def removed(sample_id: str) -> bytearray:
        sample, redacted = by_id[sample_id]
        mask = bytearray(len(sample.text))
        for a, b, _ in redacted:
            mask[a:b] = b"\x01" * (b - a)
        return mask

    kinds: Counter[str] = Counter()
    misses = []
    for m in score.misses:
        if m.entity_type not in REAL_DIRECT:
            continue
        extent = "partly redacted" if "#" in m.left else "missed"
        kinds[f"{m.entity_type} {_casing(m.value)} {extent}"] += 1
        if len(misses) < EXAMPLES:
            text = by_id[m.sample_id][0].text
            context = masked_context(text, m.start, m.end, removed(m.sample_id))
            misses.append({"id": m.sample_id, "type": m.entity_type, "context": context})
    spurious = [
        {
            "id": s.sample_id,
            "predicted": s.entity_type,
            "context": masked_context(
                by_id[s.sample_id][0].text, s.start, s.end, bytearray(s.end + 200)
            ),
        }
        for s in score.spurious[:EXAMPLES]
    ]
    return {"misses": misses, "misses_by_kind": dict(kinds.most_common()), "spurious": spurious}


def _casing(value: str) -> str:
    letters = [c for c in value if c.isalpha()]
    if not letters:
        return "no letters"
    if all(c.isupper() for c in letters):
        return "UPPER"
    if all(c.islower() for c in letters):
        return "lower"
    if all(w[0].isupper() for w in value.split() if w[0].isalpha()):
        return "Title"
    return "mixed"


# --------------------------------------------------------------------------- run


def run(directory: Path, limit: int | None, only: Sequence[str] | None = None) -> dict:
    """Load the sets, redact them with both systems, score them; the results as a dict."""
    from benchmarks.quality.systems import Piizone, VanillaPresidio

    started = time.perf_counter()
    sets = [d for d in DEV_SETS if not only or d.name in only]
    data: dict[str, list[Sample]] = {}
    missing = []
    for d in sets:
        path = directory / d.file
        if path.is_file():
            data[d.name] = load_set(path, limit)
        else:
            missing.append(d.file)
    systems = [Piizone(), VanillaPresidio()]
    for system in systems:  # both warmed up on the same texts before anything is timed
        system.run([s[0].text for s in data.values() if s])
    out: dict = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "directory": directory.name,
        "limit": limit,
        "missing": missing,
        "targets": {
            "recall": {d.name: d.target_recall for d in sets},
            "over_redaction": TARGET_OVER_REDACTION,
        },
        "load_seconds": {s.name: round(s.load_seconds, 2) for s in systems},
        "sets": {},
    }
    for d in sets:
        samples = data.get(d.name)
        if samples is None:
            continue
        texts = [s.text for s in samples]
        entry: dict = {
            "title": d.title,
            "records": len(samples),
            "chars": sum(map(len, texts)),
            "systems": {},
        }
        for system in systems:
            print(f"real text: {d.name} ({len(samples)}) with {system.name}", file=sys.stderr)
            result = system.run(texts)
            score = score_samples(samples, result.spans, counts=str.isalnum)
            entry["systems"][system.name] = {
                "seconds": round(result.seconds, 2),
                "records_per_s": round(result.records_per_s, 1),
                "kb_per_s": round(result.kb_per_s, 1),
                "score": score.as_dict(),
                "examples": masked_examples(samples, result.spans, score),
            }
        out["sets"][d.name] = entry
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    return out


# --------------------------------------------------------------------------- Markdown

TITLE = "## Detection quality on real text (dev corpora)"
SYSTEMS = ("piizone", "vanilla Presidio")


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.2f}%"


def skipped_markdown(directory: Path) -> str:
    return (
        f"{TITLE}\n\n_Skipped: no dev corpora at `{directory}` "
        f"(set {ENV_DIR} to the folder holding dev_*.jsonl)._\n"
    )


def _spurious(score: dict) -> int:
    return sum(score["spurious_spans_by_predicted_type"].values())


def render_markdown(results: dict) -> str:
    limit = results.get("limit")
    command = "python -m benchmarks.quality.real_text" + (f" --limit {limit}" if limit else "")
    out = [
        TITLE,
        "",
        f"Run {results['date']} (`{command}`; in `make bench` as `benchmarks.run --only "
        f"realtext`), {results['total_seconds']} s. Machine: "
        f"{machine_markdown(results['machine'])}. Data: the dev halves in "
        f"`../shared/data/quality-dev` (or ${ENV_DIR}); never copied into the repository, so "
        "no value from them is shown below: misses are given by shape (X/x letters, d digits).",
        "",
        "Direct identifiers: PERSON and PHONE_NUMBER; every other annotated type counts neither "
        "as missed PII nor as over-redaction. **recall** = direct gold spans with every "
        "alphanumeric character redacted; **over-redaction** = alphanumeric characters outside "
        "every gold span redacted; **spurious** = redacted spans touching no gold span. "
        "piizone = default policy; vanilla = Presidio out of the box (systems.py). Records/s: "
        "detection + `replace`, one process, models loaded and warmed up.",
        "",
        "| set | records | piizone recall | target | piizone over-redaction | piizone spurious "
        "| vanilla recall | vanilla over-redaction | vanilla spurious | piizone rec/s "
        "| vanilla rec/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    targets = results["targets"]
    for name, entry in results["sets"].items():
        a = entry["systems"]["piizone"]
        b = entry["systems"]["vanilla Presidio"]
        recall, over = a["score"]["direct"]["recall"], a["score"]["over_redaction"]
        target = targets["recall"][name]
        met = (recall or 0) >= target and (over or 0) <= targets["over_redaction"]
        shown = f"**{_num(recall)}**" if not met else _num(recall)
        out.append(
            f"| {entry['title']} | {entry['records']} | {shown} | ≥ {target:.2f}, ≤ "
            f"{targets['over_redaction']:.0%} | {_pct(over)} | {_spurious(a['score'])} "
            f"| {_num(b['score']['direct']['recall'])} | {_pct(b['score']['over_redaction'])} "
            f"| {_spurious(b['score'])} | {a['records_per_s']} | {b['records_per_s']} |"
        )
    if results.get("missing"):
        out += ["", f"Missing from the folder (skipped): {', '.join(results['missing'])}."]
    out.append("")
    for name, entry in results["sets"].items():
        out += _set_markdown(name, entry, targets)
    return "\n".join(out).rstrip() + "\n"


def _set_markdown(name: str, entry: dict, targets: dict) -> list[str]:
    a = entry["systems"]["piizone"]
    b = entry["systems"]["vanilla Presidio"]
    target = targets["recall"][name]
    out = [
        f"### Real text — {entry['title']} (`{name}`, {entry['records']} records, "
        f"{entry['chars'] / 1000:.0f} K characters)",
        "",
        "| measure | gold | piizone | vanilla Presidio | target |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in REAL_DIRECT:
        pa, pb = a["score"]["per_type"].get(t), b["score"]["per_type"].get(t)
        if not pa:
            continue
        out.append(
            f"| {t} recall | {pa['entities']} | {_num(pa['recall'])} ({pa['removed']}) "
            f"| {_num(pb['recall'])} ({pb['removed']}) | ≥ {target:.2f} |"
        )
    da, db = a["score"]["direct"], b["score"]["direct"]
    out += [
        f"| **direct recall** | {da['entities']} | **{_num(da['recall'])}** "
        f"| **{_num(db['recall'])}** | ≥ {target:.2f} |",
        f"| over-redaction | {a['score']['non_pii_chars']} chars "
        f"| {_pct(a['score']['over_redaction'])} | {_pct(b['score']['over_redaction'])} "
        f"| ≤ {targets['over_redaction']:.0%} |",
        f"| spurious spans | – | {_spurious(a['score'])} | {_spurious(b['score'])} | – |",
        f"| records/s (KB/s) | – | {a['records_per_s']} ({a['kb_per_s']}) "
        f"| {b['records_per_s']} ({b['kb_per_s']}) | – |",
        "",
    ]
    for system, s in (("piizone", a), ("vanilla Presidio", b)):
        sc = s["score"]
        spurious = ", ".join(
            f"{k} {v}" for k, v in list(sc["spurious_spans_by_predicted_type"].items())[:6]
        )
        over = ", ".join(
            f"{k} {v}" for k, v in list(sc["over_redacted_chars_by_predicted_type"].items())[:6]
        )
        casing = ", ".join(f"{k}: {v}" for k, v in s["examples"]["misses_by_kind"].items())
        out.append(
            f"- {system}: spurious spans by predicted type: {spurious or 'none'}; "
            f"over-redacted characters by predicted type: {over or 'none'}; "
            f"misses by kind: {casing or 'none'}."
        )
    misses = a["examples"]["misses"]
    if misses:
        out += ["", "piizone misses (masked):", ""]
        out += [f"- {m['type']} `{m['id']}`: `{m['context']}`" for m in misses]
    out.append("")
    return out


def write_results(results: dict, path: Path = RESULTS_JSON) -> None:
    """Under "real_text" in results.json, the other benchmarks' keys kept."""
    try:
        existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError:
        existing = {}
    existing["real_text"] = results
    path.write_text(json.dumps(existing, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_LIMIT} records a set")
    parser.add_argument("--limit", type=int, help="first N records of each set")
    parser.add_argument("--sets", help="comma-separated: " + ",".join(d.name for d in DEV_SETS))
    parser.add_argument("--dir", type=Path, help=f"the dev folder (default: ${ENV_DIR} or ...)")
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, help="results file to update")
    args = parser.parse_args(argv)
    directory = args.dir or data_dir()
    only = args.sets.split(",") if args.sets else None
    unknown = set(only or ()) - {d.name for d in DEV_SETS}
    if unknown:
        print(f"error: unknown set(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if not directory.is_dir():
        print(f"real text: no dev corpora at {directory}; section skipped", file=sys.stderr)
        sys.stdout.write(skipped_markdown(directory))
        return 0
    limit = args.limit or (QUICK_LIMIT if args.quick else None)
    try:
        results = run(directory, limit, only)
    except (DevDataError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    write_results(results, args.json)
    sys.stdout.write(render_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
