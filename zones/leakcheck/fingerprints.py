"""Keyed fingerprints of the original PII values a zone's sources held, and matching them.

Why: redaction removes a value from the zone, so the policy's detectors are the only egress
check left — and they miss a value written in a form they do not recognise (a bare name in a
CSV cell, an SSN without dashes). A session's code cannot have seen an original value in the
zone, so if one shows up in its outputs it came from elsewhere (a memorised pre-trained model,
data smuggled in) or the redaction missed it: either way it must not leave. Fingerprints catch
exactly those values, whatever detector would or would not fire on them.

* A fingerprint is HMAC-SHA256(fingerprint key, kind ‖ normalized value), truncated to 128 bits.
  The key is derived from the zone's DEK with HKDF (info b"piizone-fingerprints"): without the
  DEK a fingerprint cannot be recomputed from a guessed value, and crypto-shredding the zone
  (deleting its wrapped DEK) kills the fingerprints with the data. Raw values and unkeyed
  hashes are never stored.
* Normalized forms: *text* values are casefolded and split into word tokens (letters and
  digits; punctuation, `_` and whitespace separate), joined by one space — "Maria  Gonzalez",
  "MARIA_GONZALEZ" and "maria.gonzalez" are one form; *digit* values (SSNs, phones, cards,
  account numbers, and any value that is digits and separators only) keep their digits only —
  "219-09-9999" and "219 09 9999" are one form.
* Very short forms are not fingerprinted (fewer than 5 letters/digits for text, 6 digits for
  digit values): "Al" or a 4-digit number would match ordinary output all the time.
* Nor is a lone ordinary English word: one that a dictionary writes in lower case and that is
  common in English text (wordfreq Zipf >= 4, the known-values guard's bar) — "Email" that NER
  took for a person, "Grace" or "Baker" alone. Its fingerprint would hold every output using
  the word. Single names that are not such words ("Jennifer", "Gonzalez") are kept, and so is
  every value of two or more words ("Grace Baker").
* Matching an output line: every n-gram of its word tokens (n up to the longest fingerprinted
  token count; only the n that occur) and every digit run (digits joined by single separators,
  windows aligned to the run's digit groups) is keyed and looked up.

The set is stored in the zone as `fingerprints.bin`, encrypted with the zone's DEK (bound to
that path), listed in the manifest with its plaintext sha256 and count. Canaries (canaries.py)
reuse the same matcher with their own entries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from piizone.scrubbers.entities import DIGIT_ENTITIES
from piizone.scrubbers.known_values import is_common_word
from piizone.scrubbers.name_lexicon import dictionary_words
from piizone.zones.exceptions import ZoneError
from piizone.zones.storage.crypto import EncryptingWriter, iter_decrypt
from piizone.zones.storage.manifest import SideFile, ZoneManifest

FINGERPRINTS_FILE = "fingerprints.bin"
FORMAT = "piizone-fingerprints"
HKDF_INFO = b"piizone-fingerprints"
DIGEST_BYTES = 16
MIN_TEXT_CHARS = 5
MIN_DIGITS = 6
# Operators that leave the value in the zone: fingerprinting it would flag the zone's own data.
_KEEPING_OPERATORS = frozenset({"keep"})
_TOKEN = re.compile(r"[^\W_]+")
_WHITESPACE = re.compile(r"\s+")
_DIGITS_AND_SEPARATORS = re.compile(r"[\d\s().+/-]+")
# A digit run: digit groups joined by one separator (or "(555) 010"): phone, SSN and card layouts.
_DIGIT_RUN = re.compile(r"\d+(?:(?:[ .\-/]|\) ?|[ .\-]?\()\d+)*")
# A plain decimal number (a metric, a prediction): its fraction would otherwise be a digit
# group tried against every stored length, and model outputs are full of them.
_DECIMAL = re.compile(r"\d+\.\d+")


class FingerprintError(ZoneError):
    """A zone's fingerprints or canaries could not be read."""


