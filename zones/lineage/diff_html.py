"""`zone diff --format html`: one self-contained page (inline CSS and SVG, no script, nothing
fetched), like the scan report. Every value is escaped; the page shows only counts, shares,
PSI scores and the names of columns and categories of the redacted data."""

from __future__ import annotations

import html

from piizone.zones.lineage.diff import ZoneDiff
from piizone.zones.lineage.drift import MAJOR, MODERATE, ColumnDrift, TableDrift

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border-bottom:1px solid #ddd;padding:.25em .75em;text-align:left}
.major{color:#b00020;font-weight:bold}.moderate{color:#a15c00}.stable{color:#2e7d32}
.n\\/a{color:#777}svg{vertical-align:middle}
"""
BAR_WIDTH = 160
# PSI bars are drawn on a scale that ends at twice the "major" threshold.
BAR_SCALE = 2 * MAJOR


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _bar(psi: float | None) -> str:
    if psi is None:
        return ""
    width = max(1, round(min(psi / BAR_SCALE, 1.0) * BAR_WIDTH))
    colour = "#b00020" if psi > MAJOR else "#a15c00" if psi > MODERATE else "#2e7d32"
    ticks = [round(t / BAR_SCALE * BAR_WIDTH) for t in (MODERATE, MAJOR)]
    marks = "".join(
        f'<line x1="{x}" y1="0" x2="{x}" y2="12" stroke="#999" stroke-dasharray="2"/>'
        for x in ticks
    )
    return (
        f'<svg width="{BAR_WIDTH}" height="12" role="img" aria-label="PSI {psi:.3f}">'
        f'<rect width="{width}" height="12" fill="{colour}"/>{marks}</svg>'
    )


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _column_row(c: ColumnDrift) -> str:
    psi = "" if c.psi is None else f"{c.psi:.3f}"
    new = ", ".join(c.new_categories[:10]) + (" …" if len(c.new_categories) > 10 else "")
    cells = (c.column, c.kind, psi, _share(c.nulls_old), _share(c.nulls_new), new)
    tds = "".join(f"<td>{_e(v)}</td>" for v in cells)
    return f'<tr>{tds}<td>{_bar(c.psi)}</td><td class="{_e(c.level)}">{_e(c.level)}</td></tr>'


def _table_section(t: TableDrift) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("column", "kind", "PSI", "nulls before", "nulls after", "new", "", "level")
    )
    rows = "".join(_column_row(c) for c in t.columns)
    return (
        f"<h2>{_e(t.path)}</h2><p>rows {_e(t.rows_old)} → {_e(t.rows_new)}</p>"
        f"<table><tr>{head}</tr>{rows}</table>"
    )


def render_diff_html(diff: ZoneDiff) -> str:
    title = f"zone {diff.zone}: v{diff.old_version} → v{diff.new_version}"
    pii_rows = "".join(
        f"<tr><td>{_e(p.source)}</td><td>{_e(p.column or '(all)')}</td><td>{_e(p.entity)}</td>"
        f"<td>{p.old}</td><td>{p.new}</td></tr>"
        for p in diff.pii
    )
    pii = (
        "<table><tr><th>source</th><th>column</th><th>entity</th><th>before</th><th>after</th>"
        f"</tr>{pii_rows}</table>"
        if diff.pii
        else "<p>no change</p>"
    )
    skipped = "".join(f"<li>{_e(s)}</li>" for s in diff.skipped)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p>zone id {_e(diff.zone_id)}; policy "
        f"{'changed' if diff.policy_changed else 'unchanged'}; worst PSI "
        f"{diff.worst_psi:.3f}</p>"
        + "".join(_table_section(t) for t in diff.tables)
        + f"<h2>PII found by the scan</h2>{pii}"
        + (f"<h2>Not compared</h2><ul>{skipped}</ul>" if skipped else "")
        + "</body></html>\n"
    )
