"""The passphrase KEK provider: a key derived with Argon2id (or scrypt) from a passphrase."""

from __future__ import annotations

import getpass
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from piizone.zones.storage.keys.provider import (
    DEK_SIZE,
    KEY_SIZE,
    KIND_PASSPHRASE,
    NONCE_SIZE,
    WRAP_VERSION,
    KekProvider,
    KeyProviderError,
    check_dek,
    check_prefix,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.kdf import argon2

Argon2id: type[argon2.Argon2id] | None
try:  # cryptography >= 44
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
except ImportError:  # pragma: no cover - older cryptography falls back to scrypt
    Argon2id = None

PASSPHRASE_SALT_SIZE = 16
PASSPHRASE_ENV = "PIIZONE_PASSPHRASE"


@dataclass(frozen=True)
class Argon2idParams:
    """RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4
    kdf_id = 1

    def derive(self, passphrase: bytes, salt: bytes) -> bytes:
        assert Argon2id is not None  # PassphraseKek refuses these params without it
        return Argon2id(
            salt=salt,
            length=KEY_SIZE,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        ).derive(passphrase)

    def check(self) -> None:
        # Bounds matter on unwrap: the params come from the blob, and a hostile blob must not
        # make us allocate gigabytes or spin for hours.
        if not (8 * self.lanes <= self.memory_kib <= 2 * 1024 * 1024):
            raise KeyProviderError(f"argon2id memory {self.memory_kib} KiB out of range")
        if not (1 <= self.iterations <= 64 and 1 <= self.lanes <= 64):
            raise KeyProviderError("argon2id iterations or lanes out of range")

    def pack(self) -> bytes:
        return struct.pack(">III", self.memory_kib, self.iterations, self.lanes)


@dataclass(frozen=True)
class ScryptParams:
    """scrypt, for cryptography builds without Argon2id: N=2^17, r=8, p=1 (128 MiB)."""

    n: int = 2**17
    r: int = 8
    p: int = 1
    kdf_id = 2

    def derive(self, passphrase: bytes, salt: bytes) -> bytes:
        return Scrypt(salt=salt, length=KEY_SIZE, n=self.n, r=self.r, p=self.p).derive(passphrase)

    def check(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or not (1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise KeyProviderError("scrypt parameters out of range")
        if 128 * self.n * self.r > 2 << 30:
            raise KeyProviderError("scrypt memory out of range")

    def pack(self) -> bytes:
        return struct.pack(">III", self.n, self.r, self.p)


KdfParams = Argon2idParams | ScryptParams
_KDFS: dict[int, type[Argon2idParams] | type[ScryptParams]] = {1: Argon2idParams, 2: ScryptParams}


def default_kdf_params() -> KdfParams:
    return Argon2idParams() if Argon2id is not None else ScryptParams()


class PassphraseKek(KekProvider):
    """A KEK derived from a passphrase; KDF, its parameters and salt are stored in each blob.

    `passphrase` may be a callable (e.g. `read_passphrase`) so that nothing is asked until a key
    is actually wrapped or unwrapped.
    """

    def __init__(
        self,
        passphrase: str | Callable[[], str],
        *,
        params: KdfParams | None = None,
        label: str = "default",
    ):
        self._passphrase = passphrase
        self.params = params or default_kdf_params()
        self.params.check()
        if isinstance(self.params, Argon2idParams) and Argon2id is None:
            raise KeyProviderError("this cryptography build has no Argon2id", hint="use scrypt")
        self.provider_id = f"passphrase:{label}"

    def _secret(self) -> bytes:
        if callable(self._passphrase):
            self._passphrase = self._passphrase()
        if not self._passphrase:
            raise KeyProviderError("empty passphrase")
        return self._passphrase.encode("utf-8")

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        check_dek(dek)
        salt = os.urandom(PASSPHRASE_SALT_SIZE)
        head = (
            bytes([WRAP_VERSION])
            + KIND_PASSPHRASE
            + bytes([self.params.kdf_id])
            + self.params.pack()
            + salt
        )
        nonce = os.urandom(NONCE_SIZE)
        kek = self.params.derive(self._secret(), salt)
        return head + nonce + AESGCM(kek).encrypt(nonce, dek, head + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        check_prefix(wrapped, KIND_PASSPHRASE, self.provider_id)
        head_size = 3 + 12 + PASSPHRASE_SALT_SIZE
        if len(wrapped) < head_size + NONCE_SIZE + DEK_SIZE + 16:
            raise KeyProviderError("corrupted wrapped key: too short")
        kdf = _KDFS.get(wrapped[2])
        if kdf is None:
            raise KeyProviderError(f"wrapped key uses unknown KDF {wrapped[2]}")
        params = kdf(*struct.unpack(">III", wrapped[3:15]))
        params.check()
        head, salt = wrapped[:head_size], wrapped[15:head_size]
        nonce, sealed = (
            wrapped[head_size : head_size + NONCE_SIZE],
            wrapped[head_size + NONCE_SIZE :],
        )
        kek = params.derive(self._secret(), salt)
        try:
            return check_dek(AESGCM(kek).decrypt(nonce, sealed, head + context))
        except (InvalidTag, ValueError):
            raise KeyProviderError(
                "wrong passphrase or corrupted wrapped key",
                hint=f"check {PASSPHRASE_ENV} or the passphrase you typed",
            ) from None


def read_passphrase(*, confirm: bool = False, prompt: str = "piizone passphrase: ") -> str:
    """The passphrase from $PIIZONE_PASSPHRASE, else asked on the terminal (the CLI calls this)."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise KeyProviderError(
            "no passphrase available",
            hint=f"set {PASSPHRASE_ENV} or run on a terminal to be asked",
        )
    passphrase = getpass.getpass(prompt)
    if not passphrase:
        raise KeyProviderError("empty passphrase")
    if confirm and getpass.getpass("repeat passphrase: ") != passphrase:
        raise KeyProviderError("passphrases do not match")
    return passphrase
