"""Filters of the model's PERSON guesses that read the name lists and English words."""

from __future__ import annotations

import pytest

from piizone.scrubbers.filters import FILTERS, FilterContext, trim_lowercase_guess
from piizone.scrubbers.findings import Finding
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)

NOTE = (
    "Neuro: alert and oriented, moves all extremities. Cardiac: sinus rhythm, no ectopy noted "
    "overnight. Resp: lungs clear bilaterally, weaning as tolerated per the plan of care. "
    "GI: tolerating tube feeds at goal, bowel sounds present. Social: family in to visit. "
)

CASES = [
    # (filter, text, value, recognizer, dropped?)
    ("is_common_words_as_name", "PATIENT SUCTIONED FOR THICK TAN", "PATIENT", "SpacyRecognizer",
     True),
    ("is_common_words_as_name", "pt alert, foley draining", "alert", "SpacyRecognizer", True),
    ("is_common_words_as_name", "I just remember Sting was in it", "Sting", "SpacyRecognizer",
     False),  # Title case in edited text: may be a name that is a word
    ("is_common_words_as_name", "DR. SMALL AWARE", "SMALL", "TitledNameRecognizer", False),
    ("is_common_words_as_name", "MARY CALLED", "MARY", "SpacyRecognizer", False),  # listed
    # The capital that opens a sentence, line or bullet is no evidence of a name.
    ("is_common_words_as_name", "Email the report to the team.", "Email", "SpacyRecognizer",
     True),
    ("is_common_words_as_name", "Thanks. Email me later", "Email", "SpacyRecognizer", True),
    ("is_common_words_as_name", "notes:\n* Shipping was late", "Shipping", "SpacyRecognizer",
     True),
    ("is_common_words_as_name", "we asked Email about it", "Email", "SpacyRecognizer",
     False),  # mid-sentence Title case: the writer's capital
    ("is_common_words_as_name", "Sting sang it", "Sting", "SpacyRecognizer", True),
    ("is_common_words_as_name", "per Dr. Hale, keep it up", "Hale", "SpacyRecognizer",
     False),  # the full stop of a title or an initial opens no sentence
    ("is_common_words_as_name", "signed J. Baker", "Baker", "SpacyRecognizer", False),
    ("is_common_words_as_name", "Baker Street was closed", "Baker Street", "SpacyRecognizer",
     False),  # "Street": the writer's capital mid-sentence, and "baker" is a listed surname
    ("is_heading_as_name", "Neuro: alert", "Neuro", "SpacyRecognizer", True),
    ("is_heading_as_name", "Kyle: hello there", "Kyle", "SpacyRecognizer", False),  # listed
    ("is_heading_as_name", "Neuro exam was normal", "Neuro", "SpacyRecognizer", False),
    ("is_lowercase_guess_in_cased_text", NOTE + "abd soft", "abd soft", "SpacyRecognizer", True),
    ("is_lowercase_guess_in_cased_text", NOTE + "lasix given", "lasix", "SpacyRecognizer", True),
    ("is_lowercase_guess_in_cased_text", NOTE + "spoke with mary", "mary", "SpacyRecognizer",
     False),  # a listed name
    ("is_lowercase_guess_in_cased_text", "i can not stand dukakis", "dukakis", "SpacyRecognizer",
     False),  # all lower case: speech-to-text, left alone
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "value", "recognizer", "dropped"), CASES)
def test_filter(lexicon, name, text, value, recognizer, dropped):  # noqa: F811
    at = text.index(value)
    f = Finding(at, at + len(value), "PERSON", 0.85, recognizer)
    assert FILTERS[name](f, FilterContext(text, [f], lexicon)) is dropped


def test_without_a_lexicon_nothing_is_dropped():
    text = "PATIENT SUCTIONED"
    f = Finding(0, 7, "PERSON", 0.85, "SpacyRecognizer")
    ctx = FilterContext(text, [f])
    assert not any(
        FILTERS[n](f, ctx)
        for n in ("is_common_words_as_name", "is_heading_as_name",
                  "is_lowercase_guess_in_cased_text")
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "guess", "kept"),
    [
        # a post: the English words at the edges of a lower-case guess go, the name stays
        ("Look how fast rowena runs now !", "rowena runs", "rowena"),
        ("Omg love ya rowena", "ya rowena", "rowena"),
        # only words, or not a listed name left: left whole for is_lowercase_guess_in_cased_text
        ("Omg love ya girl", "ya girl", "ya girl"),
        ("Drains thick tan sputum", "thick tan", "thick tan"),  # "tan": a surname, a word
        ("pl ct cont to drain zqxlor fluid", "zqxlor fluid", "zqxlor fluid"),
        # a long text with capitals, or one without any: the guess is left as it is
        (NOTE + "spoke with rowena today", "rowena today", "rowena today"),
        ("look how fast rowena runs now", "rowena runs", "rowena runs"),
        # a guess in Title case or from a recognizer that is not a model guess
        ("Look how fast Rowena Runs now !", "Rowena Runs", "Rowena Runs"),
    ],
)
def test_trim_lowercase_guess(lexicon, text, guess, kept):  # noqa: F811
    at = text.index(guess)
    f = trim_lowercase_guess(text, Finding(at, at + len(guess), "PERSON", 0.85, "SpacyRecognizer"),
                             lexicon)  # fmt: skip
    assert text[f.start : f.end] == kept


def test_trim_lowercase_guess_leaves_other_recognizers(lexicon):  # noqa: F811
    text = "Look how fast rowena runs now !"
    f = Finding(14, 25, "PERSON", 0.85, "PersonNameRecognizer")
    assert trim_lowercase_guess(text, f, lexicon) == f
