"""The zone file format against static known-answer vectors (tests/vectors/zone_format/).

The vectors come from scripts/make_vectors.py, a second implementation of docs/zone-format.md
that never imports piizone, so a bug shared by piizone's writer and reader cannot pass here.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
