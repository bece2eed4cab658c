"""AccountNumberRecognizer: identifiers only in account/member/policy context."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Her account number is 48213377.", "48213377"),
        ("member id MBR-5512093 on file", "MBR-5512093"),
        ("policy 88213-44120 renewed", "88213-44120"),
        ("The total was 48213377 points last year.", None),
        ("Did you get 4821337 views?", None),  # "did" must not count as "id"
    ],
)
def test_account_number_in_context(engine, text, expected):
    found = [
        text[f.start : f.end] for f in engine.analyze(text) if f.entity_type == "ACCOUNT_NUMBER"
    ]
    assert found == ([expected] if expected else [])
