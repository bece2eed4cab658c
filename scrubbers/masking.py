"""Showing where PII was found without showing the PII: masked values and masked contexts."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from piizone.scrubbers.findings import Finding

CONTEXT_CHARS = 40
# PCI DSS allows the last four digits of a card number to be shown; they help a reviewer find
# the record. Nothing else keeps any of its characters.
_KEEP_LAST_DIGITS = {"CREDIT_CARD": 4}
# Context around a hit is text the detectors may have missed PII in (a member number, a name
# NER did not tag), so it keeps only what is very unlikely to identify anyone: lower-case words
# and punctuation. Masked: every digit, every word starting with a capital letter, and every
# token holding an '@'. Lower-case names ("jane") can still show; the hit itself never does.
_CONTEXT_AT_TOKEN = re.compile(r"\S*@\S*")
_CONTEXT_CAPITALISED = re.compile(r"(?<![\w])[A-Z][\w'’-]*")
_CONTEXT_DIGIT = re.compile(r"\d")
_EMAIL_IN_NAME = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_NAME_SEPARATORS = re.compile(r"[_\-.+~,]")
# A number in a file name is masked when it has this many digits or more (across `-`/`.`/space
# separated groups): long enough to be an SSN, phone, account or date (`123-45-6789`,
# `2024-01-15`); shorter ones are sequence numbers a zone's layout needs (`call_003.txt`).
_NUMBER_IN_NAME = re.compile(r"\d+(?:[-. ]\d+)*")
MIN_NAME_NUMBER_DIGITS = 5


def mask_value(value: str, entity_type: str) -> str:
    """Every letter and digit becomes '*' (a card keeps its last four digits); shape remains."""
    keep = _KEEP_LAST_DIGITS.get(entity_type, 0)
    digits_seen = 0
    out = []
    for ch in reversed(value):
        if ch.isdigit() and digits_seen < keep:
            out.append(ch)
            digits_seen += 1
        elif ch.isalnum():
            out.append("*")
        else:
            out.append(ch)
    return "".join(reversed(out))


def masked_context(
    text: str, focus: Finding, findings: Sequence[Finding], width: int = CONTEXT_CHARS
) -> str:
    """Up to `width` characters either side of `focus`, with every finding in view masked."""
    start, end = max(0, focus.start - width), min(len(text), focus.end + width)
    pieces, pos = [], start
    for f in sorted(findings):
        if f.end <= start or f.start >= end:
            continue
        a, b = max(f.start, start), min(f.end, end)
        if a < pos:
            continue
        pieces.append(_mask_context(text[pos:a]))
        pieces.append(mask_value(text[a:b], f.entity_type))
        pos = b
    pieces.append(_mask_context(text[pos:end]))
    body = " ".join("".join(pieces).split())
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


def _mask_context(text: str) -> str:
    """Context text (not a finding) with digits, capitalised words and '@' tokens masked."""
    text = _CONTEXT_AT_TOKEN.sub(lambda m: mask_value(m.group(), ""), text)
    text = _CONTEXT_CAPITALISED.sub(lambda m: mask_value(m.group(), ""), text)
    return _CONTEXT_DIGIT.sub("*", text)


def mask_name(name: str, analyze: Callable[[str], Sequence[Finding]] | None = None) -> str:
    """A file name (or path component) with what could be PII masked, for plaintext metadata.

    E-mail addresses become `EMAIL`, each digit of a number with 5+ digits `#`, and each finding
    of `analyze` (if given: the engine, run on the name with `_-.` read as spaces) is masked like
    a value. The extension stays (it says the format). A name needs no NER to leak:
    `jane.doe@example.com_123-45-6789.csv`.
    """
    suffix = ""
    dot = name.rfind(".")
    if dot > 0 and name[dot + 1 :].isalpha():
        name, suffix = name[:dot], name[dot:]
    out = _EMAIL_IN_NAME.sub("EMAIL", name)
    if analyze is not None:
        spaced = _NAME_SEPARATORS.sub(" ", out)
        for f in analyze(spaced):
            out = out[: f.start] + mask_value(out[f.start : f.end], f.entity_type) + out[f.end :]
    return _NUMBER_IN_NAME.sub(_mask_long_number, out) + suffix


def _mask_long_number(m: re.Match[str]) -> str:
    number = m.group()
    if sum(c.isdigit() for c in number) < MIN_NAME_NUMBER_DIGITS:
        return number  # `call_003`, `v2`, `part-12`: a sequence number, not an identifier
    return _CONTEXT_DIGIT.sub("#", number)
