"""TitledNameRecognizer: names after a title, before a credential, after an initial."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.titled_name import TitledNameRecognizer
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)


def found(lexicon, text: str) -> list[str]:  # noqa: F811
    rec = TitledNameRecognizer(lexicon=lexicon)
    return [text[r.start : r.end] for r in rec.analyze(text, ["PERSON"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TO SPEAK TO HUSBAND, DR HEALEY, DR VAQUEZ.", ["HEALEY", "VAQUEZ"]),
        ("spoke at length w/dr vasquez, dr rizzo today", ["vasquez", "rizzo"]),
        ("MR. EDWIN PRZYBYLO is an 83 yr old male", ["EDWIN PRZYBYLO"]),
        ("PRONOUNCED BY DR. L. RUUSKA. FAMILY IN", ["L. RUUSKA"]),
        ("Dr. o rourke and Dr. Stronczek in room", ["o rourke", "Stronczek"]),
        ("DR.DISANGRO AWARE", ["DISANGRO"]),
        ("CXR REPORTED OKAY BY DR. KNIGHT.", ["KNIGHT"]),  # a surname that is also a word
        ("Dr. Smith's office called", ["Smith"]),
        ("Social: Andrwe O'connell MD spoke with the daughter", ["Andrwe O'connell"]),
        ("AFTER DISCUSSION W/DR. VASQUEZ/RN, AGREED", ["VASQUEZ"]),
        ("Z. MILLER IN TO STRIP TUBES AND M. PEPPLER PLACING STITCH", ["Z. MILLER", "M. PEPPLER"]),
        ("AS PER E. WELSH: BILAT EFFUSIONS", ["E. WELSH"]),
        ("Gloucestershire 183 ( J. Russell 56 not out )", ["J. Russell"]),
        ("MRS BRUCER FAIR TODAY", ["BRUCER"]),  # "FAIR" starts the next clause
    ],
)
def test_names(lexicon, text, expected):  # noqa: F811
    assert found(lexicon, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "DR AWARE OF PACER DIFFICULTY",
        "MD AWARE, NO NEW ORDERS",
        "GIVEN VITAMIN K. PT TOLERATED",
        "the general public was told",
        "Mr. President said no",
        "U.S. Army and U.K. Navy",
        "psych nurse said she uses it",
        "CALL HOUSE MD IF SBP < 90",
        "see Dr. 's note",
    ],
)
def test_not_names(lexicon, text):  # noqa: F811
    assert found(lexicon, text) == []
