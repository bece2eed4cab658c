"""Policy loading: the default policy, versions by canonical form, and located errors."""

from __future__ import annotations

import pytest

from piizone.scrubbers.exceptions import PolicyError
from piizone.scrubbers.policy import (
    default_policy_text,
    disabled_warning,
    load_policy,
    parse_policy,
)


def test_default_policy_loads_and_has_a_version():
    policy = load_policy()
    assert len(policy.sha256) == 64
    assert "PERSON" in policy.entities
    assert "SpokenNumberRecognizer" in policy.model.engine.recognizers
    assert policy.operator_for("PERSON").type == "replace"


def test_version_ignores_comments_and_key_order_but_not_content():
    a = parse_policy("version: 1\n# hello\nentities: {PERSON: {threshold: 0.6}, US_SSN: {}}\n")
    b = parse_policy("entities:\n  US_SSN: {}\n  PERSON:\n    threshold: 0.6\nversion: 1\n")
    c = parse_policy("version: 1\nentities: {PERSON: {threshold: 0.7}, US_SSN: {}}\n")
    assert a.sha256 == b.sha256
    assert a.sha256 != c.sha256


def test_operator_shorthand_and_column_rules():
    policy = parse_policy(
        "version: 1\ndefault_operator: redact\n"
        "entities: {CREDIT_CARD: {operator: {type: mask, chars: 12}},\n"
        "           EMAIL_ADDRESS: {operator: pseudonymize}}\n"
        "columns: {notes: scan, ssn: drop, email: fake}\n"
    )
    assert policy.operator_for("PERSON").type == "redact"
    assert policy.operator_for("CREDIT_CARD").chars == 12
    assert policy.operator_for("EMAIL_ADDRESS").type == "pseudonymize"
    assert policy.column_rule("notes") == "scan"
    assert policy.column_rule("ssn") == "drop"
    assert policy.column_rule("email").type == "fake"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nentities:\n  PERSN: {}\n", r"p\.yaml:3: entities\.PERSN: unknown entity"),
        (
            "version: 1\nentities:\n  PERSON:\n    operator: scramble\n",
            r"p\.yaml:4: entities\.PERSON\.operator\.type: unknown operator",
        ),
        (
            "version: 1\nentities:\n  PERSON: {threshold: 1.5}\n",
            r"p\.yaml:3: entities\.PERSON\.threshold: .*less than or equal to 1",
        ),
        (
            "version: 1\nengine:\n  recognizers:\n    - NoSuchRecognizer\n",
            r"p\.yaml:4: engine\.recognizers\.0: unknown recognizer 'NoSuchRecognizer'",
        ),
        ("version: 1\ncolour: blue\n", r"p\.yaml:2: colour: unknown field"),
        ("version: 1\nentities: [PERSON\n", r"p\.yaml:\d+: invalid YAML"),
        ("version: 2\n", r"p\.yaml:1: version: "),
        ("- a\n- b\n", r"p\.yaml:1: a policy is a YAML mapping"),
        (
            "version: 1\ncustom_recognizers:\n"
            "  - {name: X, entity: EMP, patterns: [{regex: '(('}]}\n",
            r"p\.yaml:3: custom_recognizers\.0\.patterns\.0\.regex: invalid regex",
        ),
        (
            "version: 1\nentities:\n  PERSON: {operator: drop}\n",
            r"p\.yaml:3: entities\.PERSON\.operator: 'drop' applies to table columns only",
        ),
    ],
)
def test_invalid_policies_name_file_line_and_problem(text, message):
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, source="p.yaml")


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")


def test_custom_entities_are_known_once_declared():
    policy = parse_policy(
        "version: 1\nentities: {EMPLOYEE_ID: {}}\ncustom_recognizers:\n"
        "  - {name: EmpId, entity: EMPLOYEE_ID, patterns: [{regex: 'EMP-\\d+'}]}\n"
    )
    assert "EMPLOYEE_ID" in policy.entities and "PERSON" in policy.entities


def test_omitted_engine_and_entities_come_from_the_default_policy():
    default = load_policy()
    policy = parse_policy("version: 1\ndefault_operator: redact\n")
    assert policy.model.engine.recognizers == default.model.engine.recognizers
    assert policy.entities == default.entities
    explicit = parse_policy(
        "version: 1\nengine: {recognizers: [PhoneRecognizer]}\nentities: {PHONE_NUMBER: {}}\n"
    )
    assert explicit.model.engine.recognizers == ["PhoneRecognizer"]
    assert explicit.model.engine.spacy_model == default.model.engine.spacy_model
    assert explicit.entities == default.entities  # entities extend the default


