"""The name lexicon's caches: one lexicon per live pipeline, and the model-free one for names."""

from __future__ import annotations

import gc
import weakref

import pytest
import spacy

from piizone.scrubbers import name_lexicon
from piizone.scrubbers.name_lexicon import lexicon_for, plain_lexicon
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)


def test_one_lexicon_per_pipeline_and_none_kept_for_a_collected_one():
    nlp = spacy.blank("en")
    lex = lexicon_for(nlp)
    assert lexicon_for(nlp) is lex
    assert lexicon_for(spacy.blank("en")) is not lex  # another pipeline, its own lexicon
    gc.collect()
    alive = weakref.ref(nlp)
    held = len(name_lexicon._LEXICONS)
    del nlp
    gc.collect()
    # Keyed weakly by the pipeline: the entry goes with it, so a later pipeline that Python
    # puts at the same address (the same id()) can never be handed this one's lexicon.
    assert alive() is None
    assert len(name_lexicon._LEXICONS) == held - 1


@pytest.mark.parametrize(
    "word, first, last, english",
    [
        ("maria", True, True, True),  # Webster's has "maria": English as far as names go
        ("gonzalez", False, True, False),
        ("john", True, True, False),
        ("smith", True, True, True),
        ("features", False, False, True),  # an inflection of a headword
        ("results", False, False, True),
        ("roberta", True, False, False),
    ],
)
def test_plain_lexicon_needs_no_pipeline(word, first, last, english):
    lex = plain_lexicon()
    assert lex.is_first_name(word) is first
    assert (word in lex.last_names) is last
    assert lex.is_english(word) is english


@pytest.mark.parametrize(
    "word, english",
    [
        ("heard", True),  # irregular forms: the dictionaries list only their headwords
        ("held", True),
        ("children", True),
        ("email", True),  # GCIDE has it, Webster's 1934 does not
        ("jennifer", False),  # names stay names
        ("gonzalez", False),
    ],
)
def test_pipeline_english_words_take_irregular_forms_of_headwords(lexicon, word, english):  # noqa: F811
    assert lexicon.is_english(word) is english
