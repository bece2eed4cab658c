"""Signed checkpoints: the log's head sealed with Ed25519, checkable without the MAC key.

An auditor holding only keys/audit-signing.ed25519.pub can verify the chain and that nothing was
cut from its end (rules C1–C4 of docs/audit-format.md). Also the signing key's files in keys/.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from piizone.zones.audit.format import (
    CHECKPOINT_CONTEXT,
    CHECKPOINT_FIELDS,
    CHECKPOINT_FILE,
    FORMAT_VERSION,
    HEX64,
    HEX128,
    SEGMENT_RE,
    SIGNING_KEY_FILE,
    SIGNING_PUBLIC_FILE,
    TIME_RE,
    AuditError,
    canonical_json,
    utc_now,
)
from piizone.zones.home import keys_dir, write_private_file


def public_key_id(public: Ed25519PublicKey) -> str:
    """H(raw 32-byte public key): names the key a checkpoint was signed with."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(data: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo), or AuditError naming `source`."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError(
            f"{source} is not an Ed25519 public key in PEM form",
            hint=f"pass the keys/{SIGNING_PUBLIC_FILE} of the piizone home that wrote the log",
        )
    return key


def make_checkpoint(signer: Ed25519PrivateKey, seq: int, file: str, last: str) -> bytes:
    """checkpoint.json's bytes: the head's seq, file and last hash, signed."""
    body: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "seq": seq,
        "file": file,
        "last": last,
        "time": utc_now(),
        "key_id": public_key_id(signer.public_key()),
    }
    body["sig"] = signer.sign(CHECKPOINT_CONTEXT + canonical_json(body)).hex()
    return canonical_json(body) + b"\n"


def checkpoint_problem(raw: bytes, public: Ed25519PublicKey) -> tuple[str, str] | None:
    """None for a well-formed checkpoint signed by `public`, else (kind, reason) (C2, C3)."""
    try:
        obj = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return "malformed", "not ASCII JSON"
    if not isinstance(obj, dict) or set(obj) != CHECKPOINT_FIELDS or obj.get("v") != FORMAT_VERSION:
        return "malformed", "not a v1 checkpoint object"
    seq = obj["seq"]
    if not (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and seq >= 1
        and isinstance(obj["file"], str)
        and SEGMENT_RE.match(obj["file"])
        and isinstance(obj["last"], str)
        and HEX64.match(obj["last"])
        and isinstance(obj["time"], str)
        and TIME_RE.match(obj["time"])
        and isinstance(obj["key_id"], str)
        and HEX64.match(obj["key_id"])
        and isinstance(obj["sig"], str)
        and HEX128.match(obj["sig"])
    ):
        return "malformed", "fields have the wrong types"
    if raw != canonical_json(obj) + b"\n":
        return "malformed", "not canonical JSON followed by one LF"
    if obj["key_id"] != public_key_id(public):
        return "bad_signature", "signed with another key than the one given"
    body = {k: v for k, v in obj.items() if k != "sig"}
    try:
        public.verify(bytes.fromhex(obj["sig"]), CHECKPOINT_CONTEXT + canonical_json(body))
    except InvalidSignature:
        return "bad_signature", "signature does not verify"
    return None


def ensure_signing_key(home: Path | None = None) -> Ed25519PrivateKey:
    """Create keys/audit-signing.ed25519 (PKCS#8 PEM, 0600) and its .pub beside it if missing.

    Never overwritten: auditors pin the public key. The .pub is derived, so it is rewritten
    when it does not match (someone deleted or replaced it).
    """
    directory = keys_dir(home)
    path = directory / SIGNING_KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):  # another process won the race: use theirs
            write_private_file(path, pem, overwrite=False)
    signer = read_signing_key(path)
    public_pem = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = directory / SIGNING_PUBLIC_FILE
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        write_private_file(public_path, public_pem)
    return signer


def read_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        signer = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as e:
        raise AuditError(
            f"cannot read the audit signing key {path} ({e.strerror or type(e).__name__})",
            hint=f"restore keys/{SIGNING_KEY_FILE} from backup",
        ) from e
    except (ValueError, TypeError):
        signer = None
    if not isinstance(signer, Ed25519PrivateKey):
        raise AuditError(
            f"audit signing key {path} is not an Ed25519 private key",
            hint=f"restore keys/{SIGNING_KEY_FILE} from backup; do not edit it",
        )
    return signer


def open_signer(home: Path, directory: Path, *, create: bool) -> Ed25519PrivateKey | None:
    """The home's signing key; made on demand unless checkpoints exist (then it was lost)."""
    path = keys_dir(home) / SIGNING_KEY_FILE
    if path.exists():
        return read_signing_key(path)
    if (directory / CHECKPOINT_FILE).exists():
        raise AuditError(
            f"the audit signing key {path} is missing but the log has signed checkpoints",
            hint=f"restore keys/{SIGNING_KEY_FILE} from backup; a new key would not match",
        )
    if not create:
        return None
    try:
        return ensure_signing_key(home)
    except OSError as e:
        raise AuditError(
            f"cannot create the audit signing key in {path.parent} "
            f"({e.strerror or type(e).__name__})",
            hint="check that $PIIZONE_HOME is writable, or run `piizone init`",
        ) from e
