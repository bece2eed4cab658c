"""Case-restored copies of ALL-CAPS and lower-case lines for a second NER pass."""

from __future__ import annotations

import pytest

from scrubbers.case_restore import line_case, restore_case
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "DR HEALEY SPOKE WITH LISA ROSSETTI ABOUT THE PLAN.",
            "DR Healey spoke with Lisa Rossetti about the plan.",
        ),
        (
            "i was reading isaac asimov and frank e peretti uh-huh",
            "I was reading Isaac Asimov and Frank E Peretti uh-huh",
        ),
        ("PT ALERT, MAE X4, CXR DONE BY NIGHT TEAM", "PT alert, MAE X4, CXR done by night team"),
        # mixed-case lines are kept; only the shouting line changes
        (
            "Seen by Dr Lee today.\nFAMILY IN WITH JOUNI HAHLI\n",
            "Seen by Dr Lee today.\nfamily in with Jouni Hahli\n",
        ),
    ],
)
def test_restored(lexicon, text, expected):  # noqa: F811
    restored = restore_case(text, lexicon)
    assert restored == expected
    assert len(restored) == len(text)


@pytest.mark.parametrize(
    "text",
    [
        "An ordinary sentence, written by Jane Doe in Boston.",
        "ok",  # too short to judge
        "",
    ],
)
def test_nothing_to_restore(lexicon, text):  # noqa: F811
    assert restore_case(text, lexicon) is None


def test_case_mapping_that_changes_length_keeps_the_word():
    # "ß".upper() is "SS": such a word stays as written, so offsets still hold.
    assert line_case("STRASSE UND GROSSE STRAßE HIER") == "upper"


def test_non_ascii_keeps_offsets(lexicon):  # noqa: F811
    text = "HÜLYA YILMAZ İSTANBUL'DAN GELDİ VE ÇOK MUTLU OLDU"
    restored = restore_case(text, lexicon)
    assert restored is not None and len(restored) == len(text)
    assert restored.startswith("Hülya Yilmaz")
