"""Keyed fingerprints of a zone's original PII: what is stored, what matches, what egress does."""

from __future__ import annotations

import hashlib
import os

import pytest

from piizone.zones import audit
from piizone.zones.leakcheck import egress
from piizone.zones.leakcheck.fingerprints import (
    FINGERPRINTS_FILE,
    FingerprintSet,
    Matcher,
    fingerprint_key,
    load_fingerprints,
    value_form,
)
from piizone.zones.provision.build import refresh_zone
from piizone.zones.storage.crypto import CryptoError, iter_decrypt

NAME, SSN, PHONE = "Maria Gonzalez", "219-09-9999", "415-555-0132"
RAW_FORMS = [NAME, NAME.lower(), SSN, "219099999", "jc@yahoo.com", "John Carter", "078-05-1120"]


@pytest.mark.parametrize(
    "entity, value, form",
    [
        ("PERSON", "  Maria   GONZALEZ ", ("t\0maria gonzalez", 2)),
        ("PERSON", "maria_gonzalez", ("t\0maria gonzalez", 2)),
        ("EMAIL_ADDRESS", "M.G@Example.com", ("t\0m g example com", 4)),
        ("US_SSN", "219-09-9999", ("d\0" + "219099999", 9)),
        ("US_SSN", "219 09 9999", ("d\0" + "219099999", 9)),
        ("PHONE_NUMBER", "(415) 555-0132", ("d\0" + "4155550132", 10)),
        ("CUSTOM_ID", "12-3456-78", ("d\0" + "12345678", 8)),  # digits and separators only
        ("PERSON", "Al", None),  # too short: would match ordinary text
        # A lone common English word (NER's "Email" as a person) would hold every output that
        # uses it; a single name that is no such word, or two words, is kept.
        ("PERSON", "Email", None),
        ("ORGANIZATION", "Customer", None),
        ("PERSON", "Grace", None),
        ("PERSON", "Jennifer", ("t\0jennifer", 1)),
        ("PERSON", "GONZALEZ", ("t\0gonzalez", 1)),
        ("PERSON", "Grace Baker", ("t\0grace baker", 2)),
        ("US_SSN", "1234", None),
    ],
)
def test_value_form_normalizes(entity, value, form):
    assert value_form(entity, value) == form


def test_key_is_derived_from_the_dek_and_the_set_round_trips():
    dek1, dek2 = os.urandom(32), os.urandom(32)
    assert fingerprint_key(dek1) != fingerprint_key(dek2) != dek2
    fps = FingerprintSet()
    assert fps.add(fingerprint_key(dek1), "PERSON", NAME)
    again = FingerprintSet.from_bytes(fps.to_bytes())
    assert again.entries == fps.entries and again.ngram_sizes == {2}
    assert NAME.lower().encode() not in fps.to_bytes()


def test_matcher_finds_ngrams_and_aligned_digit_runs():
    key = fingerprint_key(os.urandom(32))
    fps = FingerprintSet()
    for entity, value in [("PERSON", NAME), ("US_SSN", SSN), ("PHONE_NUMBER", PHONE)]:
        fps.add(key, entity, value)
    matcher = Matcher(key)
    matcher.add_set(fps, "fingerprint")
    line = "row 7: MARIA gonzalez, ssn 219 09 9999, tel (415) 555.0132"
    hits = matcher.scan_line(line)
    assert [(line[h.start : h.end], h.entity_type) for h in hits] == [
        ("MARIA gonzalez", "PERSON"),
        ("219 09 9999", "US_SSN"),
        ("415) 555.0132", "PHONE_NUMBER"),
    ]
    assert {h.reason for h in hits} == {"fingerprint"}
    # Not a value: other people, parts of a name, digits inside a longer group.
    assert matcher.scan_line("maria lopez; gonzalez; 92190999999; 0.2190999991") == []
    assert matcher.scan_line("auc 0.219099999, loss 219099999.5") == []  # decimals


def test_a_different_key_matches_nothing():
    fps = FingerprintSet()
    fps.add(fingerprint_key(os.urandom(32)), "PERSON", NAME)
    matcher = Matcher(fingerprint_key(os.urandom(32)))
    matcher.add_set(fps, "fingerprint")
    assert matcher.scan_line(NAME) == []


@pytest.fixture(scope="module")
def zone(make_zone):
    files = {
        "calls.txt": f"Customer {NAME} called; her SSN is {SSN} and her phone {PHONE}.\n",
        "customers.csv": "name,email,ssn\n"
        f"{NAME},maria.gonzalez@gmail.com,{SSN}\n"
        "John Carter,jc@yahoo.com,078-05-1120\n",
    }
    made = make_zone("fp", files)
    return made.store, made.manifest, made.dek(), made.source


