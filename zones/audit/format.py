"""The audit log's stored formats: record fields, canonical JSON, the MAC, the hash chain, the head.

Specified in docs/audit-format.md (format version 1). Everything here is pure: bytes in, bytes or
a reason out. Writing (piizone.zones.audit.log), verifying (.verify) and signing (.checkpoints)
build on it; nothing here touches the disk.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import pwd
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from piizone.units import UnitError, parse_duration
from piizone.zones.exceptions import ZoneError

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
MAX_DETAILS_BYTES = 16 * 1024
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
        "zone.diff",
        "zone.extend",
        "key.retire",
        "artifacts.export",
        "artifacts.register",
        "airlock.show",
        "airlock.approve",
        "airlock.reject",
        "zone.status",
        "zone.hook",
        "zone.prune",
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
HEX128 = re.compile(r"^[0-9a-f]{128}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

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


def validate_record_shape(obj: Any) -> str | None:
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
    if not isinstance(obj["time"], str) or not TIME_RE.match(obj["time"]):
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
        if not isinstance(obj[name], str) or not HEX64.match(obj[name]):
            return f"{name} is not 64 lowercase hex digits"
    return None


def parse_line(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Parse one line (without LF) into a record, or say why it is malformed."""
    try:
        obj = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None, "not ASCII JSON"
    reason = validate_record_shape(obj)
    if reason:
        return (obj if isinstance(obj, dict) else None), reason
    # Non-canonical bytes would let two different lines carry the same MAC.
    try:
        canonical = canonical_json(obj)
    except ValueError:
        # json.loads reads `NaN`, `Infinity` and a number past float range (`1e999`: one
        # flipped digit of a pid) as floats that no record holds and canonical JSON refuses.
        return obj, "holds NaN, Infinity or a number out of range (not canonical JSON)"
    if canonical != line:
        return obj, "not canonical JSON (sorted keys, compact, ASCII)"
    return obj, None


class Actor(BaseModel):
    """Who acted: the real uid, its account name, the host and the process."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    uid: int
    user: str
    host: str
    pid: int


class AuditRecord(BaseModel):
    """One record as stored, format version `v` (docs/audit-format.md), for code that reads.

    Built from a line that `parse_line` accepted (shape, canonical bytes); strict, so nothing is
    coerced and `stored()` gives back the very object whose canonical JSON is the line (the MAC
    covers it). Writers build the dict themselves: writing stays byte-identical.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    v: Literal[1]
    seq: int
    time: str
    actor: Actor
    action: str
    zone: str | None
    outcome: Literal["success", "failure", "denied"]
    details: dict[str, Any]
    prev: str
    mac: str

    @classmethod
    def of(cls, rec: AuditRecord | dict[str, Any]) -> AuditRecord:
        """`rec` as a record: itself, or the stored dict it was parsed from."""
        return rec if isinstance(rec, AuditRecord) else cls.model_validate(rec)

    def stored(self) -> dict[str, Any]:
        """The record as the JSON object in the log (canonical_json of it is the line)."""
        return self.model_dump()

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.time)


def parse_record(line: bytes) -> tuple[AuditRecord | None, str | None]:
    """`parse_line`, typed: the record of a sound line, or why the line is malformed."""
    obj, reason = parse_line(line)
    if reason or obj is None:
        return None, reason or "not a JSON object"
    try:
        return AuditRecord.model_validate(obj), None
    except ValidationError:  # the shape was checked: only the actor's values can be off
        return None, "actor fields have the wrong types"


def parse_time(value: str | datetime, *, now: datetime | None = None) -> datetime:
    """A filter bound: ISO 8601 date/time (UTC if no offset) or relative `30m`, `12h`, `7d`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    try:
        return (now or datetime.now(UTC)) - parse_duration(text, allow_zero=True)
    except UnitError:
        pass  # not relative: an ISO date/time, or garbage (below)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AuditError(
            f"cannot read time {text!r}",
            hint="use an ISO date/time like 2025-01-31 or 2025-01-31T08:00:00Z, or 30m, 12h, 7d",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RecordFilter:
    """Which records a reader wants: every given field must match (None: any).

    `actor` matches the user name or uid; `action` may be a glob (`zone.*`); `since`/`until`
    take what `parse_time` accepts and are inclusive.
    """

    zone: str | None = None
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: str | datetime | None = None  # read once, here (a relative `7d` is from now)
    until: str | datetime | None = None

    def __post_init__(self) -> None:
        for bound in ("since", "until"):
            value = getattr(self, bound)
            if value is not None:
                object.__setattr__(self, bound, parse_time(value))

    def matches(self, rec: AuditRecord) -> bool:
        if self.zone is not None and rec.zone != self.zone:
            return False
        if self.actor is not None and self.actor not in (rec.actor.user, str(rec.actor.uid)):
            return False
        if self.action is not None and not fnmatch.fnmatchcase(rec.action, self.action):
            return False
        if self.outcome is not None and rec.outcome != self.outcome:
            return False
        if self.since is None and self.until is None:
            return True
        t, lo, hi = rec.when, self.since, self.until
        assert not isinstance(lo, str) and not isinstance(hi, str)  # parsed in __post_init__
        return not ((lo and t < lo) or (hi and t > hi))


# ---------------------------------------------------------------------------------------------
# the head: the seq, file, size and last hash of the log's end, MAC'd (R10–R12)


@dataclass
class Head:
    seq: int
    file: str
    size: int
    last: str


def head_bytes(key: bytes, head: Head) -> bytes:
    """head.json's bytes for `head`, MAC'd with `key`."""
    obj: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "seq": head.seq,
        "file": head.file,
        "size": head.size,
        "last": head.last,
    }
    obj["mac"] = compute_mac(key, obj)
    return canonical_json(obj) + b"\n"


def head_problem(raw: bytes, key: bytes) -> str | None:
    """None for a well-formed head.json sealed with `key`, else what is wrong."""
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
        and HEX64.match(obj["last"])
        and isinstance(obj["mac"], str)
    ):
        return "fields have the wrong types"
    if raw != canonical_json(obj) + b"\n":
        return "not canonical JSON followed by one LF"
    if not hmac.compare_digest(compute_mac(key, obj), obj["mac"]):
        return "bad MAC"
    return None


def parse_head(raw: bytes) -> Head:
    """The Head of head.json bytes that `head_problem` accepted."""
    obj = json.loads(raw)
    return Head(obj["seq"], obj["file"], obj["size"], obj["last"])
