"""Operators: what a policy does to one detected value (DESIGN.md, Policy).

`redact`, `replace` and `mask` are presidio-anonymizer's own operator classes, called directly
(one `operate` per value: the AnonymizerEngine's per-call validation and sorting cost more than
the work). `pseudonymize` and `fake` are keyed, so they are ours:

* **pseudonymize** -> `<ENTITY_xxxxxxxx>`, the first 8 hex digits of
  HMAC-SHA256(pseudonym key, ENTITY "\\0" normalized value). The same value gives the same token
  in every file, run, process and in production (`piizone serve`), so joins and counts survive;
  without the key a token can be neither reversed nor recomputed from a guessed value.
* **fake** -> a realistic Faker surrogate of the entity's kind (a name for a name, a valid-looking
  SSN for an SSN), drawn from a generator seeded with HMAC-SHA256(key, "fake" "\\0" ENTITY "\\0"
  normalized value): "John Smith" becomes the same fake name everywhere under one key. With no
  pseudonym key a random key is made per Redactor, so fakes are consistent within one run only.

Lines: an operator never adds or removes a line break. A value that spans lines (a multi-line
cell under a column rule, a span handed in across a break) is transformed line by line: each
line's piece, blanks trimmed, is a value of its own -- keyed, faked or masked by itself -- and
the breaks and the blanks around them stay. So "Jakob Lauritsen\nDuygu Schakelaar", two people a
model ran together, gives the two tokens each name gets alone, and a name hard-wrapped as
"John\nSmith" gives John's and Smith's tokens: the same wherever it is wrapped the same way,
not the token of "John Smith" on one line (a wrapped line cannot be told from two values). The
engine cuts its findings at line breaks the same way (findings.split_at_line_breaks). A line
break inside an operator's own output (a `replace` value, a Faker string) becomes a space.

Normalization before keying: strip, casefold, collapse runs of whitespace to one space, so
"John  Smith", " john smith" and "JOHN SMITH" are one person. Nothing else is folded: "J. Smith"
and "John Smith" stay different people, as do "555-0100" and "5550100".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import date

from faker import Faker
from presidio_anonymizer.operators import Mask, Redact, Replace

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import LINE_BREAK, Finding, line_parts
from piizone.scrubbers.generalize import date_shift, generalize
from piizone.scrubbers.policy import Operator, Policy

TOKEN_HEX_DIGITS = 8
_FAKE_CACHE = 100_000  # distinct (entity, value) fakes remembered; tables repeat values
_WHITESPACE = re.compile(r"\s+")

_REDACT, _REPLACE, _MASK = Redact(), Replace(), Mask()


def normalize(value: str) -> str:
    """The form a value is keyed by: stripped, casefolded, inner whitespace collapsed."""
    return _WHITESPACE.sub(" ", value.strip()).casefold()


def pseudonym_token(key: bytes, entity_type: str, value: str) -> str:
    """`<ENTITY_8f3a1c2d>`: a keyed, stable, non-reversible stand-in for `value`."""
    digest = hmac.new(key, f"{entity_type}\0{normalize(value)}".encode(), hashlib.sha256)
    return f"<{entity_type}_{digest.hexdigest()[:TOKEN_HEX_DIGITS]}>"


def policy_uses(policy: Policy, operator_type: str, *, identifier_columns: bool = True) -> bool:
    """Whether any operator of the policy (default, per entity, per column, for identifier
    columns) is `operator_type`. `identifier_columns=False` leaves the identifier-column
    setting out: without a key, it falls back to replace instead of failing (Redactor)."""
    operators = [policy.model.default_operator]
    operators += [r.operator for r in policy.model.entities.values() if r.operator is not None]
    operators += [c for c in policy.model.columns.values() if isinstance(c, Operator)]
    if identifier_columns and policy.model.identifier_columns is not None:
        operators.append(policy.model.identifier_columns)
    return any(op.type == operator_type for op in operators)


class Redactor:
    """Applies a policy's operators to values and to texts with findings.

    `pseudonym_key` is the secret behind `pseudonymize` (and the seed of `fake`); a policy that
    pseudonymizes without one is refused here, before any data is touched -- except through
    `identifier_columns`: identifier columns then get the default operator (identifier_operator).
    """

    def __init__(self, policy: Policy, pseudonym_key: bytes | None):
        self.policy = policy
        if pseudonym_key is None and policy_uses(policy, "pseudonymize", identifier_columns=False):
            raise InputError(
                "policy uses pseudonymize but no pseudonym key", hint="run piizone init"
            )
        self._key = pseudonym_key
        # Fakes without a key: consistent within this run, unlinkable across runs.
        self._fake_key = pseudonym_key if pseudonym_key is not None else secrets.token_bytes(32)
        self._faker: Faker | None = None
        self._fakes: dict[tuple[str, str], str] = {}

    def identifier_operator(self, entity_type: str) -> Operator:
        """The operator for an identifier column of `entity_type` (Policy.identifier_operator).

        Without a key, `pseudonymize` from `identifier_columns` becomes the default operator
        (`replace`), as in free text: an entity's own pseudonymize was refused in __init__."""
        operator = self.policy.identifier_operator(entity_type)
        if operator.type == "pseudonymize" and self._key is None:
            return self.policy.model.default_operator
        return operator

    def key_fallback_note(self) -> str | None:
        """What identifier columns lose for want of a pseudonym key, in one line; None when
        there is a key or the policy does not pseudonymize identifier columns."""
        wanted = self.policy.model.identifier_columns
        if self._key is not None or wanted is None or wanted.type != "pseudonymize":
            return None
        return (
            "no pseudonym key (piizone init makes it): identifier columns get "
            f"{self.policy.model.default_operator.type}, not pseudonymize, so joins on them do "
            "not survive"
        )

    def apply(self, entity_type: str, value: str) -> str:
        """`value` transformed by the operator the policy names for `entity_type`."""
        return self.apply_operator(self.policy.operator_for(entity_type), entity_type, value)

    def apply_operator(self, operator: Operator, entity_type: str, value: str) -> str:
        """`value` transformed by `operator`; `entity_type` names it in tokens and fakes.

        The result has the line breaks of `value`, in place, and no others (module docstring).
        """
        if LINE_BREAK.search(value) is None:
            return self._apply_line(operator, entity_type, value)
        parts, pos = [], 0
        for start, end in line_parts(value, 0, len(value)):
            parts.append(value[pos:start])
            parts.append(self._apply_line(operator, entity_type, value[start:end]))
            pos = end
        parts.append(value[pos:])
        return "".join(parts)

    def _apply_line(self, operator: Operator, entity_type: str, value: str) -> str:
        out = self._operate(operator, entity_type, value)
        return out if LINE_BREAK.search(out) is None else LINE_BREAK.sub(" ", out)

    def _operate(self, operator: Operator, entity_type: str, value: str) -> str:
        kind = operator.type
        if kind == "replace":
            return _REPLACE.operate(
                value, {"new_value": operator.value, "entity_type": entity_type}
            )
        if kind == "redact":
            return _REDACT.operate(value, {})
        if kind == "mask":
            chars = len(value) if operator.chars is None else operator.chars
            return _MASK.operate(
                value,
                {
                    "masking_char": operator.char,
                    "chars_to_mask": chars,
                    "from_end": operator.from_end,
                },
            )
        if kind == "pseudonymize":
            if self._key is None:  # a column operator added after construction cannot sneak by
                raise InputError(
                    "policy uses pseudonymize but no pseudonym key", hint="run piizone init"
                )
            return pseudonym_token(self._key, entity_type, value)
        if kind == "fake":
            return self._fake(entity_type, value)
        if kind == "generalize":
            return generalize(entity_type, value, operator.to)
        if kind == "date_shift":
            # Keyed like fake: the pseudonym key fixes the offset (a random one per run without).
            return date_shift(entity_type, value, self._fake_key, operator.days)
        if kind == "keep":
            return value
        # `drop` removes a table column; the policy refuses it for entities, so reaching here
        # means a caller passed a column rule where a value operator belongs.
        raise ValueError(f"operator {kind!r} does not apply to single values")

    def redact_text(
        self,
        text: str,
        findings: Sequence[Finding],
        values: Mapping[tuple[int, int], str] | None = None,
    ) -> str:
        """`text` with each finding's span replaced by its operator's output.

        Findings must not overlap (the engine resolves overlaps). One that spans a line break
        is replaced line by line (apply_operator), so the text keeps its lines. Built left to
        right from slices: one join instead of a string copy per finding. `values` gives, for
        some spans, the value the operator transforms instead of the text there: a known value
        written another way ("555.123.4567" for the column's "(555) 123-4567") gets the column's
        token.
        """
        if not findings:
            return text
        parts: list[str] = []
        pos = 0
        for f in sorted(findings):
            parts.append(text[pos : f.start])
            value = values.get((f.start, f.end)) if values else None
            parts.append(
                self.apply(f.entity_type, text[f.start : f.end] if value is None else value)
            )
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def _fake(self, entity_type: str, value: str) -> str:
        cache_key = (entity_type, normalize(value))
        fake = self._fakes.get(cache_key)
        if fake is None:
            if self._faker is None:
                self._faker = Faker("en_US")
            digest = hmac.new(
                self._fake_key, f"fake\0{entity_type}\0{cache_key[1]}".encode(), hashlib.sha256
            ).digest()
            self._faker.seed_instance(int.from_bytes(digest[:16], "big"))
            fake = FAKERS.get(entity_type, _same_shape)(self._faker, value)
            if len(self._fakes) >= _FAKE_CACHE:
                self._fakes.clear()
            self._fakes[cache_key] = fake
        return fake


