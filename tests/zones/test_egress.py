"""Egress check: what is text, what is scanned, what is released, what stays quarantined."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from piizone.zones import audit
from piizone.zones.leakcheck import egress
from piizone.zones.storage.crypto import iter_decrypt

LEAK = "write to bob.jones@gmail.com, ssn 219-09-9999"


@pytest.fixture(scope="module")
def zone(make_zone):
    made = make_zone("eg", {"t.txt": "redacted training text\n"})
    return made.store, made.manifest, made.dek()


@pytest.mark.parametrize(
    "name, content, text",
    [
        ("metrics.json", b'{"auc": 0.91}', True),
        ("notes.md", b"# results", True),
        ("run.log", b"epoch 1\x00", True),  # by extension, whatever the bytes
        ("nb.ipynb", b'{"cells": []}', True),
        ("leak.bin", LEAK.encode(), True),  # renamed text is still text
        ("model.pt", b"\x80\x02}q\x00(X\x05", False),
        ("weights.npy", bytes(range(256)), False),
        ("latin1.dat", "caf\xe9".encode("latin-1"), True),  # not UTF-8, still scanned
        ("ctrl.dat", bytes([1, 2, 3, 4, 5, 6, 7]) * 10 + b"abc", False),
        ("cut.dat", "x" * 10 + "é", True),
    ],
)
def test_is_text_output(tmp_path, name, content, text):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert egress.is_text_output(path) is text


def _release(zone, host_out: Path, out: Path, session: str = "s0123", **kw):
    store, manifest, dek = zone
    return egress.release_outputs(
        host_out, out, store=store, name="eg", manifest=manifest, dek=dek, session=session, **kw
    )


def test_clean_text_and_binaries_are_released(zone, tmp_path):
    host_out, out = tmp_path / "host", tmp_path / "out"
    (host_out / "sub").mkdir(parents=True)
    (host_out / "metrics.csv").write_text("metric,value\naccuracy,0.93\n")
    (host_out / "sub" / "weights.bin").write_bytes(os.urandom(2048))
    (host_out / "empty.txt").write_text("")
    # Random bytes are no known format: released only with allow_binary (--allow-binary).
    report = _release(zone, host_out, out, "s-clean", allow_binary=True)
    assert sorted(f.file for f in report.released) == [
        "empty.txt",
        "metrics.csv",
        "sub/weights.bin",
    ]
    assert {f.file: f.kind for f in report.released}["sub/weights.bin"] == "binary"
    assert (out / "sub" / "weights.bin").read_bytes() == (
        host_out / "sub" / "weights.bin"
    ).read_bytes()
    assert report.quarantined == [] and report.findings == []
    assert report.bytes_released == sum(f.bytes for f in report.released)


def test_flagged_file_is_quarantined_encrypted_and_reported_masked(zone, tmp_path):
    store, manifest, dek = zone
    host_out, out = tmp_path / "host", tmp_path / "out"
    host_out.mkdir()
    (host_out / "ok.txt").write_text("fine\n")
    (host_out / "samples.bin").write_text(f"first\nsecond\n{LEAK}\n")
    report = _release(zone, host_out, out, "s-leak")
    assert [f.file for f in report.released] == ["ok.txt"]
    assert [f.file for f in report.quarantined] == ["samples.bin"]
    assert not (out / "samples.bin").exists() and not (host_out / "samples.bin").exists()
    found = {(f.file, f.line, f.entity) for f in report.findings}
    assert ("samples.bin", 3, "EMAIL_ADDRESS") in found
    assert "bob.jones" not in str(report.to_dict()) and "219-09-9999" not in str(report.to_dict())
    # Encrypted with the zone's key, bound to the session and file; it decrypts back intact.
    # Named by number (a name can be PII); the encrypted index maps numbers to names.
    qfile = store.root / ".quarantine" / "s-leak" / "00000.piiz"
    assert b"bob.jones" not in qfile.read_bytes()
    assert oct(qfile.stat().st_mode & 0o777) == "0o600"
    assert oct((store.root / ".quarantine").stat().st_mode & 0o777) == "0o700"
    with open(qfile, "rb") as f:
        plain = b"".join(iter_decrypt(f, dek, zone_id=manifest.id, path="quarantine/s-leak/00000"))
    assert LEAK.encode() in plain
    with open(qfile.parent / "index.piiz", "rb") as f:
        index = b"".join(iter_decrypt(f, dek, zone_id=manifest.id, path="quarantine/s-leak/index"))
    assert b'"files": ["samples.bin"]' in index
    key = (store.home / "keys" / audit.KEY_FILE).read_bytes()
    scan = [
        r
        for r in audit.AuditLog(store.home / "audit", key).records()
        if r["action"] == "egress.scan"
    ]
    assert scan[-1]["outcome"] == "denied"
    assert scan[-1]["details"]["files_quarantined"] == 1
    assert scan[-1]["details"]["entities"]["EMAIL_ADDRESS"] >= 1
    assert "bob.jones" not in str(scan[-1])


def test_symlinks_and_specials_are_never_followed(zone, tmp_path):
    host_out, out = tmp_path / "host", tmp_path / "out"
    host_out.mkdir()
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host only\n")
    (host_out / "link.txt").symlink_to(secret)
    (host_out / "dirlink").symlink_to(tmp_path)
    os.mkfifo(host_out / "fifo")
    report = _release(zone, host_out, out, "s-links")
    assert sorted(s["file"] for s in report.skipped) == ["dirlink", "fifo", "link.txt"]
    assert report.released == []
    assert not out.exists() or list(out.iterdir()) == []
