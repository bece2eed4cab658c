"""A zone written before the typed manifest (tests/fixtures/home_v1) still opens, verifies and
refreshes with this code: issue 15's "behaviour unchanged" point for zones already on disk.

The fixture is a whole PIIZONE_HOME (test keys included) made by tests/fixtures/make_home_v1.py
with the code of issue 15 step 1. The tests work on a copy: the committed files never change.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones.access import current_user, is_operator
from piizone.zones.lifecycle import unwrap_zone_key
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.manifest import parse_manifest
from piizone.zones.storage.store import ZoneStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HOME_V1 = FIXTURES / "home_v1"
SOURCE = FIXTURES / "home_v1_source" / "customers.csv"
ZONE = "fixture"
V1_MANIFEST = HOME_V1 / "zones" / ".versions" / ZONE / "v000001" / "manifest.json"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the v1 home, with the modes piizone gives its files (git keeps 0644)."""
    home = tmp_path / "home"
    shutil.copytree(HOME_V1, home, symlinks=True)
    for dirpath, _dirs, files in os.walk(home):
        os.chmod(dirpath, 0o700)
        for f in files:
            path = Path(dirpath) / f
            if not path.is_symlink():
                path.chmod(0o600)
    if not is_operator():
        # Made as root; managing it (refresh) is for its owner or root. Hand the copy over.
        manifest = home / "zones" / ".versions" / ZONE / "v000001" / "manifest.json"
        data = json.loads(manifest.read_text())
        data["owner"] = current_user()
        manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    monkeypatch.setenv("PIIZONE_HOME", str(home))
    return home


def test_the_fixture_is_a_v1_zone() -> None:
    data = json.loads(V1_MANIFEST.read_text())
    assert data["format"] == "piizone-zone-manifest" and data["manifest_version"] == 1
    assert (HOME_V1 / "zones" / ZONE).is_symlink()


def test_a_v1_manifest_reads_as_the_model_and_writes_back_byte_identical() -> None:
    manifest = parse_manifest(json.loads(V1_MANIFEST.read_text()), ZONE)
    assert manifest.manifest_version == 1 and manifest.created_by.user == "root"
    assert manifest.key.provider.startswith("keyfile:") and manifest.files[0].rows == 2
    assert manifest.to_json() == V1_MANIFEST.read_bytes()


def test_a_v1_zone_opens_and_verifies(home: Path) -> None:
    shown = run("zone", "show", ZONE, "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["version"] == 1 and data["purpose"] == "v1 fixture"
    assert data["key"]["provider"].startswith("keyfile:")
    assert "wrapped" not in shown.stdout
    verified = run("zone", "verify", ZONE)
    assert verified.exit_code == 0, verified.output
    audited = run("audit", "verify")
    assert audited.exit_code == 0, audited.output


def test_a_v1_zone_refreshes(home: Path, tmp_path: Path) -> None:
    # The recorded source is an absolute path sealed with the zone key, on the machine that
    # made the fixture: re-point it with --from (a copy, so the second refresh reads it).
    source = tmp_path / "src" / "customers.csv"
    source.parent.mkdir()
    shutil.copy(SOURCE, source)
    # --force: the source is the same, and this step checks the reuse of the v1 file.
    first = run("zone", "refresh", ZONE, "--from", str(source), "--force", "--json")
    assert first.exit_code == 0, first.output
    store = ZoneStore(home)
    v2 = store.manifest(ZONE)
    assert store.versions(ZONE) == [1, 2]
    assert v2.version == 2 and v2.parent == 1
    # The source did not change: its file is reused from the v1 version, not redacted again.
    v2_dir = store.version_dir(ZONE, 2) / "data" / "customers.csv"
    v1_dir = store.version_dir(ZONE, 1) / "data" / "customers.csv"
    assert os.path.samefile(v1_dir, v2_dir)
    # The v2 manifest recorded the new source sealed under the v1 zone key: refresh alone finds it.
    source.write_text(SOURCE.read_text() + "Grace Hopper,grace.hopper@example.net\n")
    second = run("zone", "refresh", ZONE)
    assert second.exit_code == 0, second.output
    v3 = store.manifest(ZONE)
    assert v3.version == 3 and sum(f.rows or 0 for f in v3.files) == 3
    # The stored policy keeps the meaning it was built with (before identifier columns were
    # pseudonymized by default): the same version, and placeholders, not tokens, in the data.
    assert v3.policy.sha256 == store.manifest(ZONE, 1).policy.sha256
    (refreshed,) = v3.files
    with open(store.version_dir(ZONE, 3) / refreshed.path, "rb") as f:
        dek = unwrap_zone_key(store, v3)
        data = b"".join(iter_decrypt(f, dek, zone_id=v3.id, path=refreshed.path)).decode()
    assert "<EMAIL_ADDRESS>" in data and "<EMAIL_ADDRESS_" not in data
    assert run("zone", "verify", ZONE).exit_code == 0
    assert run("audit", "verify").exit_code == 0
    shown = run("zone", "show", ZONE, "--json")
    assert "Grace Hopper" not in shown.stdout and "grace.hopper" not in shown.stdout
