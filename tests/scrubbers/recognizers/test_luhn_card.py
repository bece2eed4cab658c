"""LuhnCardRecognizer: issuer prefix + Luhn over 13-19 digits, the cards Presidio's regex misses."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.luhn_card import LuhnCardRecognizer

REC = LuhnCardRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in REC.analyze(text, ["CREDIT_CARD"], None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4976315460539442841 lost", "4976315460539442841"),  # 19-digit Visa
        ("Number is 2270977833954942", "2270977833954942"),  # 2-series Mastercard
        ("my card 213165430617385 is", "213165430617385"),  # 15-digit JCB
        ("4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("amex 3782 822463 10005 please", "3782 822463 10005"),
        ("What is the limit for card 639081551215?", "639081551215"),  # 12-digit Maestro
    ],
)
def test_cards(text, expected):
    assert found(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123 shipped",  # no issuer prefix
        "4111 1111 1111 1112",  # Luhn fails
        "call 4 11 11 11 11 11 11 1",  # digit groups too short to be a card
        "account 41111111111111111111",  # 20 digits
        "1800 555 0199",  # too short
        "id 9111111111111111",  # 9 is no issuer
        "ref 411111111117",  # 12 digits, Luhn valid, but no Maestro prefix
    ],
)
def test_not_cards(text):
    assert found(text) == []
