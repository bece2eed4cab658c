"""E-mail addresses read out in ASR call transcripts: "jane dot doe at example dot com".

Presidio's e-mail recognizer needs an "@" and dots; speech-to-text writes the words instead.
Plain token logic: no NLP artifacts, runs without spaCy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from presidio_analyzer import RecognizerResult

from piizone.scrubbers.recognizers.text_recognizer import TextRecognizer

_REASON = "spoken e-mail address ending in dot and a known TLD"


@dataclass(frozen=True)
class _Chunk:
    text: str  # lower-cased, surrounding punctuation stripped
    start: int
    end: int


class SpokenEmailRecognizer(TextRecognizer):
    """An address spoken around "at": local part words, then domain labels joined by "dot".

    The anchor is the domain: it must end in "dot <known tld>" ("example dot com", "example.com",
    "example dot co dot uk"). Ordinary "at" phrases ("look at that", "at home") have no such tail,
    which keeps the recognizer quiet on normal speech.
    """

    ENTITY = "EMAIL_ADDRESS"
    SCORE = 0.8

    AT_WORDS = ("at", "@")
    DOT_WORDS = ("dot", "period")
    # Spoken symbols inside the local part ("jane underscore doe") or a domain label ("my dash co").
    LOCAL_JOINERS = ("dot", "period", "underscore", "dash", "hyphen", "plus")
    LABEL_JOINERS = ("dash", "hyphen")
    SPOKEN_DIGITS = frozenset({
        "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "double", "triple",
    })  # fmt: skip
    # "at" (Austria) is left out on purpose: it is the keyword itself.
    TLDS = frozenset({
        "com", "org", "net", "edu", "gov", "mil", "int", "io", "co", "uk", "us", "ca", "de", "fr",
        "es", "it", "nl", "be", "ch", "se", "no", "dk", "fi", "ie", "au", "nz", "in", "jp", "cn",
        "br", "mx", "ru", "pl", "eu", "info", "biz", "me", "tv", "ai", "app", "dev", "xyz",
    })  # fmt: skip
    # Big mail providers: "jane doe at gmail dot com" is a name read as the local part, so the
    # word before the single local word is included too (redacting a word too many is cheaper
    # than leaking a surname).
    MAIL_PROVIDERS = frozenset({
        "gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "msn", "aol", "icloud", "me",
        "mac", "protonmail", "proton", "comcast", "verizon", "att", "sbcglobal", "gmx", "yandex",
        "zoho", "fastmail",
    })  # fmt: skip
    # Words that come before "at" in ordinary speech or introduce an address; never a local part.
    STOPWORDS = frozenset({
        "a", "an", "the", "i", "im", "me", "you", "your", "he", "him", "she", "her", "we", "us",
        "they", "them", "it", "its", "is", "was", "be", "been", "am", "are", "were", "my", "our",
        "their", "his", "this", "that", "these", "those", "there", "here", "what", "where", "who",
        "look", "looking", "looked", "good", "bad", "great", "arrive", "arrived", "arriving",
        "back", "stay", "staying", "meet", "met", "work", "home", "email", "e-mail", "mail",
        "address", "send", "sent", "reach", "contact", "call", "write", "and", "or", "but", "so",
        "to", "from", "of", "in", "on", "by", "for", "with", "yes", "yeah", "yep", "no", "okay",
        "ok", "sure", "um", "uh", "like", "just", "also", "still", "right", "now", "then",
    })  # fmt: skip
    # No apostrophes: "it's at", "we're at" are contractions, not addresses.
    _LOCAL_RE = re.compile(r"[a-z0-9][a-z0-9._+-]*")
    _LABEL_RE = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)*")
    _CHUNK_RE = re.compile(r"\S+")
    # A speaker label ("customer:", "[00:01:02] agent:", "speaker 1:") is never part of an address,
    # even before a provider domain where one extra word is taken. Same shape as the label rule of
    # SpokenNumberRecognizer.
    _SPEAKER_RE = re.compile(
        r"[ \t]*(?:\[[^\]\n]*\][ \t]*)?"
        r"[A-Za-z][\w.'-]{0,24}(?:[ \t](?:[0-9]{1,3}|[A-Za-z]))?[ \t]*:(?!\d)"
    )
    _EDGE_PUNCT = "\"'()[]{}<>,;:!?."

    def analyze(
        self, text: str, entities: list[str] | None, nlp_artifacts=None
    ) -> list[RecognizerResult]:
        """Find spoken e-mail addresses in `text`; `nlp_artifacts` is not used."""
        if entities and self.ENTITY not in entities:
            return []
        results = []
        for line_start, line in self._lines(text):
            chunks = self._chunks(line, line_start)
            for at in range(1, len(chunks) - 1):
                if chunks[at].text not in self.AT_WORDS:
                    continue
                domain = self._domain_end(chunks, at)
                if domain is None:
                    continue
                end, provider = domain
                start = self._local_start(chunks, at, provider)
                if start is None:
                    continue
                results.append(
                    self.result(chunks[start].start, chunks[end].end, self.SCORE, _REASON)
                )
        return results

    @staticmethod
    def _lines(text: str) -> Iterator[tuple[int, str]]:
        # An address never spans speaker turns; working per line keeps "... at\nagent: ..." apart.
        offset = 0
        for line in text.splitlines(keepends=True):
            yield offset, line
            offset += len(line)

    def _chunks(self, line: str, offset: int) -> list[_Chunk]:
        chunks = []
        label = self._SPEAKER_RE.match(line)
        for match in self._CHUNK_RE.finditer(line, label.end() if label else 0):
            raw = match.group()
            left = len(raw) - len(raw.lstrip(self._EDGE_PUNCT))
            core = raw.strip(self._EDGE_PUNCT)
            if not core:
                continue
            start = offset + match.start() + left
            chunks.append(_Chunk(core.lower(), start, start + len(core)))
        return chunks

    def _domain_end(self, chunks: list[_Chunk], at: int) -> tuple[int, bool] | None:
        """Index of the TLD chunk and whether the domain is a mail provider, or None."""
        first = chunks[at + 1].text
        if not self._LABEL_RE.fullmatch(first) or first in self.STOPWORDS:
            return None
        labels = first.split(".")
        provider = labels[0] in self.MAIL_PROVIDERS
        end = at + 1 if len(labels) >= 2 and labels[-1] in self.TLDS else None
        i = at + 2
        while i + 1 < len(chunks) and self._LABEL_RE.fullmatch(chunks[i + 1].text):
            joiner, word = chunks[i].text, chunks[i + 1].text
            if joiner in self.DOT_WORDS:
                labels.extend(word.split("."))
            elif joiner in self.LABEL_JOINERS:
                labels[-1] += "-" + word
                provider = False
            else:
                break
            if len(labels) >= 2 and labels[-1] in self.TLDS:
                end = i + 1  # keep going: "example dot co" may continue "dot uk"
            i += 2
        return None if end is None else (end, provider)

    def _is_local_word(self, text: str) -> bool:
        return bool(self._LOCAL_RE.fullmatch(text)) and text not in self.STOPWORDS

    def _local_start(self, chunks: list[_Chunk], at: int, provider: bool) -> int | None:
        """Index of the first chunk of the local part that ends just before `at`, or None."""
        start = at - 1
        if not self._is_local_word(chunks[start].text):
            return None
        # Digits read out at the end of the local part ("raymondfrank double five at ...") belong
        # to the word before them; stopping at the digits would leak the name.
        if self._is_spoken_digit(chunks[start].text):
            while start >= 1 and self._is_spoken_digit(chunks[start - 1].text):
                start -= 1
            if start >= 1 and self._is_local_word(chunks[start - 1].text):
                start -= 1
        joined = False
        while start >= 2:
            joiner, word = chunks[start - 1].text, chunks[start - 2].text
            if joiner not in self.LOCAL_JOINERS or not self._is_local_word(word):
                break
            start -= 2
            joined = True
        # Spelled letters or an initial: "j a n e at ...", "j doe at ...".
        while start >= 1 and self._is_letter(chunks[start - 1].text, chunks[start].text):
            start -= 1
            joined = True
        if provider and not joined and start >= 1:
            word = chunks[start - 1].text
            if self._is_local_word(word) and word.isalpha():
                start -= 1
        return start

    def _is_spoken_digit(self, text: str) -> bool:
        return text in self.SPOKEN_DIGITS or text.isdecimal()

    @staticmethod
    def _is_letter(text: str, following: str) -> bool:
        """A spelled letter or an initial ("j doe", "j a n e"); "a" and "i" only inside a spelled
        run, since before a word they are the article and the pronoun."""
        if len(text) != 1 or not text.isalpha():
            return False
        return text not in ("a", "i") or len(following) == 1
