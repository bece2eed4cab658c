"""Column classification from a sample of values plus the header name."""

from __future__ import annotations

import pandas as pd
import pytest

from piizone.scrubbers.tables import (
    KIND_CLEAN,
    KIND_FREE_TEXT,
    KIND_IDENTIFIER,
    KIND_MIXED,
    classify_column,
    header_hint,
    header_words,
)

COLUMNS = [
    (
        "email",
        ["ann.lee@example.com", "bo@example.org", "cy.d@example.net"] * 5,
        KIND_IDENTIFIER,
        "EMAIL_ADDRESS",
    ),
    (
        "ssn",
        ["536-22-8741", "219-09-9999", "078-05-1121", "412-61-3318"] * 4,
        KIND_IDENTIFIER,
        "US_SSN",
    ),
    (
        "phone",
        ["(415) 555-0134", "212-555-0199", "+1 646 555 0142"] * 5,
        KIND_IDENTIFIER,
        "PHONE_NUMBER",
    ),
    ("first_name", ["Maria", "Kwame", "Ingrid", "Tomás", "Li"] * 4, KIND_IDENTIFIER, "PERSON"),
    ("dob", ["1985-03-14", "1990-12-01", "1979-07-30"] * 5, KIND_IDENTIFIER, "DATE_OF_BIRTH"),
    ("plan", ["basic", "plus", "premium"] * 5, KIND_CLEAN, None),
    ("amount", [12.5, 99.0, 3.25] * 5, KIND_CLEAN, None),
    (
        "notes",
        [
            "Customer asked about the premium plan and upgrade pricing today",
            "Spoke with her husband Mark Johnson about the late payment fee",
            "Prefers paperless billing and asked us to stop sending letters",
        ]
        * 5,
        KIND_FREE_TEXT,
        None,
    ),
    ("comment", ["ok", "call John Carter", "n/a", "fine", "ok thanks"] * 4, KIND_MIXED, None),
    ("empty", ["", "", ""], KIND_CLEAN, None),
]


@pytest.mark.parametrize(("name", "values", "kind", "classification"), COLUMNS)
def test_classify_column(engine, name, values, kind, classification):
    profile = classify_column(engine, name, pd.Series(values))
    assert (profile.kind, profile.classification) == (kind, classification)


def test_header_alone_does_not_classify(engine):
    # A column named "email" full of placeholders is not an e-mail column.
    profile = classify_column(engine, "email", pd.Series(["n/a", "none", "-", "unknown"] * 5))
    assert profile.classification is None


@pytest.mark.parametrize(
    ("header", "hint", "words"),
    [
        ("customer_email", "EMAIL_ADDRESS", "customer email"),
        ("dateOfBirth", "DATE_OF_BIRTH", "date of birth"),
        ("full_name", "PERSON", "full name"),
        ("ip_address", "IP_ADDRESS", "ip address"),
        ("monthly_spend", None, "monthly spend"),
    ],
)
def test_header_hints(header, hint, words):
    assert header_hint(header) == hint
    assert header_words(header) == words
