"""KEK providers: round trips, wrong secrets, missing keys, failing commands, key file safety."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from piizone.zones.exceptions import ZoneError
from piizone.zones.storage.keys import (
    Argon2idParams,
    CommandKek,
    KeyfileKek,
    KeyProviderError,
    PassphraseKek,
    ScryptParams,
    create_keyfile_kek,
    ensure_keyfile_kek,
    ensure_pseudonym_key,
    load_kek,
    load_kek_for,
    read_passphrase,
    rewrap,
)
from piizone.zones.storage.keys import keyfile as keyfile_module
from piizone.zones.storage.keys import passphrase as passphrase_module

FAKE_KMS = str(Path(__file__).with_name("fake_kms.py"))
DEK = os.urandom(32)
CONTEXT = b"zone:7f3a"
# Cheap KDF settings so tests stay fast; the defaults are exercised once below.
FAST_ARGON = Argon2idParams(memory_kib=1024, iterations=1, lanes=1)
FAST_SCRYPT = ScryptParams(n=2**10, r=8, p=1)


@pytest.fixture
def kms_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fake-kms.key"
    path.write_bytes(os.urandom(32))
    monkeypatch.setenv("FAKE_KMS_KEY", str(path))
    for var in ("FAKE_KMS_FAIL", "FAKE_KMS_SLEEP", "FAKE_KMS_LEAK"):
        monkeypatch.delenv(var, raising=False)
    return path


def fake_kms(**kwargs) -> CommandKek:
    return CommandKek(
        [sys.executable, FAKE_KMS, "wrap"], [sys.executable, FAKE_KMS, "unwrap"], **kwargs
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- keyfile --------------------------------------------------------------------------------


def test_keyfile_kek_is_created_private_and_round_trips(piizone_home: Path):
    kek = ensure_keyfile_kek(piizone_home)
    assert kek.path == piizone_home / "keys" / f"kek-{kek.key_id}.key"
    assert kek.provider_id == f"keyfile:{kek.key_id}"
    assert mode(kek.path) == 0o600 and mode(kek.path.parent) == 0o700
    assert kek.path.stat().st_size == 32
    wrapped = kek.wrap(DEK, context=CONTEXT)
    assert DEK not in wrapped and wrapped[:2] == b"\x01K"
    assert kek.unwrap(wrapped, context=CONTEXT) == DEK


def test_keyfile_kek_is_never_overwritten(piizone_home: Path):
    first = ensure_keyfile_kek(piizone_home)
    before = first.path.read_bytes(), first.path.stat().st_ino
    again = ensure_keyfile_kek(piizone_home)
    assert again.provider_id == first.provider_id
    assert (first.path.read_bytes(), first.path.stat().st_ino) == before
    assert len(list((piizone_home / "keys").glob("kek-*.key"))) == 1


def test_keyfile_id_collision_draws_a_new_key(piizone_home: Path, monkeypatch):
    first = create_keyfile_kek(piizone_home)
    original = first.path.read_bytes()
    draws = iter([original, os.urandom(32)])
    monkeypatch.setattr(keyfile_module.os, "urandom", lambda n: next(draws))
    second = create_keyfile_kek(piizone_home)
    assert second.provider_id != first.provider_id
    assert first.path.read_bytes() == original


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda w: w[:-1] + bytes([w[-1] ^ 1]), "wrong key-encryption key or corrupted"),
        (lambda w: w[:5], "wrong key-encryption key or corrupted"),
        (lambda w: b"\x02" + w[1:], "unsupported wrapped key version 2"),
        (lambda w: w[:1] + b"P" + w[2:], "made by a passphrase provider"),
        (lambda w: b"", "too short"),
    ],
    ids=["flipped-bit", "truncated", "version", "other-provider", "empty"],
)
def test_keyfile_rejects_tampered_wrapped_keys(piizone_home: Path, tamper, message):
    kek = ensure_keyfile_kek(piizone_home)
    with pytest.raises(KeyProviderError, match=message):
        kek.unwrap(tamper(kek.wrap(DEK, context=CONTEXT)), context=CONTEXT)


def test_keyfile_wrapped_key_is_bound_to_context_and_kek(piizone_home: Path):
    kek = ensure_keyfile_kek(piizone_home)
    wrapped = kek.wrap(DEK, context=CONTEXT)
    with pytest.raises(KeyProviderError, match="wrong key-encryption key"):
        kek.unwrap(wrapped, context=b"zone:other")
    with pytest.raises(KeyProviderError, match="wrong key-encryption key"):
        create_keyfile_kek(piizone_home).unwrap(wrapped, context=CONTEXT)


def test_missing_key_file_is_a_clear_error(piizone_home: Path):
    kek = ensure_keyfile_kek(piizone_home)
    kek.path.unlink()
    with pytest.raises(KeyProviderError, match="missing key-encryption key") as excinfo:
        KeyfileKek(kek.path)
    assert "piizone init" in excinfo.value.hint
    with pytest.raises(KeyProviderError, match="no keyfile key-encryption key"):
        load_kek({"provider": "keyfile"}, piizone_home)


def test_key_file_readable_by_others_is_refused(piizone_home: Path):
    kek = ensure_keyfile_kek(piizone_home)
    os.chmod(kek.path, 0o644)
    with pytest.raises(KeyProviderError, match="accessible by other users"):
        KeyfileKek(kek.path)


def test_corrupted_key_file_is_refused(piizone_home: Path):
    kek = ensure_keyfile_kek(piizone_home)
    kek.path.write_bytes(b"short")
    with pytest.raises(KeyProviderError, match="corrupted"):
        KeyfileKek(kek.path)


def test_several_keyfile_keks_need_an_explicit_id(piizone_home: Path):
    old = ensure_keyfile_kek(piizone_home)
    new = create_keyfile_kek(piizone_home)
    with pytest.raises(KeyProviderError, match="2 keyfile KEKs"):
        ensure_keyfile_kek(piizone_home)
    with pytest.raises(KeyProviderError, match="2 keyfile KEKs"):
        load_kek({"provider": "keyfile"}, piizone_home)
    chosen = load_kek({"provider": "keyfile", "key_id": new.key_id}, piizone_home)
    assert chosen.provider_id == new.provider_id
    assert ensure_keyfile_kek(piizone_home, old.key_id).provider_id == old.provider_id
    with pytest.raises(KeyProviderError, match="invalid keyfile KEK id"):
        load_kek({"provider": "keyfile", "key_id": "../../etc/passwd"}, piizone_home)


def test_renamed_key_file_is_detected(piizone_home: Path):
    a, b = ensure_keyfile_kek(piizone_home), create_keyfile_kek(piizone_home)
    a.path.unlink()
    b.path.rename(a.path)
    with pytest.raises(KeyProviderError, match=f"holds key {b.key_id}, not {a.key_id}"):
        load_kek_for(a.provider_id, {}, piizone_home)


def test_repr_and_errors_never_show_key_material(piizone_home: Path):
    kek = ensure_keyfile_kek(piizone_home)
    key = kek.path.read_bytes()
    assert key.hex() not in repr(kek) and repr(key) not in repr(kek)
    with pytest.raises(KeyProviderError) as excinfo:
        kek.unwrap(b"\x01K" + os.urandom(60), context=CONTEXT)
    assert key.hex() not in str(excinfo.value) and DEK.hex() not in str(excinfo.value)


# --- passphrase -----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [FAST_ARGON, FAST_SCRYPT], ids=["argon2id", "scrypt"])
def test_passphrase_round_trip(params):
    kek = PassphraseKek("correct horse battery staple", params=params)
    wrapped = kek.wrap(DEK, context=CONTEXT)
    assert wrapped[:3] == b"\x01P" + bytes([params.kdf_id])
    # The KDF and its cost travel in the blob: another instance with other defaults opens it.
    assert PassphraseKek("correct horse battery staple").unwrap(wrapped, context=CONTEXT) == DEK


def test_passphrase_default_params_are_argon2id():
    kek = load_kek({"provider": "passphrase"}, Path("/nonexistent"), passphrase="pw")
    assert kek.params == Argon2idParams(memory_kib=65536, iterations=3, lanes=4)
    assert kek.unwrap(kek.wrap(DEK, context=CONTEXT), context=CONTEXT) == DEK


def test_wrong_passphrase_is_a_clear_error():
    wrapped = PassphraseKek("right", params=FAST_ARGON).wrap(DEK, context=CONTEXT)
    with pytest.raises(KeyProviderError, match="wrong passphrase or corrupted wrapped key") as e:
        PassphraseKek("wrong").unwrap(wrapped, context=CONTEXT)
    assert isinstance(e.value, ZoneError) and "right" not in str(e.value)
    with pytest.raises(KeyProviderError, match="wrong passphrase"):
        PassphraseKek("right").unwrap(wrapped, context=b"zone:other")


def test_hostile_kdf_params_in_blob_are_refused_before_deriving():
    wrapped = bytearray(PassphraseKek("pw", params=FAST_ARGON).wrap(DEK, context=CONTEXT))
    wrapped[3:7] = (1 << 30).to_bytes(4, "big")  # 1 TiB of argon2 memory
    started = time.monotonic()
    with pytest.raises(KeyProviderError, match="out of range"):
        PassphraseKek("pw").unwrap(bytes(wrapped), context=CONTEXT)
    assert time.monotonic() - started < 1


def test_passphrase_is_asked_lazily_and_once():
    asked = []

    def prompt() -> str:
        asked.append(1)
        return "pw"

    kek = PassphraseKek(prompt, params=FAST_ARGON)
    assert asked == []
    wrapped = kek.wrap(DEK, context=CONTEXT)
    assert kek.unwrap(wrapped, context=CONTEXT) == DEK
    assert asked == [1]


def test_empty_passphrase_is_refused():
    with pytest.raises(KeyProviderError, match="empty passphrase"):
        PassphraseKek("", params=FAST_ARGON).wrap(DEK, context=CONTEXT)


def test_read_passphrase_from_env_prompt_or_error(monkeypatch):
    monkeypatch.setenv("PIIZONE_PASSPHRASE", "from-env")
    assert read_passphrase() == "from-env"

    monkeypatch.delenv("PIIZONE_PASSPHRASE")
    monkeypatch.setattr(passphrase_module.sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(KeyProviderError, match="no passphrase available") as excinfo:
        read_passphrase()
    assert "PIIZONE_PASSPHRASE" in excinfo.value.hint

    monkeypatch.setattr(passphrase_module.sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["typed", "typed", "typed", "typo"])
    monkeypatch.setattr(passphrase_module.getpass, "getpass", lambda prompt="": next(answers))
    assert read_passphrase(confirm=True) == "typed"
    with pytest.raises(KeyProviderError, match="do not match"):
        read_passphrase(confirm=True)


# --- command --------------------------------------------------------------------------------


def test_command_round_trip_through_fake_kms(kms_key):
    kek = fake_kms()
    wrapped = kek.wrap(DEK, context=CONTEXT)
    assert wrapped[:2] == b"\x01C" and DEK not in wrapped
    assert kek.unwrap(wrapped, context=CONTEXT) == DEK
    assert kek.provider_id.startswith("command:") and len(kek.provider_id) == len("command:") + 8


def test_command_wrapped_key_is_bound_to_context(kms_key):
    kek = fake_kms()
    wrapped = kek.wrap(DEK, context=CONTEXT)
    # The fake KMS binds the context itself, so it refuses, exit status 1.
    with pytest.raises(KeyProviderError, match="exit status 1"):
        kek.unwrap(wrapped, context=b"zone:other")


def test_command_context_is_bound_even_if_the_tool_ignores_it(kms_key):
    cat = CommandKek(["cat"], ["cat"])  # an identity "KMS" that ignores PIIZONE_KEK_CONTEXT
    wrapped = cat.wrap(DEK, context=CONTEXT)
    with pytest.raises(KeyProviderError, match="context mismatch"):
        cat.unwrap(wrapped, context=b"zone:other")


def test_command_failure_reports_exit_status_and_tool_message(kms_key, monkeypatch):
    monkeypatch.setenv("FAKE_KMS_FAIL", "3")
    with pytest.raises(
        KeyProviderError, match=r"key wrap command python\S* failed with exit status 3"
    ) as e:
        fake_kms().wrap(DEK, context=CONTEXT)
    assert "AccessDeniedException" in e.value.hint


def test_command_failure_never_echoes_key_bytes(kms_key, monkeypatch):
    monkeypatch.setenv("FAKE_KMS_LEAK", "1")
    with pytest.raises(KeyProviderError, match="exit status 4") as e:
        fake_kms().wrap(DEK, context=CONTEXT)
    text = f"{e.value} {e.value.hint}"
    assert DEK.hex() not in text and DEK.hex()[:24] not in text
    assert "[redacted]" in text


def test_command_timeout_kills_the_command_and_its_children(kms_key, monkeypatch):
    monkeypatch.setenv("FAKE_KMS_SLEEP", "30")
    started = time.monotonic()
    with pytest.raises(KeyProviderError, match=r"timed out after 0.5s"):
        fake_kms(timeout=0.5).wrap(DEK, context=CONTEXT)
    assert time.monotonic() - started < 10


def test_command_not_found(kms_key):
    kek = CommandKek(["/nonexistent/kms-cli", "wrap"], ["/nonexistent/kms-cli", "unwrap"])
    with pytest.raises(KeyProviderError, match="cannot run key wrap command kms-cli"):
        kek.wrap(DEK, context=CONTEXT)


def test_command_unwrap_output_must_be_a_piizone_key(kms_key):
    kek = CommandKek([sys.executable, FAKE_KMS, "wrap"], ["cat"])
    with pytest.raises(KeyProviderError, match="not a wrapped piizone key"):
        kek.unwrap(kek.wrap(DEK, context=CONTEXT), context=CONTEXT)


def test_command_args_are_not_echoed(kms_key):
    kek = CommandKek(["/nonexistent/kms", "--token=s3cr3t-token"], ["true"])
    with pytest.raises(KeyProviderError) as e:
        kek.wrap(DEK, context=CONTEXT)
    assert "s3cr3t" not in f"{e.value} {e.value.hint}"


# --- factory, rotation, pseudonym key -------------------------------------------------------


def test_load_kek_builds_each_provider(piizone_home: Path, kms_key):
    ensure_keyfile_kek(piizone_home)
    assert isinstance(load_kek({"provider": "keyfile"}, piizone_home), KeyfileKek)
    assert isinstance(load_kek({}, piizone_home), KeyfileKek)
    pw = load_kek(
        {"provider": "passphrase", "kdf": "scrypt", "params": {"n": 1024}, "id": "ops"},
        piizone_home,
        passphrase="pw",
    )
    assert pw.provider_id == "passphrase:ops" and pw.params == ScryptParams(n=1024)
    cmd_config = {
        "provider": "command",
        "wrap": [sys.executable, FAKE_KMS, "wrap"],
        "unwrap": [sys.executable, FAKE_KMS, "unwrap"],
        "timeout": 5,
        "id": "fake-kms",
    }
    cmd = load_kek(cmd_config, piizone_home)
    assert cmd.provider_id == "command:fake-kms" and cmd.timeout == 5
    assert cmd.unwrap(cmd.wrap(DEK, context=CONTEXT), context=CONTEXT) == DEK


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"provider": "hsm"}, "unknown key provider 'hsm'"),
        ({"provider": "command", "wrap": ["x"]}, 'needs "wrap" and "unwrap"'),
        ({"provider": "command", "wrap": [], "unwrap": ["x"]}, "wrap must be a list"),
        ({"provider": "passphrase", "kdf": "md5"}, "unknown passphrase KDF"),
        ({"provider": "passphrase", "params": {"rounds": 9}}, "invalid argon2id parameters"),
        ({"provider": "passphrase", "params": {"memory_kib": 1 << 30}}, "out of range"),
    ],
)
def test_load_kek_rejects_bad_config(piizone_home: Path, config, message):
    with pytest.raises(KeyProviderError, match=message):
        load_kek(config, piizone_home, passphrase="pw")


def test_load_kek_for_finds_older_keyfile_keks(piizone_home: Path):
    old = ensure_keyfile_kek(piizone_home)
    new = create_keyfile_kek(piizone_home)
    config = {"provider": "keyfile", "key_id": new.key_id}
    assert load_kek_for(old.provider_id, config, piizone_home).provider_id == old.provider_id
    assert load_kek_for(new.provider_id, config, piizone_home).provider_id == new.provider_id
    with pytest.raises(KeyProviderError, match="wrapped by passphrase:default"):
        load_kek_for("passphrase:default", config, piizone_home)


def test_rewrap_moves_a_key_between_all_providers(piizone_home: Path, kms_key):
    keyfile = ensure_keyfile_kek(piizone_home)
    passphrase = PassphraseKek("pw", params=FAST_ARGON)
    command = fake_kms()
    wrapped = keyfile.wrap(DEK, context=CONTEXT)
    chain = [keyfile, passphrase, command, create_keyfile_kek(piizone_home)]
    for old, new in zip(chain, chain[1:], strict=False):
        rewrapped = rewrap(wrapped, old, new, CONTEXT)
        assert new.unwrap(rewrapped, context=CONTEXT) == DEK
        assert old.unwrap(wrapped, context=CONTEXT) == DEK  # the old copy is untouched
        wrapped = rewrapped


def test_rewrap_refuses_a_provider_that_cannot_unwrap(piizone_home: Path, kms_key):
    keyfile = ensure_keyfile_kek(piizone_home)
    broken = CommandKek([sys.executable, FAKE_KMS, "wrap"], ["false"])
    with pytest.raises(KeyProviderError, match="key unwrap command false failed"):
        rewrap(keyfile.wrap(DEK, context=CONTEXT), keyfile, broken, CONTEXT)


def test_rewrap_with_wrong_old_provider_fails(piizone_home: Path):
    keyfile = ensure_keyfile_kek(piizone_home)
    wrapped = keyfile.wrap(DEK, context=CONTEXT)
    with pytest.raises(KeyProviderError, match="made by a keyfile provider"):
        rewrap(wrapped, PassphraseKek("pw", params=FAST_ARGON), keyfile, CONTEXT)


def test_pseudonym_key_is_created_once_and_never_replaced(piizone_home: Path):
    key = ensure_pseudonym_key(piizone_home)
    path = piizone_home / "keys" / "pseudonym.key"
    assert len(key) == 32 and path.read_bytes() == key and mode(path) == 0o600
    assert ensure_pseudonym_key(piizone_home) == key


def test_existing_pseudonym_key_is_kept(piizone_home: Path):
    path = piizone_home / "keys" / "pseudonym.key"
    path.parent.mkdir(parents=True, mode=0o700)
    existing = os.urandom(32)
    path.write_bytes(existing)
    os.chmod(path, 0o600)
    assert ensure_pseudonym_key(piizone_home) == existing
    assert path.read_bytes() == existing
