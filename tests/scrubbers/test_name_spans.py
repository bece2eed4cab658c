"""Completing PERSON findings that cover part of a name."""

from __future__ import annotations

import pytest

from piizone.scrubbers.findings import Finding
from piizone.scrubbers.name_spans import complete_names
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)


def widen(lexicon, text: str, part: str) -> str:  # noqa: F811
    at = text.index(part)
    (f,) = complete_names(text, [Finding(at, at + len(part), "PERSON", 0.85)], lexicon)
    return text[f.start : f.end]


@pytest.mark.parametrize(
    ("text", "part", "expected"),
    [
        ("13 - Petr Korda ( Czech Republic ) beat", "Petr", "Petr Korda"),
        ("bowled by Wasim Akram for 12", "Akram", "Wasim Akram"),
        ("Maarten den Bakker won the stage", "Maarten", "Maarten den Bakker"),
        ("the Welsh forward Glyn Davies scored", "Glyn", "Glyn Davies"),
        ("FAMILY: LISA ROSSETTI (DAUGHTER)", "LISA", "LISA ROSSETTI"),
        # nothing to add: English words beside the name, or another case style
        ("Yesterday Smith said the Bank was closed", "Smith", "Smith"),
        ("DR KNIGHT AWARE OF RESULTS", "KNIGHT", "KNIGHT"),
        ("then Jane phoned", "Jane", "Jane"),
        ("Jane NEURO exam", "Jane", "Jane"),
        ("i read isaac asimov last year", "isaac", "isaac asimov"),  # no capitals anywhere
        # after a middle initial a listed surname counts even if it is a word
        ("i saw daniel k baker there", "daniel", "daniel k baker"),
        ("i saw daniel a lot there", "daniel", "daniel"),  # "a" is no initial
        ("i saw daniel baker there", "daniel", "daniel"),  # "baker" is a word
        ("We met Frank E. Young there", "Frank", "Frank E. Young"),
        # a post: the surname typed in lower case after a Title-case first name
        ("so good , Kylie nakamura sang it live", "Kylie", "Kylie nakamura"),
        ("so good , Kylie sang it live", "Kylie", "Kylie"),
        ("then jane phoned Bob", "jane", "jane"),  # capitals elsewhere: no case style
    ],
)
def test_widen(lexicon, text, part, expected):  # noqa: F811
    assert widen(lexicon, text, part) == expected


def test_other_types_untouched(lexicon):  # noqa: F811
    text = "call Boston Harbor today"
    f = Finding(5, 11, "LOCATION", 0.85)
    assert complete_names(text, [f], lexicon) == [f]
