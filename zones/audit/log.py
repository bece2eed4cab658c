"""The audit log of one directory: appends serialized by flock, the MAC'd head, crash repair,
segment rotation and filtered reading.

Fail closed: an append that cannot be made durable raises AuditError and the audited action must
not happen. The format is piizone.zones.audit.format's; verification is .verify's.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from piizone.fs import atomic_write, flocked
from piizone.zones.audit.checkpoints import make_checkpoint, open_signer
from piizone.zones.audit.format import (
    ACTIONS,
    CHECKPOINT_FILE,
    FORMAT_VERSION,
    GENESIS,
    HEAD_FILE,
    OUTCOMES,
    SEGMENT_RE,
    SIGNING_KEY_FILE,
    AuditError,
    AuditRecord,
    Head,
    RecordFilter,
    canonical_json,
    compute_mac,
    current_actor,
    head_bytes,
    head_problem,
    line_hash,
    parse_head,
    parse_line,
    parse_record,
    sanitize_details,
    segment_name,
    utc_now,
)
from piizone.zones.audit.segments import entries, list_segments, record_evidence
from piizone.zones.audit.verify import VerifyResult, verify_log
from piizone.zones.home import ensure_private_dir, fsync_dir, keys_dir

LOCK_FILE = ".lock"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Refuse to proceed with less than this free: a half-written record helps nobody.
MIN_FREE_BYTES = 1024 * 1024
# O_NOFOLLOW: a symlink planted in the audit directory must not redirect appends elsewhere.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW


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

    @property
    def head_path(self) -> Path:
        return self.directory / HEAD_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def record_evidence(self, *, key: bool = False) -> str | None:
        """Why this log must hold records, when it holds none (R13), else None."""
        return record_evidence(self.directory, self.home, key=key)

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
        return list_segments(self.directory)

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        lock_path = self.directory / LOCK_FILE
        with contextlib.ExitStack() as stack:
            try:
                if exclusive:
                    ensure_private_dir(self.directory)
                # Readers (an auditor's read-only account) must not need write access to
                # verify; a lock file no writer ever made means nothing to wait for.
                stack.enter_context(flocked(lock_path, shared=not exclusive, missing_ok=True))
            except OSError as e:
                if exclusive:
                    raise self._unwritable(e) from e
                raise AuditError(
                    f"cannot open the audit log {self.directory} ({e.strerror})",
                    hint="check the permissions of the audit directory",
                ) from e
            yield

    def _unwritable(self, e: OSError) -> AuditError:
        return AuditError(
            f"audit log {self.directory} is not writable ({e.strerror or type(e).__name__}); "
            "the action was not performed",
            hint="fix the permissions or free space of the audit directory, then retry",
        )

    # -- head ---------------------------------------------------------------------------------

    def _read_head(self) -> Head | None:
        try:
            raw = self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._unwritable(e) from e
        problem = self.head_problem(raw)
        if problem:
            raise AuditError(
                f"audit head file is invalid ({problem}); refusing to append",
                hint="run `piizone audit verify` and investigate before any further action",
            )
        return parse_head(raw)

    def head_problem(self, raw: bytes) -> str | None:
        """None when head.json's bytes `raw` are well formed and sealed with this log's key."""
        assert self._key is not None
        return head_problem(raw, self._key)

    def _write_head(self, head: Head) -> None:
        assert self._key is not None
        data = head_bytes(self._key, head)
        atomic_write(self.head_path, data, fsync=self._fsync)
        if self._signer is not None:
            self._write_checkpoint(head)

    def _write_checkpoint(self, head: Head) -> None:
        """Seal the head with the signing key (written after the head: a crash between the two
        leaves the checkpoint one seal behind, which the next append replaces)."""
        assert self._signer is not None
        data = make_checkpoint(self._signer, head.seq, head.file, head.last)
        atomic_write(self.checkpoint_path, data, fsync=self._fsync)

    # -- writing ------------------------------------------------------------------------------

    def _tail_state(self, action: str | None = None) -> Head | None:
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

    def _recover(self, head: Head, file: str, extra: bytes, *, truncate_at: int) -> Head:
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
        rec, reason = parse_line(line)
        assert self._key is not None  # only append() gets here, after its key check
        if (
            b"\n" in line
            or reason
            or rec is None
            or rec["seq"] != head.seq + 1
            or rec["prev"] != head.last
            or not hmac.compare_digest(compute_mac(self._key, rec), rec["mac"])
        ):
            raise AuditError(
                "audit log has a record beyond its head that does not verify; refusing to append",
                hint="run `piizone audit verify`",
            )
        repaired = Head(rec["seq"], file, truncate_at + len(extra), line_hash(line))
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
            self._signer = open_signer(self.home, self.directory, create=True)
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
        assert self._key is not None  # append() refused a verify-only log before this
        rec["mac"] = compute_mac(self._key, rec)
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
        self._write_head(Head(seq, file, size + len(data), line_hash(line)))
        return rec

    # -- reading ------------------------------------------------------------------------------

    def read(
        self,
        *,
        zone: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
    ) -> Iterator[AuditRecord]:
        """Records in log order matching every given filter (see `RecordFilter`). Does not
        verify: use `verify`."""
        wanted = RecordFilter(
            zone=zone, actor=actor, action=action, outcome=outcome, since=since, until=until
        )
        for entry in entries(self.directory, self.segments()):
            if not entry.terminated:
                continue  # a torn write in progress or from a crash: not a record yet
            rec, reason = parse_record(entry.raw)
            if rec is None or reason:
                raise AuditError(
                    f"audit log {entry.file} line {entry.line} is malformed ({reason})",
                    hint="run `piizone audit verify`",
                )
            if wanted.matches(rec):
                yield rec

    def records(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """`read` as the stored JSON objects (for JSON output and callers that index by key)."""
        for rec in self.read(**filters):
            yield rec.stored()

    def raw_lines(self) -> Iterator[bytes]:
        """Every complete record line as stored (without LF): exports stay MAC-verifiable."""
        for entry in entries(self.directory, self.segments()):
            if entry.terminated:
                yield entry.raw

    # -- verification -------------------------------------------------------------------------

    def verify(self, on_record: Callable[[dict[str, Any]], None] | None = None) -> VerifyResult:
        """Check the whole chain, the head and the signed checkpoint; report the first problem.

        Without the MAC key (a log opened with a public key only) the MACs and the head cannot
        be checked: the hash chain and the signed checkpoint over its last line still pin every
        byte of every record. `on_record`: see `verify_log`.
        """
        with self._locked(exclusive=False):
            return verify_log(self.directory, self._key, self.public_key, self.home, on_record)