def fingerprint_key(dek: bytes) -> bytes:
    """The HMAC key, bound to the zone's DEK: it dies with crypto-shredding."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(dek)


def _digest(key: bytes, form: str) -> bytes:
    return hmac.digest(key, form.encode("utf-8"), "sha256")[:DIGEST_BYTES]


def value_form(entity_type: str, value: str) -> tuple[str, int] | None:
    """("t\\0tokens" or "d\\0digits", size) — size is the token count or digit count — or None
    when the value is too short to fingerprint without matching ordinary text."""
    digits = "".join(c for c in value if c.isdigit())
    if entity_type in DIGIT_ENTITIES or (
        len(digits) >= MIN_DIGITS and _DIGITS_AND_SEPARATORS.fullmatch(value.strip())
    ):
        if len(digits) >= MIN_DIGITS:
            return "d\0" + digits, len(digits)
        return None
    tokens = _TOKEN.findall(_WHITESPACE.sub(" ", value.strip()).casefold())
    if sum(len(t) for t in tokens) < MIN_TEXT_CHARS:
        return None
    if len(tokens) == 1 and is_ordinary_word(tokens[0]):
        return None
    return "t\0" + " ".join(tokens), len(tokens)


def is_ordinary_word(token: str) -> bool:
    """A casefolded token that is a common English dictionary word (see the module docstring)."""
    return token.isalpha() and token in dictionary_words() and is_common_word(token)


@dataclass
class FingerprintSet:
    """digest -> entity type, plus the n-gram sizes and digit lengths worth trying on output."""

    entries: dict[bytes, str] = field(default_factory=dict)
    ngram_sizes: set[int] = field(default_factory=set)
    digit_lengths: set[int] = field(default_factory=set)
    # Keyed digests of each text value's first token: the matcher keys an output's tokens once
    # each and builds n-grams only where one of these starts (10x fewer HMACs on typical text).
    first_tokens: set[bytes] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, key: bytes, entity_type: str, value: str) -> bool:
        form = value_form(entity_type, value)
        if form is None:
            return False
        text, size = form
        self.entries.setdefault(_digest(key, text), entity_type)
        if text[0] == "d":
            self.digit_lengths.add(size)
        else:
            self.ngram_sizes.add(size)
            self.first_tokens.add(_digest(key, "f\0" + text[2:].split(" ", 1)[0]))
        return True

    def update(self, other: FingerprintSet) -> None:
        for digest, entity in other.entries.items():
            self.entries.setdefault(digest, entity)
        self.ngram_sizes |= other.ngram_sizes
        self.digit_lengths |= other.digit_lengths
        self.first_tokens |= other.first_tokens

    def to_bytes(self) -> bytes:
        # Sorted by digest: the file's order says nothing about where values came from.
        return json.dumps(
            {
                "format": FORMAT,
                "version": 1,
                "ngram_sizes": sorted(self.ngram_sizes),
                "digit_lengths": sorted(self.digit_lengths),
                "first_tokens": sorted(d.hex() for d in self.first_tokens),
                "entries": [[d.hex(), e] for d, e in sorted(self.entries.items())],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> FingerprintSet:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT or doc.get("version") != 1:
                raise ValueError("unknown format")
            return cls(
                entries={bytes.fromhex(d): e for d, e in doc["entries"]},
                ngram_sizes={int(n) for n in doc["ngram_sizes"]},
                digit_lengths={int(n) for n in doc["digit_lengths"]},
                # Absent in sets written before the prefilter: the matcher then tries every
                # n-gram (slower, same result).
                first_tokens={bytes.fromhex(d) for d in doc.get("first_tokens", [])},
            )
        except (ValueError, KeyError, TypeError) as e:
            raise FingerprintError(f"unreadable fingerprint set ({type(e).__name__})") from None


class FingerprintCollector:
    """Collects fingerprints of the values the redactor transforms while a zone is built.

    Hooked into `Redactor.apply_operator` (see `collecting_redactor`): every value the policy
    redacts passes there exactly once per distinct value and column, both for text findings and
    for classified table columns, so no second scan of the sources is needed. Only the digest
    is kept; the value is dropped as soon as it is keyed.
    """

    def __init__(self, dek: bytes):
        self._key = fingerprint_key(dek)
        self.fingerprints = FingerprintSet()

    def add(self, entity_type: str, value: str) -> None:
        if value:
            self.fingerprints.add(self._key, entity_type, value)


def identifier_columns(source_report: Any, policy: Any) -> dict[str, str]:
    """Columns whose every value the redaction replaces: name -> entity type.

    Those columns take the `replace`/`redact` fast path in scrubbers.redact (one operator call
    for the whole column, not one per value), so the redactor hook never sees their values; the
    scan report already says which they are (classified identifiers, policy column rules).
    """
    out = {}
    for column in getattr(source_report, "columns", None) or []:
        rule = policy.column_rule(column.name)
        if rule is not None:
            kind = rule if isinstance(rule, str) else rule.type
            if kind not in ("keep", "drop", "scan"):
                out[column.name] = column.classification or "COLUMN"
        elif column.kind == "identifier" and column.classification:
            out[column.name] = column.classification
    return out


def collect_columns(
    collector: FingerprintCollector, chunks: Iterable[Any], columns: dict[str, str]
):
    """Pass DataFrame chunks through, fingerprinting each distinct value of `columns`."""
    seen: dict[str, set[str]] = {name: set() for name in columns}
    for chunk in chunks:
        for name, entity in columns.items():
            if name in chunk.columns:
                for value in chunk[name].dropna().astype(str).unique():
                    if value not in seen[name]:
                        seen[name].add(value)
                        collector.add(entity, value)
        yield chunk


def collecting_redactor(redactor: Any, collector: FingerprintCollector) -> Any:
    """Wrap `redactor.apply_operator` so each redacted value is fingerprinted on the way."""
    original = redactor.apply_operator

    def apply_operator(operator, entity_type: str, value: str) -> str:
        if operator.type not in _KEEPING_OPERATORS:
            collector.add(entity_type, value)
        return original(operator, entity_type, value)

    redactor.apply_operator = apply_operator
    return redactor


def write_fingerprints(
    directory: Path, fingerprints: FingerprintSet, dek: bytes, zone_id: str
) -> dict[str, Any]:
    """Encrypt the set into `directory/fingerprints.bin`; the manifest entry (no values)."""
    path = directory / FINGERPRINTS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw:
        writer = EncryptingWriter(raw, dek, zone_id=zone_id, path=FINGERPRINTS_FILE)
        writer.write(fingerprints.to_bytes())
        writer.close()
    return {
        "path": FINGERPRINTS_FILE,
        "sha256": writer.sha256,
        "bytes": writer.size,
        "count": len(fingerprints),
    }


def read_encrypted(directory: Path, entry: SideFile, dek: bytes, zone_id: str) -> bytes:
    """Decrypt a zone side file listed in the manifest and check its sha256."""
    try:
        with open(directory / entry.path, "rb") as f:
            data = b"".join(iter_decrypt(f, dek, zone_id=zone_id, path=entry.path))
    except OSError as e:
        raise FingerprintError(f"cannot read {entry.path} ({e.strerror})") from None
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise FingerprintError(f"{entry.path} does not match the manifest's sha256")
    return data


def load_fingerprints(directory: Path, manifest: ZoneManifest, dek: bytes) -> FingerprintSet:
    """The zone's fingerprint set; empty for zones built before fingerprints existed."""
    entry = manifest.fingerprints
    if not entry:
        return FingerprintSet()
    return FingerprintSet.from_bytes(read_encrypted(directory, entry, dek, manifest.id))


