"""SpokenDateOfBirthRecognizer: numeric dates read as digit words, in a birth context."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.spoken_date_of_birth import SpokenDateOfBirthRecognizer

REC = SpokenDateOfBirthRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in REC.analyze(text, ["DATE_OF_BIRTH"], None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "agent: date of birth please\ncustomer: it's oh seven oh nine nineteen fifty\n",
            "oh seven oh nine nineteen fifty",
        ),
        (
            "customer: robin was born on one oh two seven nineteen fifty",
            "one oh two seven nineteen fifty",
        ),
        (
            "my birthday is zero three one four one nine eight five",
            "zero three one four one nine eight five",
        ),
        (
            "dob twelve? no. one two three one two thousand one",
            "one two three one two thousand one",
        ),
        (
            "born on three slash five slash nineteen ninety",
            "three slash five slash nineteen ninety",
        ),
    ],
)
def test_spoken_dob(text, expected):
    assert found(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "the card expires oh one two thousand thirty",  # no birth word
        "agent: and the expiration date\ncustomer: oh one two nine",  # no year
        "born on oh seven",  # no day and year
        "date of birth\ncustomer: one three one four nineteen fifty",  # month 13
        "date of birth\ncustomer: oh one four two nineteen fifty",  # day 42
    ],
)
def test_not_spoken_dob(text):
    assert found(text) == []
