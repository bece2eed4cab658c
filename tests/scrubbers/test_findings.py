"""resolve_overlaps: non-overlapping, and every character any finding covered stays covered."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piizone.scrubbers.findings import (
    LINE_BREAK,
    Finding,
    _uncovered,
    line_parts,
    resolve_overlaps,
    split_at_line_breaks,
)


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


# --- line breaks: a finding never spans one (issue 12, item 5) ------------------------------

NAMES = "Name: Jakob Lauritsen\nDuygu Schakelaar lives here"


@pytest.mark.parametrize(
    ("text", "span", "parts"),
    [
        (NAMES, (6, 38), ["Jakob Lauritsen", "Duygu Schakelaar"]),
        ("Call John\r\nSmith now", (5, 16), ["John", "Smith"]),  # \r\n is one break
        ("Dr. Ann \n\n  Lee", (4, 16), ["Ann", "Lee"]),  # blanks around breaks stay
        ("a John Smith b", (2, 12), ["John Smith"]),  # one line: itself, blanks inside kept
        ("x Jo\u2028Ann y", (2, 8), ["Jo", "Ann"]),  # any str.splitlines() boundary
        ("x \n \n y", (1, 6), []),  # nothing but blanks and breaks
    ],
)
def test_line_parts(text, span, parts):
    assert [text[a:b] for a, b in line_parts(text, *span)] == parts


@pytest.mark.parametrize(
    ("text", "finding", "expected"),
    [
        (NAMES, F(6, 38, score=0.85), [F(6, 21), F(22, 38)]),
        ("Ann Lee\n-", F(0, 9), [F(0, 7)]),  # a piece with no letter or digit is no identity
        (
            "555-\n0100 x",
            F(0, 9, "PHONE_NUMBER", 0.6),
            [F(0, 4, "PHONE_NUMBER", 0.6)] + [F(5, 9, "PHONE_NUMBER", 0.6)],
        ),
        ("Ann Lee", F(0, 7), [F(0, 7)]),
    ],
)
def test_split_at_line_breaks(text, finding, expected):
    assert split_at_line_breaks(text, [finding]) == expected


texts_with_breaks = st.lists(
    st.sampled_from(["a", "b", " ", "1", "-", "\t", "\n", "\r", "\r\n", "\u2028"]), max_size=60
).map("".join)


@given(texts_with_breaks, spans)
def test_split_findings_stay_within_one_line_and_keep_every_alphanumeric(text, raw):
    findings = resolve_overlaps(
        [Finding(s, min(s + n, len(text)), e, sc) for s, n, e, sc in raw if s < len(text)]
    )
    split = split_at_line_breaks(text, findings)
    for f in split:
        assert LINE_BREAK.search(text, f.start, f.end) is None
        if f not in findings:  # a piece of a split finding: no blanks at its ends
            assert text[f.start : f.end] == text[f.start : f.end].strip()
    for a, b in zip(split, split[1:], strict=False):
        assert a.end <= b.start
    alnum = lambda fs: {i for f in fs for i in range(f.start, f.end) if text[i].isalnum()}  # noqa: E731
    assert alnum(split) == alnum(findings)
