"""piizone.units: the one duration parser and the one size parser (tables + hypothesis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piizone.units import (
    DURATION_UNITS,
    MAX_DURATION,
    MAX_SIZE,
    SIZE_UNITS,
    UnitError,
    parse_duration,
    parse_size,
)


@pytest.mark.parametrize(
    "text, expected",
    [("1s", timedelta(seconds=1)), ("90m", timedelta(minutes=90)), ("12h", timedelta(hours=12)),
     ("30d", timedelta(days=30)), ("2w", timedelta(weeks=2)), (" 3d ", timedelta(days=3)),
     ("7 d", timedelta(days=7))],
)  # fmt: skip
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "0d", "30", "d", "1y", "-1d", "1.5d", "soon", "+1d", "1D", "1d1h", "١d", "1d\nx",
     "99999999999999999999999w"],
)  # fmt: skip
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(UnitError):
        parse_duration(text)


def test_zero_duration_only_when_allowed() -> None:
    assert parse_duration("0m", allow_zero=True) == timedelta(0)


@pytest.mark.parametrize(
    "text, expected",
    [("1048576", 1 << 20), ("512M", 512 << 20), ("4G", 4 << 30), ("2gb", 2 << 30),
     ("8k", 8192), ("2GiB", 2 << 30), ("100b", 100), (" 1T ", 1 << 40)],
)  # fmt: skip
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "0", "0G", "-1G", "4X", "G", "1.5G", "1ib", "1iB", "1e9", "9" * 30, "1P"]
)
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(UnitError):
        parse_size(text)


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(sorted(DURATION_UNITS)))
def test_duration_round_trip(n: int, unit: str) -> None:
    seconds = n * DURATION_UNITS[unit]
    if seconds > MAX_DURATION.total_seconds():
        with pytest.raises(UnitError, match="out of range"):
            parse_duration(f"{n}{unit}")
    else:
        assert parse_duration(f"{n}{unit}").total_seconds() == seconds


@given(
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(sorted(SIZE_UNITS)),
    st.sampled_from(["", "b", "B", "ib", "iB"]),
)
def test_size_round_trip(n: int, unit: str, suffix: str) -> None:
    if unit == "" and suffix.startswith("i"):
        return  # "1ib" is not a size
    for spelled in (unit, unit.upper()):
        assert parse_size(f"{n}{spelled}{suffix}") == n * SIZE_UNITS[unit]


@given(st.text(max_size=40))
def test_any_text_is_a_duration_or_a_unit_error(text: str) -> None:
    # Never another exception (ValueError from int(), OverflowError from timedelta), never out
    # of range: a domain error or a usable value.
    try:
        value = parse_duration(text, allow_zero=True)
    except UnitError:
        return
    assert timedelta(0) <= value <= MAX_DURATION


@given(st.text(alphabet="0123456789 smhdwy.-+", max_size=30))
def test_digit_heavy_text_is_a_duration_or_a_unit_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except UnitError:
        return
    assert timedelta(0) < value <= MAX_DURATION


@given(st.text(max_size=40) | st.text(alphabet="0123456789 kKmMgGtTiIbB.-", max_size=30))
def test_any_text_is_a_size_or_a_unit_error(text: str) -> None:
    try:
        value = parse_size(text)
    except UnitError:
        return
    assert 0 < value <= MAX_SIZE
