"""zones/lineage/drift.py: PSI, nulls, new categories and schema changes between two tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from piizone.zones.lineage.drift import (
    MAJOR,
    MODERATE,
    column_drift,
    psi,
    table_drift,
    worst,
)

RNG = np.random.default_rng(7)


def test_psi_of_a_known_histogram():
    # (0.9-0.5)*ln(0.9/0.5) + (0.1-0.5)*ln(0.1/0.5)
    expected = 0.4 * math.log(1.8) + 0.4 * math.log(5)
    assert psi(np.array([50, 50]), np.array([90, 10])) == pytest.approx(expected)


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=2, max_size=12))
def test_psi_is_zero_against_itself_and_never_negative(counts):
    hist = np.array(counts)
    assert psi(hist, hist) == pytest.approx(0.0, abs=1e-12)
    assert psi(hist, hist[::-1]) >= 0.0


@pytest.mark.parametrize(
    ("old", "new", "kind", "level"),
    [
        (RNG.normal(50, 10, 5000), RNG.normal(50, 10, 5000), "numeric", "stable"),
        (RNG.normal(50, 10, 5000), RNG.normal(58, 10, 5000), "numeric", "major"),
        (RNG.choice(list("abc"), 3000), RNG.choice(list("abc"), 3000), "categorical", "stable"),
        (
            RNG.choice(list("abc"), 3000, p=[0.6, 0.3, 0.1]),
            RNG.choice(list("abc"), 3000, p=[0.2, 0.3, 0.5]),
            "categorical",
            "major",
        ),
        (
            [f"<person_{i:08x}>" for i in range(500)],
            [f"<p_{i}>" for i in range(500)],
            "identifier",
            "n/a",
        ),
    ],
)
def test_column_kinds_and_levels(old, new, kind, level):
    drift = column_drift("c", pd.Series(old), pd.Series(new))
    assert (drift.kind, drift.level) == (kind, level)


def test_a_moderate_shift_reads_moderate():
    old = pd.Series(RNG.normal(0, 1, 20000))
    new = pd.Series(RNG.normal(0.35, 1, 20000))
    drift = column_drift("x", old, new)
    assert MODERATE < drift.psi <= MAJOR, drift.psi


def test_new_categories_and_null_shares_are_reported():
    old = pd.Series(["gold", "silver", None, "gold"] * 50)
    new = pd.Series(["gold", "platinum", None, None] * 50)
    drift = column_drift("tier", old, new)
    assert drift.new_categories == ["platinum"]
    assert (drift.nulls_old, drift.nulls_new) == (0.25, 0.5)


def test_schema_changes_and_row_counts():
    old = pd.DataFrame({"id": range(10), "age": range(10), "gone": ["x"] * 10})
    new = pd.DataFrame({"id": range(12), "age": range(12), "score": [1.0] * 12})
    drift = table_drift("data/t.csv", old, new)
    assert (drift.rows_old, drift.rows_new) == (10, 12)
    assert drift.added == ["score"] and drift.removed == ["gone"]
    assert {c.column for c in drift.columns} == {"id", "age", "gone", "score"}
    assert worst([drift]) == max(c.psi for c in drift.columns if c.psi is not None)


def test_a_table_only_in_one_version():
    new = pd.DataFrame({"a": [1, 2]})
    drift = table_drift("data/new.csv", None, new)
    assert drift.rows_old is None and drift.added == ["a"]
    assert table_drift("data/old.csv", new, None).removed == ["a"]
    assert drift.to_dict()["columns"][0]["level"] == "n/a"
