"""resolve_overlaps: non-overlapping, and every character any finding covered stays covered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrubbers.findings import Finding, _uncovered, resolve_overlaps


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


def _scan_every_kept(findings: list[Finding]) -> list[Finding]:
    """The first resolve_overlaps, which scanned every kept finding for each finding: the
    oracle for the indexed lookup (same ranking, same widening, the same _uncovered)."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start, f.entity_type))
    kept: list[Finding] = []
    for f in ranked:
        overlapping = [k for k in kept if f.start < k.end and k.start < f.end]
        if not overlapping:
            kept.append(f)
            continue
        if len(overlapping) == 1 and overlapping[0].entity_type == f.entity_type:
            k = overlapping[0]
            start, end = min(k.start, f.start), max(k.end, f.end)
            if all(o is k or o.end <= start or o.start >= end for o in kept):
                kept[kept.index(k)] = Finding(start, end, k.entity_type, k.score, k.recognizer)
                continue
        kept.extend(Finding(a, b, f.entity_type, f.score) for a, b in _uncovered(f, overlapping))
    return sorted(kept)


dense_spans = st.lists(
    st.tuples(
        st.integers(0, 80),
        st.integers(0, 25),  # zero-length spans too
        st.sampled_from(["PERSON", "US_SSN", "PHONE_NUMBER"]),
        st.sampled_from([0.4, 0.6, 0.85, 1.0]),
    ),
    max_size=40,
)


@given(dense_spans)
def test_indexed_resolution_equals_scanning_every_kept_finding(raw):
    findings = [Finding(s, s + n, e, sc) for s, n, e, sc in raw]
    assert resolve_overlaps(findings) == _scan_every_kept(findings)