def test_zone_stores_encrypted_fingerprints_listed_in_the_manifest(zone):
    store, manifest, dek, _ = zone
    entry = manifest.fingerprints
    assert entry is not None and entry.path == FINGERPRINTS_FILE and entry.count >= 6
    directory = store.current_dir("fp")
    path = directory / FINGERPRINTS_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    blob = path.read_bytes()
    with open(path, "rb") as f:
        plain = b"".join(iter_decrypt(f, dek, zone_id=manifest.id, path=FINGERPRINTS_FILE))
    assert hashlib.sha256(plain).hexdigest() == entry.sha256
    for raw in RAW_FORMS:
        assert raw.encode() not in blob and raw.encode() not in plain
        # Nor an unkeyed hash of any normalized form: only HMACs under the zone's key.
        form = value_form("US_SSN" if raw[0].isdigit() else "PERSON", raw)
        assert hashlib.sha256(form[0].encode()).hexdigest()[:32].encode() not in plain
    # Without the DEK it does not open.
    with pytest.raises(CryptoError), open(path, "rb") as f:
        b"".join(iter_decrypt(f, os.urandom(32), zone_id=manifest.id, path=FINGERPRINTS_FILE))
    # Nothing raw anywhere in the zone directory either.
    for p in directory.rglob("*"):
        if p.is_file():
            assert NAME.encode() not in p.read_bytes() and SSN.encode() not in p.read_bytes()
    fps = load_fingerprints(directory, manifest, dek)
    assert {"PERSON", "US_SSN", "EMAIL_ADDRESS"} <= set(fps.entries.values())


def _release(zone, host_out, out, session):
    store, manifest, dek, _ = zone
    return egress.release_outputs(
        host_out, out, store=store, name="fp", manifest=manifest, dek=dek, session=session
    )


def test_egress_quarantines_an_original_value_by_fingerprint(zone, tmp_path):
    store, _, _, _ = zone
    host_out, out = tmp_path / "host", tmp_path / "out"
    host_out.mkdir()
    # What the command could not have seen in the redacted zone: the raw SSN (no dashes, so
    # no detector fires) and the name written as an identifier.
    (host_out / "preds.csv").write_text("id,score\nuser_1,0.93\nmaria_gonzalez,0.41\n")
    (host_out / "ids.txt").write_text("top ids\n219099999\n")
    (host_out / "metrics.json").write_text('{"auc": 0.91, "n": 1200}\n')
    report = _release(zone, host_out, out, "s-fp")
    assert sorted(f.file for f in report.quarantined) == ["ids.txt", "preds.csv"]
    assert [f.file for f in report.released] == ["metrics.json"]
    found = {(f.file, f.line, f.entity, f.reason) for f in report.findings}
    assert ("preds.csv", 3, "PERSON", "fingerprint") in found
    assert ("ids.txt", 2, "US_SSN", "fingerprint") in found
    text = str(report.to_dict())
    assert "219099999" not in text and "maria_gonzalez" not in text.lower()
    assert report.reasons["fingerprint"] >= 2
    key = (store.home / "keys" / audit.KEY_FILE).read_bytes()
    scan = [
        r
        for r in audit.AuditLog(store.home / "audit", key).records()
        if r["action"] == "egress.scan"
    ][-1]
    assert scan["outcome"] == "denied" and scan["details"]["reasons"]["fingerprint"] >= 2
    assert "219099999" not in str(scan)


def test_report_contexts_mask_every_value_on_the_line(zone, tmp_path):
    host_out, out = tmp_path / "host", tmp_path / "out"
    host_out.mkdir()
    # A fingerprint hit next to a value only the detectors see, and the other way round.
    (host_out / "mixed.txt").write_text("maria_gonzalez wrote to bob.jones@gmail.com today\n")
    report = _release(zone, host_out, out, "s-mixed")
    assert {f.reason for f in report.findings} == {"fingerprint", "policy"}
    text = str(report.to_dict()).lower()
    assert "maria" not in text and "gonzalez" not in text and "bob.jones" not in text


def test_refresh_keeps_the_fingerprints_of_reused_items(zone):
    store, manifest, dek, _ = zone
    refresh_zone("fp", store)
    m2 = store.manifest("fp")
    assert m2.version == manifest.version + 1
    old = load_fingerprints(store.version_dir("fp", manifest.version), manifest, dek)
    new = load_fingerprints(store.current_dir("fp"), m2, dek)
    assert old.entries.items() <= new.entries.items()
