"""Policy loading: the default policy, versions by canonical form, and located errors."""

from __future__ import annotations

import pytest

from piizone.scrubbers.exceptions import PolicyError
from piizone.scrubbers.policy import load_policy, parse_policy


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
    assert policy.entities == ["EMPLOYEE_ID"]


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
    assert explicit.entities == ["PHONE_NUMBER"]
