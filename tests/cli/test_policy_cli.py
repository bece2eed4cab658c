"""`piizone policy` and the policy warning on scan/redact: extension entity by entity."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.scrubbers.policy import load_policy

runner = CliRunner()
THREE = (
    "version: 1\nentities:\n  PERSON: {operator: {type: mask}}\n"
    "  EMAIL_ADDRESS: {operator: redact}\n  CREDIT_CARD: {threshold: 0.6}\n"
)
PHONE_OFF = "version: 1\nentities:\n  PHONE_NUMBER: {enabled: false}\n"


def test_init_writes_the_commented_default_and_never_overwrites(tmp_path):
    out = tmp_path / "policy.yaml"
    result = runner.invoke(app, ["policy", "init", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("# piizone default policy.")
    assert load_policy(out).entities == load_policy().entities
    out.write_text("mine\n")
    again = runner.invoke(app, ["policy", "init", "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert out.read_text() == "mine\n"


def test_show_fills_in_the_default_entity_by_entity(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(THREE)
    result = runner.invoke(app, ["policy", "show", str(p), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    entities = data["policy"]["entities"]
    assert {"PHONE_NUMBER", "DATE_OF_BIRTH", "STREET_ADDRESS"} <= set(data["entities"])
    assert entities["PERSON"]["operator"]["type"] == "mask"
    assert entities["PHONE_NUMBER"] == {"threshold": 0.4}
    assert data["disabled"] == []
    text = runner.invoke(app, ["policy", "show", str(p)])
    assert text.exit_code == 0 and "PHONE_NUMBER" in text.stdout and data["sha256"] in text.stdout


def test_validate_and_the_warning_for_a_switched_off_detector(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(PHONE_OFF)
    result = runner.invoke(app, ["policy", "validate", str(p)])
    assert result.exit_code == 0
    assert "valid" in result.stdout and "switched off: PHONE_NUMBER" in result.stdout
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "PHONE_NUMBER" in warnings[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nentities:\n  PHONE_NUMBER: {enabled: maybe}\n")
    refused = runner.invoke(app, ["policy", "validate", str(bad)])
    assert refused.exit_code == 2 and "bad.yaml:3: entities.PHONE_NUMBER.enabled" in refused.stderr


def test_diff_names_each_setting_that_differs(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(PHONE_OFF)
    b.write_text(THREE)
    result = runner.invoke(app, ["policy", "diff", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.stderr
    changes = {c["path"]: (c["left"], c["right"]) for c in json.loads(result.stdout)["changes"]}
    assert changes["entities.PHONE_NUMBER.enabled"] == (False, None)
    left, right = changes["entities.PERSON.operator"]  # the default names no operator for it
    assert left is None and right["type"] == "mask"
    with_default = runner.invoke(app, ["policy", "diff", str(a)])
    assert "entities.PHONE_NUMBER.enabled: false -> (absent)" in with_default.stdout
    same = runner.invoke(app, ["policy", "diff", str(a), str(a)])
    assert "no differences" in same.stdout


def test_a_three_entity_policy_still_redacts_phones_and_warns_when_one_is_off(tmp_path):
    data = tmp_path / "note.txt"
    data.write_text("Call Jane Roe on 212-555-0199 or mail jane.roe@example.com.\n")
    three = tmp_path / "three.yaml"
    three.write_text(THREE)
    result = runner.invoke(app, ["redact", str(data), "--policy", str(three)])
    assert result.exit_code == 0, result.stderr
    assert "212-555-0199" not in result.stdout and "<PHONE_NUMBER>" in result.stdout
    assert "jane.roe@example.com" not in result.stdout
    off = tmp_path / "off.yaml"
    off.write_text(PHONE_OFF)
    result = runner.invoke(app, ["redact", str(data), "--policy", str(off)])
    assert result.exit_code == 0 and "212-555-0199" in result.stdout
    assert "warning:" in result.stderr and "PHONE_NUMBER" in result.stderr
    scanned = runner.invoke(app, ["scan", str(data), "--policy", str(off), "--json"])
    assert "PHONE_NUMBER" not in json.loads(scanned.stdout)["totals"]
    (warning,) = [json.loads(ln) for ln in scanned.stderr.splitlines() if ln.strip()]
    assert warning["level"] == "warning" and "PHONE_NUMBER" in warning["warning"]
