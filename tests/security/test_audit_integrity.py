"""The audit log cannot be wiped, and no zone or key rotation escapes it (issue 13, finding 11).

Before: deleting every log file and the head verified as "intact: 0 records" although zones
and the audit key existed, and the next command started a fresh chain; a SIGKILL between
publishing a zone and writing its record left a zone with no record (same for `keys rotate`);
the log could only be checked by whoever held the secret MAC key.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from piizone.zones.audit import log as audit
from piizone.zones.storage.store import ZoneStore
from tests.cli.conftest import invoke, invoke_ok
from tests.conftest import REPO

SEG1 = audit.segment_name(1)


ok = invoke_ok


def verify(*extra: str):
    return invoke("audit", "verify", *extra)


def records(home: Path) -> list[dict]:
    return list(audit.open_audit_log(home).records())


@pytest.fixture
def home(piizone_home: Path) -> Path:
    ok("init")
    for _ in range(3):
        ok("zone", "list")
    return piizone_home


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "people.csv").write_text("name,email\nDevin Sparks,devin.sparks@yahoo.com\n")
    return d


def delete_log(home: Path, *extra: str) -> None:
    for path in (home / "audit").glob("audit-*.jsonl"):
        path.unlink()
    (home / "audit" / "head.json").unlink()
    for name in extra:
        (home / name).unlink()


# -- a deleted log ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "also_deleted",
    [(), ("audit/checkpoint.json",)],
    ids=["log+head", "log+head+checkpoint"],
)
def test_deleting_the_log_and_its_head_fails_verify(home: Path, also_deleted) -> None:
    assert verify().exit_code == 0
    delete_log(home, *also_deleted)
    result = verify()
    assert result.exit_code == 1, result.stdout
    assert "FAILED" in result.stdout and "deleted" in result.stdout


def test_a_deleted_log_with_zones_fails_verify_even_without_its_keys(home: Path, src) -> None:
    ok("zone", "create", "churn", "--from", str(src))
    delete_log(home, "audit/checkpoint.json", "keys/audit.key", "keys/audit-signing.ed25519")
    result = verify()
    assert result.exit_code == 1 and "zone(s) exist" in result.stdout
    # ...and no command starts a new, "intact" log over it.
    assert invoke("zone", "list").exit_code != 0
    assert verify().exit_code == 1


@pytest.mark.parametrize(
    "also_deleted",
    [(), ("audit/checkpoint.json",)],
    ids=["log+head", "log+head+checkpoint"],
)
def test_no_new_chain_is_started_over_a_deleted_log(home: Path, also_deleted) -> None:
    delete_log(home, *also_deleted)
    result = invoke("zone", "list")
    assert result.exit_code == 2 and "refusing to start a new one" in result.stderr
    assert not list((home / "audit").glob("audit-*.jsonl"))
    assert verify().exit_code == 1


def test_only_init_starts_the_log_of_a_home_that_has_none(home: Path) -> None:
    # What an interrupted `init` leaves (keys, no record) looks like a wiped log in a home
    # without zones: only `init`, an explicit operator action, writes a first record then.
    delete_log(home, "audit/checkpoint.json")
    assert invoke("zone", "list").exit_code == 2
    ok("init")
    assert [r["action"] for r in records(home)] == ["init"]
    assert verify().exit_code == 0


def test_a_fresh_home_verifies_and_verify_creates_nothing(piizone_home: Path) -> None:
    result = verify()
    assert result.exit_code == 0 and "0 record(s)" in result.stdout
    assert not piizone_home.exists()


# -- signed checkpoints -----------------------------------------------------------------------


def test_init_makes_a_private_ed25519_signing_key_and_a_checkpoint(home: Path) -> None:
    private = home / "keys" / "audit-signing.ed25519"
    public = home / "keys" / "audit-signing.ed25519.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    key = audit.load_public_key(public.read_bytes(), "pub")
    checkpoint = json.loads((home / "audit" / "checkpoint.json").read_bytes())
    head = json.loads((home / "audit" / "head.json").read_bytes())
    assert (checkpoint["seq"], checkpoint["file"], checkpoint["last"]) == (
        head["seq"],
        head["file"],
        head["last"],
    )
    assert checkpoint["key_id"] == audit.public_key_id(key)
    body = {k: v for k, v in checkpoint.items() if k != "sig"}
    # The signed bytes, as docs/audit-format.md states them (raises if the signature is bad).
    Ed25519PublicKey.verify(
        key,
        bytes.fromhex(checkpoint["sig"]),
        b"piizone audit checkpoint v1\n" + audit.canonical_json(body),
    )


@pytest.fixture
def auditor(home: Path, tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """What an auditor holds: a copy of the audit directory and the public key, no MAC key."""
    copy = tmp_path / "auditor"
    shutil.copytree(home / "audit", copy / "audit")
    public = tmp_path / "audit-signing.pub"
    shutil.copyfile(home / "keys" / "audit-signing.ed25519.pub", public)
    monkeypatch.setenv("PIIZONE_HOME", str(copy))
    return copy, public


def test_verify_with_the_public_key_alone(auditor) -> None:
    copy, public = auditor
    result = verify("--public-key", str(public))
    assert result.exit_code == 0, result.stdout
    assert "signed checkpoint" in result.stdout and "MACs not checked" in result.stdout
    assert not (copy / "keys").exists()


def _edit_first_record(copy: Path) -> None:
    path = copy / "audit" / SEG1
    lines = path.read_bytes().split(b"\n")
    lines[0] = lines[0].replace(b'"outcome":"success"', b'"outcome":"failure"')
    path.write_bytes(b"\n".join(lines))


def _drop_last_record(copy: Path) -> None:
    path = copy / "audit" / SEG1
    lines = path.read_bytes().split(b"\n")[:-1]
    path.write_bytes(b"".join(line + b"\n" for line in lines[:-1]))


def _other_key(tmp_path: Path) -> Path:
    audit.ensure_signing_key(tmp_path / "other")
    return tmp_path / "other" / "keys" / "audit-signing.ed25519.pub"


def _flip_signature(copy: Path) -> None:
    path = copy / "audit" / "checkpoint.json"
    cp = json.loads(path.read_bytes())
    cp["sig"] = ("0" if cp["sig"][0] != "0" else "1") + cp["sig"][1:]
    path.write_bytes(audit.canonical_json(cp) + b"\n")


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (_edit_first_record, "edited"),
        (_drop_last_record, "truncated"),
        (_flip_signature, "bad_signature"),
        (lambda copy: (copy / "audit" / "checkpoint.json").unlink(), "deleted"),
        (lambda copy: [p.unlink() for p in (copy / "audit").glob("audit-*")], "truncated"),
    ],
    ids=["edited", "truncated", "forged-checkpoint", "no-checkpoint", "no-log"],
)
def test_public_key_verify_rejects_tampering(auditor, tamper, kind) -> None:
    copy, public = auditor
    tamper(copy)
    result = verify("--public-key", str(public), "--json")
    assert result.exit_code == 1, result.stdout
    assert json.loads(result.stdout)["problem"]["kind"] == kind


def test_public_key_verify_rejects_another_key(auditor, tmp_path: Path) -> None:
    result = verify("--public-key", str(_other_key(tmp_path)), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problem"]["kind"] == "bad_signature"


def test_a_forged_checkpoint_fails_the_full_verify_too(home: Path) -> None:
    _flip_signature(home)
    result = verify("--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problem"]["kind"] == "bad_signature"


def test_not_a_public_key_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pub"
    bogus.write_text("not a key\n")
    result = verify("--public-key", str(bogus))
    assert result.exit_code == 2 and "not an Ed25519 public key" in result.stderr


# -- a crash between the change and its record ------------------------------------------------


def crash_at(home: Path, point: str, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI in a child that SIGKILLs itself at `point` (PIIZONE_TEST_CRASH_AT)."""
    env = dict(
        os.environ, PIIZONE_HOME=str(home), PIIZONE_TEST_CRASH_AT=point, PYTHONPATH=str(REPO)
    )
    return subprocess.run(
        [sys.executable, "-m", "piizone.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_sigkill_between_publish_and_record_is_rolled_back(home: Path, src: Path) -> None:
    done = crash_at(home, "after-publish", "zone", "create", "churn", "--from", str(src))
    assert done.returncode == -signal.SIGKILL, done.stderr
    # The crash hit where it should: a published zone with no record of it.
    assert ZoneStore(home).exists("churn")
    assert not [r for r in records(home) if r["action"] == "zone.create"]

    listed = json.loads(ok("zone", "list", "--json").stdout)  # the next command recovers
    assert listed == []
    assert not (home / "zones" / ".versions" / "churn" / "v000001").exists()
    create = [r for r in records(home) if r["action"] == "zone.create"]
    assert len(create) == 1 and create[0]["zone"] == "churn"
    assert create[0]["outcome"] == "failure"
    assert create[0]["details"]["error"] == "interrupted"
    assert create[0]["details"]["recovered"] == "rolled back"
    assert verify().exit_code == 0
    ok("zone", "create", "churn", "--from", str(src))  # the name is free again


def test_sigkill_after_the_record_keeps_the_recorded_zone(home: Path, src: Path) -> None:
    done = crash_at(home, "after-record", "zone", "create", "churn", "--from", str(src))
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert list((home / "journal").iterdir())  # the intent outlived its process

    listed = json.loads(ok("zone", "list", "--json").stdout)
    assert [z["name"] for z in listed] == ["churn"]
    create = [r for r in records(home) if r["action"] == "zone.create"]
    assert [(r["zone"], r["outcome"]) for r in create] == [("churn", "success")]
    assert not list((home / "journal").iterdir())
    assert verify().exit_code == 0


def test_sigkill_between_rotate_and_record_is_completed_and_recorded(home: Path, src: Path) -> None:
    ok("zone", "create", "churn", "--from", str(src))
    before = ZoneStore(home).manifest("churn")["key"]["provider"]
    done = crash_at(home, "rotate-before-record", "keys", "rotate", "--yes")
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not [r for r in records(home) if r["action"] == "key.rotate"]

    ok("keys", "status")  # the next command recovers
    rotate = [r for r in records(home) if r["action"] == "key.rotate"]
    assert len(rotate) == 1 and rotate[0]["outcome"] == "success"
    assert rotate[0]["details"]["recovered"] == "completed"
    after = ZoneStore(home).manifest("churn")["key"]["provider"]
    assert after != before and after == rotate[0]["details"]["provider"]
    assert verify().exit_code == 0
    ok("zone", "verify", "churn")  # the data key unwraps under the new KEK


def test_verify_checks_the_checkpoint_with_the_pub_when_the_private_key_is_gone(
    home: Path,
) -> None:
    (home / "keys" / "audit-signing.ed25519").unlink()
    assert verify().exit_code == 0
    _flip_signature(home)
    assert json.loads(verify("--json").stdout)["problem"]["kind"] == "bad_signature"
    (home / "keys" / "audit-signing.ed25519.pub").unlink()
    result = verify("--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problem"]["file"] == "keys/audit-signing.ed25519"