# -- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    entity_type: str
    reason: str  # "fingerprint" | "canary"


class Matcher:
    """Looks up every candidate form of a line in one or more keyed sets (one HMAC each)."""

    def __init__(self, key: bytes):
        self._key = key
        self._entries: dict[bytes, tuple[str, str]] = {}
        self._ngram_sizes: set[int] = set()
        self._digit_lengths: set[int] = set()
        self._first_tokens: set[bytes] = set()
        self._starts: dict[str, bool] = {}  # token -> may start a value (outputs repeat tokens)
        self._prefilter = True

    def add_set(self, fingerprints: FingerprintSet, reason: str) -> None:
        for digest, entity in fingerprints.entries.items():
            # A canary wins over a fingerprint: it is the stronger signal (memorisation).
            if reason == "canary" or digest not in self._entries:
                self._entries[digest] = (entity, reason)
        self._ngram_sizes |= fingerprints.ngram_sizes
        self._digit_lengths |= fingerprints.digit_lengths
        self._first_tokens |= fingerprints.first_tokens
        if fingerprints.ngram_sizes and not fingerprints.first_tokens:
            self._prefilter = False
        self._starts.clear()

    def _may_start(self, token: str) -> bool:
        """Whether `token` (as written; casefolded here) begins some fingerprinted value."""
        if not self._prefilter:
            return True
        found = self._starts.get(token)
        if found is None:
            if len(self._starts) >= 200_000:
                self._starts.clear()  # bounded memory beats a perfect hit rate
            digest = _digest(self._key, "f\0" + token.casefold())
            found = self._starts[token] = digest in self._first_tokens
        return found

    def __bool__(self) -> bool:
        return bool(self._entries)

    def scan_line(self, line: str) -> list[Hit]:
        hits: dict[tuple[int, int], Hit] = {}
        # Fast path: most lines hold no token that starts a fingerprinted value; only those
        # that do pay for positions and n-grams.
        if self._ngram_sizes and any(map(self._may_start, _TOKEN.findall(line))):
            tokens = [(m.start(), m.end(), m.group().casefold()) for m in _TOKEN.finditer(line)]
            for i, token in enumerate(tokens):
                if not self._may_start(token[2]):
                    continue
                for n in self._ngram_sizes:
                    window = tokens[i : i + n]
                    if len(window) < n:
                        continue
                    if sum(len(t[2]) for t in window) < MIN_TEXT_CHARS:
                        continue
                    found = self._entries.get(
                        _digest(self._key, "t\0" + " ".join(t[2] for t in window))
                    )
                    if found:
                        span = (window[0][0], window[-1][1])
                        hits[span] = Hit(*span, found[0], found[1])
        if self._digit_lengths:
            for run in _DIGIT_RUN.finditer(line):
                if _DECIMAL.fullmatch(run.group()):
                    continue
                for span, entity, reason in self._digit_hits(run):
                    hits[span] = Hit(*span, entity, reason)
        return sorted(hits.values(), key=lambda h: (h.start, h.end))

    def _digit_hits(self, run: re.Match) -> Iterator[tuple[tuple[int, int], str, str]]:
        groups = [(g.start() + run.start(), g.end() + run.start(), g.group()) for g in
                  re.finditer(r"\d+", run.group())]  # fmt: skip
        # Windows aligned to digit groups: "555-010-0199" tries 555, 555010, 5550100199, 010...
        # Arbitrary substrings of long digit runs would match by chance in numeric outputs.
        for i in range(len(groups)):
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j][2]
                if len(digits) > max(self._digit_lengths):
                    break
                if len(digits) in self._digit_lengths:
                    found = self._entries.get(_digest(self._key, "d\0" + digits))
                    if found:
                        yield (groups[i][0], groups[j][1]), found[0], found[1]

    def scan_lines(self, lines: Iterable[str]) -> Iterator[tuple[int, str, list[Hit]]]:
        for number, line in enumerate(lines, 1):
            found = self.scan_line(line)
            if found:
                yield number, line, found


def fingerprint_matcher(dek: bytes, fingerprints: FingerprintSet) -> Matcher:
    """A matcher of one fingerprint set as it is now (later additions to the set are not seen)."""
    matcher = Matcher(fingerprint_key(dek))
    matcher.add_set(fingerprints, "fingerprint")
    return matcher
