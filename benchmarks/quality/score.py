"""Score what a redaction leaves behind, from character masks.

A *gold* mask marks the characters of each labeled entity; a *redacted* mask marks the characters a
system replaced (the union of the spans it acted on). The replacement strings never matter, so any
operator (`<PERSON>`, `***`, a pseudonym) scores the same for the same spans.

Definitions (whitespace characters are ignored everywhere: they carry no identity, and a redaction
of "John" + "Smith" that keeps the space between them has removed the name):

- **entity recall** (per gold type): share of gold entities fully removed: every non-whitespace
  character of the gold span lies inside a redacted span.
- **leak rate** (per gold type): share of the non-whitespace gold characters left unredacted.
- **over-redaction**: share of the non-whitespace *non-PII* characters (outside every gold span,
  direct or quasi) that redaction destroyed.
- **spurious redactions**: redacted spans that touch no gold span at all (a precision-like count),
  reported per predicted entity type together with the non-PII characters each type destroyed.

Gold types are either *direct identifiers* (the targets are about them) or *quasi/other* types
(location, organization, dates, titles, ...). Quasi characters count neither as a leak nor as
over-redaction: redacting "Boston" is neither required nor penalised; their recall is reported
for information.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# Gold entity types that count for the targets (issue 3): person names, e-mail, phone, card, SSN,
# street address, date of birth, account numbers, IBAN, IP, driver's licence.
DIRECT_TYPES = frozenset(
    {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "US_SSN",
        "STREET_ADDRESS",
        "DATE_OF_BIRTH",
        "ACCOUNT_NUMBER",
        "IBAN_CODE",
        "IP_ADDRESS",
        "US_DRIVER_LICENSE",
    }
)
# Everything else a data set labels: reported, never in the target, never a leak or over-redaction.
QUASI_TYPES = frozenset(
    {
        "LOCATION",
        "ORGANIZATION",
        "DATE_TIME",
        "TITLE",
        "NRP",
        "AGE",
        "ZIP_CODE",
        "URL",
        "STREET_NAME",
        "CARD_SECURITY_CODE",
    }
)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity_type: str


@dataclass
class Sample:
    """One labeled text: gold spans are exact character offsets into `text`."""

    text: str
    spans: list[Span]
    kind: str = ""  # e.g. "clean" / "asr" for transcripts, "sentence" for presidio-evaluator
    id: str = ""

    def check(self) -> None:
        """Gold spans are inside the text, non-empty, non-overlapping and not padded by blanks."""
        last_end = 0
        for span in sorted(self.spans, key=lambda s: s.start):
            value = self.text[span.start : span.end]
            assert 0 <= span.start < span.end <= len(self.text), (self.id, span)
            assert value == value.strip(), (self.id, span, value)
            assert span.start >= last_end, (self.id, "overlap", span)
            assert span.entity_type in DIRECT_TYPES | QUASI_TYPES, (self.id, span)
            last_end = span.end


@dataclass
class TypeScore:
    entities: int = 0
    removed: int = 0
    chars: int = 0
    leaked_chars: int = 0

    @property
    def recall(self) -> float | None:
        return self.removed / self.entities if self.entities else None

    @property
    def leak_rate(self) -> float | None:
        return self.leaked_chars / self.chars if self.chars else None

    def add(self, other: TypeScore) -> None:
        self.entities += other.entities
        self.removed += other.removed
        self.chars += other.chars
        self.leaked_chars += other.leaked_chars

    def as_dict(self) -> dict:
        return {
            "entities": self.entities,
            "removed": self.removed,
            "recall": self.recall,
            "chars": self.chars,
            "leaked_chars": self.leaked_chars,
            "leak_rate": self.leak_rate,
        }


@dataclass
class Miss:
    """A gold entity not fully removed, for error analysis (synthetic data: safe to print)."""

    sample_id: str
    entity_type: str
    value: str
    left: str  # the value with the removed characters shown as '#'
    context: str
    start: int = -1  # where in the sample's text
    end: int = -1


@dataclass
class Spurious:
    sample_id: str
    entity_type: str
    value: str
    context: str
    start: int = -1
    end: int = -1


@dataclass
class Score:
    per_type: dict[str, TypeScore] = field(default_factory=lambda: defaultdict(TypeScore))
    non_pii_chars: int = 0
    over_redacted_chars: int = 0
    over_redacted_by_type: Counter = field(default_factory=Counter)
    spurious_by_type: Counter = field(default_factory=Counter)
    redacted_spans: int = 0
    misses: list[Miss] = field(default_factory=list)
    spurious: list[Spurious] = field(default_factory=list)

    @property
    def direct(self) -> TypeScore:
        total = TypeScore()
        for entity_type, score in self.per_type.items():
            if entity_type in DIRECT_TYPES:
                total.add(score)
        return total

    @property
    def over_redaction(self) -> float | None:
        return self.over_redacted_chars / self.non_pii_chars if self.non_pii_chars else None

    def as_dict(self) -> dict:
        return {
            "direct": self.direct.as_dict(),
            "per_type": {t: s.as_dict() for t, s in sorted(self.per_type.items())},
            "non_pii_chars": self.non_pii_chars,
            "over_redacted_chars": self.over_redacted_chars,
            "over_redaction": self.over_redaction,
            "over_redacted_chars_by_predicted_type": dict(self.over_redacted_by_type.most_common()),
            "redacted_spans": self.redacted_spans,
            "spurious_spans_by_predicted_type": dict(self.spurious_by_type.most_common()),
        }


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    left = text[max(0, start - width) : start]
    right = text[end : end + width]
    return (left + "[[" + text[start:end] + "]]" + right).replace("\n", " | ")


def not_blank(c: str) -> bool:
    """The characters that count by default: every non-whitespace one."""
    return not c.isspace()


def score_samples(
    samples: Sequence[Sample],
    redactions: Iterable[Sequence[tuple[int, int, str]]],
    counts: Callable[[str], bool] = not_blank,
) -> Score:
    """Score one system: `redactions[i]` are the (start, end, predicted type) spans it replaced.

    `counts` says which characters are scored (default: non-whitespace). The real-text dev sets
    score alphanumeric characters only (`str.isalnum`), as their README defines recall and
    over-redaction.
    """
    result = Score()
    for sample, spans in zip(samples, redactions, strict=True):
        score_one(sample, spans, result, counts)
    return result


def score_one(
    sample: Sample,
    redacted: Sequence[tuple[int, int, str]],
    into: Score,
    counts: Callable[[str], bool] = not_blank,
) -> None:
    text = sample.text
    n = len(text)
    removed = bytearray(n)  # 1 where a redaction replaced the character
    by_type: list[str | None] = [None] * n
    for start, end, entity_type in redacted:
        for i in range(max(0, start), min(n, end)):
            removed[i] = 1
            by_type[i] = entity_type
    gold = bytearray(n)  # 1 inside any gold span (direct or quasi)
    for span in sample.spans:
        gold[span.start : span.end] = b"\x01" * (span.end - span.start)
        positions = [i for i in range(span.start, span.end) if counts(text[i])]
        left = [i for i in positions if not removed[i]]
        type_score = into.per_type[span.entity_type]
        type_score.entities += 1
        type_score.chars += len(positions)
        type_score.leaked_chars += len(left)
        if not left:
            type_score.removed += 1
        else:
            value = text[span.start : span.end]
            shown = "".join("#" if removed[span.start + k] else c for k, c in enumerate(value))
            into.misses.append(
                Miss(
                    sample.id,
                    span.entity_type,
                    value,
                    shown,
                    _context(text, span.start, span.end),
                    span.start,
                    span.end,
                )
            )
    for i, c in enumerate(text):
        if gold[i] or not counts(c):
            continue
        into.non_pii_chars += 1
        if removed[i]:
            into.over_redacted_chars += 1
            into.over_redacted_by_type[by_type[i]] += 1
    for start, end, entity_type in redacted:
        into.redacted_spans += 1
        if not any(gold[max(0, start) : min(n, end)]):
            into.spurious_by_type[entity_type] += 1
            into.spurious.append(
                Spurious(
                    sample.id, entity_type, text[start:end], _context(text, start, end), start, end
                )
            )
