"""Each false-positive filter: what it drops and what it must keep."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piizone.scrubbers.filters import FILTERS, FilterContext, apply_filters, trim_name_numbers
from piizone.scrubbers.findings import Finding


def span(text: str, value: str, entity: str, score: float = 0.85) -> Finding:
    start = text.index(value)
    return Finding(start, start + len(value), entity, score)


CASES = [
    # (filter, text, finding value, entity, other findings [(value, entity)], dropped?)
    (
        "is_url_inside_email",
        "mail jane@example.com",
        "example.com",
        "URL",
        [("jane@example.com", "EMAIL_ADDRESS")],
        True,
    ),
    ("is_url_inside_email", "see https://example.com now", "https://example.com", "URL", [], False),
    (
        "is_ner_over_pattern_entity",
        "mail jane.doe@acme.com",
        "jane.doe@acme.com",
        "ORGANIZATION",
        [("jane.doe@acme.com", "EMAIL_ADDRESS")],
        True,
    ),
    (
        "is_ner_over_pattern_entity",
        "at 12 Oak Street, Dover",
        "Oak Street",
        "PERSON",
        [("12 Oak Street, Dover", "STREET_ADDRESS")],
        True,
    ),
    (
        "is_ner_over_pattern_entity",
        "John Smith at jsmith@x.org",
        "John Smith",
        "PERSON",
        [("jsmith@x.org", "EMAIL_ADDRESS")],
        False,
    ),
    ("is_name_without_letters", "id 4417 called", "4417", "PERSON", [], True),
    ("is_name_without_letters", "Ann called", "Ann", "PERSON", [], False),
    ("is_name_with_digits", "ticket T000123 closed", "T000123", "PERSON", [], True),
    ("is_name_with_digits", "ticket TK-441100 closed", "TK-441100", "LOCATION", [], True),
    ("is_name_with_digits", "on 5th Avenue today", "5th Avenue", "LOCATION", [], False),
    ("is_too_short_for_phone", "spend 16.85 monthly", "16.85", "PHONE_NUMBER", [], True),
    ("is_too_short_for_phone", "call 555-0134 today", "555-0134", "PHONE_NUMBER", [], False),
    (
        "is_too_short_for_phone",
        "it's five five five oh one two three four",
        "five five five oh one two three four",
        "PHONE_NUMBER",
        [],
        False,
    ),
    (
        "is_too_short_for_phone",
        "double five one two three four",
        "double five one two three four",
        "PHONE_NUMBER",
        [],
        True,
    ),
    ("is_phone_shaped_nhs", "call (415) 555-0134", "(415) 555-0134", "UK_NHS", [], True),
    ("is_phone_shaped_nhs", "NHS number 943 476 5919", "943 476 5919", "UK_NHS", [], False),
    ("is_acronym_as_name", "CV: HR 80S SR", "CV", "PERSON", [], True),
    ("is_acronym_as_name", "CCU NPN 7P-7A", "CCU NPN", "PERSON", [], True),
    ("is_acronym_as_name", "seen by ANN today", "ANN", "LOCATION", [], False),
    ("is_acronym_as_name", "ANN SMITH CALLED", "ANN SMITH", "PERSON", [], False),
    ("is_acronym_as_name", "Neuro: alert", "Neuro", "PERSON", [], False),
]


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("( A. Dale 69 , D. Blenkiron 4-43 )", "D. Blenkiron 4-43", "D. Blenkiron"),
        ("292 Iain Pyman 71 75", "292 Iain Pyman", "Iain Pyman"),
        ("Durham 114 ( S. Watkin", "Durham 114", "Durham"),
        ("ticket T000123 closed", "T000123", "T000123"),  # digits inside a word: the filter's
        ("Ann Lee", "Ann Lee", "Ann Lee"),
    ],
)
def test_trim_name_numbers(text, value, expected):
    f = trim_name_numbers(text, span(text, value, "PERSON"))
    assert text[f.start : f.end] == expected


def test_trimmed_name_is_kept_by_the_filters():
    text = "Northamptonshire 190 ( K. Curran 5-52 )"
    (kept,) = apply_filters(text, [span(text, "K. Curran 5-52", "PERSON")])
    assert text[kept.start : kept.end] == "K. Curran"


@pytest.mark.parametrize(("name", "text", "value", "entity", "others", "dropped"), CASES)
def test_filter(name, text, value, entity, others, dropped):
    f = span(text, value, entity)
    findings = [f] + [span(text, v, e, 1.0) for v, e in others]
    assert FILTERS[name](f, FilterContext(text, findings)) is dropped


def test_spoken_segments_are_not_too_short_for_a_phone():
    # SpokenNumberRecognizer reports "seven six five" / "eight four oh one ..." read across turns
    # as one segment per turn; it checked the digits of the whole number itself.
    text = "customer: seven six five"
    f = Finding(10, 24, "PHONE_NUMBER", 0.75, "SpokenNumberRecognizer")
    assert not FILTERS["is_too_short_for_phone"](f, FilterContext(text, [f]))
    g = Finding(10, 24, "PHONE_NUMBER", 0.75, "PhoneRecognizer")
    assert FILTERS["is_too_short_for_phone"](g, FilterContext(text, [g]))


def test_apply_filters_counts_what_each_filter_dropped():
    text = "mail jane@example.com, ticket T000123"
    findings = [
        span(text, "jane@example.com", "EMAIL_ADDRESS", 1.0),
        span(text, "example.com", "URL", 0.5),
        span(text, "T000123", "PERSON"),
    ]
    counts: dict[str, int] = {}
    kept = apply_filters(text, findings, counts)
    assert [f.entity_type for f in kept] == ["EMAIL_ADDRESS"]
    assert counts == {"is_url_inside_email": 1, "is_name_with_digits": 1}


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 30), st.sampled_from(["PERSON", "URL"])),
        max_size=30,
    )
)
def test_overlapping_by_position_equals_a_scan_of_every_finding(raw):
    findings = [Finding(s, s + n, e, 0.5) for s, n, e in raw]
    ctx = FilterContext(text="x" * 100, findings=findings)
    for f in findings:
        expected = sorted(id(o) for o in findings if f.start < o.end and o.start < f.end)
        assert sorted(id(o) for o in ctx.overlapping(f)) == expected
