"""Showing where PII was found without showing the PII: masked values and masked contexts."""

from __future__ import annotations

from collections.abc import Sequence

from scrubbers.findings import Finding

CONTEXT_CHARS = 40
# PCI DSS allows the last four digits of a card number to be shown; they help a reviewer find
# the record. Nothing else keeps any of its characters.
_KEEP_LAST_DIGITS = {"CREDIT_CARD": 4}


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
        pieces.append(text[pos:a])
        pieces.append(mask_value(text[a:b], f.entity_type))
        pos = b
    pieces.append(text[pos:end])
    body = " ".join("".join(pieces).split())
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
