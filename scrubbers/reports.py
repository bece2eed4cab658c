"""The scan report: a model that holds counts and masked contexts only, and its renderers."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from piizone.scrubbers.entities import Risk, entity_risk

REPORT_VERSION = 1
MAX_SAMPLES_PER_ENTITY = 3


def tool_version() -> str:
    try:
        return version("piizone")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class ColumnReport:
    name: str
    classification: str | None
    kind: str
    entities: dict[str, int] = field(default_factory=dict)
    non_empty: int = 0
    match_share: float = 0.0
    header_hint: str | None = None


@dataclass
class Sample:
    """Where one finding was, with its value and every other finding in view masked."""

    entity: str
    context: str
    line: int | None = None
    row: int | None = None
    column: str | None = None


@dataclass
class SourceReport:
    path: str
    kind: str  # "table" | "text"
    format: str
    rows: int = 0
    bytes: int = 0
    columns: list[ColumnReport] = field(default_factory=list)
    entities: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # For a baseline (scrubbers/baseline.py): value -> keyed fingerprint, and how often each
    # (entity, fingerprint) was found. Never in a rendered report.
    fingerprint: Callable[[str, str], str] | None = field(default=None, repr=False)
    fingerprints: Counter[tuple[str, str]] = field(default_factory=Counter, repr=False)

    @property
    def risk(self) -> Risk:
        return risk_of(self.entities)

    def remember(self, entity: str, value: str, times: int = 1) -> None:
        """Count a found value by fingerprint, when a baseline asked for fingerprints."""
        if self.fingerprint is not None:
            self.fingerprints[(entity, self.fingerprint(entity, value))] += times

    def wants_sample(self, entity: str) -> bool:
        """Is there room for one more sample of this entity? Callers ask before building one:
        its masked context and line number cost a pass over the text per finding."""
        return sum(1 for s in self.samples if s.entity == entity) < MAX_SAMPLES_PER_ENTITY

    def add_sample(self, sample: Sample) -> None:
        if self.wants_sample(sample.entity):
            self.samples.append(sample)


@dataclass
class Report:
    policy_sha256: str
    policy_source: str
    sources: list[SourceReport] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    filters: dict[str, int] = field(default_factory=dict)
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    duration_s: float = 0.0
    # Findings a baseline accepted, per entity (scrubbers/baseline.py); None: no baseline.
    accepted: dict[str, int] | None = None
    # Policy lines that would change flagged columns (scrubbers/suggestions.py), as dicts.
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for s in self.sources:
            total.update(s.entities)
        return dict(sorted(total.items()))

    @property
    def risk(self) -> Risk:
        return risk_of(self.totals)

    @property
    def new_totals(self) -> dict[str, int]:
        """The totals less what the baseline accepted: what `--fail-on` judges."""
        accepted = self.accepted or {}
        return {e: n - accepted.get(e, 0) for e, n in self.totals.items() if n > accepted.get(e, 0)}

    def to_dict(self) -> dict:
        """The JSON report (shape documented in the README; fields are only ever added)."""
        return {
            "version": REPORT_VERSION,
            "tool": {"name": "piizone", "version": tool_version()},
            "generated_at": self.generated_at,
            "duration_s": round(self.duration_s, 3),
            "policy": {"sha256": self.policy_sha256, "source": self.policy_source},
            "sources": [
                {
                    "path": s.path,
                    "kind": s.kind,
                    "format": s.format,
                    "rows": s.rows,
                    "bytes": s.bytes,
                    "columns": [asdict(c) for c in s.columns],
                    "entities": dict(sorted(s.entities.items())),
                    "risk": s.risk.label,
                    "samples": [
                        {k: v for k, v in asdict(x).items() if v is not None} for x in s.samples
                    ],
                    "warnings": s.warnings,
                }
                for s in self.sources
            ],
            "suggestions": self.suggestions,
            "skipped": self.skipped,
            "errors": self.errors,
            "filters": dict(sorted(self.filters.items())),
            "totals": self.totals,
            "risk": self.risk.label,
            **(
                {}
                if self.accepted is None
                else {
                    "baseline": {
                        "accepted": dict(sorted(self.accepted.items())),
                        "new": self.new_totals,
                        "risk": risk_of(self.new_totals).label,
                    }
                }
            ),
        }


def risk_of(entities: dict[str, int]) -> Risk:
    return max((entity_risk(e) for e, n in entities.items() if n > 0), default=Risk.NONE)


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _fmt_entities(entities: dict[str, int]) -> str:
    return ", ".join(f"{e} {n}" for e, n in sorted(entities.items(), key=lambda kv: -kv[1])) or "-"


def render_markdown(report: Report) -> str:
    d = report.to_dict()
    out = [
        "# piizone scan report",
        "",
        f"- Risk: **{d['risk']}**",
        f"- Generated: {d['generated_at']} by piizone {d['tool']['version']}",
        f"- Policy: `{d['policy']['sha256'][:12]}` ({d['policy']['source']})",
        f"- Sources: {len(d['sources'])} scanned, {len(d['skipped'])} skipped, "
        f"{len(d['errors'])} errors",
        "",
        "## Totals",
        "",
    ]
    out += ["| Entity | Count | Risk |", "|---|---:|---|"]
    out += [f"| {e} | {n} | {entity_risk(e).label} |" for e, n in d["totals"].items()] or []
    for s in d["sources"]:
        out += [
            "",
            f"## {s['path']}",
            "",
            f"{s['kind']} ({s['format']}), {s['rows']} rows, risk **{s['risk']}**",
            "",
        ]
        if s["columns"]:
            out += ["| Column | Kind | Classification | Entities |", "|---|---|---|---|"]
            out += [
                f"| {c['name']} | {c['kind']} | {c['classification'] or '-'} | "
                f"{_fmt_entities(c['entities'])} |"
                for c in s["columns"]
            ]
            out.append("")
        out.append(f"Entities: {_fmt_entities(s['entities'])}")
        if s["samples"]:
            out += ["", "Masked examples:", ""]
            out += [f"- {x['entity']} ({_where(x)}): `{x['context']}`" for x in s["samples"]]
        out += [f"- warning: {w}" for w in s["warnings"]]
    if d["suggestions"]:
        out += ["", "## Suggested policy lines", ""]
        out += ["| Source | Column | Policy line | Why |", "|---|---|---|---|"]
        out += [
            f"| {x['path']} | {x['column']} | `{x['line']}` | {x['why']} |"
            for x in d["suggestions"]
        ]
    if d["skipped"]:
        out += ["", "## Skipped", ""] + [f"- {x['path']}: {x['reason']}" for x in d["skipped"]]
    if d["errors"]:
        out += ["", "## Errors", ""] + [f"- {x['path']}: {x['error']}" for x in d["errors"]]
    return "\n".join(out) + "\n"


def _where(sample: dict) -> str:
    if "line" in sample:
        return f"line {sample['line']}"
    return f"row {sample.get('row')}, column {sample.get('column')}"


_RISK_COLOURS = {"none": "#2e7d32", "low": "#9e9d24", "medium": "#ef6c00", "high": "#c62828"}


def _svg_bars(entities: dict[str, int]) -> str:
    """A horizontal bar chart as inline SVG: no script, no CDN, prints and archives as is."""
    if not entities:
        return "<p class='none'>No PII found.</p>"
    items = sorted(entities.items(), key=lambda kv: -kv[1])
    top = max(n for _, n in items)
    bar_h, label_w, width = 22, 170, 560
    rows = []
    for i, (entity, n) in enumerate(items):
        y = i * bar_h
        w = max(2, int((width - label_w - 60) * n / top))
        colour = _RISK_COLOURS[entity_risk(entity).label]
        rows.append(
            f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end'>{html.escape(entity)}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{w}' height='{bar_h - 6}' fill='{colour}'>"
            f"<title>{html.escape(entity)}: {n}</title></rect>"
            f"<text x='{label_w + w + 6}' y='{y + 15}'>{n}</text>"
        )
    return (
        f"<svg role='img' aria-label='entity counts' width='{width}' "
        f"height='{len(items) * bar_h}' xmlns='http://www.w3.org/2000/svg' "
        f"font-family='sans-serif' font-size='12'>{''.join(rows)}</svg>"
    )


def render_html(report: Report) -> str:
    """One self-contained page for a compliance officer: summary, per-source chart and tables."""
    d = report.to_dict()
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>piizone scan report</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#222}",
        "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;",
        "padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}",
        ".risk{display:inline-block;padding:.1rem .6rem;border-radius:.8rem;color:#fff}",
        "code{background:#f6f6f6;padding:0 .2rem}section{border-top:1px solid #ddd;",
        "padding-top:.5rem}.none{color:#2e7d32}</style></head><body>",
        "<h1>piizone scan report</h1>",
        f"<p>Overall risk: <span class='risk' style='background:{_RISK_COLOURS[d['risk']]}'>"
        f"{e(d['risk'])}</span></p>",
        f"<p>Generated {e(d['generated_at'])} by piizone {e(d['tool']['version'])}; policy "
        f"<code>{e(d['policy']['sha256'][:12])}</code> ({e(d['policy']['source'])}); "
        f"{len(d['sources'])} sources scanned, {len(d['skipped'])} skipped, "
        f"{len(d['errors'])} errors, in {d['duration_s']} s.</p>",
        "<h2>Totals</h2>",
        _svg_bars(d["totals"]),
    ]
    for s in d["sources"]:
        parts += [
            f"<section><h2>{e(s['path'])}</h2>",
            f"<p>{e(s['kind'])} ({e(s['format'])}), {s['rows']} rows, risk "
            f"<span class='risk' style='background:{_RISK_COLOURS[s['risk']]}'>"
            f"{e(s['risk'])}</span></p>",
            _svg_bars(s["entities"]),
        ]
        if s["columns"]:
            parts.append(
                "<table><tr><th>Column</th><th>Kind</th><th>Classification</th>"
                "<th>Entities</th></tr>"
            )
            parts += [
                f"<tr><td>{e(c['name'])}</td><td>{e(c['kind'])}</td>"
                f"<td>{e(c['classification'] or '–')}</td>"
                f"<td>{e(_fmt_entities(c['entities']))}</td></tr>"
                for c in s["columns"]
            ]
            parts.append("</table>")
        if s["samples"]:
            parts.append("<p>Masked examples:</p><ul>")
            parts += [
                f"<li>{e(x['entity'])} ({e(_where(x))}): <code>{e(x['context'])}</code></li>"
                for x in s["samples"]
            ]
            parts.append("</ul>")
        parts += [f"<p>warning: {e(w)}</p>" for w in s["warnings"]]
        parts.append("</section>")
    if d["suggestions"]:
        parts.append(
            "<h2>Suggested policy lines</h2><table><tr><th>Source</th><th>Column</th>"
            "<th>Policy line</th><th>Why</th></tr>"
        )
        parts += [
            f"<tr><td>{e(x['path'])}</td><td>{e(x['column'])}</td>"
            f"<td><code>{e(x['line'])}</code></td><td>{e(x['why'])}</td></tr>"
            for x in d["suggestions"]
        ]
        parts.append("</table>")
    if d["skipped"]:
        parts.append("<h2>Skipped</h2><ul>")
        parts += [f"<li>{e(x['path'])}: {e(x['reason'])}</li>" for x in d["skipped"]]
        parts.append("</ul>")
    if d["errors"]:
        parts.append("<h2>Errors</h2><ul>")
        parts += [f"<li>{e(x['path'])}: {e(x['error'])}</li>" for x in d["errors"]]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


RENDERERS = {"json": render_json, "markdown": render_markdown, "html": render_html}
