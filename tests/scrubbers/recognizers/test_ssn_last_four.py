"""SsnLastFourRecognizer: four digits answering a "last four of your social" question."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.ssn_last_four import SsnLastFourRecognizer

REC = SsnLastFourRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in REC.analyze(text, ["US_SSN"], None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Agent: What are the last four digits of your Social Security number?\n"
            "Customer: Sure, it's 7435.\n",
            "7435",
        ),
        ("Agent: Can you give me the last four of your social?\nCustomer: 0692.", "0692"),
        ("last 4 of ssn 1234", "1234"),
        ("SSN ending in 9876 on file", "9876"),
        ("the last four of my social security number are 5521", "5521"),
    ],
)
def test_last_four(text, expected):
    assert found(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "the last four of your card 4444",  # a card, not the SSN
        "my social media handle is 2024",  # no last-four question
        "Agent: last four of your social?\nCustomer: I don't have it.\nAgent: ok.\n"
        "Customer: my bill was 1234",  # answer too many turns later
        "last four of your social? 12345",  # five digits
        "last four of your social? 12/2024",  # a date
        "last four of your social? $1,234.50",  # an amount
    ],
)
def test_not_last_four(text):
    assert found(text) == []
