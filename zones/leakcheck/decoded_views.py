"""Decoded views of an output line: what a value looks like once an encoding is undone.

Code in a sandbox can write a value in a form no detector and no fingerprint reads: base64,
hex, URL-encoding, JSON `\\u` escapes, full-width or zero-width-laced Unicode, digits split by
separators or spelled out. The egress check looks at these views too (matching.py), against
the zone's fingerprints and canaries and the policy's detectors.

Every view is bounded (line length, tokens per line, decoded size) so a hostile output cannot
make the check hang or blow up; a line over the bound is viewed in its first part only, and
long outputs are what the other limits of the egress check are for.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import urllib.parse
from collections.abc import Iterator

MAX_VIEW_LINE = 64 * 1024  # characters of a line that are decoded
MAX_TOKENS = 64  # encoded tokens decoded per line
MIN_ENCODED = 12  # shorter base64/hex tokens are ordinary words and numbers

_BASE64 = re.compile(rf"[A-Za-z0-9+/_-]{{{MIN_ENCODED},}}={{0,2}}")
_HEX = re.compile(rf"(?:[0-9a-fA-F]{{2}}){{{MIN_ENCODED // 2},}}")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\U([0-9a-fA-F]{8})")
# Separators people put between digits: "2 1 9 - 0 9 - 9 9 9 9", "219 / 09 / 9999". Not "."
# nor ",": joining "0.91, 0.87, 0.55" would turn every predictions file into long digit runs.
_DIGIT_GAP = re.compile(r"(?<=\d)[\s\-_/()+*|:;]+(?=\d)")
_NUMBER_WORDS = {
    "zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_SPELLED = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def normalized(text: str) -> str:
    """NFKC (full-width and other compatibility forms folded) without invisible format
    characters (zero-width space/joiner, bidi controls, soft hyphen)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def _printable(data: bytes) -> str | None:
    """The bytes as text when they look like text (UTF-8, mostly printable), else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    shown = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r")
    return text if shown >= 0.9 * len(text) else None


def _base64_views(line: str) -> Iterator[str]:
    for match in list(_BASE64.finditer(line))[:MAX_TOKENS]:
        token = match.group().rstrip("=")
        padded = token + "=" * (-len(token) % 4)
        for alt in (None, b"-_"):
            try:
                data = base64.b64decode(padded, altchars=alt, validate=True)
            except (binascii.Error, ValueError):
                continue
            text = _printable(data)
            if text:
                yield text
                break


def _hex_views(line: str) -> Iterator[str]:
    for match in list(_HEX.finditer(line))[:MAX_TOKENS]:
        token = match.group()
        if token.isdigit():  # a plain number: the digit views and the matcher cover it
            continue
        text = _printable(bytes.fromhex(token))
        if text:
            yield text


def _unescaped(line: str) -> str:
    def one(m: re.Match) -> str:
        code = int(next(g for g in m.groups() if g), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m.group()

    return _ESCAPE.sub(one, line)


def digits_joined(text: str) -> str:
    """Spelled digits as digits, and digits separated by spaces/punctuation joined."""
    spelled = _SPELLED.sub(lambda m: _NUMBER_WORDS[m.group().lower()], text)
    return _DIGIT_GAP.sub("", spelled)


def decoded_views(line: str) -> list[str]:
    """Every decoded view of `line` that differs from it: NFKC without format characters,
    URL-decoded, `\\u`/`\\x`-unescaped, and each base64/hex token decoded (deduplicated)."""
    line = line[:MAX_VIEW_LINE]
    views: list[str] = []

    def add(view: str) -> None:
        if view and view != line and view not in views:
            views.append(view)

    base = normalized(line)
    add(base)
    if _PERCENT.search(base):
        add(urllib.parse.unquote_plus(base))
    if "\\" in base:
        add(normalized(_unescaped(base)))
    for decoded in (*_base64_views(base), *_hex_views(base)):
        add(normalized(decoded))
    return views


def digit_views(line: str, decoded: list[str]) -> list[str]:
    """The line and its decoded views with spelled digits written and split digits joined
    (for the fingerprints' digit forms only: detectors would read a joined run as noise)."""
    out: list[str] = []
    for view in [line[:MAX_VIEW_LINE], *decoded]:
        joined = digits_joined(view)
        if joined != view and joined not in out:
            out.append(joined)
    return out
