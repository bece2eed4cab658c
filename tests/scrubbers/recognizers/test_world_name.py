"""WorldNameRecognizer: first names of any origin with a surname; NER labels that are names."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import spacy

from piizone.scrubbers.policy import load_policy
from piizone.scrubbers.recognizers.world_name import WorldNameRecognizer
from tests.scrubbers.lexicon_fixture import lexicon  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def nlp():
    return spacy.load(load_policy().model.engine.spacy_model, exclude=["parser", "senter"])


def found(lexicon, nlp, text: str) -> list[str]:  # noqa: F811
    rec = WorldNameRecognizer(lexicon=lexicon)
    artifacts = SimpleNamespace(tokens=nlp(text))
    return sorted(text[r.start : r.end] for r in rec.analyze(text, ["PERSON"], artifacts))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The winner was Jouni Hahli from the north.", ["Jouni Hahli"]),
        ("Yesterday Duygu Schakelaar signed the contract.", ["Duygu Schakelaar"]),
        ("292 Costantino Rocca 71 75 75 71", ["Costantino Rocca"]),
        ("i was reading isaac asimov last week", ["isaac asimov"]),
        ("Then Hülya said she would come.", ["Hülya"]),
        ("Directed By: Kyosuke Takahashi", ["Kyosuke Takahashi"]),  # Faker's romanized names
        ("Costantino H Rocca, the dancer, said", ["Costantino H Rocca"]),  # middle initial
    ],
)
def test_names(lexicon, nlp, text, expected):  # noqa: F811
    assert found(lexicon, nlp, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a post: a listed first name typed in lower case, no English word
        ("lol i think gabriella is right about that", ["gabriella"]),
        ("So proud of my girl natasha today !", ["natasha"]),
        ("Congrats to ludmila Petrenko on the win", ["ludmila Petrenko"]),
        # the person addressed after a greeting or thanks, listed or not
        ("Hi Zorbek , can you share the file ?", ["Zorbek"]),
        ("Thank you Quillon for the help", ["Quillon"]),
        ("bye Quillon !", ["Quillon"]),
        ("thanks nakamura !", ["nakamura"]),  # a listed surname typed in lower case
        # a word no dictionary knows as the subject of a sentence in a post
        ("Zorbek is so funny 😂", ["Zorbek"]),
        ("i think zorbek said it best", ["zorbek"]),  # no capital anywhere
    ],
)
def test_names_in_posts(lexicon, nlp, text, expected):  # noqa: F811
    assert found(lexicon, nlp, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # a long text with capitals shows its writer's case habits: lower case is no name
        "The patient was seen by the team in the morning and remained stable. "
        "Plan: continue current regimen, review labs tomorrow, family updated at bedside. "
        "Skin intact, afebrile overnight, tolerating diet, ambulating in the hall with help. "
        "Note that natasha is the name of the new pump protocol on the unit.",
        "Hi Everyone , welcome back",  # English words after a greeting
        "Thanks Team for the update",
        "thanks baker , see you",  # a listed surname that is a word
        "Customer: Hi, I'd like to open an account",  # a contraction, not a name
        "You're right, They'll say so",
        "hey guys check this out lol",  # lower case: only listed first names count
        "I love my dog so much",
        "your vedo is on trending",  # after a possessive: a thing
        "wtf is this lol",  # chat words
        "Only change overnoc was to lower the rate",  # lower case in a text with capitals
        "The river is high today",
    ],
)
def test_not_names_in_posts(lexicon, nlp, text):  # noqa: F811
    assert found(lexicon, nlp, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "We flew to Paris and then to Sofia.",  # first names that are places
        "Mark the date and Grace will bring the cake.",  # names that are English words
        "The Victoria Station was closed.",
        "i will mark the date in may",
        "THE PATIENT WAS SEEN TODAY",
    ],
)
def test_not_names(lexicon, nlp, text):  # noqa: F811
    assert found(lexicon, nlp, text) == []


@pytest.mark.parametrize(
    ("text", "entity", "label", "expected"),
    [
        ("won by Marion Clignet today", "Marion Clignet", "ORG", ["Marion Clignet"]),
        ("Where is Kishan now", "Kishan", "ORG", ["Kishan"]),  # one unknown word
        ("the Jouni Hahli group", "Jouni Hahli", "NORP", ["Jouni Hahli"]),
        # The trade: one unknown Title-case word tagged ORG is taken for a name, companies too.
        ("shares of Novartis rose", "Novartis", "ORG", ["Novartis"]),
        ("shares of Google rose", "Google", "ORG", []),  # a dictionary word ("to google")
        ("NASA launched it", "NASA", "ORG", []),  # acronyms are organisations
        ("the Bank of England said", "Bank of England", "ORG", []),
        ("flights to Hahli were cut", "Hahli", "GPE", []),  # a lone word tagged a place
    ],
)
def test_other_labels(lexicon, nlp, text, entity, label, expected):  # noqa: F811
    doc = nlp.make_doc(text)
    at = text.index(entity)
    doc.ents = [doc.char_span(at, at + len(entity), label=label)]
    rec = WorldNameRecognizer(lexicon=lexicon)
    got = rec.analyze(text, ["PERSON"], SimpleNamespace(tokens=doc))
    assert sorted(text[r.start : r.end] for r in got) == expected