def _same_shape(fake: Faker, value: str) -> str:
    """Digits become random digits, letters random letters of the same case, the rest stays.

    For identifiers with no Faker provider (account numbers, licences, custom entities): the
    surrogate still fits the column's format and length checks downstream.
    """
    rnd = fake.random
    out = []
    for ch in value:
        if ch.isdigit():
            out.append(rnd.choice(string.digits))
        elif ch.isascii() and ch.isalpha():
            out.append(
                rnd.choice(string.ascii_uppercase if ch.isupper() else string.ascii_lowercase)
            )
        else:
            out.append(ch)
    return "".join(out)


def _fake_date(fake: Faker, value: str) -> str:
    """A birth date (18-90 years old) written the way the original was, where recognisable."""
    born: date = fake.date_of_birth(minimum_age=18, maximum_age=90)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return born.isoformat()
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value.strip()):
        return born.strftime("%m/%d/%Y")
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}", value.strip()):
        return born.strftime("%m/%d/%y")
    return born.strftime("%B %-d, %Y")


def _in_shape_of(value: str, fake: str) -> str:
    """`fake`'s digits written in `value`'s layout ("4111 1111 ..." stays grouped) if they fit."""
    digits = [c for c in fake if c.isdigit()]
    if len(digits) != sum(c.isdigit() for c in value):
        return fake
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in value)


