"""StreetAddressRecognizer: matches and non-matches in one table."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.us_street_address import StreetAddressRecognizer

REC = StreetAddressRecognizer()

CASES = [
    ("I live at 1234 Elm Street, Springfield, IL 62704.", "1234 Elm Street, Springfield, IL 62704"),
    (
        "ship to 957 April Pass Apt. 326, Port Joseph, ME 04643",
        "957 April Pass Apt. 326, Port Joseph, ME 04643",
    ),
    ("send it to 51818 Michelle Summit please", "51818 Michelle Summit"),
    ("office at 10 N. Main St. Suite 400", "10 N. Main St. Suite 400"),
    ("mail PO Box 4411 instead", "PO Box 4411"),
    ("it's four two one oak avenue", "four two one oak avenue"),
    ("mail it to 1635 Peterson Boulevard today", "1635 Peterson Boulevard"),
    (
        "it's four durham lane apartment thirty seven in ames",
        "four durham lane apartment thirty seven",
    ),
    ("five forty chase place unit twenty one c please", "five forty chase place unit twenty one c"),
    ("we sold 12 apples and 3 pears", None),
    ("the 3 of us drove home", None),
    ("version 2 of the Street Fighter game", None),
    # Nursing notes and ASR turns: prose around a suffix-like word is not a street.
    ("ETT secured. 2 days ago pt was extubated", None),
    ("BP DROPPED TO 80/40 AFTER CAPTOPRIL. PT DENIED PAIN", None),
    ("tolerated 5 hours tolerated well.", None),
    ("on 2L O2 via NC", None),
    ("received 10u reg SQ at noon", None),
    ("three beat run of VT, 14 BEAT RUN", None),
    ("it was ten years\nwell anyway", None),
    ("given 3 po. Pt slept", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_street_address(text, expected):
    results = REC.analyze(text, ["STREET_ADDRESS"], None)
    found = [text[r.start : r.end] for r in results]
    assert found == ([expected] if expected else [])
