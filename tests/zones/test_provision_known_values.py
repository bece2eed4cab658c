"""zone create / refresh with known values: a table's identifier values redacted in the zone's
transcripts, --known-values dictionary sources (learned, never copied in, recorded without
values), and the CLI flag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.scrubbers.operators import pseudonym_token
from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import ZoneRequest, create_zone, refresh_zone
from piizone.zones.storage.keys import ensure_pseudonym_key
from piizone.zones.storage.store import ZoneStore

from .test_provision import plaintext

PSEUDO_POLICY = (
    "version: 1\nentities:\n  PERSON: {operator: pseudonymize}\n"
    "  PHONE_NUMBER: {operator: pseudonymize}\n  EMAIL_ADDRESS: {}\n"
)
CUSTOMERS = (
    "full_name,email,phone,notes\n"
    "Jane Fairweather,jane.fairweather@example.com,(555) 123-4567,"
    "Spoke with Ms Fairweather about the late fee on her account.\n"
    "Tom Okonkwo,tokonkwo@example.com,555-444-1212,Asked for a callback about the refund request.\n"
)
TRANSCRIPT = (
    "Agent: thanks for calling, who am I speaking with?\n"
    "Customer: this is jane fairweather, my number is five five five one two three four"
    " five six seven.\n"
    "Agent: thanks Fairweather. I also see okonkwo on the account.\n"
)
CRM = "full_name,phone\nBartholomew Quackenbush,(555) 777-8888\n"


@pytest.fixture
def store(piizone_home: Path) -> ZoneStore:
    init_home(piizone_home)
    return ZoneStore(piizone_home)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "customers.csv").write_text(CUSTOMERS)
    (d / "call.txt").write_text(TRANSCRIPT)
    (d / "call2.txt").write_text("Customer: it's Quackenbush, call me at 555.777.8888.\n")
    return d


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    path = tmp_path / "crm" / "crm.csv"
    path.parent.mkdir()
    path.write_text(CRM)
    return path


def zone_bytes(store: ZoneStore, name: str) -> bytes:
    m = store.manifest(name)
    return b"".join(plaintext(store, name, f.path) for f in m.files)


def test_table_values_redacted_in_transcripts_with_the_same_token(
    store: ZoneStore, src: Path, crm: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(PSEUDO_POLICY)
    result = create_zone(
        ZoneRequest("z", [str(src)], policy_path=str(policy), known_values=[str(crm)]), store
    )
    data = zone_bytes(store, "z").decode()
    for leaked in ("airweather", "five five five", "okonkwo", "Quackenbush", "777"):
        # As a whole word: a pseudonym token's random hex may contain "777" by chance.
        word = rf"(?<![0-9a-z]){re.escape(leaked.lower())}(?![0-9a-z])"
        assert not re.search(word, data.lower()), leaked
    call = plaintext(store, "z", "data/src/call.txt").decode()
    key = ensure_pseudonym_key(store.home)
    # The transcript's lower-case name and spoken phone get the column values' tokens.
    assert pseudonym_token(key, "PERSON", "Jane Fairweather") in call
    assert pseudonym_token(key, "PHONE_NUMBER", "(555) 123-4567") in call
    table = plaintext(store, "z", "data/src/customers.csv").decode()
    assert pseudonym_token(key, "PERSON", "Jane Fairweather") in table
    # The --known-values source is learned, not copied in, and recorded without values.
    manifest = result.manifest
    assert not any("crm" in f.path for f in manifest.files)
    (entry,) = manifest.known_values.sources
    assert entry.uri == str(crm) and entry.rows == 1 and len(entry.sha256) == 64
    text = manifest.to_json().decode() + (store.current_dir("z") / "report.json").read_text()
    for value in ("Fairweather", "Quackenbush", "123-4567", "777-8888", "tokonkwo"):
        assert value not in text
    assert sum(n for f in manifest.files for n in f.known_values.values()) >= 5


def test_refresh_reuses_known_sources_and_redacts_new_values(
    store: ZoneStore, src: Path, crm: Path
) -> None:
    create_zone(ZoneRequest("z", [str(src)], known_values=[str(crm)]), store)
    again = refresh_zone("z", store)
    assert sorted(again.reused) == ["src/call.txt", "src/call2.txt", "src/customers.csv"]
    assert again.manifest.known_values.sources[0].uri == str(crm)
    # A new customer in the dictionary: files are redacted again, with it.
    crm.write_text(CRM + "Zebulon Pemberton-Vasquez,(555) 999-0000\n")
    (src / "call3.txt").write_text("Customer: Pemberton-Vasquez here.\n")
    third = refresh_zone("z", store)
    assert third.reused == []
    assert b"Pemberton" not in zone_bytes(store, "z")


def test_known_values_off(store: ZoneStore, src: Path) -> None:
    """Without known values the transcript keeps what the detectors miss: what this adds."""
    create_zone(ZoneRequest("z", [str(src)], learn_known_values=False), store)
    assert b"<PERSON> fairweather" in zone_bytes(store, "z")  # NER took "jane" only
    assert store.manifest("z").known_values.enabled is False


def test_cli_known_values_flag(piizone_home: Path, src: Path, crm: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    (src / "customers.csv").unlink()  # only the dictionary knows anyone now
    result = runner.invoke(
        app, ["zone", "create", "c", "--from", str(src), "--known-values", str(crm)]
    )
    assert result.exit_code == 0, result.output
    assert "known values:" in result.output
    assert b"Quackenbush" not in zone_bytes(ZoneStore(piizone_home), "c")
    missing = runner.invoke(
        app, ["zone", "create", "d", "--from", str(src), "--known-values", "/nonexistent.csv"]
    )
    assert missing.exit_code == 2 and "nonexistent" in missing.output
