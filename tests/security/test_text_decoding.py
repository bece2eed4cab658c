"""UTF-16 and UTF-32 input is decoded, scanned and redacted like UTF-8 (issue 13, finding 6).

Text used to be read as UTF-8 with bad bytes replaced: a UTF-16 file became NUL-riddled garbage,
every detector missed its PII, `scan`/`redact`/`zone create` said "no PII" and copied it raw.
Now a byte-order mark is honoured, BOM-less UTF-16/32 is detected, and what cannot be decoded
as text is refused. `redact` writes its output in the input's encoding (BOM included).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import iter_table_chunks, iter_text_chunks
from piizone.zones.lifecycle import unwrap_zone_key
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.store import ZoneStore

runner = CliRunner()
EMAIL = "jane.doe@example.com"
SSN = "536-22-8416"
NOTE = f"Customer Jane Doe wrote from {EMAIL}; her SSN is {SSN}.\nThanks, bye.\n"
CSV = f"id,email,ssn\n1,{EMAIL},{SSN}\n2,bob.lee@example.org,412-56-7834\n"

# (name, python codec that writes the bytes, BOM prefix written by hand)
ENCODINGS = [
    ("utf-16-le-bom", "utf-16-le", b"\xff\xfe"),
    ("utf-16-be-bom", "utf-16-be", b"\xfe\xff"),
    ("utf-16-le", "utf-16-le", b""),
    ("utf-16-be", "utf-16-be", b""),
    ("utf-32-le-bom", "utf-32-le", b"\xff\xfe\x00\x00"),
    ("utf-32-be", "utf-32-be", b""),
    ("utf-8-bom", "utf-8", b"\xef\xbb\xbf"),
]
IDS = [e[0] for e in ENCODINGS]


def encoded(text: str, codec: str, bom: bytes) -> bytes:
    return bom + text.encode(codec)


def raw_forms(codec: str) -> list[bytes]:
    """The PII as it would appear in a file of this encoding (and in UTF-8)."""
    return [v.encode(c) for v in (EMAIL, SSN) for c in {codec, "utf-8"}]


@pytest.mark.parametrize(("name", "codec", "bom"), ENCODINGS, ids=IDS)
def test_detected_and_decoded(tmp_path: Path, name: str, codec: str, bom: bytes) -> None:
    from piizone.scrubbers.formats import detect_encoding  # new in this fix

    path = tmp_path / "note.txt"
    path.write_bytes(encoded(NOTE, codec, bom))
    enc = detect_encoding(path)
    assert (enc.codec, enc.bom) == (codec, bom)
    assert "".join(c.text for c in iter_text_chunks(path)) == NOTE
    table = tmp_path / "people.csv"
    table.write_bytes(encoded(CSV, codec, bom))
    [frame] = list(iter_table_chunks(table, "csv"))
    assert frame["email"].tolist() == [EMAIL, "bob.lee@example.org"]


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02\x03\xff\xfe\x00\x10" * 64, b"PK\x03\x04" + bytes(range(256)) * 8],
    ids=["noise", "zip"],
)
def test_binary_content_is_refused(tmp_path: Path, data: bytes) -> None:
    from piizone.scrubbers.formats import detect_encoding  # new in this fix

    path = tmp_path / "blob.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match="not text"):
        detect_encoding(path)


@pytest.mark.parametrize(("name", "codec", "bom"), ENCODINGS, ids=IDS)
def test_scan_finds_the_pii(tmp_path: Path, name: str, codec: str, bom: bytes) -> None:
    (tmp_path / "note.txt").write_bytes(encoded(NOTE, codec, bom))
    (tmp_path / "people.csv").write_bytes(encoded(CSV, codec, bom))
    result = runner.invoke(app, ["scan", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {Path(s["path"]).name: s["entities"] for s in report["sources"]}
    for source in ("note.txt", "people.csv"):
        assert by_name[source].get("EMAIL_ADDRESS", 0) >= 1, (source, by_name)
        assert by_name[source].get("US_SSN", 0) >= 1, (source, by_name)


@pytest.mark.parametrize(("name", "codec", "bom"), ENCODINGS, ids=IDS)
def test_redact_removes_the_pii_and_keeps_the_encoding(
    tmp_path: Path, piizone_home: Path, name: str, codec: str, bom: bytes
) -> None:
    for fname, text in (("note.txt", NOTE), ("people.csv", CSV)):
        src = tmp_path / fname
        src.write_bytes(encoded(text, codec, bom))
        out = tmp_path / f"out-{fname}"
        result = runner.invoke(app, ["redact", str(src), "-o", str(out)])
        assert result.exit_code == 0, result.stderr
        data = out.read_bytes()
        for raw in raw_forms(codec):
            assert raw not in data, (fname, raw)
        assert data.startswith(bom)
        text = data[len(bom) :].decode(codec)  # the input's encoding, strictly
        assert "Thanks" in text or "bob" not in text  # it is the document, decoded


def zone_plaintexts(home: Path, name: str) -> dict[str, bytes]:
    store = ZoneStore(home)
    m = store.manifest(name)
    dek = unwrap_zone_key(store, m)
    out = {}
    for f in m.files:
        with open(store.version_dir(name, m.version) / f.path, "rb") as fh:
            out[f.path] = b"".join(iter_decrypt(fh, dek, zone_id=m.id, path=f.path))
    return out


@pytest.mark.parametrize(
    ("name", "codec", "bom"),
    [ENCODINGS[0], ENCODINGS[3], ENCODINGS[5]],
    ids=IDS[0:1] + [IDS[3], IDS[5]],
)
def test_zone_create_holds_no_raw_value(
    tmp_path: Path, piizone_home: Path, name: str, codec: str, bom: bytes
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "note.txt").write_bytes(encoded(NOTE, codec, bom))
    (src / "people.csv").write_bytes(encoded(CSV, codec, bom))
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["zone", "create", "z", "--from", str(src), "--purpose", "t"])
    assert result.exit_code == 0, result.stderr
    planes = zone_plaintexts(piizone_home, "z")
    assert {p.rsplit("/", 1)[-1] for p in planes} >= {"note.txt", "people.csv"}
    for path, data in planes.items():
        for raw in raw_forms(codec):
            assert raw not in data, (path, raw)
    report = (ZoneStore(piizone_home).current_dir("z") / "report.json").read_text()
    assert "US_SSN" in report and "EMAIL_ADDRESS" in report
