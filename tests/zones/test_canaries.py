"""Canaries: planted fake records, encrypted, caught in outputs and by `zone canary-check`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones.audit import log as audit
from piizone.zones.leakcheck import egress
from piizone.zones.leakcheck.canaries import (
    CANARIES_FILE,
    CANARY_DATA_PATH,
    canary_check,
    load_canaries,
    make_canaries,
)
from piizone.zones.lifecycle import init_home
from piizone.zones.provision.build import refresh_zone
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.store import ZoneStore

runner = CliRunner()


def test_make_canaries_are_unique_fake_and_random_per_call():
    one, two = make_canaries(20), make_canaries(20)
    assert len({r["name"] for r in one}) == 20 and len({r["member_id"] for r in one}) == 20
    assert {r["member_id"] for r in one}.isdisjoint(r["member_id"] for r in two)
    for r in one:
        assert r["email"].split("@")[1] in ("example.com", "example.net", "example.org")
        assert "555-01" in r["phone"]
        assert r["member_id"] in r["note"] or r["name"] in r["note"]
    with pytest.raises(ValueError):
        make_canaries(0)


@pytest.fixture(scope="module")
def zone(make_zone):
    tickets = "Ticket 1: the export button does nothing.\n"
    made = make_zone("cz", {"tickets.txt": tickets}, canaries=5)
    store, manifest, dek = made.store, made.manifest, made.dek()
    return store, manifest, dek, load_canaries(store.current_dir("cz"), manifest, dek), made.base


def _records(store, action):
    key = (store.home / "keys" / audit.KEY_FILE).read_bytes()
    return [r for r in audit.AuditLog(store.home / "audit", key).records() if r["action"] == action]


def test_canaries_are_planted_in_the_data_and_recorded_encrypted(zone):
    store, manifest, dek, records, _ = zone
    assert len(records) == 5
    side = manifest["canaries"]
    assert side["count"] == 5 and side["path"] == CANARIES_FILE
    assert CANARY_DATA_PATH in [f["path"] for f in manifest["files"]]
    # The manifest and the files on disk hold no canary value; the data file decrypts to them.
    directory = store.current_dir("cz")
    manifest_text = (directory / "manifest.json").read_text()
    for r in records:
        assert r["member_id"] not in manifest_text and r["name"] not in manifest_text
        for p in directory.rglob("*"):
            if p.is_file():
                assert r["member_id"].encode() not in p.read_bytes()
    with open(directory / CANARY_DATA_PATH, "rb") as f:
        plain = b"".join(iter_decrypt(f, dek, zone_id=manifest["id"], path=CANARY_DATA_PATH))
    assert [json.loads(line) for line in plain.decode().splitlines()] == records


def test_egress_quarantines_a_canary(zone, tmp_path):
    store, manifest, dek, records, _ = zone
    host_out, out = tmp_path / "host", tmp_path / "out"
    host_out.mkdir()
    (host_out / "samples.txt").write_text(f"generated:\nuser id {records[2]['member_id']} ok\n")
    (host_out / "clean.txt").write_text("generated:\nthe export button works\n")
    report = egress.release_outputs(
        host_out, out, store=store, name="cz", manifest=manifest, dek=dek, session="s-can"
    )
    assert [f.file for f in report.quarantined] == ["samples.txt"]
    assert [f.file for f in report.released] == ["clean.txt"]
    assert ("samples.txt", 2, "CANARY_ID", "canary") in {
        (f.file, f.line, f.entity, f.reason) for f in report.findings
    }
    assert records[2]["member_id"] not in str(report.to_dict())
    assert report.reasons == {"canary": 1}


def test_canary_check_finds_canaries_masked_and_is_audited(zone, tmp_path):
    store, _, _, records, _ = zone
    samples = tmp_path / "samples.txt"
    samples.write_text(
        "sample 1: nothing to see\n"
        f"sample 2: call {records[0]['name']} on {records[0]['phone'].replace(' ', '')}\n"
    )
    report = canary_check("cz", samples, store)
    assert not report.clean and report.lines == 2
    assert {(f.line, f.entity, f.reason) for f in report.findings} == {
        (2, "PERSON", "canary"),
        (2, "PHONE_NUMBER", "canary"),
    }
    assert records[0]["name"] not in str(report.to_dict())
    last = _records(store, "zone.canary_check")[-1]
    assert last["outcome"] == "denied" and last["details"]["reasons"] == {"canary": 2}
    assert records[0]["name"] not in json.dumps(last)
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing here\n")
    assert canary_check("cz", clean, store).clean
    assert _records(store, "zone.canary_check")[-1]["outcome"] == "success"


def test_canary_check_cli_exit_codes(zone, tmp_path, monkeypatch):
    store, _, _, records, _ = zone
    monkeypatch.setenv("PIIZONE_HOME", str(store.home))
    hit, clean = tmp_path / "hit.jsonl", tmp_path / "clean.txt"
    hit.write_text(json.dumps({"text": f"Contact: {records[1]['email']} or bob.jones@gmail.com"}))
    clean.write_text("all good\n")
    done = runner.invoke(app, ["zone", "canary-check", "cz", str(hit)])
    assert done.exit_code == 1, done.output
    assert "EMAIL_ADDRESS (canary)" in done.output and records[1]["email"] not in done.output
    assert "bob.jones" not in done.output  # the rest of the line is masked by the detectors
    done = runner.invoke(app, ["zone", "canary-check", "cz", str(clean)])
    assert done.exit_code == 0 and "clean" in done.output
    done = runner.invoke(app, ["zone", "canary-check", "cz", str(tmp_path / "missing")])
    assert done.exit_code != 0 and "Traceback" not in done.output
    done = runner.invoke(app, ["zone", "canary-check", "--help"])
    assert "Example" in done.output and "piizone zone canary-check" in done.output


def test_refresh_keeps_the_same_canaries(zone):
    store, manifest, dek, records, _ = zone
    refresh_zone("cz", store)
    m2 = store.manifest("cz")
    assert m2["canaries"]["count"] == 5
    assert load_canaries(store.current_dir("cz"), m2, dek) == records


def test_zone_create_canaries_option(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("plain text\n")
    monkeypatch.setenv("PIIZONE_HOME", str(tmp_path / "home"))
    init_home(tmp_path / "home")
    done = runner.invoke(app, ["zone", "create", "c2", "--from", str(src), "--canaries", "3"])
    assert done.exit_code == 0, done.output
    assert ZoneStore(tmp_path / "home").manifest("c2")["canaries"]["count"] == 3
    done = runner.invoke(app, ["zone", "create", "c3", "--from", str(src), "--canaries", "-1"])
    assert done.exit_code == 2
