"""scrubbers/organizations.py: a column of company names is not a column of people."""

from __future__ import annotations

import pandas as pd
import pytest

from piizone.scrubbers.organizations import has_company_suffix, is_organization_column
from piizone.scrubbers.tables import KIND_IDENTIFIER, KIND_ORGANIZATION, classify_column
from tests.conftest import SAMPLE_DATA


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dunn LLC", True),
        ("Smith and Sons", True),
        ("Müller GmbH & Co. KG", True),
        ("Rossi e figli", True),
        ("Acme Corporation", True),
        ("Nowak Sp. z o.o.", True),
        ("LLC", False),  # a suffix alone names nobody
        ("Jane Doe", False),
        ("John Smith Jr", False),
        ("Maria D", False),
    ],
)
def test_company_suffixes(value, expected):
    assert has_company_suffix(value) is expected


COMPANIES = ["Dunn LLC", "Pittman-Phillips", "Castro, Andrews and Sanchez", "Cantrell Ltd"] * 10
PEOPLE = ["Jane Doe", "Tom Okonkwo", "Ana Lima", "Wei Zhang", "Sara Kim"] * 8


@pytest.mark.parametrize(
    ("header", "sample", "expected"),
    [
        ("merchant", COMPANIES, True),
        ("vendor_name", COMPANIES, True),
        ("name", ["Dunn LLC", "Acme Inc", "Nowak Sp. z o.o.", "Rossi e figli"] * 5, True),
        ("name", COMPANIES, False),  # hyphens and "and" alone: could be people
        ("merchant", PEOPLE, False),  # a header alone never decides
        ("full_name", PEOPLE, False),
        ("merchant", [], False),
    ],
)
def test_the_column_vote(header, sample, expected):
    assert is_organization_column(header, sample) is expected


def test_the_sample_merchant_column_is_not_persons(engine):
    frame = pd.read_parquet(SAMPLE_DATA / "transactions.parquet")
    assert classify_column(engine, "merchant", frame["merchant"]).kind == KIND_ORGANIZATION
    customers = pd.read_csv(SAMPLE_DATA / "customers.csv")
    profile = classify_column(engine, "full_name", customers["full_name"])
    assert (profile.kind, profile.classification) == (KIND_IDENTIFIER, "PERSON")
