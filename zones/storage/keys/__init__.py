"""Key-encryption-key (KEK) providers, one per module (keyfile, passphrase, command), and the
functions that pick one from the config, re-wrap a data key under another, and keep the
pseudonym key.

Envelope encryption (DESIGN.md, Encryption): data is encrypted under a per-zone DEK, and only the
DEK wrapped by a KEK is stored beside it. `keys rotate` re-wraps DEKs under a new KEK without
touching the data; deleting the wrapped DEK crypto-shreds the zone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from piizone.zones.home import keys_dir, write_private_file
from piizone.zones.storage.keys.command import DEFAULT_COMMAND_TIMEOUT, CommandKek
from piizone.zones.storage.keys.keyfile import (
    KeyfileKek,
    create_keyfile_kek,
    ensure_keyfile_kek,
    key_fingerprint,
    keyfile_kek_by_id,
    keyfile_keks,
    keyfile_path,
)
from piizone.zones.storage.keys.passphrase import (
    PASSPHRASE_ENV,
    Argon2id,
    Argon2idParams,
    KdfParams,
    PassphraseKek,
    ScryptParams,
    default_kdf_params,
    read_passphrase,
)
from piizone.zones.storage.keys.provider import (
    DEK_SIZE,
    KEY_SIZE,
    KekProvider,
    KeyProviderError,
    read_key_file,
)

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "DEK_SIZE",
    "KEY_SIZE",
    "PASSPHRASE_ENV",
    "PSEUDONYM_KEY_NAME",
    "Argon2idParams",
    "CommandKek",
    "KdfParams",
    "KekProvider",
    "KeyProviderError",
    "KeyfileKek",
    "PassphraseKek",
    "ScryptParams",
    "create_keyfile_kek",
    "default_kdf_params",
    "ensure_keyfile_kek",
    "ensure_pseudonym_key",
    "key_fingerprint",
    "keyfile_kek_by_id",
    "keyfile_path",
    "load_kek",
    "load_kek_for",
    "read_key_file",
    "read_passphrase",
    "rewrap",
]

PSEUDONYM_KEY_NAME = "pseudonym.key"


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
        found = keyfile_keks(home)
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
        kdf_types: dict[str, type[Argon2idParams | ScryptParams]]
        kdf_types = {"argon2id": Argon2idParams, "scrypt": ScryptParams}
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
