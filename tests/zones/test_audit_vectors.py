"""The audit log format against static known-answer vectors (tests/vectors/audit/).

The vectors come from scripts/make_vectors.py, a second implementation of docs/audit-format.md
(canonical JSON, HMAC-SHA256, the hash chain, the head and the Ed25519 checkpoint) that never
imports piizone: a MAC or chain bug shared by piizone's writer and verifier cannot pass here.
Each reject vector is a log built by a key holder, so exactly the rule under test is broken.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from piizone.zones.audit.checkpoints import public_key_id
from piizone.zones.audit.format import (
    GENESIS,
    canonical_json,
    compute_mac,
    line_hash,
    segment_name,
)
from piizone.zones.audit.log import AuditLog
from tests.vectors import Vector, vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS = vectors("audit")
SUCCESS = [v for v in VECTORS if v.expect == "success"]
REJECT = [v for v in VECTORS if v.expect != "success"]


def materialize(v: Vector, directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True)
    files = v.files()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return files


def public_key(v: Vector) -> Ed25519PublicKey | None:
    raw = v.headers.get("public-key")
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(raw)) if raw else None


@pytest.mark.parametrize("v", SUCCESS, ids=lambda v: v.name)
def test_success_vector_macs_and_chain_match(v: Vector, tmp_path: Path) -> None:
    key = bytes.fromhex(v.headers["key"])
    files = materialize(v, tmp_path / "audit")
    # The implementation's canonical JSON, MAC and line hash give the vector's bytes and values.
    prev, lines = GENESIS, []
    logs = sorted(n for n in files if n.startswith("audit-"))
    assert logs == [segment_name(i) for i in range(1, len(logs) + 1)]
    for name in logs:
        for line in files[name].split(b"\n")[:-1]:
            rec = json.loads(line)
            assert canonical_json(rec) == line
            assert rec["prev"] == prev
            assert compute_mac(key, rec) == rec["mac"]
            prev = line_hash(line)
            lines.append(line)
    assert len(lines) == int(v.headers["records"])
    head = json.loads(files["head.json"])
    assert files["head.json"] == canonical_json(head) + b"\n"
    assert (head["seq"], head["last"], head["file"]) == (len(lines), prev, logs[-1])
    assert head["size"] == len(files[logs[-1]]) and compute_mac(key, head) == head["mac"]

    public = public_key(v)
    result = AuditLog(tmp_path / "audit", key, public_key=public).verify()
    assert result.ok and result.records == len(lines), result.problem
    assert result.head_last == prev
    if public is not None:
        checkpoint = json.loads(files["checkpoint.json"])
        assert public_key_id(public) == checkpoint["key_id"]
        alone = AuditLog(tmp_path / "audit", None, public_key=public).verify()
        assert alone.ok and alone.signed_seq == len(lines) and not alone.macs_checked


@pytest.mark.parametrize("v", REJECT, ids=lambda v: v.name)
def test_reject_vector_is_located(v: Vector, tmp_path: Path) -> None:
    key = bytes.fromhex(v.headers["key"])
    materialize(v, tmp_path / "audit")
    expected = (v.expect, v.location("seq"), v.headers["file"], v.location("line"))
    if v.headers["rule"].startswith("C"):
        # Checkpoint rules hold with the MAC key and with the public key alone.
        logs = [AuditLog(tmp_path / "audit", k, public_key=public_key(v)) for k in (key, None)]
    else:
        logs = [AuditLog(tmp_path / "audit", key)]
    for log in logs:
        result = log.verify()
        assert not result.ok and result.problem is not None
        p = result.problem
        assert (p.kind, p.seq, p.file, p.line) == expected


def test_every_spec_rule_has_a_vector() -> None:
    spec = (ROOT / "docs" / "audit-format.md").read_text()
    rules = set(re.findall(r"^\*\*([RC]\d+)\.\*\*", spec, flags=re.MULTILINE))
    assert {"R1", "R13", "C1", "C4"} <= rules
    assert rules == {v.headers["rule"] for v in REJECT}


def test_records_piizone_writes_check_out_under_the_spec_alone(tmp_path: Path) -> None:
    # The other direction: piizone's writer, checked with hashlib/hmac and the spec's JSON.
    key = bytes(range(32))
    log = AuditLog(tmp_path / "audit", key)
    log.append("init", details={"note": "caf\u00e9"})
    log.append("zone.create", zone="customers", outcome="failure", details={"rows": 3})

    def canonical(obj: object) -> bytes:
        options = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": True}
        return json.dumps(obj, allow_nan=False, **options).encode("ascii")

    def mac(obj: dict) -> str:
        body = canonical({k: v for k, v in obj.items() if k != "mac"})
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    prev = "0" * 64
    raw = (tmp_path / "audit" / segment_name(1)).read_bytes()
    for seq, line in enumerate(raw.split(b"\n")[:-1], 1):
        rec = json.loads(line)
        assert line == canonical(rec) and rec["seq"] == seq and rec["prev"] == prev
        assert rec["mac"] == mac(rec)
        prev = hashlib.sha256(line).hexdigest()
    head_raw = (tmp_path / "audit" / "head.json").read_bytes()
    head = json.loads(head_raw)
    assert head_raw == canonical(head) + b"\n"
    assert (head["seq"], head["last"], head["size"]) == (2, prev, len(raw))
    assert head["mac"] == mac(head)
