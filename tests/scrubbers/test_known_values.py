"""scrubbers.known_values: a table's identifier values found in free text, and the redaction of
tables with them (row- and table-aware), operators and tokens as for the column itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from piizone.scrubbers.engine import engine_for
from piizone.scrubbers.known_values import KNOWN_VALUE_RECOGNIZER, KnownValues, is_common_word
from piizone.scrubbers.operators import Redactor, pseudonym_token
from piizone.scrubbers.policy import load_policy, parse_policy
from piizone.scrubbers.redact import redact_file

TABLE = [
    ("PERSON", "Jane Fairweather"),
    ("PERSON", "Will May"),
    ("PHONE_NUMBER", "(555) 123-4567"),
    ("EMAIL_ADDRESS", "jdoe42@example.com"),
    ("US_SSN", "219-09-9999"),
    ("CREDIT_CARD", "4111 1111 1111 1111"),
]


@pytest.fixture(scope="module")
def known() -> KnownValues:
    k = KnownValues()
    for entity, value in TABLE:
        k.add(entity, value)
    return k


# (text, [(matched text, entity)]): matches and non-matches in one table.
CASES = [
    ("Spoke with Jane Fairweather about the late fee.", [("Jane Fairweather", "PERSON")]),
    ("spoke with jane fairweather", [("jane fairweather", "PERSON")]),
    ("JANE   FAIRWEATHER, again", [("JANE   FAIRWEATHER", "PERSON")]),
    ("Fairweather, Jane called", [("Fairweather, Jane", "PERSON")]),
    ("Spoke with <PERSON> Fairweather.", [("Fairweather", "PERSON")]),  # the surname alone
    ("the fairweather account", [("fairweather", "PERSON")]),  # family names: any case
    ("Fairweather's card", [("Fairweather", "PERSON")]),
    ("call 555.123.4567 today", [("555.123.4567", "PHONE_NUMBER")]),
    ("call +1 555 123 4567", [("1 555 123 4567", "PHONE_NUMBER")]),
    ("call 5551234567", [("5551234567", "PHONE_NUMBER")]),
    ("local 123-4567", [("123-4567", "PHONE_NUMBER")]),
    (
        "it's five five five one two three four five six seven",
        [("five five five one two three four five six seven", "PHONE_NUMBER")],
    ),
    (
        "one two three, um, four five six seven",
        [("one two three, um, four five six seven", "PHONE_NUMBER")],
    ),
    (
        "double five five one two three four five six seven",
        [("double five five one two three four five six seven", "PHONE_NUMBER")],
    ),
    ("ssn 219 09 9999", [("219 09 9999", "US_SSN")]),
    ("card 4111-1111-1111-1111 ok", [("4111-1111-1111-1111", "CREDIT_CARD")]),
    ("write to JDoe42@Example.com", [("JDoe42@Example.com", "EMAIL_ADDRESS")]),
    ("ask jdoe42 about it", [("jdoe42", "EMAIL_ADDRESS")]),  # the e-mail's local part
    # Non-matches: digit parts inside longer numbers, common words, short parts.
    ("order 91234567 shipped", []),
    ("ref 55512345678", []),
    ("card ending 1111", []),  # never a card's last four
    ("SSN last four 9999", []),
    ("I will call. May I help?", []),  # "Will", "May": common words, not in their row
    ("Will called back in May.", []),  # capitalised, but not this row's
    ("It was fair weather.", []),
    ("Jane called", []),  # a common given name alone, not in its row
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_find(known: KnownValues, text: str, expected: list[tuple[str, str]]) -> None:
    found = known.find(text)
    assert [(text[m.finding.start : m.finding.end], m.finding.entity_type) for m in found] == (
        expected
    )
    assert all(m.finding.recognizer == KNOWN_VALUE_RECOGNIZER for m in found)


ROW = [("PERSON", "Will May"), ("PERSON", "Priya Ramanathan")]
ROW_CASES = [
    ("Spoke with Will about the fee", ["Will"]),  # its own row, capitalised: the name
    ("I will call Will May back", ["Will May"]),
    ("I will call back in may", []),  # lower-case common words stay, even in the row
    ("spoke with priya", ["priya"]),  # a rare given name needs no capital in its own row
    ("Spoke with Ramanathan", ["Ramanathan"]),
]


@pytest.mark.parametrize(("text", "expected"), ROW_CASES)
def test_find_in_row(text: str, expected: list[str]) -> None:
    found = KnownValues().find(text, ROW)
    assert [text[m.finding.start : m.finding.end] for m in found] == expected


def test_given_name_needs_capital_outside_its_row() -> None:
    k = KnownValues()
    k.add("PERSON", "Priya Ramanathan")
    assert [m.canonical for m in k.find("Priya called")] == ["Priya"]
    assert k.find("priya called") == []


def test_matches_name_the_column_value() -> None:
    """The operator transforms the column's value, not the text's spelling: same pseudonym."""
    k = KnownValues()
    k.add("PHONE_NUMBER", "(555) 123-4567")
    (match,) = k.find("at 555.123.4567")
    assert match.canonical == "(555) 123-4567"


@pytest.mark.parametrize(
    ("word", "common"),
    [("will", True), ("May", True), ("brown", True), ("Al", True), ("Fairweather", False)],
)
def test_common_words(word: str, common: bool) -> None:
    assert is_common_word(word) is common


def test_low_risk_entities_and_short_values_are_not_learned() -> None:
    k = KnownValues()
    k.add("LOCATION", "Springfield")  # a city is not personal alone
    k.add("DATE_TIME", "2024-03-01")
    k.add("PHONE_NUMBER", "42")
    assert not k and k.find("Springfield, 2024-03-01, 42") == []


def test_digest_is_keyed_and_order_free() -> None:
    a, b = KnownValues(), KnownValues()
    for entity, value in TABLE:
        a.add(entity, value)
    for entity, value in reversed(TABLE):
        b.add(entity, value)
    assert a.digest(b"k") == b.digest(b"k") != a.digest(b"other key")
    assert "Fairweather" not in a.digest(b"k")


# -- tables through redact_file -----------------------------------------------------------------

CUSTOMERS = pd.DataFrame(
    {
        "full_name": ["Jane Fairweather", "Will Brown", "Priya Ramanathan", "Tom Okonkwo"],
        "email": [
            "jane.fairweather@example.com",
            "wbrown77@example.org",
            "priya.r@example.net",
            "tokonkwo@example.com",
        ],
        "phone": ["(555) 123-4567", "555-987-6543", "555-222-3333", "555-444-1212"],
        "notes": [
            "Spoke with <PERSON> Fairweather about the late fee.",
            "I will call Brown back at 555.987.6543 tomorrow morning please.",
            "spoke with priya ramanathan; callback five five five two two two three three three"
            " three.",
            "Customer said Fairweather referred him; email tokonkwo about the refund today.",
        ],
    }
)


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    CUSTOMERS.to_csv(path, index=False)
    return path


def test_redact_table_uses_its_own_values(engine, customers: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    summary = redact_file(customers, out, engine, Redactor(engine.policy, None))
    notes = pd.read_csv(out)["notes"].tolist()
    text = out.read_text()
    for leaked in ("Fairweather", "Brown", "987", "ramanathan", "priya", "tokonkwo", "five five"):
        assert leaked not in text, leaked
    assert "I will call <PERSON> back" in notes[1]  # "will" stays a verb
    assert summary.known_values.get("PERSON", 0) >= 3 and summary.known_values["PHONE_NUMBER"] >= 2


def test_known_values_off_keeps_what_detectors_miss(
    engine, customers: Path, tmp_path: Path
) -> None:
    """The same table without known values: the surnames NER misses stay (what this fixes)."""
    out = tmp_path / "out.csv"
    summary = redact_file(customers, out, engine, Redactor(engine.policy, None), known_values=False)
    assert summary.known_values == {}
    assert "Fairweather" in out.read_text()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_pseudonyms_match_between_column_and_text(engine, tmp_path: Path, fmt: str) -> None:
    policy = parse_policy(
        "version: 1\nentities:\n  PERSON: {operator: pseudonymize}\n"
        "  PHONE_NUMBER: {operator: pseudonymize}\n"
    )
    key = b"k" * 32
    frame = CUSTOMERS.iloc[:2].copy()
    frame["notes"] = [
        "Talked to jane fairweather, she asked us to call 555.123.4567 after lunch today.",
        "Left a voicemail for Will Brown on 555 987 6543 about the overdue invoice.",
    ]
    src = tmp_path / f"c.{fmt}"
    if fmt == "csv":
        frame.to_csv(src, index=False)
    elif fmt == "parquet":
        frame.to_parquet(src, index=False)
    else:
        frame.to_json(src, orient="records", lines=True)
    out = tmp_path / f"out.{fmt}"
    redact_file(src, out, engine_for(policy), Redactor(policy, key))
    after = (
        pd.read_csv(out)
        if fmt == "csv"
        else pd.read_parquet(out)
        if fmt == "parquet"
        else pd.read_json(out, lines=True)
    )
    person = pseudonym_token(key, "PERSON", "Jane Fairweather")
    phone = pseudonym_token(key, "PHONE_NUMBER", "(555) 123-4567")
    assert after["full_name"][0] == person and after["phone"][0] == phone
    assert person in after["notes"][0] and phone in after["notes"][0], after["notes"][0]
    other = pseudonym_token(key, "PHONE_NUMBER", "555-987-6543")
    assert other in after["notes"][1]


def test_common_word_given_names_stay_outside_a_name_context(engine, tmp_path: Path) -> None:
    """A table of people named Will, May, Grace: their names are not blanked from other rows."""
    frame = pd.DataFrame(
        {
            "full_name": ["Will Ng", "May Okafor", "Grace Liu"],
            "notes": [
                "Customer will upgrade the plan in the next billing cycle, maybe.",
                "Renewal may slip to next month; follow up with the account team.",
                "Granted a grace period of ten days on the outstanding balance.",
            ],
        }
    )
    src = tmp_path / "people.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    redact_file(src, out, engine, Redactor(load_policy(), None))
    assert pd.read_csv(out)["notes"].tolist() == frame["notes"].tolist()


def test_a_text_naming_someone_in_full_is_their_row() -> None:
    """ "Price" is a common word: outside its row it needs a text that names Gregory Price."""
    k = KnownValues()
    k.add("PERSON", "Gregory Price")
    text = "Customer: hi this is gregory price.\nAgent: thank you Price, the prices went up."
    assert [text[m.finding.start : m.finding.end] for m in k.find(text)] == [
        "gregory price",
        "Price",
    ]
    assert k.find("Agent: thank you Price.") == []
