"""PhoneInContextRecognizer: foreign-format numbers only after a phone cue."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.phone_in_context import PhoneInContextRecognizer

REC = PhoneInContextRecognizer()

CASES = [
    ("call me at 78 540 805 tomorrow", "78 540 805"),
    ("my mobile is (87) 221-794", "(87) 221-794"),
    ("Phone: 51 771 18 31", "51 771 18 31"),
    ("reach her on +33 1 42 68 53 00", "+33 1 42 68 53 00"),
    ("order 78 540 805 shipped", None),  # no cue
    ("call about invoice 12 34", None),  # too few digits
    ("we talked about it. later, order 51 771 18 31 shipped and more text followed here", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_phone_in_context(text, expected):
    found = [text[r.start : r.end] for r in REC.analyze(text, ["PHONE_NUMBER"], None)]
    assert found == ([expected] if expected else [])
