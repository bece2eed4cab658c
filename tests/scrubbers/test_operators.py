"""The operators' contracts: shapes, stability, key dependence, consistency, realism."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import LINE_BREAK, Finding
from piizone.scrubbers.operators import Redactor, normalize, pseudonym_token
from piizone.scrubbers.policy import Operator, parse_policy

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def redactor(default: str = "replace", key: bytes | None = KEY, **entities: str) -> Redactor:
    lines = [f"default_operator: {default}", "entities:"]
    lines += [f"  {e}: {{operator: {op}}}" for e, op in entities.items()] or ["  PERSON: {}"]
    return Redactor(parse_policy("\n".join(lines)), key)


def op(**fields) -> Operator:
    return Operator(**fields)


@pytest.mark.parametrize(
    ("operator", "entity", "value", "expected"),
    [
        (op(type="replace"), "PERSON", "John Smith", "<PERSON>"),
        (op(type="replace", value="[name]"), "PERSON", "John Smith", "[name]"),
        (op(type="redact"), "EMAIL_ADDRESS", "a@b.com", ""),
        (op(type="keep"), "PERSON", "John Smith", "John Smith"),
        (op(type="mask"), "US_SSN", "123-45-6789", "***********"),
        (op(type="mask", chars=12), "CREDIT_CARD", "4111111111111111", "************1111"),
        (op(type="mask", chars=4, from_end=True), "PHONE_NUMBER", "555-0100", "555-****"),
        (op(type="mask", char="#", chars=3), "PERSON", "Al", "##"),
        (op(type="mask", chars=0), "PERSON", "Al", "Al"),
    ],
)
def test_value_operators(operator: Operator, entity: str, value: str, expected: str) -> None:
    assert redactor().apply_operator(operator, entity, value) == expected


def test_apply_uses_the_policy_operator_per_entity() -> None:
    r = redactor(default="redact", PERSON="keep", US_SSN="mask")
    assert r.apply("PERSON", "Ann Lee") == "Ann Lee"
    assert r.apply("US_SSN", "123-45-6789") == "*" * 11
    assert r.apply("EMAIL_ADDRESS", "a@b.com") == ""


def test_drop_is_not_a_value_operator() -> None:
    with pytest.raises(ValueError, match="does not apply"):
        redactor().apply_operator(op(type="drop"), "PERSON", "x")


def test_redact_text_replaces_spans_and_keeps_the_rest() -> None:
    text = "Call John Smith at 555-0100 today."
    findings = [Finding(5, 15, "PERSON", 0.9), Finding(19, 27, "PHONE_NUMBER", 0.9)]
    assert redactor().redact_text(text, findings) == "Call <PERSON> at <PHONE_NUMBER> today."
    assert redactor().redact_text(text, []) == text
    assert redactor(default="redact").redact_text(text, findings[::-1]) == "Call  at  today."


@pytest.mark.parametrize(
    ("a", "b"),
    [("John  Smith", "john smith"), (" JOHN SMITH\t", "John Smith"), ("Jöhn\tSmith", "jöhn smith")],
)
def test_normalization_joins_case_and_whitespace_variants(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)
    assert pseudonym_token(KEY, "PERSON", a) == pseudonym_token(KEY, "PERSON", b)
    r = redactor(default="fake")
    assert r.apply("PERSON", a) == r.apply("PERSON", b)


def test_normalization_does_not_fold_punctuation() -> None:
    assert pseudonym_token(KEY, "PERSON", "J. Smith") != pseudonym_token(KEY, "PERSON", "J Smith")


def test_pseudonym_token_shape_stability_and_key_dependence() -> None:
    r = redactor(default="pseudonymize")
    token = r.apply("PERSON", "John Smith")
    assert re.fullmatch(r"<PERSON_[0-9a-f]{8}>", token)
    assert "john" not in token.lower() and "smith" not in token.lower()
    assert r.apply("PERSON", "John Smith") == token
    assert redactor(default="pseudonymize").apply("PERSON", "John Smith") == token
    assert redactor(default="pseudonymize", key=OTHER_KEY).apply("PERSON", "John Smith") != token
    assert r.apply("PERSON", "Jane Smith") != token
    # The entity is part of the keyed input: a value in two roles gets two tokens.
    assert r.apply("ACCOUNT_NUMBER", "12345678")[1:-10] == "ACCOUNT_NUMBER"
    assert r.apply("ACCOUNT_NUMBER", "12345678")[-9:] != r.apply("US_BANK_NUMBER", "12345678")[-9:]


def test_pseudonym_is_identical_in_another_process() -> None:
    code = (
        "from piizone.scrubbers.operators import pseudonym_token;"
        f"print(pseudonym_token({KEY!r}, 'EMAIL_ADDRESS', 'a.b@example.com'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == pseudonym_token(KEY, "EMAIL_ADDRESS", "a.b@example.com")


def test_pseudonymize_without_a_key_is_refused_up_front() -> None:
    with pytest.raises(InputError, match="no pseudonym key") as e:
        redactor(default="pseudonymize", key=None)
    assert e.value.hint == "run piizone init"
    with pytest.raises(InputError):
        redactor(key=None, PERSON="pseudonymize")
    with pytest.raises(InputError):
        Redactor(parse_policy("columns:\n  email: pseudonymize\n"), None)


# (entity, original, pattern the surrogate must match)
REALISM = [
    ("PERSON", "John Smith", r"[A-Z][a-z'.-]+( [A-Z][a-z'.-]+)+"),
    ("EMAIL_ADDRESS", "john.smith@gmail.com", r"[^@\s]+@example\.(com|org|net)"),
    ("US_SSN", "123-45-6789", r"\d{3}-\d{2}-\d{4}"),
    ("US_SSN", "123456789", r"\d{9}"),
    ("CREDIT_CARD", "4111 1111 1111 1111", r"\d{4} \d{4} \d{4} \d{4}"),
    ("CREDIT_CARD", "4111111111111111", r"\d{16}"),
    ("PHONE_NUMBER", "+1 706 696 5590", r"\+1 [2-9]\d\d [2-9]\d\d \d{4}"),
    ("PHONE_NUMBER", "(801) 894-2964", r"\([2-9]\d\d\) [2-9]\d\d-\d{4}"),
    ("STREET_ADDRESS", "957 April Pass Apt. 326", r"\d+ [A-Za-z0-9. ]+"),
    ("STREET_ADDRESS", "957 April Pass, Port Joseph, ME 04643", r"\d+ .+, .+, [A-Z]{2} \d{5}"),
    ("DATE_OF_BIRTH", "1965-11-01", r"(19|20)\d\d-\d\d-\d\d"),
    ("DATE_OF_BIRTH", "11/01/1965", r"\d\d/\d\d/(19|20)\d\d"),
    ("IBAN_CODE", "DE89370400440532013000", r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}"),
    ("IP_ADDRESS", "24.162.106.104", r"\d{1,3}(\.\d{1,3}){3}"),
    ("IP_ADDRESS", "2001:db8::1", r"[0-9a-f:]+"),
    ("ACCOUNT_NUMBER", "13748514", r"\d{8}"),
    ("US_DRIVER_LICENSE", "D1234567", r"[A-Z]\d{7}"),
    ("EMPLOYEE_ID", "EMP-004211", r"[A-Z]{3}-\d{6}"),
]


@pytest.mark.parametrize(("entity", "original", "pattern"), REALISM)
def test_fake_is_realistic_and_consistent(entity: str, original: str, pattern: str) -> None:
    r = redactor(default="fake")
    fake = r.apply(entity, original)
    assert re.fullmatch(pattern, fake), fake
    assert fake != original
    assert r.apply(entity, original) == fake
    assert redactor(default="fake").apply(entity, original) == fake  # same key, new redactor


def test_fake_card_passes_luhn() -> None:
    digits = [int(c) for c in redactor(default="fake").apply("CREDIT_CARD", "4111111111111111")]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits[::-1])
    )
    assert total % 10 == 0


def test_fake_depends_on_key_and_value() -> None:
    a = redactor(default="fake").apply("PERSON", "John Smith")
    assert redactor(default="fake", key=OTHER_KEY).apply("PERSON", "John Smith") != a
    names = {redactor(default="fake").apply("PERSON", f"Person {i}") for i in range(20)}
    assert len(names) > 15


def test_fake_without_a_key_is_consistent_within_a_run_only() -> None:
    r = redactor(default="fake", key=None)
    first = r.apply("PERSON", "John Smith")
    assert r.apply("PERSON", "john  smith") == first
    others = {redactor(default="fake", key=None).apply("PERSON", "John Smith") for _ in range(5)}
    assert others - {first}


# --- lines: an operator never adds or removes a line break (issue 12, item 5) ---------------

EVERY_OPERATOR = [
    op(type="replace"),
    op(type="replace", value="[gone]"),
    op(type="redact"),
    op(type="keep"),
    op(type="mask"),
    op(type="mask", chars=3, from_end=True),
    op(type="pseudonymize"),
    op(type="fake"),
]


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        (op(type="replace"), "<PERSON>\n<PERSON>"),
        (op(type="redact"), "\n"),
        (op(type="mask"), "*****\n*****"),
        (op(type="keep"), "Jakob\nDuygu"),
        # a line break in the operator's own output would add a line: it becomes a space
        (op(type="replace", value="a\nb"), "a b\na b"),
        (op(type="mask", char="\n"), "     \n     "),
    ],
)
def test_a_multi_line_value_is_transformed_line_by_line(operator, expected) -> None:
    assert redactor().apply_operator(operator, "PERSON", "Jakob\nDuygu") == expected


@pytest.mark.parametrize("kind", ["pseudonymize", "fake"])
def test_a_split_value_gives_each_line_the_token_it_gets_alone(kind: str) -> None:
    r = redactor(default=kind)
    merged = r.apply("PERSON", "Jakob Lauritsen \r\n  Duygu Schakelaar")
    alone = [r.apply("PERSON", "Jakob Lauritsen"), r.apply("PERSON", "Duygu Schakelaar")]
    assert merged == f"{alone[0]} \r\n  {alone[1]}"
    assert alone[0] != alone[1]
    # The key itself still folds a break like any blank; only the operators go line by line.
    assert pseudonym_token(KEY, "PERSON", "Jöhn\nSmith") == pseudonym_token(
        KEY, "PERSON", "jöhn smith"
    )


def test_redact_text_keeps_a_break_inside_a_finding() -> None:
    text = "Name: Jakob Lauritsen\nDuygu Schakelaar lives here"
    spanning = [Finding(6, 38, "PERSON", 0.85)]  # what spaCy gave before findings were split
    assert redactor().redact_text(text, spanning) == "Name: <PERSON>\n<PERSON> lives here"


# Texts of words, blanks and every kind of line break. A lone "\r" is left out: "\r", a value
# redacted to nothing, then "\n" would read as one "\r\n" break although both are kept.
_PIECES = ["Ann", "Lee", "555-0100", " ", "  ", "-", "\t", "\n", "\n\n", "\r\n", "\u2028", "\f"]
texts_with_breaks = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@st.composite
def text_and_findings(draw):
    text = draw(texts_with_breaks)
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=10)))
    # consecutive cut points pair up into non-overlapping, non-empty spans
    pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    entities = st.sampled_from(["PERSON", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "ZZ_CUSTOM"])
    return text, [Finding(a, b, draw(entities), 0.9) for a, b in pairs]


@settings(max_examples=150, deadline=None)
@given(text_and_findings(), st.sampled_from(EVERY_OPERATOR))
def test_redacted_text_has_the_lines_of_the_original(case, operator) -> None:
    text, findings = case
    # every entity gets the drawn operator (JSON is YAML)
    r = Redactor(parse_policy(f"default_operator: {operator.model_dump_json()}"), KEY)
    out = r.redact_text(text, findings)
    assert LINE_BREAK.findall(out) == LINE_BREAK.findall(text)  # the same breaks, in order
    # Lines counted with a last empty one: `redact` may empty a whole line, and splitlines()
    # does not count an empty last line.
    assert len(LINE_BREAK.split(out)) == len(LINE_BREAK.split(text))
