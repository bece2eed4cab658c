"""resolve_overlaps: non-overlapping, and every character any finding covered stays covered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrubbers.findings import Finding, resolve_overlaps


def F(start, end, entity="PERSON", score=0.85):
    return Finding(start, end, entity, score)


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ([F(8, 14), F(0, 14, score=0.75)], [F(0, 14)]),  # "bradley wright": widened, not lost
        ([F(0, 5, "US_SSN", 1.0), F(0, 5, "PHONE_NUMBER", 0.4)], [F(0, 5, "US_SSN", 1.0)]),
        (
            [F(5, 10, "EMAIL_ADDRESS", 1.0), F(0, 10, "PERSON", 0.5)],
            [F(0, 5, "PERSON", 0.5), F(5, 10, "EMAIL_ADDRESS", 1.0)],
        ),
        ([F(0, 3), F(5, 9)], [F(0, 3), F(5, 9)]),
    ],
)
def test_resolve_overlaps(findings, expected):
    assert resolve_overlaps(findings) == expected


spans = st.lists(
    st.tuples(
        st.integers(0, 60),
        st.integers(1, 20),
        st.sampled_from(["PERSON", "US_SSN"]),
        st.sampled_from([0.4, 0.6, 0.85, 1.0]),
    ),
    max_size=12,
)


@given(spans)
def test_resolved_findings_do_not_overlap_and_lose_no_coverage(raw):
    findings = [Finding(s, s + n, e, sc) for s, n, e, sc in raw]
    resolved = resolve_overlaps(findings)
    for a, b in zip(resolved, resolved[1:], strict=False):
        assert a.end <= b.start
    covered_before = {i for f in findings for i in range(f.start, f.end)}
    covered_after = {i for f in resolved for i in range(f.start, f.end)}
    # Only slivers under two characters may be given up (see _uncovered).
    assert covered_after <= covered_before
    assert len(covered_before - covered_after) <= len(findings)
