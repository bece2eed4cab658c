"""Key-encryption-key (KEK) providers: they wrap and unwrap each zone's data key (DEK).

Envelope encryption (DESIGN.md, Encryption): data is encrypted under a per-zone DEK, and only the
DEK wrapped by a KEK is stored beside it. `keys rotate` re-wraps DEKs under a new KEK without
touching the data; deleting the wrapped DEK crypto-shreds the zone.

Every wrapped blob starts with a format version byte and a provider kind byte, so a blob can be
told apart from another provider's and read again after the format changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from piizone.zones.exceptions import ZoneError
from piizone.zones.home import ensure_private_dir, keys_dir, write_private_file

try:  # cryptography >= 44
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
except ImportError:  # pragma: no cover - older cryptography falls back to scrypt
    Argon2id = None  # type: ignore[assignment,misc]  # the name is None or the class

WRAP_VERSION = 1
KIND_KEYFILE = b"K"
KIND_PASSPHRASE = b"P"
KIND_COMMAND = b"C"
KEY_SIZE = 32
DEK_SIZE = 32
NONCE_SIZE = 12
PASSPHRASE_SALT_SIZE = 16
PASSPHRASE_ENV = "PIIZONE_PASSPHRASE"
PSEUDONYM_KEY_NAME = "pseudonym.key"
DEFAULT_COMMAND_TIMEOUT = 30.0

# What the command provider hands to the external wrap program: a tag, the DEK and a digest of
# the context. The digest binds the context even when the external tool ignores it.
_COMMAND_PAYLOAD_MAGIC = b"PZD1"
_CONTEXT_DIGEST_SIZE = 16
# A key printed by a misbehaving tool in hex or base64 is one long token; redact such tokens
# before quoting the tool's stderr in an error.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")


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


# --- keyfile --------------------------------------------------------------------------------


class KeyfileKek(KekProvider):
    """A 32-byte random key in a 0600 file: `$PIIZONE_HOME/keys/kek-<id>.key`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._key = read_key_file(self.path, "key-encryption key")
        self.key_id = key_fingerprint(self._key)
        self.provider_id = f"keyfile:{self.key_id}"

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        _check_dek(dek)
        prefix = bytes([WRAP_VERSION]) + KIND_KEYFILE
        nonce = os.urandom(NONCE_SIZE)
        return prefix + nonce + AESGCM(self._key).encrypt(nonce, dek, prefix + context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        prefix = _check_prefix(wrapped, KIND_KEYFILE, self.provider_id)
        nonce, sealed = wrapped[2 : 2 + NONCE_SIZE], wrapped[2 + NONCE_SIZE :]
        try:
            return _check_dek(AESGCM(self._key).decrypt(nonce, sealed, prefix + context))
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
        existing = _keyfile_keks(home)
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


def _keyfile_keks(home: Path) -> list[Path]:
    directory = keys_dir(home)
    return sorted(directory.glob("kek-*.key")) if directory.is_dir() else []


@contextlib.contextmanager
def _keys_lock(home: Path) -> Iterator[None]:
    directory = ensure_private_dir(keys_dir(home))
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --- passphrase -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Argon2idParams:
    """RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4
    kdf_id = 1

    def derive(self, passphrase: bytes, salt: bytes) -> bytes:
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
        _check_dek(dek)
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
        _check_prefix(wrapped, KIND_PASSPHRASE, self.provider_id)
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
            return _check_dek(AESGCM(kek).decrypt(nonce, sealed, head + context))
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


# --- command --------------------------------------------------------------------------------


class CommandKek(KekProvider):
    """External wrap/unwrap programs (a KMS CLI, Vault transit, age, gpg) via stdin/stdout.

    The wrap program reads a 52-byte payload (tag, DEK, context digest) and prints an opaque
    blob; the unwrap program reads that blob and prints the payload back. The context is also
    given to both as hex in $PIIZONE_KEK_CONTEXT, for tools that bind it themselves (KMS
    encryption context, Vault derived keys).
    """

    def __init__(
        self,
        wrap_cmd: list[str],
        unwrap_cmd: list[str],
        *,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        label: str | None = None,
    ):
        for name, cmd in (("wrap", wrap_cmd), ("unwrap", unwrap_cmd)):
            if not cmd or not all(isinstance(arg, str) for arg in cmd):
                raise KeyProviderError(f"command key provider: {name} must be a list of strings")
        self.wrap_cmd = list(wrap_cmd)
        self.unwrap_cmd = list(unwrap_cmd)
        self.timeout = timeout
        if label is None:
            label = hashlib.sha256(json.dumps([wrap_cmd, unwrap_cmd]).encode()).hexdigest()[:8]
        self.provider_id = f"command:{label}"

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        _check_dek(dek)
        payload = _COMMAND_PAYLOAD_MAGIC + dek + _context_digest(context)
        out = self._run("wrap", self.wrap_cmd, payload, context)
        if not out:
            raise KeyProviderError(f"key command {_program(self.wrap_cmd)} printed nothing")
        return bytes([WRAP_VERSION]) + KIND_COMMAND + out

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        _check_prefix(wrapped, KIND_COMMAND, self.provider_id)
        out = self._run("unwrap", self.unwrap_cmd, wrapped[2:], context)
        magic, digest = _COMMAND_PAYLOAD_MAGIC, _context_digest(context)
        if len(out) != len(magic) + DEK_SIZE + len(digest) or not out.startswith(magic):
            raise KeyProviderError(
                f"key command {_program(self.unwrap_cmd)} returned something that is not a "
                "wrapped piizone key"
            )
        if out[-len(digest) :] != digest:
            raise KeyProviderError("wrapped key belongs to another zone (context mismatch)")
        return out[len(magic) : len(magic) + DEK_SIZE]

    def _run(self, operation: str, cmd: list[str], stdin: bytes, context: bytes) -> bytes:
        env = dict(os.environ, PIIZONE_KEK_OPERATION=operation, PIIZONE_KEK_CONTEXT=context.hex())
        program = _program(cmd)
        try:
            # A new session so a timeout can kill the whole group: a shell wrapper's children
            # would otherwise keep the pipes open and hang us past the timeout.
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except OSError as e:
            raise KeyProviderError(
                f"cannot run key {operation} command {program}: {e.strerror}",
                hint="check the command key provider in the piizone config",
            ) from None
        try:
            out, err = proc.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise KeyProviderError(
                f"key {operation} command {program} timed out after {self.timeout:g}s"
            ) from None
        if proc.returncode != 0:
            raise KeyProviderError(
                f"key {operation} command {program} failed with exit status {proc.returncode}",
                hint=_safe_last_line(err),
            )
        return out


def _program(cmd: list[str]) -> str:
    # Only the program name: arguments may carry tokens or key names.
    return Path(cmd[0]).name


def _safe_last_line(stderr: bytes) -> str | None:
    """The tool's last stderr line, with anything that could be an encoded key redacted."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        return None
    line = "".join(ch for ch in lines[-1] if ch.isprintable())
    return _LONG_TOKEN.sub("[redacted]", line)[:200] or None


def _context_digest(context: bytes) -> bytes:
    return hashlib.sha256(b"piizone-kek-context-v1\0" + context).digest()[:_CONTEXT_DIGEST_SIZE]


# --- factory, rotation, pseudonym key -------------------------------------------------------


def load_kek(
    config: dict[str, Any],
    home: Path,
    *,
    passphrase: str | Callable[[], str] = read_passphrase,
) -> KekProvider:
    """Build the KEK provider a config section describes.

    `{"provider": "keyfile"[, "key_id": "1a2b3c4d"]}`,
    `{"provider": "passphrase"[, "kdf": "argon2id"|"scrypt", "params": {...}, "id": label]}`,
    `{"provider": "command", "wrap": [...], "unwrap": [...][, "timeout": 30, "id": label]}`.
    """
    kind = config.get("provider", "keyfile")
    if kind == "keyfile":
        key_id = config.get("key_id")
        if key_id is not None:
            return keyfile_kek_by_id(home, str(key_id))
        found = _keyfile_keks(home)
        if len(found) == 1:
            return KeyfileKek(found[0])
        if not found:
            raise KeyProviderError(
                f"no keyfile key-encryption key in {keys_dir(home)}", hint="run `piizone init`"
            )
        raise KeyProviderError(
            f"{len(found)} keyfile KEKs in {keys_dir(home)}; cannot tell which to use",
            hint='set "key_id" in the key provider config',
        )
    if kind == "passphrase":
        kdf = config.get("kdf", "argon2id" if Argon2id is not None else "scrypt")
        kdf_types: dict[str, type[Argon2idParams] | type[ScryptParams]] = {
            "argon2id": Argon2idParams,
            "scrypt": ScryptParams,
        }
        kdf_type = kdf_types.get(kdf)
        if kdf_type is None:
            raise KeyProviderError(f"unknown passphrase KDF {kdf!r}", hint="use argon2id or scrypt")
        try:
            params = kdf_type(**config.get("params", {}))
        except TypeError as e:
            raise KeyProviderError(f"invalid {kdf} parameters: {e}") from None
        return PassphraseKek(passphrase, params=params, label=str(config.get("id", "default")))
    if kind == "command":
        wrap_cmd, unwrap_cmd = config.get("wrap"), config.get("unwrap")
        if not isinstance(wrap_cmd, list) or not isinstance(unwrap_cmd, list):
            raise KeyProviderError(
                'command key provider needs "wrap" and "unwrap" argument lists',
                hint='e.g. wrap = ["vault-wrap"], unwrap = ["vault-unwrap"]',
            )
        label = config.get("id")
        return CommandKek(
            wrap_cmd,
            unwrap_cmd,
            timeout=float(config.get("timeout", DEFAULT_COMMAND_TIMEOUT)),
            label=None if label is None else str(label),
        )
    raise KeyProviderError(
        f"unknown key provider {kind!r}", hint="use keyfile, passphrase or command"
    )


def load_kek_for(
    provider_id: str,
    config: dict[str, Any],
    home: Path,
    *,
    passphrase: str | Callable[[], str] = read_passphrase,
) -> KekProvider:
    """The provider that can unwrap a DEK stored with `provider_id` (it may not be the current one).

    Keyfile KEKs are found by id, so zones wrapped before a rotation to a new keyfile still open.
    """
    if provider_id.startswith("keyfile:"):
        return keyfile_kek_by_id(home, provider_id.removeprefix("keyfile:"))
    configured = load_kek(config, home, passphrase=passphrase)
    if configured.provider_id != provider_id:
        raise KeyProviderError(
            f"the zone's data key is wrapped by {provider_id}, "
            f"but the configured key provider is {configured.provider_id}",
            hint="configure that provider, or re-wrap with `piizone keys rotate`",
        )
    return configured


def rewrap(wrapped: bytes, old: KekProvider, new: KekProvider, context: bytes) -> bytes:
    """Move a wrapped DEK from `old` to `new`; checks `new` can unwrap it before returning.

    The check matters because the caller replaces the old wrapped key: a new provider that
    wraps but cannot unwrap (a misconfigured command) would otherwise lose the zone.
    """
    dek = old.unwrap(wrapped, context=context)
    rewrapped = new.wrap(dek, context=context)
    if new.unwrap(rewrapped, context=context) != dek:
        raise KeyProviderError(f"{new.provider_id} did not return the key it wrapped")
    return rewrapped


def ensure_pseudonym_key(home: Path) -> bytes:
    """The HMAC key behind `pseudonymize`: created once, never replaced, so tokens stay stable."""
    path = keys_dir(home) / PSEUDONYM_KEY_NAME
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # created concurrently: use theirs
            write_private_file(path, os.urandom(KEY_SIZE), overwrite=False)
    return read_key_file(path, "pseudonym key")


# --- shared ---------------------------------------------------------------------------------


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


def _check_dek(dek: bytes) -> bytes:
    if len(dek) != DEK_SIZE:
        raise KeyProviderError(f"data key must be {DEK_SIZE} bytes")
    return dek


def _check_prefix(wrapped: bytes, kind: bytes, provider_id: str) -> bytes:
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
