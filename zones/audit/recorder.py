"""How the rest of piizone audits itself: open the home's log, `record` one action, or run one
under `audited`, and verify the home's log (`piizone audit verify`).

Every command writes its audit record through `record()` (or `audited`, which calls it). Callers
pass counts, hashes and ids in `details`, never raw values: the log is read by people who must
not see the data it describes.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from piizone.scrubbers.exceptions import ScrubberError
from piizone.scrubbers.masking import mask_name
from piizone.zones.audit.checkpoints import load_public_key, open_signer, read_signing_key
from piizone.zones.audit.format import (
    ACTIONS,
    CHECKPOINT_FILE,
    KEY_BYTES,
    KEY_FILE,
    OUTCOMES,
    SIGNING_KEY_FILE,
    SIGNING_PUBLIC_FILE,
    AuditError,
    segment_name,
)
from piizone.zones.audit.log import DEFAULT_MAX_BYTES, AuditLog
from piizone.zones.audit.segments import has_records, record_evidence
from piizone.zones.audit.verify import Problem, VerifyResult
from piizone.zones.exceptions import AccessDenied, ZoneError
from piizone.zones.home import audit_dir, keys_dir, piizone_home, write_private_file
from piizone.zones.storage.store import ZONE_NAME

# An error's text in a record is cut here: it names what failed, it does not carry data.
MAX_ERROR_CHARS = 300


def ensure_audit_key(home: Path | None = None) -> bytes:
    """Create keys/audit.key (32 random bytes) if missing, never overwriting; return the key."""
    path = keys_dir(home) / KEY_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process won the race: use theirs
            write_private_file(path, secrets.token_bytes(KEY_BYTES), overwrite=False)
    return read_key(path)


def read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except OSError as e:
        raise AuditError(
            f"cannot read the audit key {path} ({e.strerror or type(e).__name__})",
            hint="run `piizone init`, or restore keys/audit.key from backup",
        ) from e
    if len(key) != KEY_BYTES:
        raise AuditError(
            f"audit key {path} has the wrong length",
            hint="restore keys/audit.key from backup; do not edit it",
        )
    return key


def verify_home(
    home: Path | None = None, *, public_key: Ed25519PublicKey | None = None
) -> VerifyResult:
    """`piizone audit verify`: the home's log with its keys, or with a public key alone.

    Creates nothing (an auditor's read-only account must be able to run it): a home without an
    audit key is judged by what else it holds (R13).
    """
    home = home or piizone_home()
    directory = audit_dir(home)
    if public_key is not None:
        return AuditLog(directory, None, public_key=public_key).verify()
    keys = keys_dir(home)
    if (keys / KEY_FILE).exists():
        if (keys / SIGNING_KEY_FILE).exists():
            public_key = read_signing_key(keys / SIGNING_KEY_FILE).public_key()
        elif (keys / SIGNING_PUBLIC_FILE).exists():
            public_key = load_public_key((keys / SIGNING_PUBLIC_FILE).read_bytes(), "the .pub")
        elif (directory / CHECKPOINT_FILE).exists():
            problem = Problem(
                "deleted",
                None,
                f"keys/{SIGNING_KEY_FILE}",
                None,
                "the signing key is missing but the log has signed checkpoints",
            )
            return VerifyResult(ok=False, records=0, problem=problem)
        log = AuditLog(directory, read_key(keys / KEY_FILE), public_key=public_key, home=home)
        return log.verify()
    if has_records(directory):
        open_audit_log(home)  # raises: the key of an existing log is missing
    evidence = record_evidence(directory, home)
    if evidence:
        problem = Problem(
            "deleted", None, segment_name(1), None, f"the log is missing, yet {evidence}"
        )
        return VerifyResult(ok=False, records=0, problem=problem)
    return VerifyResult(ok=True, records=0)


def open_audit_log(home: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> AuditLog:
    """The audit log of `home` ($PIIZONE_HOME by default) with its key.

    A fresh home (no log yet) gets a key on first use; a log whose key is gone fails closed,
    because a new key could never verify the old records.
    """
    home = home or piizone_home()
    directory = audit_dir(home)
    path = keys_dir(home) / KEY_FILE
    if not path.exists():
        try:
            found = has_records(directory)
        except OSError as e:
            raise AuditError(
                f"cannot read the audit directory {directory} ({e.strerror})",
                hint="check the permissions of $PIIZONE_HOME",
            ) from e
        if found:
            raise AuditError(
                f"the audit key {path} is missing but the audit log exists",
                hint="restore keys/audit.key from backup; a new key cannot verify old records",
            )
        try:
            key = ensure_audit_key(home)
        except OSError as e:
            raise AuditError(
                f"cannot create the audit key in {path.parent} ({e.strerror or type(e).__name__})",
                hint="check that $PIIZONE_HOME is writable, or run `piizone init`",
            ) from e
    else:
        key = read_key(path)
    signer = open_signer(home, directory, create=False)  # appends make it when missing
    return AuditLog(directory, key, max_bytes=max_bytes, signer=signer, home=home)


def without_name(details: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """`details` for an attempt on something that is not a zone name.

    Such a name is whatever was typed (an e-mail address, a customer's name): it is neither
    recorded as the zone nor quoted in an error message; the record says the name was invalid.
    """
    out: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if isinstance(value, str) and name:
            value = value.replace(repr(name), "(invalid name)").replace(name, "(invalid name)")
        out[key] = value
    out["zone_name"] = "invalid"
    return out


def record(
    action: str,
    *,
    zone: str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    home: Path | None = None,
) -> dict[str, Any]:
    """Write one audit record: THE way every command audits itself. Raises AuditError on failure.

    Fail closed: call `open_audit_log(home).check_writable()` before doing anything irreversible,
    then `record(...)` with the outcome; if either raises, do not go on. `details` holds counts,
    hashes and ids only, never raw values or keys (suspicious values are stripped).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    if zone is not None and not ZONE_NAME.match(zone):
        details = without_name(details, zone)
        zone = None
    log = open_audit_log(home)
    try:
        return log.append(action, zone=zone, outcome=outcome, details=details)
    except OSError as e:  # anything append did not already translate
        raise log._unwritable(e) from e


def error_detail(error: BaseException) -> str:
    """THE text an audit record keeps of an error (`details["error"]`), everywhere.

    Ctrl-C is "interrupted". piizone's own errors (ZoneError, ScrubberError) were written to be
    shown: they name paths, counts and reasons, never values; their message is kept on one line,
    cut to MAX_ERROR_CHARS, with e-mail addresses and long numbers masked as in file names (a
    safety net). An OSError keeps its reason ("No space left on device") but not its file name.
    Anything else (a bug, or a library's error that may quote its input) is its type name only.
    """
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, ScrubberError):  # ZoneError included
        text = " ".join(str(error).split())[:MAX_ERROR_CHARS]
        return mask_name(text) if text else type(error).__name__
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__


class AuditDetails(dict[str, Any]):
    """The details of an action run under `audited`, filled in by its body.

    `outcome` is recorded when the body returns ("success" unless the body sets "failure" or
    "denied"; set "denied" before raising a refusal to record it as one). `recorded()` tells
    `audited` the body wrote the success record itself, at a step that had to be atomic with it.
    """

    def __init__(self, details: dict[str, Any] | None = None):
        super().__init__(details or {})
        self.outcome = "success"
        self.done = False

    def recorded(self) -> None:
        self.done = True


@contextlib.contextmanager
def audited(
    action: str,
    *,
    zone: str | None = None,
    home: Path | None = None,
    details: dict[str, Any] | None = None,
) -> Iterator[AuditDetails]:
    """Run the body as audited `action`: one record, success or failure, written one way.

    On return: `action` with the details and outcome the body left. On an exception: a
    failure (or "denied", if the body set that outcome) with the details so far plus
    `error` = `error_detail(e)`, then the exception goes on. Not recorded: AuditError (the log
    is what failed) and AccessDenied (recorded as access.denied where it was raised); a failure
    record that cannot be written does not hide the original error. A success record that
    cannot be written raises AuditError: callers fail closed.
    """
    current = AuditDetails(details)
    try:
        yield current
    except BaseException as e:
        if not isinstance(e, AuditError | AccessDenied):
            outcome = current.outcome if current.outcome != "success" else "failure"
            with contextlib.suppress(ZoneError):  # the original error is the one to report
                record(
                    action,
                    zone=zone,
                    outcome=outcome,
                    details={**current, "error": error_detail(e)},
                    home=home,
                )
        raise
    if not current.done:
        record(action, zone=zone, outcome=current.outcome, details=dict(current), home=home)


@contextlib.contextmanager
def audited_redaction(policy_sha256: str, home: Path | None = None) -> Iterator[AuditDetails]:
    """`piizone redact` under `audited("redact.run")`, when there is a piizone home to audit in.

    redact works without `piizone init`: with no home there is nothing to record and the details
    are dropped. With one it fails closed (no redaction that cannot be recorded) and records
    the outcome with the policy's sha256 and the counts the body adds.
    """
    home = home or piizone_home()
    if not home.is_dir():
        yield AuditDetails({"policy_sha256": policy_sha256})
        return
    open_audit_log(home).check_writable()
    details = {"policy_sha256": policy_sha256}
    with audited("redact.run", home=home, details=details) as current:
        yield current
