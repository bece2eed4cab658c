"""How known-value matching reads a text: its words casefolded, its numbers as digit strings.

`Words` maps a text's casefolded word tokens back to the original spans; `Numbers` reads its
numbers, written with any separators or spoken ("five five five, one two three four"), as
digit strings with each digit's source span. scrubbers/known_values.py matches known values
in both.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

MIN_DIGITS = 6  # digits a digit value needs ("42" is everywhere)

_TOKEN = re.compile(r"[^\W_]+")
# Numerals and words of a text, for the digit stream.
_DIGIT_TOKEN = re.compile(r"\d+|[^\W\d_]+")
# What may sit between two digit groups of one number: "(555) 123-4567", "555.123.4567",
# "five five five, one two three". Anything else (a letter, a long gap) ends the number.
_DIGIT_GAP = re.compile(r"[\s\-.()/+,:–—…]{0,4}")


@lru_cache(maxsize=1)
def _spoken():
    """The spoken-digit vocabulary of SpokenNumberRecognizer ("oh", "double five", fillers).

    Imported on first use: the recognizer module loads Presidio, which `piizone --help` and
    the redaction module's import should not pay for.
    """
    from piizone.scrubbers.recognizers.spoken_numbers import SpokenNumberRecognizer

    return SpokenNumberRecognizer, frozenset(SpokenNumberRecognizer.FILLERS)


def word_tokens(text: str) -> list[str]:
    """The casefolded word tokens of `text` (letters and digits; `_` and the rest split)."""
    return [t.casefold() for t in _TOKEN.findall(text)]


class Words:
    """A text as casefolded word tokens joined by spaces, mapped back to the original."""

    def __init__(self, text: str):
        self.text = text
        spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        self.spans = spans
        parts, starts, pos = [], [], 1
        for start, end in spans:
            token = text[start:end].casefold()
            starts.append(pos)
            parts.append(token)
            pos += len(token) + 1
        self.starts = starts
        # Padded with spaces so a key " jane doe " only matches whole tokens.
        self.norm = " " + " ".join(parts) + " " if parts else ""

    def span(self, norm_start: int, n_tokens: int) -> tuple[int, int]:
        """Original [start, end) of the n tokens starting at `norm_start` (a token start)."""
        first = bisect.bisect_left(self.starts, norm_start)
        return self.spans[first][0], self.spans[first + n_tokens - 1][1]


@dataclass
class DigitItem:
    digits: str
    start: int
    end: int


class Numbers:
    """A text's numbers as digit strings, written or spoken, with each digit's source span."""

    def __init__(self, text: str):
        spoken, fillers = _spoken()
        self.segments: list[list[DigitItem]] = []
        items: list[DigitItem] = []
        last_end = None
        tokens = list(_DIGIT_TOKEN.finditer(text))
        i = 0
        while i < len(tokens):
            m = tokens[i]
            word = m.group().casefold()
            item = None
            if word.isdigit():
                item = DigitItem(m.group(), m.start(), m.end())
            elif word in spoken.DIGIT_WORDS:
                item = DigitItem(spoken.DIGIT_WORDS[word], m.start(), m.end())
            elif word in spoken.ZERO_LETTERS and items:
                item = DigitItem("0", m.start(), m.end())
            elif word in spoken.REPEATERS and i + 1 < len(tokens):
                nxt = tokens[i + 1]
                digit = spoken.DIGIT_WORDS.get(nxt.group().casefold())
                if digit is None and nxt.group().casefold() in spoken.ZERO_LETTERS:
                    digit = "0"
                if digit is not None and _DIGIT_GAP.fullmatch(text[m.end() : nxt.start()]):
                    item = DigitItem(digit * spoken.REPEATERS[word], m.start(), nxt.end())
                    i += 1
            elif word in fillers and items:
                i += 1
                continue  # "five five, um, one two": the filler neither joins nor breaks
            if item is None:
                self._close(items)
                items, last_end = [], None
            else:
                gap = text[last_end : item.start] if last_end is not None else ""
                if items and not _gap_joins(gap):
                    self._close(items)
                    items = []
                items.append(item)
                last_end = item.end
            i += 1
        self._close(items)

    def _close(self, items: list[DigitItem]) -> None:
        if items and sum(len(it.digits) for it in items) >= MIN_DIGITS:
            self.segments.append(items)


def _gap_joins(gap: str) -> bool:
    # Filler words were skipped; what is left between the digits must be separators.
    fillers = _spoken()[1]
    words = [w for w in _TOKEN.findall(gap) if w.casefold() not in fillers]
    return not words and len(gap) <= 16 and _DIGIT_GAP.fullmatch(_TOKEN.sub("", gap)) is not None
