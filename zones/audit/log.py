"""Tamper-evident, fail-closed audit log: hash-chained, HMAC'd JSON lines in $PIIZONE_HOME/audit.

The format is specified in docs/audit-format.md; every MUST-reject rule there is one check in
`AuditLog.verify` and one failing test vector in tests/zones/test_audit.py.

Every command writes its audit record through `record()`. Callers pass counts, hashes and ids in
`details`, never raw values: the log is read by people who must not see the data it describes.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import hmac
import json
import os
import pwd
import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from piizone.zones.exceptions import ZoneError
from piizone.zones.home import (
    audit_dir,
    ensure_private_dir,
    fsync_dir,
    keys_dir,
    piizone_home,
    write_private_file,
    zones_dir,
)
from piizone.zones.storage.store import ZONE_NAME

FORMAT_VERSION = 1
GENESIS = "0" * 64
KEY_BYTES = 32
KEY_FILE = "audit.key"
HEAD_FILE = "head.json"
CHECKPOINT_FILE = "checkpoint.json"
SIGNING_KEY_FILE = "audit-signing.ed25519"
SIGNING_PUBLIC_FILE = "audit-signing.ed25519.pub"
# Signed bytes = this context + canonical JSON of the checkpoint without `sig`: a signature made
# for anything else with the same key can never pass for a checkpoint.
CHECKPOINT_CONTEXT = b"piizone audit checkpoint v1\n"
LOCK_FILE = ".lock"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MAX_DETAILS_BYTES = 16 * 1024
# Refuse to proceed with less than this free: a half-written record helps nobody.
MIN_FREE_BYTES = 1024 * 1024
# O_NOFOLLOW: a symlink planted in the audit directory must not redirect appends elsewhere.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
SEGMENT_RE = re.compile(r"^audit-(\d{6})\.jsonl$")

# Frozen: these names are stored in every record. Adding one is fine; renaming or removing one
# needs a new format version and a migration (STYLE.md rule 4).
ACTIONS: frozenset[str] = frozenset(
    {
        "init",
        "scan.run",
        "redact.run",
        "zone.create",
        "zone.open",
        "zone.list",
        "zone.show",
        "zone.verify",
        "zone.refresh",
        "zone.destroy",
        "zone.hold",
        "zone.grant",
        "zone.revoke",
        "zone.gc",
        "zone.canary_check",
        "zone.export_policy",
        "session.start",
        "session.end",
        "egress.scan",
        "key.rotate",
        "key.status",
        "audit.export",
        "audit.ropa",
        "access.denied",
        "serve.start",
        "serve.request",
        "serve.stop",
    }
)
OUTCOMES: tuple[str, ...] = ("success", "failure", "denied")
PROBLEM_KINDS: tuple[str, ...] = (
    "edited",
    "deleted",
    "reordered",
    "inserted",
    "truncated",
    "bad_mac",
    "malformed",
    "stale_head",
    "bad_signature",
)

RECORD_FIELDS = frozenset(
    {"v", "seq", "time", "actor", "action", "zone", "outcome", "details", "prev", "mac"}
)
ACTOR_FIELDS = frozenset({"uid", "user", "host", "pid"})
HEAD_FIELDS = frozenset({"v", "seq", "file", "size", "last", "mac"})
CHECKPOINT_FIELDS = frozenset({"v", "seq", "file", "last", "time", "key_id", "sig"})
_HEX128 = re.compile(r"^[0-9a-f]{128}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

# Detail keys whose values are secrets by name. Identifiers of keys ("key_id", "kek_provider")
# are allowed: only the material itself is dangerous.
_SECRET_KEY_NAME = re.compile(
    r"(secret|passw(or)?d|passphrase|token|credential|private|api[_-]?key|(^|_)(key|dek|kek)$"
    r"|wrapped|plaintext)",
    re.IGNORECASE,
)
_SECRET_KEY_NAME_ALLOWED = re.compile(r"_(id|ids|count|provider|sha256|hash|version|name)$")
# A long unbroken base64/base64url token mixing cases and digits is how keys get pasted; hex
# hashes (lowercase only) and paths (separators, mostly lowercase) do not match.
_B64_TOKEN = re.compile(r"^[A-Za-z0-9+/_-]{32,}={0,2}$")
STRIPPED = "[stripped: looks like key material]"


class AuditError(ZoneError):
    """The audit log cannot be written or read; the audited action must not happen."""


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a log, located precisely enough to open an editor at it."""

    kind: str
    seq: int | None
    file: str
    line: int | None
    message: str

    def describe(self) -> str:
        """One line for people: kind, where, and what is wrong."""
        where = self.file + (f" line {self.line}" if self.line is not None else "")
        what = f"record seq {self.seq} at {where}" if self.seq is not None else where
        return f"{self.kind}: {what}: {self.message}"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `AuditLog.verify`: ok, how many records were checked, and the first problem."""

    ok: bool
    records: int
    files: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_last: str = GENESIS
    problem: Problem | None = None
    # The seq sealed by the signed checkpoint that was checked (0: none), and whether the MACs
    # were checked (not when verifying with the public key alone).
    signed_seq: int = 0
    macs_checked: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# One encoder for every record: json.dumps with options builds a new encoder per call, which
# was a third of verify's time.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


def canonical_json(obj: Any) -> bytes:
    """The one byte encoding of a record: sorted keys, no spaces, ASCII only, no NaN."""
    return _CANONICAL.encode(obj).encode("ascii")


def line_hash(line: bytes) -> str:
    """SHA-256 hex of a record's line bytes without the LF: the next record's `prev`."""
    return hashlib.sha256(line).hexdigest()


def compute_mac(key: bytes, obj: dict[str, Any]) -> str:
    body = {k: v for k, v in obj.items() if k != "mac"}
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def segment_name(index: int) -> str:
    return f"audit-{index:06d}.jsonl"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_actor() -> dict[str, Any]:
    """Who is acting: the real uid and its account name (not $USER, which anyone can set)."""
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid{uid}"
    return {"uid": uid, "user": user, "host": socket.gethostname(), "pid": os.getpid()}


# ---------------------------------------------------------------------------------------------
# details hygiene


def sanitize_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Return a JSON-safe copy of `details` with anything that looks like key material stripped.

    Callers must pass counts, hashes and identifiers, never raw values. This is a safety net for
    mistakes, not a licence: a value is stripped when its key names a secret ("password",
    "token", "dek", "*_key", ...) or when it looks like an encoded key (PEM block, long mixed-case
    base64 token). Non-JSON values (bytes, sets, objects) raise ValueError: a caller bug.
    """
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise ValueError("audit details must be a dict")
    clean = _sanitize_value(details, depth=0)
    if len(canonical_json(clean)) > MAX_DETAILS_BYTES:
        # Large details mean someone is logging data instead of facts about data.
        raise ValueError(f"audit details exceed {MAX_DETAILS_BYTES} bytes; log counts, not data")
    return clean


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_KEY_NAME.search(name)) and not _SECRET_KEY_NAME_ALLOWED.search(name)


