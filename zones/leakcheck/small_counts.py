"""Small-count check for tabular outputs (statistical disclosure control, as in OpenSAFELY's
output checking): an aggregate whose cell counts only a few people can single one out.

Opt-in, in config.toml: `[airlock] small_counts = true` (and `min_count = 5`, the default k).
For a .csv or .tsv output, a *count column* is one whose every non-empty cell below the header
is a whole number; a cell of such a column with 0 < n < k is flagged (entity SMALL_COUNT), which
quarantines the file for review in the airlock. Zero is not flagged (an empty group identifies
nobody). The finding names the line and the column's number, never a cell's value or header.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from piizone.zones.config import load_config

DEFAULT_MIN_COUNT = 5
TABULAR = {".csv": ",", ".tsv": "\t"}
MAX_ROWS = 1_000_000
_WHOLE = re.compile(r"^\s*\d+\s*$")


@dataclass(frozen=True)
class SmallCount:
    line: int
    column: int  # 1-based


def min_count(home: Path) -> int | None:
    """k when the check is on (`[airlock] small_counts = true`), else None."""
    if not (home / "config.toml").is_file():
        return None
    section = load_config(home).airlock  # typed: a non-boolean or a k < 1 is refused there
    return section.min_count if section.small_counts else None


def small_counts(path: Path, rel: str, k: int) -> list[SmallCount]:
    """The cells of count columns under `k` (and over 0) in a .csv/.tsv output; [] otherwise."""
    delimiter = TABULAR.get(Path(rel).suffix.lower())
    if delimiter is None:
        return []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = []
        for number, row in enumerate(csv.reader(f, delimiter=delimiter), start=1):
            if number > MAX_ROWS:
                break
            rows.append((number, row))
    body = rows[1:]  # the first row is the header
    width = max((len(row) for _, row in body), default=0)
    found = []
    for column in range(width):
        cells = [(n, row[column]) for n, row in body if column < len(row) and row[column].strip()]
        if not cells or not all(_WHOLE.match(value) for _, value in cells):
            continue
        found += [SmallCount(n, column + 1) for n, value in cells if 0 < int(value) < k]
    return sorted(found, key=lambda c: (c.line, c.column))
