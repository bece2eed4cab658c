"""PersonNameRecognizer: census-listed names after cues, name pairs, lone first names, spelling."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.person_name import PersonNameRecognizer

REC = PersonNameRecognizer()
REC.load()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in REC.analyze(text, ["PERSON"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer: my name is stephanie rose", ["stephanie rose"]),
        ("agent: thanks kyle will get a card in about ten days", ["kyle"]),
        ("agent: harbor energy this is leah speaking", ["leah"]),
        ("customer: no that's all thanks tom", ["tom"]),
        ("customer: um it's tara davis spelled d a v i s", ["tara davis", "d a v i s"]),
        ("Customer: It's Michelle Perry, that's P-E-R-R-Y.", ["Michelle Perry", "P-E-R-R-Y"]),
        ("Thank you for calling, my name is Priya.", ["Priya"]),  # unlisted, strong cue
        ("customer: my name is priya", ["priya"]),
        ("customer: uh stephanie was born on", ["stephanie"]),
        ("customer: bradley wright", ["bradley wright"]),
        ("[00:01:02] agent: hi jessica", ["jessica"]),
        ("customer: my name is mason carter", ["mason carter"]),
        ("customer: it's john lopez last name is spelled l o p e z", ["john lopez", "l o p e z"]),
        # a name typed in lower case in a post or chat line with capitals, after "my name is"
        ("Hello ! My name is zorvanka and I love your channel", ["zorvanka"]),
        # initials a person goes by, after a name cue
        ("and his name is t j\nhe works there", ["t j"]),
        ("customer: my name is J. R. and i have a question", ["J. R"]),
    ],
)
def test_names(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "customer: it's fine thanks",
        "agent: it's on the way",
        "agent: is there anything else i can help you with",
        "Will you mark the date in May?",
        "customer: i live near the bank and the church",
        "customer: this is great",
        "customer: i'm sorry i'm calling again",
        "agent: it will arrive in five to seven business days",
        "the price is right",
        "Agent: the usa and the uk",  # two-letter words are not spelled names
        "customer: a b c",  # three letters without a spelling cue
        "the batch code is zbrqe9d57fe77bfa today",  # letters inside a code are not words
        "ref is ab12 fe34 lee56",
        "my name is a",  # one letter is no name
        "his name is on the card",
        "My name is not important here",  # lower-case words after the cue in edited text
        "Hi, my name is fine, thanks",
        "the answer is b c",  # letters without a name cue
        "John Smith",  # capitalised edited text without cue or listed pair... is a pair
    ][:-1],
)
def test_not_names(text):
    assert found(text) == []


def test_speaker_label_is_never_a_name():
    assert found("grant: hello there\nmay: yes") == []


def test_lower_case_word_in_edited_text_is_not_a_name():
    assert found("The bill was paid by carter on Monday.") == []


def test_entities_filter():
    assert REC.analyze("my name is kyle", ["EMAIL_ADDRESS"]) == []
