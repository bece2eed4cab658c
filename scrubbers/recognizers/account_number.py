"""Account, member and policy numbers: digit runs that are identifiers only in context."""

from __future__ import annotations

from presidio_analyzer import Pattern

from piizone.scrubbers.recognizers.declared_pattern import DeclaredPatternRecognizer


class AccountNumberRecognizer(DeclaredPatternRecognizer):
    """A 6-17 character number (optionally with a short letter prefix) near an account word.

    Alone, "48213377" could be an amount or an order total; the base score stays under the
    default threshold and the context words lift it. Card numbers, SSNs and phones have their
    own recognizers with checksums and win overlaps by score.
    """

    ENTITY = "ACCOUNT_NUMBER"
    PATTERNS = [
        Pattern("account_digits", r"\b\d{6,17}\b", 0.15),
        Pattern("account_prefixed", r"\b[A-Z]{1,4}-?\d{5,15}\b", 0.2),
        Pattern("account_grouped", r"\b\d{3,6}(?:[- ]\d{3,6}){1,3}\b", 0.15),
    ]
    # Context is matched by substring against lemmas: short words ("id", "ref") would fire inside
    # "did" or "prefer", and "customer" is the speaker label of every transcript turn.
    CONTEXT = [
        "account",
        "acct",
        "member",
        "membership",
        "policy",
        "subscriber",
        "loyalty",
        "routing",
        "reference",
        "contract",
    ]
