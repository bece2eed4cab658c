"""The document known-names pass: other mentions of a name already found in the same text."""

from __future__ import annotations

import pytest

from piizone.scrubbers.findings import Finding
from piizone.scrubbers.known_names import known_name_findings


def spread(
    text: str, seed: str, score: float = 0.85, recognizer: str = "SpacyRecognizer"
) -> list[str]:
    at = text.index(seed)
    seeds = [Finding(at, at + len(seed), "PERSON", score, recognizer)]
    return [text[f.start : f.end] for f in known_name_findings(text, seeds)]


@pytest.mark.parametrize(
    ("text", "seed", "recognizer", "expected"),
    [
        ("Alexander Lebed met them. Lebed said no.", "Alexander Lebed", "SpacyRecognizer",
         ["Lebed"]),
        ("Frank Peretti wrote it\nyeah peretti is good", "Frank Peretti", "SpacyRecognizer",
         ["peretti"]),  # a lower-case line: any case counts
        ("Shearer scored. Shearer's partner", "Shearer", "SpacyRecognizer", ["Shearer"]),
        ("Van der Westhuizen ran. Westhuizen scored.", "Van der Westhuizen", "SpacyRecognizer",
         ["Westhuizen"]),
        # a title vouches for a name in capitals
        ("DR. KNIGHT AWARE.\nKNIGHT ORDERED LASIX.", "KNIGHT", "TitledNameRecognizer",
         ["KNIGHT"]),
    ],
)  # fmt: skip
def test_other_mentions(text, seed, recognizer, expected):
    assert spread(text, seed, recognizer=recognizer) == expected


@pytest.mark.parametrize(
    ("text", "seed", "score"),
    [
        (
            "Sir Lancelot the Knight. A knight rode by.",
            "Knight",
            0.85,
        ),  # lower case in a cased line
        ("Alexander Lebed met them. Lebed said no.", "Alexander Lebed", 0.6),  # weak seed
        ("Mr. Lee spoke. Mr. Lee left.", "Mr.", 0.85),  # titles are no seeds
        ("Jo left. Jo came back.", "Jo", 0.85),  # too short to spread safely
        ("PT ON IABP.\nIABP REMOVED.", "IABP", 0.85),  # capitals: a guess, not a seed
        ("i read frank e peretti\nyeah peretti is good", "frank e peretti", 0.85),
    ],
)
def test_no_spread(text, seed, score):
    assert spread(text, seed, score) == []
