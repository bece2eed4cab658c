"""Column classification: what a table column holds, from a sample of its values and its header.

Like Cloud DLP column profiles (and presidio-structured), a column that consistently holds one
identifier type is classified as that type and handled as a whole (no NER per cell); a column of
sentences is free text and is scanned value by value; a column with a few hits is "mixed" and is
also scanned value by value; the rest are clean.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from piizone.scrubbers.organizations import is_organization_column

if TYPE_CHECKING:  # the engine loads Presidio and spaCy; only type hints need it here
    from piizone.scrubbers.engines import AnalysisEngine


SAMPLE_SIZE = 200
CLASSIFY_SHARE = 0.6  # share of sampled values that must hold the type
HINTED_SHARE = 0.2  # ...when the header name agrees
COVERAGE = 0.5  # a value "holds" a type when findings of it cover this share of its characters
FREE_TEXT_MIN_WORDS = 6

KIND_IDENTIFIER = "identifier"
KIND_FREE_TEXT = "free_text"
KIND_MIXED = "mixed"
KIND_CLEAN = "clean"
# Company names (scrubbers/organizations.py): left as they are, like a clean column.
KIND_ORGANIZATION = "organization"

# Header names that say what a column holds. Used to confirm weak value evidence, never alone:
# a column named "email" full of "N/A" is not classified.
HEADER_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"e[-_ ]?mail", re.I), "EMAIL_ADDRESS"),
    (re.compile(r"phone|mobile|cell|tel(ephone)?\b|fax", re.I), "PHONE_NUMBER"),
    (re.compile(r"ssn|social[-_ ]?sec", re.I), "US_SSN"),
    (
        re.compile(r"(^|_)(dob|birth)|date[-_ ]?of[-_ ]?birth|birth[-_ ]?date", re.I),
        "DATE_OF_BIRTH",
    ),
    (re.compile(r"card|pan\b|cc[-_ ]?num", re.I), "CREDIT_CARD"),
    (re.compile(r"iban", re.I), "IBAN_CODE"),
    (re.compile(r"(^|_)ip([-_ ]?addr(ess)?)?$", re.I), "IP_ADDRESS"),
    (re.compile(r"address|street|addr\b", re.I), "STREET_ADDRESS"),
    (re.compile(r"account|acct|member[-_ ]?(id|no|num)", re.I), "ACCOUNT_NUMBER"),
    (re.compile(r"passport", re.I), "US_PASSPORT"),
    (re.compile(r"licen[cs]e|dl[-_ ]?num", re.I), "US_DRIVER_LICENSE"),
    (
        re.compile(
            r"(^|_)(full|first|last|given|family|sur|middle|customer|contact|agent)?[-_ ]?"
            r"name$",
            re.I,
        ),
        "PERSON",
    ),
]
_NAME_SHAPE = re.compile(r"^[A-Z][a-zA-Z'.-]*(?: [A-Z][a-zA-Z'.-]*){0,3}$")


@dataclass
class ColumnProfile:
    """What one column holds. `classification` is an entity type for identifier columns."""

    name: str
    kind: str
    classification: str | None = None
    header_hint: str | None = None
    match_share: float = 0.0
    sampled: int = 0
    sample_entities: dict[str, int] = field(default_factory=dict)

    @property
    def scan_values(self) -> bool:
        """Whether every value of the column goes through the engine."""
        return self.kind in (KIND_FREE_TEXT, KIND_MIXED)


def header_hint(column: str) -> str | None:
    for pattern, entity in HEADER_HINTS:
        if pattern.search(column):
            return entity
    return None


def header_words(column: str) -> str:
    """ "date_of_birth" -> "date of birth", "customerEmail" -> "customer email"."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)
    return re.sub(r"[_\-.]+", " ", spaced).strip().lower()


def text_values(series: pd.Series) -> pd.Series:
    """The column's non-empty values as stripped strings (numbers, dates as their text)."""
    values = series.dropna()
    if values.empty:
        return values.astype(str)
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_float_dtype(values):
        return values.iloc[0:0].astype(str)  # amounts and flags carry no identifiers
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.iloc[0:0].astype(str)
    values = values.map(lambda v: v if isinstance(v, str) else _scalar_text(v)).str.strip()
    return values[values != ""]


def _scalar_text(value) -> str:
    if isinstance(value, (list, tuple, dict)):
        import json

        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def is_free_text(values: pd.Series) -> bool:
    """Sentences, not codes: most values have several words."""
    if values.empty:
        return False
    words = values.str.split().str.len()
    return float(words.median()) >= FREE_TEXT_MIN_WORDS


def classify_column(
    engine: AnalysisEngine, name: str, series: pd.Series, seed: int = 0
) -> ColumnProfile:
    """Profile one column from a sample of its values plus its header name."""
    hint = header_hint(name)
    values = text_values(series)
    if values.empty:
        return ColumnProfile(name=name, kind=KIND_CLEAN, header_hint=hint)
    distinct = list(dict.fromkeys(values.tolist()))
    sample = (
        distinct
        if len(distinct) <= SAMPLE_SIZE
        else random.Random(seed).sample(distinct, SAMPLE_SIZE)
    )
    if is_organization_column(name, sample):
        return ColumnProfile(
            name=name, kind=KIND_ORGANIZATION, header_hint=hint, sampled=len(sample)
        )
    # The header is given to the engine as the value's context ("date of birth: 1985-03-03"), the
    # way a human reads a table: it lifts context-dependent recognizers over their threshold.
    prefix = header_words(name) + ": "
    holders: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for value, findings in zip(
        sample, engine.analyze_many(prefix + v for v in sample), strict=True
    ):
        covered: Counter[str] = Counter()
        for f in findings:
            start, end = max(f.start - len(prefix), 0), f.end - len(prefix)
            if end > 0:
                covered[f.entity_type] += end - start
                seen[f.entity_type] += 1
        size = max(len(value.replace(" ", "")), 1)
        for entity, chars in covered.items():
            if chars >= COVERAGE * size:
                holders[entity] += 1

    # Sentences are free text unless nearly all of each value is one entity: a one-line street
    # address has as many words as a short note.
    free_text = is_free_text(pd.Series(sample))
    shares = {e: n / len(sample) for e, n in holders.items()}
    best, share = max(shares.items(), key=lambda kv: kv[1], default=(None, 0.0))
    profile = ColumnProfile(
        name=name,
        kind=KIND_CLEAN,
        header_hint=hint,
        sampled=len(sample),
        sample_entities=dict(seen),
    )
    if best is not None and share >= CLASSIFY_SHARE:
        profile.kind, profile.classification, profile.match_share = KIND_IDENTIFIER, best, share
    elif free_text:
        profile.kind = KIND_FREE_TEXT
    elif hint is not None and shares.get(hint, 0.0) >= HINTED_SHARE:
        profile.kind, profile.classification, profile.match_share = (
            KIND_IDENTIFIER,
            hint,
            shares[hint],
        )
    elif (
        hint == "PERSON"
        and "PERSON" in engine.entities
        and _name_shaped_share(sample) >= CLASSIFY_SHARE
    ):
        # Single first names ("Maria") often get no NER label alone; the header plus the shape
        # of every value is the evidence.
        profile.kind, profile.classification = KIND_IDENTIFIER, "PERSON"
        profile.match_share = _name_shaped_share(sample)
    elif seen:
        profile.kind = KIND_MIXED
    return profile


def _name_shaped_share(sample: list[str]) -> float:
    return sum(1 for v in sample if _NAME_SHAPE.match(v)) / max(len(sample), 1)
