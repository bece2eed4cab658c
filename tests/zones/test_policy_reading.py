"""A zone's stored policy keeps the meaning its recorded sha256 names (issue 16, point 1).

Before policies extended the default entity by entity, an `entities:` key replaced the default
list. A zone built then stores that policy.yaml whole and records the sha256 of that reading;
export, bundle verification, `serve --zone` and refresh must keep reading it that way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import piizone.scrubbers.policy as policy_module
from piizone.cli.main import app
from piizone.scrubbers.policy import parse_policy
from piizone.zones.serving.bundle import home_pseudonym_key, scrubber_from_zone, verify_bundle
from piizone.zones.storage.store import ZoneStore

runner = CliRunner()
TWO = "version: 1\nentities:\n  PERSON: {}\n  EMAIL_ADDRESS: {}\n"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "people.csv").write_text("name,email\nDevin Sparks,devin.sparks@yahoo.com\n")
    return d


def test_a_zone_built_when_entities_replaced_the_default_keeps_verifying(
    piizone_home: Path, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(TWO)
    former = policy_module._parse(TWO, "former", extend=False)
    assert runner.invoke(app, ["init"]).exit_code == 0
    # Build the zone the way piizone did before: `entities:` as the whole list.
    original = policy_module._parse
    monkeypatch.setattr(
        policy_module,
        "_parse",
        lambda text, source, *, extend: original(text, source, extend=False),
    )
    made = runner.invoke(
        app, ["zone", "create", "old", "--from", str(src), "--policy", str(policy)]
    )
    assert made.exit_code == 0, made.stderr
    monkeypatch.setattr(policy_module, "_parse", original)

    store = ZoneStore(piizone_home)
    assert store.manifest("old").policy.sha256 == former.sha256
    assert parse_policy(TWO).sha256 != former.sha256  # today's reading of the same text differs
    assert scrubber_from_zone("old", store).policy.entities == ["EMAIL_ADDRESS", "PERSON"]
    out = tmp_path / "bundle"
    exported = runner.invoke(app, ["zone", "export-policy", "old", "-o", str(out)])
    assert exported.exit_code == 0, exported.stderr
    key = home_pseudonym_key(piizone_home)
    bundle = verify_bundle(out, pseudonym_key=key, home=piizone_home)
    assert bundle.policy.sha256 == former.sha256
    assert bundle.policy.entities == ["EMAIL_ADDRESS", "PERSON"]
    refreshed = runner.invoke(app, ["zone", "refresh", "old", "--force"])  # a real rebuild
    assert refreshed.exit_code == 0, refreshed.stderr
    assert store.manifest("old").policy.sha256 == former.sha256


def test_zone_create_warns_about_a_switched_off_detector(
    piizone_home: Path, src: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nentities:\n  PHONE_NUMBER: {enabled: false}\n")
    assert runner.invoke(app, ["init"]).exit_code == 0
    made = runner.invoke(app, ["zone", "create", "z", "--from", str(src), "--policy", str(policy)])
    assert made.exit_code == 0, made.stderr
    warnings = [ln for ln in made.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "PHONE_NUMBER" in warnings[0]
    recorded = ZoneStore(piizone_home).manifest("z").policy.sha256
    assert recorded == parse_policy(policy.read_text()).sha256
    assert "PHONE_NUMBER" not in scrubber_from_zone("z", ZoneStore(piizone_home)).policy.entities
