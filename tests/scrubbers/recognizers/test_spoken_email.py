"""SpokenEmailRecognizer: one table of utterances and the address spans it must (not) find."""

from __future__ import annotations

import pytest

from piizone.scrubbers.recognizers.spoken_email import SpokenEmailRecognizer

CASES = [
    # -- matches: exact span texts in text order --
    pytest.param(
        "customer: it's jane dot doe at example dot com",
        ["jane dot doe at example dot com"],
        id="dot-separated-local-part",
    ),
    pytest.param("customer: j doe at gmail dot com", ["j doe at gmail dot com"], id="initial"),
    pytest.param(
        "customer: jane underscore doe at example dot co dot uk.",
        ["jane underscore doe at example dot co dot uk"],
        id="underscore-and-two-part-tld",
    ),
    pytest.param(
        "customer: it's jane.doe at example.com, thanks",
        ["jane.doe at example.com"],
        id="written-dots",
    ),
    pytest.param(
        "customer: my email is jane doe at gmail dot com",
        ["jane doe at gmail dot com"],
        id="two-words-before-mail-provider",
    ),
    pytest.param(
        "Customer: jdoe at yahoo dot com",
        ["jdoe at yahoo dot com"],
        id="speaker-label-not-taken-as-local-part",
    ),
    pytest.param(
        "customer: it's j a n e at example dot org",
        ["j a n e at example dot org"],
        id="spelled-letters",
    ),
    pytest.param(
        "customer: you can reach me at jane dot doe at example dot com",
        ["jane dot doe at example dot com"],
        id="reach-me-at",
    ),
    pytest.param(
        "customer: jane dash doe at acme dash corp dot net",
        ["jane dash doe at acme dash corp dot net"],
        id="dashes",
    ),
    pytest.param(
        "customer: work is jdoe at acme dot com and home is jane at gmail dot com",
        ["jdoe at acme dot com", "jane at gmail dot com"],
        id="two-addresses-in-one-turn",
    ),
    pytest.param(
        "customer: please change it to raymondfrank double five at hotmail dot com",
        ["raymondfrank double five at hotmail dot com"],
        id="spoken-digits-in-local-part",
    ),
    pytest.param(
        "customer: it's william hopkins two nine at gmail dot com",
        ["william hopkins two nine at gmail dot com"],
        id="name-and-digits-before-mail-provider",
    ),
    # -- non-matches --
    pytest.param("agent: look at that", [], id="no-look-at"),
    pytest.param("customer: i'm at home right now", [], id="no-at-home"),
    pytest.param("agent: can we meet at noon", [], id="no-at-noon"),
    pytest.param("agent: we're at capacity dot com", [], id="no-contraction-before-at"),
    pytest.param("customer: look at this dot com", [], id="no-stopword-domain"),
    pytest.param("customer: jane at example dot foo", [], id="no-unknown-tld"),
    pytest.param("customer: i'm at work dot", [], id="no-dangling-dot"),
    pytest.param("customer: she is good at math", [], id="no-good-at"),
    pytest.param("customer: jane.doe@example.com", [], id="no-written-address-left-to-presidio"),
    pytest.param("customer: jane dot doe at\nagent: example dot com", [], id="no-across-turns"),
]


@pytest.fixture(scope="module")
def recognizer() -> SpokenEmailRecognizer:
    return SpokenEmailRecognizer()


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_spoken_email(recognizer: SpokenEmailRecognizer, text: str, expected: list[str]) -> None:
    results = sorted(
        recognizer.analyze(text, entities=["EMAIL_ADDRESS"], nlp_artifacts=None),
        key=lambda r: r.start,
    )
    assert [text[r.start : r.end] for r in results] == expected
    assert all(r.entity_type == "EMAIL_ADDRESS" and r.score == 0.8 for r in results)


def test_only_requested_entities(recognizer: SpokenEmailRecognizer) -> None:
    text = "customer: jane dot doe at example dot com"
    assert recognizer.analyze(text, entities=["PHONE_NUMBER"], nlp_artifacts=None) == []
