"""scrubbers/generalize.py: `generalize` and `date_shift`, alone and through a policy."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piizone.scrubbers.generalize import date_shift, generalize, parse_date, shift_days
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.policy import parse_policy

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("entity", "value", "to", "expected"),
    [
        ("DATE_OF_BIRTH", "1984-07-12", None, "1984"),
        ("DATE_OF_BIRTH", "07/12/1984", "decade", "1980s"),
        ("DATE_OF_BIRTH", "12 July 1984", None, "1984"),
        ("DATE_OF_BIRTH", "born in the spring of 1984", None, "1984"),
        ("DATE_OF_BIRTH", "last spring", None, "<DATE_OF_BIRTH>"),
        ("LOCATION", "94110", None, "941**"),
        ("LOCATION", "94110-1234", None, "941**"),
        ("IP_ADDRESS", "203.0.113.77", None, "203.0.113.0/24"),
        ("IP_ADDRESS", "2001:db8:1234:5678::1", None, "2001:db8:1234::/48"),
        ("IP_ADDRESS", "not an ip", None, "<IP_ADDRESS>"),
        ("PERSON", "Jane Doe", None, "<PERSON>"),
    ],
)
def test_generalize(entity, value, to, expected):
    assert generalize(entity, value, to) == expected


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=3650))
def test_the_shift_is_never_zero_and_within_days(key, days):
    offset = shift_days(key, days)
    assert offset != 0 and -days <= offset <= days


@pytest.mark.parametrize("written", ["2024-03-05", "03/05/2024", "5 March 2024", "March 05, 2024"])
def test_date_shift_keeps_the_form_and_the_intervals(written):
    shifted = date_shift("DATE_TIME", written, KEY)
    (before, fmt), (after, fmt_after) = parse_date(written), parse_date(shifted)
    assert fmt == fmt_after and after != before
    later = date(2024, 4, 19).strftime(fmt)
    gap = (parse_date(date_shift("DATE_TIME", later, KEY))[0] - after).days
    assert gap == (date(2024, 4, 19) - before).days  # tenure, time to churn: unchanged
    assert date_shift("DATE_TIME", "soon", KEY) == "<DATE_TIME>"


def test_the_operators_through_a_policy():
    policy = parse_policy(
        "version: 1\nentities:\n"
        "  DATE_OF_BIRTH: {operator: {type: generalize, to: decade}}\n"
        "  IP_ADDRESS: {operator: generalize}\n"
        "  DATE_TIME: {operator: {type: date_shift, days: 10}}\n"
    )
    redactor = Redactor(policy, pseudonym_key=KEY)
    assert redactor.apply("DATE_OF_BIRTH", "1991-02-03") == "1990s"
    assert redactor.apply("IP_ADDRESS", "10.1.2.3") == "10.1.2.0/24"
    shifted = parse_date(redactor.apply("DATE_TIME", "2024-01-15"))[0]
    assert 1 <= abs((shifted - date(2024, 1, 15)).days) <= 10


@pytest.mark.parametrize(
    "bad",
    [
        "  DATE_TIME: {operator: {type: date_shift, days: 0}}\n",
        "  DATE_OF_BIRTH: {operator: {type: generalize, to: age}}\n",
    ],
)
def test_bad_operator_settings_are_refused(bad):
    from piizone.scrubbers.exceptions import PolicyError

    with pytest.raises(PolicyError):
        parse_policy("version: 1\nentities:\n" + bad)


def test_the_new_settings_enter_the_version_only_when_set():
    # Zones and bundles recorded the sha256 of policies written before these settings existed.
    plain = parse_policy("version: 1\nentities:\n  DATE_OF_BIRTH: {operator: replace}\n")
    assert '"to"' not in plain.canonical_json() and '"days"' not in plain.canonical_json()
    decade = parse_policy(
        "version: 1\nentities:\n  DATE_OF_BIRTH: {operator: {type: generalize, to: decade}}\n"
    )
    year = parse_policy("version: 1\nentities:\n  DATE_OF_BIRTH: {operator: generalize}\n")
    assert '"to":"decade"' in decade.canonical_json() and decade.sha256 != year.sha256
