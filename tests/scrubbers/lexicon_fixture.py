"""One name lexicon per test module: it reads the spaCy pipeline's lemmatizer tables."""

from __future__ import annotations

import pytest
import spacy

from piizone.scrubbers.name_lexicon import NameLexicon, lexicon_for
from piizone.scrubbers.policy import load_policy


@pytest.fixture(scope="module")
def lexicon() -> NameLexicon:
    model = load_policy().model.engine.spacy_model
    return lexicon_for(spacy.load(model, exclude=["parser", "senter", "ner"]))
