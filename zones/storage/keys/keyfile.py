"""The keyfile KEK provider: a random key in a 0600 file under `$PIIZONE_HOME/keys/`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from piizone.fs import flocked
from piizone.zones.home import ensure_private_dir, keys_dir, write_private_file
from piizone.zones.storage.keys.provider import (
    KEY_SIZE,
    KIND_KEYFILE,
    NONCE_SIZE,
    WRAP_VERSION,
    KekProvider,
    KeyProviderError,
    check_dek,
    check_prefix,
    read_key_file,
)


class KeyfileKek(KekProvider):
    """A 32-byte random key in a 0600 file: `$PIIZONE_HOME/keys/kek-<id>.key`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._key = read_key_file(self.path, "key-encryption key")
        self.key_id = key_fingerprint(self._key)
        self.provider_id = f"keyfile:{self.key_id}"

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        check_dek(dek)
        prefix = bytes([WRAP_VERSION]) + KIND_KEYFILE
        nonce = os.urandom(NONCE_SIZE)
        return prefix + nonce + AESGCM(self._key).encrypt(nonce, dek, prefix + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        prefix = check_prefix(wrapped, KIND_KEYFILE, self.provider_id)
        nonce, sealed = wrapped[2 : 2 + NONCE_SIZE], wrapped[2 + NONCE_SIZE :]
        try:
            return check_dek(AESGCM(self._key).decrypt(nonce, sealed, prefix + context))
        except (InvalidTag, ValueError):
            raise KeyProviderError(
                f"wrong key-encryption key or corrupted wrapped key ({self.provider_id})",
                hint="the zone may have been wrapped by another KEK; see `piizone keys status`",
            ) from None


def key_fingerprint(key: bytes) -> str:
    """8 hex digits naming a key (file name, provider id); reveals nothing usable about it."""
    return hashlib.sha256(b"piizone-kek-id-v1\0" + key).hexdigest()[:8]


def create_keyfile_kek(home: Path) -> KeyfileKek:
    """Create a new keyfile KEK with a fresh random key (used by `init` and `keys rotate`)."""
    directory = ensure_private_dir(keys_dir(home))
    while True:
        key = os.urandom(KEY_SIZE)
        path = directory / f"kek-{key_fingerprint(key)}.key"
        try:
            write_private_file(path, key, overwrite=False)
        except FileExistsError:
            continue  # a 32-bit id collision: draw another key rather than touch the file
        return KeyfileKek(path)


def ensure_keyfile_kek(home: Path, key_id: str | None = None) -> KeyfileKek:
    """The default keyfile KEK, created on first use; an existing key is never replaced."""
    if key_id is not None:
        return keyfile_kek_by_id(home, key_id)
    with _keys_lock(home):  # two concurrent `init`s must not create two default KEKs
        existing = keyfile_keks(home)
        if not existing:
            return create_keyfile_kek(home)
        if len(existing) == 1:
            return KeyfileKek(existing[0])
    raise KeyProviderError(
        f"{len(existing)} keyfile KEKs in {keys_dir(home)}; cannot tell which is the default",
        hint='set "key_id" in the key provider config',
    )


def keyfile_kek_by_id(home: Path, key_id: str) -> KeyfileKek:
    """The keyfile KEK named `kek-<key_id>.key`, checked to really be that key."""
    kek = KeyfileKek(keyfile_path(home, key_id))
    if kek.key_id != key_id:
        # A renamed or swapped key file would otherwise surface later as "wrong key".
        raise KeyProviderError(f"key file {kek.path} holds key {kek.key_id}, not {key_id}")
    return kek


def keyfile_path(home: Path, key_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{8}", key_id):
        raise KeyProviderError(f"invalid keyfile KEK id {key_id!r}", hint="expected 8 hex digits")
    return keys_dir(home) / f"kek-{key_id}.key"


def keyfile_keks(home: Path) -> list[Path]:
    directory = keys_dir(home)
    return sorted(directory.glob("kek-*.key")) if directory.is_dir() else []


@contextlib.contextmanager
def _keys_lock(home: Path) -> Iterator[None]:
    directory = ensure_private_dir(keys_dir(home))
    with flocked(directory / ".lock"):
        yield