def test_a_policy_extends_the_default_entity_by_entity():
    default = load_policy()
    policy = parse_policy(
        "version: 1\nentities:\n  PERSON: {operator: {type: mask}}\n"
        "  EMAIL_ADDRESS: {operator: redact}\n  CREDIT_CARD: {threshold: 0.7}\n"
    )
    assert policy.entities == default.entities  # phones, dates of birth, addresses stay
    assert policy.operator_for("PERSON").type == "mask"
    assert policy.threshold("PHONE_NUMBER") == default.threshold("PHONE_NUMBER") == 0.4
    assert policy.threshold("CREDIT_CARD") == 0.7
    assert policy.threshold("PERSON") == default.threshold("PERSON")
    assert policy.disabled == ()


def test_switching_a_detector_off_is_explicit():
    policy = parse_policy(
        "version: 1\nentities:\n  PHONE_NUMBER: {enabled: false}\n  LOCATION: {enabled: false}\n",
        source="p.yaml",
    )
    assert "PHONE_NUMBER" not in policy.entities and "PERSON" in policy.entities
    assert policy.disabled == ("LOCATION", "PHONE_NUMBER")
    assert "enabled" not in policy.canonical_json()
    warning = disabled_warning(policy)
    assert warning is not None and "LOCATION, PHONE_NUMBER" in warning and "\n" not in warning
    assert disabled_warning(load_policy()) is None


def test_the_default_policy_version_is_unchanged_by_the_enabled_field():
    # sha256 of the default's canonical form before `enabled` and `identifier_columns` existed:
    # a zone built with it stores that text, which keeps its version (identifier columns off).
    before = "371d29c5fee19409097feba622f44cf9e4a257fb4515a87b3d9317862a913c8e"
    text = default_policy_text()
    start = text.index("# Identifier columns")
    stored = text[:start] + text[text.index("\n\n", text.index("identifier_columns:")) + 2 :]
    assert "identifier_columns" not in stored
    assert load_policy().sha256 != before  # the default now pseudonymizes identifier columns
    assert parse_policy(stored).model.identifier_columns is not None  # read today: the default's
    former = parse_policy(stored, source="zone z v1", recorded_sha256=before)
    assert former.sha256 == before and former.model.identifier_columns is None


def test_a_stored_policy_keeps_the_reading_its_zone_recorded():
    text = "version: 1\nentities: {PERSON: {}}\n"
    # The version piizone recorded for this text when `entities:` replaced the default list.
    former = "da31e95482e97179cd7ceb1193f9cda28d963371d0bcdb5adb6961a651394a3a"
    now = parse_policy(text)
    assert now.sha256 != former and "PHONE_NUMBER" in now.entities
    stored = parse_policy(text, recorded_sha256=former)
    assert stored.sha256 == former and stored.entities == ["PERSON"]
    # A recorded version that neither reading gives: the current reading (callers refuse it).
    assert parse_policy(text, recorded_sha256="0" * 64).sha256 == now.sha256
    # The same effective content written the new way has the same version.
    off = ", ".join(f"{e}: {{enabled: false}}" for e in now.entities if e != "PERSON")
    # (identifier columns as then: `false`, their entity's operator)
    explicit = parse_policy(
        f"version: 1\nidentifier_columns: false\nentities: {{PERSON: {{threshold: null}}, {off}}}\n"
    )
    assert explicit.sha256 == former


def test_identifier_columns_default_setting_and_precedence():
    default = load_policy()
    assert default.identifier_operator("EMAIL_ADDRESS").type == "pseudonymize"
    assert default.operator_for("EMAIL_ADDRESS").type == "replace"  # free text keeps replace
    inherited = parse_policy("version: 1\nname: mine\n")
    assert inherited.model.identifier_columns == default.model.identifier_columns
    policy = parse_policy(
        "version: 1\nidentifier_columns: fake\n"
        "entities:\n  DATE_OF_BIRTH: {operator: generalize}\n"
        "default_operator: redact\n"
    )
    assert policy.identifier_operator("DATE_OF_BIRTH").type == "generalize"  # the entity's own
    assert policy.identifier_operator("US_SSN").type == "fake"
    off = parse_policy("version: 1\nidentifier_columns: false\ndefault_operator: redact\n")
    assert off.model.identifier_columns is None
    assert off.identifier_operator("US_SSN").type == "redact"  # the default operator, as before
    assert "identifier_columns" not in off.canonical_json()
    assert "identifier_columns" in default.canonical_json()
    with pytest.raises(PolicyError, match=r"p.yaml:2: identifier_columns.type: unknown operator"):
        parse_policy("version: 1\nidentifier_columns: tokenize\n", source="p.yaml")
