"""Key-encryption-key (KEK) providers: they wrap and unwrap each zone's data key (DEK).

Envelope encryption (DESIGN.md, Encryption): data is encrypted under a per-zone DEK, and only the
DEK wrapped by a KEK is stored beside it. `keys rotate` re-wraps DEKs under a new KEK without
touching the data; deleting the wrapped DEK crypto-shreds the zone.

Every wrapped blob starts with a format version byte and a provider kind byte, so a blob can be
told apart from another provider's and read again after the format changes.

This module holds what every provider shares: the interface, the blob prefix and key files.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from piizone.zones.exceptions import ZoneError

WRAP_VERSION = 1
KIND_KEYFILE = b"K"
KIND_PASSPHRASE = b"P"
KIND_COMMAND = b"C"
KEY_SIZE = 32
DEK_SIZE = 32
NONCE_SIZE = 12


class KeyProviderError(ZoneError):
    """A key-encryption key is missing or wrong, or its provider failed."""


class KekProvider(ABC):
    """Wraps and unwraps data keys. `provider_id` is stored in manifests: keep it stable."""

    provider_id: str

    @abstractmethod
    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """Return `dek` encrypted under this KEK and bound to `context` (e.g. the zone id)."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Return the DEK inside `wrapped`; raise KeyProviderError if it is not ours or altered."""

    def __repr__(self) -> str:  # never show key material, whatever a subclass holds
        return f"<{type(self).__name__} {self.provider_id}>"


def read_key_file(path: Path, what: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyProviderError(
            f"missing {what} {path}",
            hint="run `piizone init`, or restore the key file from your backup",
        ) from None
    except OSError as e:
        raise KeyProviderError(f"cannot read {what} {path}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        # Like ssh with private keys: a key others can read is already compromised.
        if os.fstat(f.fileno()).st_mode & 0o077:
            raise KeyProviderError(
                f"{what} {path} is accessible by other users", hint=f"chmod 600 {path}"
            )
        key = f.read(KEY_SIZE + 1)
    if len(key) != KEY_SIZE:
        raise KeyProviderError(f"{what} {path} is corrupted (expected {KEY_SIZE} bytes)")
    return key


def check_dek(dek: bytes) -> bytes:
    if len(dek) != DEK_SIZE:
        raise KeyProviderError(f"data key must be {DEK_SIZE} bytes")
    return dek


def check_prefix(wrapped: bytes, kind: bytes, provider_id: str) -> bytes:
    if len(wrapped) < 2:
        raise KeyProviderError("corrupted wrapped key: too short")
    if wrapped[0] != WRAP_VERSION:
        raise KeyProviderError(f"unsupported wrapped key version {wrapped[0]}")
    if wrapped[1:2] != kind:
        names = {KIND_KEYFILE: "keyfile", KIND_PASSPHRASE: "passphrase", KIND_COMMAND: "command"}
        raise KeyProviderError(
            f"wrapped key was made by a {names.get(wrapped[1:2], 'unknown')} provider, "
            f"not {provider_id}"
        )
    return wrapped[:2]
