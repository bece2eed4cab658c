"""The home's Ed25519 bundle-signing key: where it lives and its creation at `piizone init`.
Loading it to sign, and verifying bundles, is zones/serving/bundle.py's."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from piizone.zones.home import keys_dir, write_private_file

SIGNING_KEY_NAME = "bundle-signing.ed25519"
SIGNING_PUBLIC_NAME = "bundle-signing.ed25519.pub"


def signing_key_path(home: Path | None = None) -> Path:
    return keys_dir(home) / SIGNING_KEY_NAME


def ensure_bundle_signing_key(home: Path | None = None) -> bool:
    """Create the Ed25519 bundle-signing key (and its public key beside it) if missing.

    Returns True when it was created. An existing key is never replaced: bundles signed with
    it must keep verifying against the public key people were given.
    """
    path = signing_key_path(home)
    if path.exists():
        return False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        write_private_file(path, pem, overwrite=False)
    except FileExistsError:  # created concurrently: keep theirs
        return False
    public = keys_dir(home) / SIGNING_PUBLIC_NAME
    write_private_file(public, public_pem(key.public_key()))
    return True


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
