"""Distribution shift between two versions of a table, computed on the redacted data.

Per column: the population stability index (PSI), the share of nulls on each side and the
categories that appear only in the newer version; per table: the schema change and the row
counts. Pure functions over pandas objects: reading the versions (decrypted in memory) is the
caller's job.

PSI = sum over bins of (new% - old%) * ln(new% / old%). Numeric columns are cut at the old
version's deciles (the usual choice: each bin holds ~10% of the reference), categorical ones by
value, the rarest beyond MAX_CATEGORIES pooled as one "other" bin so a high-cardinality column
(ids, pseudonym tokens) does not make a score of its noise. Empty bins get EPSILON so the log
stays finite. Read as in credit-risk practice: < 0.1 stable, 0.1-0.25 moderate, > 0.25 major.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BINS = 10
EPSILON = 1e-4
MAX_CATEGORIES = 50
MODERATE = 0.1
MAJOR = 0.25
# A categorical column whose values are nearly all distinct (ids, tokens) has no distribution
# to compare: its PSI would only measure that the new ids are new.
DISTINCT_SHARE_FOR_ID = 0.9


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # "numeric" | "categorical" | "identifier" | "added" | "removed"
    psi: float | None
    nulls_old: float | None
    nulls_new: float | None
    new_categories: list[str] = field(default_factory=list)
    dtype_old: str | None = None
    dtype_new: str | None = None

    @property
    def level(self) -> str:
        if self.psi is None:
            return "n/a"
        return "major" if self.psi > MAJOR else "moderate" if self.psi > MODERATE else "stable"


@dataclass(frozen=True)
class TableDrift:
    path: str
    rows_old: int | None
    rows_new: int | None
    columns: list[ColumnDrift]

    @property
    def added(self) -> list[str]:
        return [c.column for c in self.columns if c.kind == "added"]

    @property
    def removed(self) -> list[str]:
        return [c.column for c in self.columns if c.kind == "removed"]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for column, data in zip(self.columns, out["columns"], strict=True):
            data["level"] = column.level
        return out


def psi(old: np.ndarray, new: np.ndarray) -> float:
    """PSI of two histograms of counts over the same bins."""
    old_share = _shares(old)
    new_share = _shares(new)
    return float(np.sum((new_share - old_share) * np.log(new_share / old_share)))


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.clip(shares.astype(float), EPSILON, None)


def numeric_psi(old: pd.Series, new: pd.Series) -> float | None:
    old_values = pd.to_numeric(old, errors="coerce").dropna().to_numpy(dtype=float)
    new_values = pd.to_numeric(new, errors="coerce").dropna().to_numpy(dtype=float)
    if not len(old_values) or not len(new_values):
        return None
    edges = np.unique(np.quantile(old_values, np.linspace(0, 1, BINS + 1)[1:-1]))
    # Bins are (-inf, e1], (e1, e2], ..., (ek, inf): every value of either side falls in one.
    old_counts = np.bincount(np.searchsorted(edges, old_values), minlength=len(edges) + 1)
    new_counts = np.bincount(np.searchsorted(edges, new_values), minlength=len(edges) + 1)
    return psi(old_counts, new_counts)


def categorical_psi(old: pd.Series, new: pd.Series) -> tuple[float | None, list[str]]:
    old_counts = old.dropna().astype(str).value_counts()
    new_counts = new.dropna().astype(str).value_counts()
    if old_counts.empty or new_counts.empty:
        return None, []
    kept = list(old_counts.index[:MAX_CATEGORIES])
    unseen = [value for value in new_counts.index if value not in old_counts.index]

    def histogram(counts: pd.Series) -> np.ndarray:
        known = [int(counts.get(value, 0)) for value in kept]
        return np.array([*known, int(counts.sum()) - sum(known)], dtype=float)

    return psi(histogram(old_counts), histogram(new_counts)), sorted(unseen)[:MAX_CATEGORIES]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _null_share(series: pd.Series) -> float:
    return float(series.isna().mean()) if len(series) else 0.0


def column_drift(name: str, old: pd.Series, new: pd.Series) -> ColumnDrift:
    def drift(kind: str, score: float | None, unseen: list[str] | None = None) -> ColumnDrift:
        return ColumnDrift(
            name, kind, score, _null_share(old), _null_share(new),
            new_categories=unseen if unseen is not None else [],
            dtype_old=str(old.dtype), dtype_new=str(new.dtype),
        )  # fmt: skip

    if _is_numeric(old) and _is_numeric(new):
        return drift("numeric", numeric_psi(old, new))
    present = old.dropna()
    if len(present) and present.astype(str).nunique() / len(present) >= DISTINCT_SHARE_FOR_ID:
        return drift("identifier", None)
    score, unseen = categorical_psi(old, new)
    return drift("categorical", score, unseen)


def table_drift(path: str, old: pd.DataFrame | None, new: pd.DataFrame | None) -> TableDrift:
    """Drift of one table between two versions; None on a side means the table is absent."""
    old_columns = list(old.columns) if old is not None else []
    new_columns = list(new.columns) if new is not None else []
    columns: list[ColumnDrift] = []
    for name in new_columns:
        if name not in old_columns:
            assert new is not None  # it has this column
            columns.append(ColumnDrift(str(name), "added", None, None, _null_share(new[name])))
    for name in old_columns:
        assert old is not None  # it has this column
        if name not in new_columns:
            columns.append(ColumnDrift(str(name), "removed", None, _null_share(old[name]), None))
        else:
            assert new is not None  # it has this column too
            columns.append(column_drift(str(name), old[name], new[name]))
    return TableDrift(
        path,
        None if old is None else len(old),
        None if new is None else len(new),
        columns,
    )


def worst(tables: list[TableDrift]) -> float:
    """The largest PSI over every column of every table (0.0 when none has one)."""
    scores = [c.psi for t in tables for c in t.columns if c.psi is not None]
    return max(scores, default=0.0) if all(math.isfinite(s) for s in scores) else math.inf
