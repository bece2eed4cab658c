"""The small-count check of tabular outputs (zones/leakcheck/small_counts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from piizone.zones.exceptions import ZoneError
from piizone.zones.leakcheck.small_counts import SmallCount, min_count, small_counts
from piizone.zones.lifecycle import init_home


def test_only_whole_number_columns_under_k_are_flagged(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("group,n,score,code\ng1,3,0.5,7\ng2,0,1.5,x\ng3,12,2,4\ng4,,3,1\n")
    # n is a count column (3 flagged, 0 and 12 not, blank ignored); score has a decimal and
    # code a word: neither is a count column.
    assert small_counts(table, "t.csv", 5) == [SmallCount(2, 2)]
    assert small_counts(table, "t.txt", 5) == []  # not tabular by name
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\t9\n")
    assert small_counts(tsv, "out/t.tsv", 5) == [SmallCount(2, 1)]
    assert small_counts(tsv, "out/t.tsv", 1) == []


def test_off_by_default_and_a_bad_k_is_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    assert min_count(home) is None
    config = home / "config.toml"
    config.write_text(config.read_text() + "\n[airlock]\nsmall_counts = true\n")
    assert min_count(home) == 5
    config.write_text(config.read_text() + "min_count = 0\n")
    with pytest.raises(ZoneError, match="min_count"):
        min_count(home)
