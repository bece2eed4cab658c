"""The name lexicon's caches: one lexicon per live pipeline, and the model-free one for names."""

from __future__ import annotations

import gc
import weakref

import pytest
import spacy

from piizone.scrubbers import name_lexicon
from piizone.scrubbers.name_lexicon import lexicon_for, plain_lexicon


def test_one_lexicon_per_pipeline_and_none_kept_for_a_collected_one():
    nlp = spacy.blank("en")
    lexicon = lexicon_for(nlp)
    assert lexicon_for(nlp) is lexicon
    assert lexicon_for(spacy.blank("en")) is not lexicon  # another pipeline, its own lexicon
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
    lexicon = plain_lexicon()
    assert lexicon.is_first_name(word) is first
    assert (word in lexicon.last_names) is last
    assert lexicon.is_english(word) is english