def _looks_like_key_material(value: str) -> bool:
    if "-----BEGIN" in value or value.startswith(("AGE-SECRET-KEY-", "sk-", "ghp_")):
        return True
    if _B64_TOKEN.match(value):
        has_upper = any(c.isupper() for c in value)
        has_lower = any(c.islower() for c in value)
        has_digit = any(c.isdigit() for c in value)
        return has_upper and has_lower and has_digit
    return False


def _sanitize_value(value: Any, depth: int) -> Any:
    if depth > 8:
        raise ValueError("audit details are nested too deeply")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("audit details cannot hold NaN or infinity")
        return value
    if isinstance(value, str):
        return STRIPPED if _looks_like_key_material(value) else value
    if isinstance(value, list | tuple):
        return [_sanitize_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError("audit detail keys must be strings")
            out[k] = STRIPPED if _is_secret_name(k) else _sanitize_value(v, depth + 1)
        return out
    raise ValueError(f"audit details cannot hold {type(value).__name__} values")


# ---------------------------------------------------------------------------------------------
# validation shared by the writer and the verifier


def _validate_record_shape(obj: Any) -> str | None:
    """None when `obj` has exactly the v1 record shape, else what is wrong (MUST-reject R2–R4)."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    if obj.get("v") != FORMAT_VERSION:
        return f"unsupported format version {obj.get('v')!r}"
    if set(obj) != RECORD_FIELDS:
        missing = sorted(RECORD_FIELDS - set(obj))
        extra = sorted(set(obj) - RECORD_FIELDS)
        return f"fields missing {missing} or unexpected {extra}"
    seq = obj["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return "seq is not a positive integer"
    if not isinstance(obj["time"], str) or not _TIME_RE.match(obj["time"]):
        return "time is not UTC RFC 3339 with microseconds"
    actor = obj["actor"]
    if not isinstance(actor, dict) or set(actor) != ACTOR_FIELDS:
        return "actor is not {uid, user, host, pid}"
    if not isinstance(obj["action"], str) or not obj["action"]:
        return "action is not a string"
    if obj["zone"] is not None and not isinstance(obj["zone"], str):
        return "zone is neither null nor a string"
    if obj["outcome"] not in OUTCOMES:
        return f"outcome is not one of {', '.join(OUTCOMES)}"
    if not isinstance(obj["details"], dict):
        return "details is not an object"
    for name in ("prev", "mac"):
        if not isinstance(obj[name], str) or not _HEX64.match(obj[name]):
            return f"{name} is not 64 lowercase hex digits"
    return None


def _parse_line(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one line (without LF) into a record, or say why it is malformed."""
    try:
        obj = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None, "not ASCII JSON"
    reason = _validate_record_shape(obj)
    if reason:
        return (obj if isinstance(obj, dict) else None), reason
    # Non-canonical bytes would let two different lines carry the same MAC.
    if canonical_json(obj) != line:
        return obj, "not canonical JSON (sorted keys, compact, ASCII)"
    return obj, None


def parse_time(value: str | datetime, *, now: datetime | None = None) -> datetime:
    """A filter bound: ISO 8601 date/time (UTC if no offset) or relative `30m`, `12h`, `7d`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    rel = re.fullmatch(r"(\d+)\s*([smhdw])", text)
    if rel:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[rel[2]]
        return (now or datetime.now(UTC)) - timedelta(**{unit: int(rel[1])})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AuditError(
            f"cannot read time {text!r}",
            hint="use an ISO date/time like 2025-01-31 or 2025-01-31T08:00:00Z, or 30m, 12h, 7d",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _record_time(rec: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(rec["time"])


# ---------------------------------------------------------------------------------------------
# signed checkpoints: the head, sealed with Ed25519 so it can be checked without the MAC key


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
        and _HEX64.match(obj["last"])
        and isinstance(obj["time"], str)
        and _TIME_RE.match(obj["time"])
        and isinstance(obj["key_id"], str)
        and _HEX64.match(obj["key_id"])
        and isinstance(obj["sig"], str)
        and _HEX128.match(obj["sig"])
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


def _record_evidence(directory: Path, home: Path | None, *, key: bool = False) -> str | None:
    """Why an audit log must hold records, when it holds none (MUST-reject R13), else None.

    A checkpoint is only written with a record; zones are only created after one. `init` writes
    the first record right after making the audit key, so with `key` its presence counts too
    (for verify: a writer on a fresh home has just made it).
    """
    if (directory / CHECKPOINT_FILE).exists():
        return "a signed checkpoint exists"
    if home is None:
        return None
    if key and (keys_dir(home) / KEY_FILE).exists():
        return "the audit key exists"
    try:
        zones = [p for p in zones_dir(home).iterdir() if not p.name.startswith(".")]
    except OSError:
        zones = []
    if zones:
        return f"{len(zones)} zone(s) exist"
    return None


# ---------------------------------------------------------------------------------------------
# the log


def _segments(directory: Path) -> list[tuple[int, str]]:
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = SEGMENT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m[1]), p.name))
    return sorted(found)


@dataclass
class _Head:
    seq: int
    file: str
    size: int
    last: str


@dataclass
class _Entry:
    file: str
    line: int
    raw: bytes
    terminated: bool


class AuditLog:
    """One audit log directory. Appends are serialized across processes with flock."""

    def __init__(
        self,
        directory: Path,
        key: bytes | None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: bool = True,
        signer: Ed25519PrivateKey | None = None,
        public_key: Ed25519PublicKey | None = None,
        home: Path | None = None,
    ):
        """`key` None: a read-only log checked with `public_key` alone (chain + checkpoint).

        `signer` seals each head in checkpoint.json; `home` (set by open_audit_log) lets the log
        see evidence that it should have records (zones) and create the signing key on demand.
        """
        if key is not None and len(key) < 16:
            raise AuditError("audit key is too short", hint="keys/audit.key must hold 32 bytes")
        if key is None and public_key is None:
            raise ValueError("an audit log needs its MAC key or a public key to verify with")
        self.directory = Path(directory)
        self._key = key
        self._signer = signer
        self._made_signer = False  # this instance made the home's signing key (a fresh home)
        self.public_key = public_key or (signer.public_key() if signer else None)
        self.home = home
        self.max_bytes = max_bytes
        # fsync=False exists only for building large fixtures in tests and benchmarks.
        self._fsync = fsync

    def __repr__(self) -> str:  # never show the key
        return f"AuditLog({str(self.directory)!r})"

    # -- paths and locking -------------------------------------------------------------------

    def _mac_key(self) -> bytes:
        """The MAC key, for the paths that need it (a log opened with its public key alone is
        only verified, and only its chain and checkpoint)."""
        if self._key is None:
            raise AuditError("the audit key is needed here; this log was opened for verify only")
        return self._key

    @property
    def head_path(self) -> Path:
        return self.directory / HEAD_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def record_evidence(self, *, key: bool = False) -> str | None:
        """Why this log must hold records, when it holds none (R13), else None."""
        return _record_evidence(self.directory, self.home, key=key)

    def _may_start_chain(self, action: str | None) -> str | None:
        """None if a first record may be written now, else the evidence of a deleted log.

        Zones or a checkpoint: never. The keys (made by `init`, which writes the first record
        right after them): only `init` itself, or a writer that has just made the signing key
        for a fresh home. Anything else would start a new, "intact" chain over a deleted log.
        """
        evidence = self.record_evidence()
        if evidence or action == "init" or self._made_signer or self.home is None:
            return evidence
        if (keys_dir(self.home) / SIGNING_KEY_FILE).exists():
            return "the audit signing key exists (only `piizone init` starts a log then)"
        return None

    def segments(self) -> list[tuple[int, str]]:
        """(index, name) of the log files present, in chain order."""
        return _segments(self.directory)

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        if exclusive:
            try:
                ensure_private_dir(self.directory)
                fd = os.open(
                    self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
                )
            except OSError as e:
                raise self._unwritable(e) from e
        else:
            # Readers (an auditor's read-only account) must not need write access to verify.
            try:
                fd = os.open(self.directory / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                yield  # no writer has ever run here: nothing to wait for
                return
            except OSError as e:
                raise AuditError(
                    f"cannot open the audit log {self.directory} ({e.strerror})",
                    hint="check the permissions of the audit directory",
                ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _unwritable(self, e: OSError) -> AuditError:
        return AuditError(
            f"audit log {self.directory} is not writable ({e.strerror or type(e).__name__}); "
            "the action was not performed",
            hint="fix the permissions or free space of the audit directory, then retry",
        )

    # -- head ---------------------------------------------------------------------------------

    def _read_head(self) -> _Head | None:
        try:
            raw = self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._unwritable(e) from e
        problem = self._head_problem(raw)
        if problem:
            raise AuditError(
                f"audit head file is invalid ({problem}); refusing to append",
                hint="run `piizone audit verify` and investigate before any further action",
            )
        obj = json.loads(raw)
        return _Head(obj["seq"], obj["file"], obj["size"], obj["last"])

    def _head_problem(self, raw: bytes) -> str | None:
        try:
            obj = json.loads(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return "not ASCII JSON"
        if not isinstance(obj, dict) or set(obj) != HEAD_FIELDS or obj.get("v") != FORMAT_VERSION:
            return "not a v1 head object"
        if not (
            isinstance(obj["seq"], int)
            and obj["seq"] >= 1
            and isinstance(obj["size"], int)
            and isinstance(obj["file"], str)
            and SEGMENT_RE.match(obj["file"])
            and isinstance(obj["last"], str)
            and _HEX64.match(obj["last"])
            and isinstance(obj["mac"], str)
        ):
            return "fields have the wrong types"
        if raw != canonical_json(obj) + b"\n":
            return "not canonical JSON followed by one LF"
        if not hmac.compare_digest(compute_mac(self._mac_key(), obj), obj["mac"]):
            return "bad MAC"
        return None

    def _write_head(self, head: _Head) -> None:
        obj: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "seq": head.seq,
            "file": head.file,
            "size": head.size,
            "last": head.last,
        }
        obj["mac"] = compute_mac(self._mac_key(), obj)
        data = canonical_json(obj) + b"\n"
        if self._fsync:
            write_private_file(self.head_path, data)
        else:
            tmp = self.head_path.with_name(f".{HEAD_FILE}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.head_path)
        if self._signer is not None:
            self._write_checkpoint(head)

    def _write_checkpoint(self, head: _Head) -> None:
        """Seal the head with the signing key (written after the head: a crash between the two
        leaves the checkpoint one seal behind, which the next append replaces)."""
        assert self._signer is not None
        data = make_checkpoint(self._signer, head.seq, head.file, head.last)
        if self._fsync:
            write_private_file(self.checkpoint_path, data)
        else:
            tmp = self.checkpoint_path.with_name(f".{CHECKPOINT_FILE}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.checkpoint_path)

    # -- writing ------------------------------------------------------------------------------

    def _tail_state(self, action: str | None = None) -> _Head | None:
        """The head, after checking the files end where it says; repairs a crash, else refuses.

        A crash can leave (a) a torn last line, never acknowledged to its caller, or (b) one
        complete record whose head update was lost. (a) is cut off, (b) is adopted if it chains
        and carries a valid MAC. Anything else is tampering and the log refuses to grow.
        """
        head = self._read_head()
        segs = self.segments()
        if head is None:
            if segs and any((self.directory / n).stat().st_size for _, n in segs):
                raise AuditError(
                    "audit head file is missing but the log has records; refusing to append",
                    hint="run `piizone audit verify`; restore audit/head.json from backup",
                )
            evidence = self._may_start_chain(action)
            if evidence:
                # Starting a new chain here would make a deleted log verify as intact.
                raise AuditError(
                    f"the audit log is missing but {evidence}; refusing to start a new one",
                    hint="run `piizone audit verify`; restore the audit directory from backup "
                    "(if `piizone init` was interrupted before its first record: run it again)",
                )
            return None
        path = self.directory / head.file
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise AuditError(
                f"audit log file {head.file} named by the head is missing; refusing to append",
                hint="run `piizone audit verify` and restore the audit directory from backup",
            ) from None
        head_index = int(SEGMENT_RE.match(head.file)[1])  # type: ignore[index]
        later = [(i, n) for i, n in segs if i > head_index]
        if size < head.size:
            raise AuditError(
                f"audit log {head.file} is shorter than its head says; refusing to append",
                hint="run `piizone audit verify` and restore the audit directory from backup",
            )
        if size > head.size and not later:
            with open(path, "rb") as f:
                f.seek(head.size)
                extra = f.read()
            return self._recover(head, head.file, extra, truncate_at=head.size)
        if size == head.size and later:
            if len(later) == 1:
                nxt = self.directory / later[0][1]
                extra = nxt.read_bytes()
                return self._recover(head, later[0][1], extra, truncate_at=0)
            raise AuditError(
                "audit log has files beyond its head; refusing to append",
                hint="run `piizone audit verify`",
            )
        if size > head.size and later:
            raise AuditError(
                "audit log has data beyond its head; refusing to append",
                hint="run `piizone audit verify`",
            )
        return head

    def _recover(self, head: _Head, file: str, extra: bytes, *, truncate_at: int) -> _Head:
        path = self.directory / file
        if not extra.endswith(b"\n"):
            if b"\n" in extra:
                raise AuditError(
                    "audit log has unacknowledged records beyond its head; refusing to append",
                    hint="run `piizone audit verify`",
                )
            # A torn write of a record whose append never returned: no caller acted on it.
            with open(path, "r+b") as f:
                f.truncate(truncate_at)
                os.fsync(f.fileno())
            if truncate_at == 0:
                path.unlink()
            return head
        line = extra[:-1]
        rec, reason = _parse_line(line)
        if (
            b"\n" in line
            or reason
            or rec is None
            or rec["seq"] != head.seq + 1
            or rec["prev"] != head.last
            or not hmac.compare_digest(compute_mac(self._mac_key(), rec), rec["mac"])
        ):
            raise AuditError(
                "audit log has a record beyond its head that does not verify; refusing to append",
                hint="run `piizone audit verify`",
            )
        repaired = _Head(rec["seq"], file, truncate_at + len(extra), line_hash(line))
        self._write_head(repaired)
        return repaired

    def check_writable(self) -> None:
        """Raise AuditError if an append would fail now: the pre-flight of fail-closed commands."""
        with self._locked(exclusive=True):
            head = self._tail_state()
            target = self.directory / (head.file if head else segment_name(1))
            try:
                fd = os.open(target, _APPEND_FLAGS, 0o600)
                os.close(fd)
                probe = self.directory / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
                probe.write_bytes(b"")
                probe.unlink()
                free = os.statvfs(self.directory)
            except OSError as e:
                raise self._unwritable(e) from e
            if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
                raise AuditError(
                    f"the disk holding the audit log {self.directory} is full; "
                    "the action was not performed",
                    hint="free some space, then retry",
                )

    def append(
        self,
        action: str,
        *,
        zone: str | None = None,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one record durably and return it; raise AuditError if it cannot be written."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        if zone is not None and (not isinstance(zone, str) or not zone or len(zone) > 255):
            raise ValueError("audit zone must be a non-empty string of at most 255 characters")
        if self._key is None:
            raise AuditError("this audit log was opened to verify only (no audit key)")
        clean = sanitize_details(details)
        actor = current_actor()
        if self._signer is None and self.home is not None:
            # A home from before signed checkpoints: its first append makes the signing key.
            made = not (keys_dir(self.home) / SIGNING_KEY_FILE).exists()
            self._signer = _open_signer(self.home, self.directory, create=True)
            self.public_key = self._signer.public_key() if self._signer else None
            self._made_signer = made
        with self._locked(exclusive=True):
            try:
                return self._append_locked(action, zone, outcome, clean, actor)
            except OSError as e:
                raise self._unwritable(e) from e

    def _append_locked(
        self,
        action: str,
        zone: str | None,
        outcome: str,
        details: dict[str, Any],
        actor: dict[str, Any],
    ) -> dict[str, Any]:
        head = self._tail_state(action)
        seq = head.seq + 1 if head else 1
        prev = head.last if head else GENESIS
        rec: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "seq": seq,
            "time": utc_now(),
            "actor": actor,
            "action": action,
            "zone": zone,
            "outcome": outcome,
            "details": details,
            "prev": prev,
        }
        rec["mac"] = compute_mac(self._mac_key(), rec)
        line = canonical_json(rec)
        data = line + b"\n"

        file = head.file if head else segment_name(1)
        size = head.size if head else 0
        if size and size + len(data) > self.max_bytes:
            file = segment_name(int(SEGMENT_RE.match(file)[1]) + 1)  # type: ignore[index]
            size = 0
        path = self.directory / file
        new_file = not path.exists()
        fd = os.open(path, _APPEND_FLAGS, 0o600)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(28, "short write to audit log")
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if new_file and self._fsync:
            fsync_dir(self.directory)
        self._write_head(_Head(seq, file, size + len(data), line_hash(line)))
        return rec

    # -- reading ------------------------------------------------------------------------------

    def _entries(self, segs: list[tuple[int, str]]) -> Iterator[_Entry]:
        for _, name in segs:
            try:
                data = (self.directory / name).read_bytes()
            except OSError as e:
                raise AuditError(
                    f"cannot read audit log file {name} ({e.strerror or type(e).__name__})",
                    hint="check the permissions of the audit directory",
                ) from e
            if not data:
                continue
            lines = data.split(b"\n")
            terminated_last = lines[-1] == b""
            if terminated_last:
                lines.pop()
            for i, raw in enumerate(lines, start=1):
                yield _Entry(name, i, raw, terminated=terminated_last or i < len(lines))

    def records(
        self,
        *,
        zone: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records in log order matching every given filter. Does not verify: use `verify`.

        `actor` matches the user name or uid; `action` may be a glob (`zone.*`); `since`/`until`
        take what `parse_time` accepts and are inclusive.
        """
        lo = parse_time(since) if since is not None else None
        hi = parse_time(until) if until is not None else None
        for entry in self._entries(self.segments()):
            if not entry.terminated:
                continue  # a torn write in progress or from a crash: not a record yet
            rec, reason = _parse_line(entry.raw)
            if rec is None or reason:
                raise AuditError(
                    f"audit log {entry.file} line {entry.line} is malformed ({reason})",
                    hint="run `piizone audit verify`",
                )
            if zone is not None and rec["zone"] != zone:
                continue
            if actor is not None and actor not in (rec["actor"]["user"], str(rec["actor"]["uid"])):
                continue
            if action is not None and not fnmatch.fnmatchcase(rec["action"], action):
                continue
            if outcome is not None and rec["outcome"] != outcome:
                continue
            if lo is not None or hi is not None:
                t = _record_time(rec)
                if (lo is not None and t < lo) or (hi is not None and t > hi):
                    continue
            yield rec

    def raw_lines(self) -> Iterator[bytes]:
        """Every complete record line as stored (without LF): exports stay MAC-verifiable."""
        for entry in self._entries(self.segments()):
            if entry.terminated:
                yield entry.raw

    # -- verification -------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Check the whole chain, the head and the signed checkpoint; report the first problem.

        Without the MAC key (a log opened with a public key only) the MACs and the head cannot
        be checked: the hash chain and the signed checkpoint over its last line still pin every
        byte of every record.
        """
        with self._locked(exclusive=False):
            return _Verifier(self).run()


class _Verifier:
    """The verify algorithm of docs/audit-format.md, one MUST-reject rule per check."""

    def __init__(self, log: AuditLog):
        self.log = log
        self.key = log._key
        self.segs = log.segments()
        self.files = [n for _, n in self.segs]
        self.signed_seq = 0

    def _check(self, entry: _Entry) -> tuple[dict[str, Any] | None, str | None, str | None]:
        """(record, problem kind, reason) for one line judged on its own (R1–R5)."""
        if not entry.terminated:
            return None, "malformed", "has no line terminator (torn write)"
        rec, reason = _parse_line(entry.raw)
        if reason:
            return rec, "malformed", reason
        assert rec is not None
        if self.key is not None and not hmac.compare_digest(compute_mac(self.key, rec), rec["mac"]):
            return rec, "bad_mac", "MAC does not verify under the audit key"
        return rec, None, None

    def _locate(self, seq: int) -> _Entry | None:
        for entry in self.log._entries(self.segs):
            rec, _ = _parse_line(entry.raw)
            if isinstance(rec, dict) and rec.get("seq") == seq:
                return entry
        return None

    def _find_seq(self, seq: int, after: _Entry) -> _Entry | None:
        started = False
        for entry in self.log._entries(self.segs):
            if not started:
                started = entry.file == after.file and entry.line == after.line
                continue
            rec, kind, _ = self._check(entry)
            if kind is None and rec is not None and rec["seq"] == seq:
                return entry
        return None

    def _result(self, count: int, problem: Problem | None) -> VerifyResult:
        return VerifyResult(
            ok=problem is None,
            records=count,
            files=self.files,
            head_seq=self.head["seq"] if self.head else 0,
            head_last=self.head["last"] if self.head else GENESIS,
            problem=problem,
            signed_seq=self.signed_seq,
            macs_checked=self.key is not None,
        )

    def run(self) -> VerifyResult:
        expected_seq, expected_prev = 1, GENESIS
        count = 0
        last_entry: _Entry | None = None
        head_raw, head = self._load_head()
        self.head = head

        # R9: log files are numbered from 1 without gaps.
        for pos, (index, name) in enumerate(self.segs, start=1):
            if index != pos:
                missing = segment_name(pos)
                return self._result(
                    count,
                    Problem(
                        "deleted",
                        None,
                        missing,
                        None,
                        f"log file {missing} is missing (found {name} in its place)",
                    ),
                )

        entries = self.log._entries(self.segs)
        current = next(entries, None)
        while current is not None:
            nxt = next(entries, None)
            rec, kind, reason = self._check(current)
            if kind is not None:
                return self._result(
                    count,
                    self._intrinsic(
                        current, rec, kind, reason, nxt, head, expected_seq, expected_prev
                    ),
                )
            assert rec is not None
            seq = rec["seq"]
            if seq < expected_seq:
                # R6: every seq appears once; a replayed copy of an authentic record is an insert.
                return self._result(
                    count,
                    Problem(
                        "inserted",
                        seq,
                        current.file,
                        current.line,
                        f"repeats an earlier record (expected seq {expected_seq} here)",
                    ),
                )
            if seq > expected_seq:
                # R7: seqs are consecutive; a gap is a deletion unless the seq turns up later.
                found = self._find_seq(expected_seq, current)
                if found is not None:
                    return self._result(
                        count,
                        Problem(
                            "reordered",
                            seq,
                            current.file,
                            current.line,
                            f"out of order: seq {expected_seq} belongs here but is at "
                            f"{found.file} line {found.line}",
                        ),
                    )
                gap = seq - expected_seq
                return self._result(
                    count,
                    Problem(
                        "deleted",
                        expected_seq,
                        current.file,
                        current.line,
                        f"missing: seq {expected_seq}"
                        + (f" to {seq - 1} ({gap} records)" if gap > 1 else "")
                        + f" should come before seq {seq}, which is here",
                    ),
                )
            if rec["prev"] != expected_prev:
                # R8: prev is the hash of the line before it.
                return self._result(
                    count,
                    Problem(
                        "edited",
                        seq,
                        current.file,
                        current.line,
                        "does not chain to the record before it (its prev is not the hash of "
                        "that line: one of them was replaced)",
                    ),
                )
            count += 1
            expected_seq = seq + 1
            expected_prev = line_hash(current.raw)
            last_entry = current
            current = nxt

        problem = None
        if self.key is not None:  # the head is MAC'd: without the key only the checkpoint counts
            problem = self._check_head(head_raw, head, count, expected_prev, last_entry)
        if problem is None:
            problem = self._check_checkpoint(count, expected_prev, last_entry)
        return self._result(count, problem)

    def _check_checkpoint(
        self, count: int, last_hash: str, last_entry: _Entry | None
    ) -> Problem | None:
        """C1–C4: the signed checkpoint seals exactly the end of the log."""
        public = self.log.public_key
        if public is None:
            return None  # a log from before signed checkpoints, verified with its MAC key
        try:
            raw = self.log.checkpoint_path.read_bytes()
        except FileNotFoundError:
            if count == 0 and self.key is not None:
                return None  # nothing written yet (R13 has judged whether that is right)
            return Problem(
                "deleted",
                None,
                CHECKPOINT_FILE,
                None,
                "checkpoint is missing: the end of the log is not signed",
            )
        found = checkpoint_problem(raw, public)
        if found:
            return Problem(found[0], None, CHECKPOINT_FILE, None, f"checkpoint {found[1]}")
        cp = json.loads(raw)
        last_file = last_entry.file if last_entry else segment_name(1)
        last_line = last_entry.line if last_entry else 0
        if cp["seq"] > count:
            return Problem(
                "truncated",
                count + 1,
                last_file,
                last_line + 1,
                f"log ends at seq {count} but the signed checkpoint seals seq {cp['seq']}: "
                f"{cp['seq'] - count} record(s) removed from the tail",
            )
        if cp["seq"] < count:
            unsigned = self._locate(cp["seq"] + 1)
            return Problem(
                "stale_head",
                cp["seq"] + 1,
                unsigned.file if unsigned else last_file,
                unsigned.line if unsigned else last_line,
                f"the signed checkpoint seals seq {cp['seq']} but the log continues to seq "
                f"{count}: the records after it are not signed (an older checkpoint was put "
                "back, or a crash hit before the checkpoint update; the next append repairs that)",
            )
        if cp["last"] != last_hash or cp["file"] != last_file:
            return Problem(
                "edited",
                count,
                last_file,
                last_line,
                "does not match the hash sealed in the signed checkpoint",
            )
        self.signed_seq = cp["seq"]
        return None

    def _load_head(self) -> tuple[bytes | None, dict[str, Any] | None]:
        if self.key is None:
            return None, None
        try:
            raw = self.log.head_path.read_bytes()
        except FileNotFoundError:
            return None, None
        if self.log._head_problem(raw) is not None:
            return raw, None
        return raw, json.loads(raw)

    def _intrinsic(
        self,
        entry: _Entry,
        rec: dict[str, Any] | None,
        kind: str,
        reason: str | None,
        nxt: _Entry | None,
        head: dict[str, Any] | None,
        expected_seq: int,
        expected_prev: str,
    ) -> Problem:
        """Name a line that fails on its own: inserted, edited after the fact, or born bad."""
        seq = rec.get("seq") if isinstance(rec, dict) else None
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        nxt_rec = None
        if nxt is not None:
            nxt_rec, nxt_kind, _ = self._check(nxt)
            nxt_rec = nxt_rec if nxt_kind is None else None
        if (
            nxt_rec is not None
            and nxt_rec["seq"] == expected_seq
            and nxt_rec["prev"] == expected_prev
        ):
            # The authentic record that belongs here follows: this line was slipped in.
            return Problem(
                "inserted",
                seq if seq is not None else expected_seq,
                entry.file,
                entry.line,
                f"inserted: this line {reason}, and the genuine seq {expected_seq} follows it",
            )
        # The next record (or the head, for the last line) is a witness of the original bytes.
        witness = nxt_rec["prev"] if nxt_rec is not None else None
        if nxt is None and head is not None and head["file"] == entry.file and head["seq"] == seq:
            witness = head["last"]
        if witness is not None and witness != line_hash(entry.raw):
            return Problem(
                "edited",
                seq if seq is not None else expected_seq,
                entry.file,
                entry.line,
                f"edited after it was written: {reason}",
            )
        return Problem(
            kind,
            seq if seq is not None else expected_seq,
            entry.file,
            entry.line,
            reason or kind,
        )

    def _check_head(
        self,
        head_raw: bytes | None,
        head: dict[str, Any] | None,
        count: int,
        last_hash: str,
        last_entry: _Entry | None,
    ) -> Problem | None:
        """R10–R12: the sealed head pins the end of the log."""
        if head_raw is None:
            if count == 0:
                evidence = self.log.record_evidence(key=True)
                if evidence is None:
                    return None
                return Problem(
                    "deleted",
                    None,
                    segment_name(1),
                    None,
                    f"the log has no records, yet {evidence}: it was deleted",
                )
            return Problem(
                "deleted",
                None,
                HEAD_FILE,
                None,
                "head file is missing: tail truncation cannot be ruled out",
            )
        if head is None:
            reason = self.log._head_problem(head_raw)
            kind = "bad_mac" if reason == "bad MAC" else "malformed"
            return Problem(kind, None, HEAD_FILE, None, f"head file {reason}")
        last_seq = count
        last_file = last_entry.file if last_entry else segment_name(1)
        last_line = last_entry.line if last_entry else 0
        if head["seq"] > last_seq:
            n = head["seq"] - last_seq
            return Problem(
                "truncated",
                last_seq + 1,
                last_file,
                last_line + 1,
                f"log ends at seq {last_seq} but the head seals seq {head['seq']}: "
                f"{n} record(s) removed from the tail",
            )
        if head["seq"] < last_seq:
            first_unsealed = self._locate(head["seq"] + 1)
            return Problem(
                "stale_head",
                head["seq"] + 1,
                first_unsealed.file if first_unsealed else last_file,
                first_unsealed.line if first_unsealed else last_line,
                f"head seals seq {head['seq']} but the log continues to seq {last_seq}: the head "
                "was replaced by an older copy (or a crash hit between append and head update)",
            )
        if head["last"] != last_hash or head["file"] != last_file:
            return Problem(
                "edited",
                last_seq,
                last_file,
                last_line,
                "does not match the hash sealed in the head",
            )
        return None


# ---------------------------------------------------------------------------------------------
# entry points for the rest of piizone


def ensure_audit_key(home: Path | None = None) -> bytes:
    """Create keys/audit.key (32 random bytes) if missing, never overwriting; return the key."""
    path = keys_dir(home) / KEY_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process won the race: use theirs
            write_private_file(path, secrets.token_bytes(KEY_BYTES), overwrite=False)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
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
    signer = _read_signing_key(path)
    public_pem = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_path = directory / SIGNING_PUBLIC_FILE
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        write_private_file(public_path, public_pem)
    return signer


def _read_signing_key(path: Path) -> Ed25519PrivateKey:
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


def _open_signer(home: Path, directory: Path, *, create: bool) -> Ed25519PrivateKey | None:
    """The home's signing key; made on demand unless checkpoints exist (then it was lost)."""
    path = keys_dir(home) / SIGNING_KEY_FILE
    if path.exists():
        return _read_signing_key(path)
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
            public_key = _read_signing_key(keys / SIGNING_KEY_FILE).public_key()
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
        log = AuditLog(directory, _read_key(keys / KEY_FILE), public_key=public_key, home=home)
        return log.verify()
    if any((directory / n).stat().st_size for _, n in _segments(directory)):
        open_audit_log(home)  # raises: the key of an existing log is missing
    evidence = _record_evidence(directory, home)
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
            has_records = any((directory / n).stat().st_size for _, n in _segments(directory))
        except OSError as e:
            raise AuditError(
                f"cannot read the audit directory {directory} ({e.strerror})",
                hint="check the permissions of $PIIZONE_HOME",
            ) from e
        if has_records:
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
        key = _read_key(path)
    signer = _open_signer(home, directory, create=False)  # appends make it when missing
    return AuditLog(directory, key, max_bytes=max_bytes, signer=signer, home=home)


def _without_name(details: dict[str, Any] | None, name: str) -> dict[str, Any]:
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
        details = _without_name(details, zone)
        zone = None
    log = open_audit_log(home)
    try:
        return log.append(action, zone=zone, outcome=outcome, details=details)
    except OSError as e:  # anything append did not already translate
        raise log._unwritable(e) from e
