"""The engine's name passes end to end: case-restored NER, known names, completed spans."""

from __future__ import annotations

import pytest


def names(engine, text: str) -> list[str]:
    return [text[f.start : f.end] for f in engine.analyze(text) if f.entity_type == "PERSON"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # lower-case speech-to-text: the case-restored copy shows the model a name
        ("uh-huh\nyeah i was reading isaac asimov last week\n", ["isaac asimov"]),
        # the surname alone, later in the same document
        (
            "Alexander Lebed met the rebels on Friday. Lebed said the talks went well.",
            ["Alexander Lebed", "Lebed"],
        ),
        ("The team is: DR. KNIGHT, MR. EDWIN PRZYBYLO.", ["KNIGHT", "EDWIN PRZYBYLO"]),
        ("Gloucestershire 183 ( J. Russell 56 not out )", ["J. Russell"]),
    ],
)
def test_names_found(engine, text, expected):
    assert names(engine, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "uh-huh\nyeah i think so\nwe went to the store and it was fine\n",
        "CV: HR 80S SR, NO ECTOPY. NEURO: ALERT. GU: FOLEY PATENT.",
    ],
)
def test_no_names(engine, text):
    assert names(engine, text) == []
