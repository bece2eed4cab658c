"""DateOfBirthRecognizer: dates score low alone; birth context lifts them (via the engine)."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.date_of_birth import DateOfBirthRecognizer

REC = DateOfBirthRecognizer()

CASES = [
    ("born 03/14/1985", "03/14/1985"),
    ("dob: 1985-03-14", "1985-03-14"),
    ("date of birth March 3rd, 1985", "March 3rd, 1985"),
    ("born on 3 March 1985", "3 March 1985"),
    ("it's july twenty third nineteen thirty five", "july twenty third nineteen thirty five"),
    ("march the fifth two thousand and one", "march the fifth two thousand and one"),
    ("the meeting moved", None),
    ("order 12345 shipped", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_date_patterns(text, expected):
    found = [text[r.start : r.end] for r in REC.analyze(text, ["DATE_OF_BIRTH"], None)]
    assert found == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("text", "is_dob"),
    [
        ("Customer was born on March 3rd, 1985 in Ohio.", True),
        ("My date of birth is 04/12/1979.", True),
        ("customer: my birthday is july twenty third nineteen thirty five", True),
        ("The package shipped on March 3rd, 1985 by mistake.", False),
        ("Invoice dated 04/12/1979 is attached.", False),
    ],
)
def test_context_decides_date_of_birth(engine, text, is_dob):
    assert any(f.entity_type == "DATE_OF_BIRTH" for f in engine.analyze(text)) is is_dob
