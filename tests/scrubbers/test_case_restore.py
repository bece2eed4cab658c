"""Case-restored copies of ALL-CAPS and lower-case lines for a second NER pass."""

from __future__ import annotations

import pytest

from piizone.scrubbers.case_restore import line_case, restore_case
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "i was reading isaac asimov and frank e peretti uh-huh",
            "I was reading Isaac Asimov and Frank E Peretti uh-huh",
        ),
        (
            "we watched dan rather on the news\nyeah with macneil lehrer too\n",
            "we watched Dan rather on the news\nyeah with Macneil Lehrer too\n",
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
        "DR HEALEY SPOKE WITH LISA ROSSETTI ABOUT THE PLAN.",  # capitals: not restored
        "Seen by Dr Lee.\nfamily in with jouni hahli today\n",  # capitals elsewhere
        "ok",  # too short to judge
        "",
    ],
)
def test_nothing_to_restore(lexicon, text):  # noqa: F811
    assert restore_case(text, lexicon) is None


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("STRASSE UND GROSSE STRAßE HIER", "upper"),
        ("all of this line is lower case", "lower"),
        ("A normal Sentence with Capitals", "mixed"),
        ("short", "mixed"),
    ],
)
def test_line_case(line, kind):
    assert line_case(line) == kind


def test_non_ascii_keeps_offsets(lexicon):  # noqa: F811
    text = "hülya yılmaz istanbul'dan geldi ve çok mutlu oldu straße"
    restored = restore_case(text, lexicon)
    assert restored is not None and len(restored) == len(text)
    assert restored.startswith("Hülya Yılmaz")