def _fake_card(fake: Faker, value: str) -> str:
    # Faker's own numbers pass the Luhn check, so downstream validators accept the surrogate.
    card_type = "amex" if sum(c.isdigit() for c in value) == 15 else "visa16"
    return _in_shape_of(value, fake.credit_card_number(card_type))


def _fake_phone(fake: Faker, value: str) -> str:
    # The country code stays (a +44 number stays British); the NANP rule that area codes and
    # exchanges do not start with 0 or 1 keeps US numbers plausible.
    m = re.match(r"\s*(\+\d{1,3}[\s.-]?)?", value)
    prefix = m.group(0) if m else ""
    rest = _same_shape(fake, value[len(prefix) :])
    return prefix + re.sub(r"\b[01]", lambda _: str(fake.random.randint(2, 9)), rest)


def _fake_address(fake: Faker, value: str) -> str:
    # A detected address with a comma usually carries city, state and ZIP too.
    if "," in value:
        return fake.address().replace("\n", ", ")
    return fake.street_address()


FAKERS: dict[str, Callable[[Faker, str], str]] = {
    "PERSON": lambda f, v: f.name(),
    # Reserved example domains: a surrogate must never be somebody's real mailbox.
    "EMAIL_ADDRESS": lambda f, v: f.safe_email(),
    "PHONE_NUMBER": _fake_phone,
    "US_SSN": lambda f, v: _in_shape_of(v, f.ssn()),
    "US_ITIN": lambda f, v: f.itin(),
    "CREDIT_CARD": _fake_card,
    "STREET_ADDRESS": _fake_address,
    "DATE_OF_BIRTH": _fake_date,
    "IBAN_CODE": lambda f, v: f.iban(),
    "IP_ADDRESS": lambda f, v: f.ipv6() if ":" in v else f.ipv4_public(),
    "US_PASSPORT": lambda f, v: f.passport_number(),
    "LOCATION": lambda f, v: f.city(),
    "ORGANIZATION": lambda f, v: f.company(),
    "URL": lambda f, v: f.url(),
    "ACCOUNT_NUMBER": _same_shape,
    "US_BANK_NUMBER": _same_shape,
    "US_DRIVER_LICENSE": _same_shape,
    "CRYPTO": _same_shape,
}
