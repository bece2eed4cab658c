"""The zone file format against static known-answer vectors (tests/vectors/zone_format/).

The vectors come from scripts/make_vectors.py, a second implementation of docs/zone-format.md
that never imports piizone, so a bug shared by piizone's writer and reader cannot pass here.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from piizone.zones.exceptions import ZoneError
from piizone.zones.storage import crypto
from piizone.zones.storage.crypto import CryptoError, decrypt_stream, iter_decrypt
from tests.vectors import Vector, vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS = vectors("zone_format")


def decrypt(v: Vector) -> bytes:
    out = io.BytesIO()
    dek = bytes.fromhex(v.headers["dek"])
    binding = {"zone_id": v.headers["zone"], "path": v.headers["path"]}
    decrypt_stream(io.BytesIO(v.body), out, dek, **binding)
    return out.getvalue()


@pytest.mark.parametrize("v", [v for v in VECTORS if v.expect == "success"], ids=lambda v: v.name)
def test_success_vector_decrypts_to_its_payload(v: Vector) -> None:
    plaintext = decrypt(v)
    assert hashlib.sha256(plaintext).hexdigest() == v.headers["payload"]
    # Segment by segment too: one chunk per segment, each at most the header's segment size.
    size = int.from_bytes(v.body[5:9], "big")
    dek = bytes.fromhex(v.headers["dek"])
    chunks = list(
        iter_decrypt(io.BytesIO(v.body), dek, zone_id=v.headers["zone"], path=v.headers["path"])
    )
    assert b"".join(chunks) == plaintext
    assert len(chunks) == max(1, -(-len(plaintext) // size))


@pytest.mark.parametrize("v", [v for v in VECTORS if v.expect != "success"], ids=lambda v: v.name)
def test_reject_vector_is_rejected_with_its_message(v: Vector, monkeypatch) -> None:
    if "max-segment-index" in v.headers:
        # Rule 12 scaled down (2^32 segments is no file for a repository): the same file
        # decrypts under the format's real limit and is refused under the lowered one.
        assert decrypt(v)
        monkeypatch.setattr(crypto, "_MAX_SEGMENT_INDEX", int(v.headers["max-segment-index"]))
    with pytest.raises(CryptoError) as excinfo:
        decrypt(v)
    assert isinstance(excinfo.value, ZoneError)
    assert v.headers["message"] in str(excinfo.value)


def spec_rules() -> set[int]:
    spec = (ROOT / "docs" / "zone-format.md").read_text()
    section = spec.split("## MUST-reject rules", 1)[1].split("\n## ", 1)[0]
    return {int(n) for n in re.findall(r"^(\d+)\. ", section, flags=re.MULTILINE)}


def test_every_spec_rule_has_a_vector() -> None:
    rules = spec_rules()
    covered = {int(v.headers["rule"]) for v in VECTORS if v.expect != "success"}
    assert rules == set(range(1, 13)) and covered == rules


def test_vectors_are_the_output_of_the_script() -> None:
    # The committed files are what scripts/make_vectors.py writes: nobody edited one by hand.
    script = ROOT / "scripts" / "make_vectors.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def _reference():
    """scripts/make_vectors.py as a module: the spec implemented without piizone."""
    spec = importlib.util.spec_from_file_location(
        "make_vectors", ROOT / "scripts" / "make_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("size", [0, 1, 16, 17, 64, 100])
def test_files_piizone_writes_open_with_the_spec_alone(size: int) -> None:
    # The other direction: piizone's writer, read back by the reference implementation.
    ref = _reference()
    plaintext = bytes(range(256))[:size]
    out = io.BytesIO()
    dek = bytes(range(32))
    crypto.encrypt_stream(
        io.BytesIO(plaintext), out, dek, zone_id="zone-7f3a", path="data/a.csv", segment_size=16
    )
    data = out.getvalue()
    header, body = data[:48], data[48:]
    assert header[:5] == b"PIIZ\x01" and int.from_bytes(header[5:9], "big") == 16
    key = ref.file_key(dek, header, "zone-7f3a", "data/a.csv")
    segments = [body[i : i + 32] for i in range(0, len(body), 32)]
    assert len(segments) == max(1, -(-size // 16))
    opened = b""
    for i, sealed in enumerate(segments):
        last = b"\x01" if i == len(segments) - 1 else b"\x00"
        nonce = header[41:48] + i.to_bytes(4, "big") + last
        opened += AESGCM(key).decrypt(nonce, sealed, header)
    assert opened == plaintext


def test_the_vector_script_never_imports_piizone() -> None:
    # Its independence is the point: vectors computed by piizone would bless piizone's bugs.
    tree = ast.parse((ROOT / "scripts" / "make_vectors.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "cryptography.hazmat.primitives.kdf.hkdf" in imported
    assert not {name for name in imported if name.split(".")[0] in {"piizone", "zones", "tests"}}
