"""Verification of an audit log: the algorithm of docs/audit-format.md, one MUST-reject rule per
check, reporting the first problem precisely (kind, seq, file, line).

Pure reading: it takes no lock (`AuditLog.verify` holds a shared one) and writes nothing.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from piizone.zones.audit.checkpoints import checkpoint_problem
from piizone.zones.audit.format import (
    CHECKPOINT_FILE,
    GENESIS,
    HEAD_FILE,
    compute_mac,
    head_problem,
    line_hash,
    parse_line,
    segment_name,
)
from piizone.zones.audit.segments import Entry, entries, list_segments, record_evidence


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


@dataclass(frozen=True)
class _Seal:
    """What a seal of the log's end (the MAC'd head, the signed checkpoint) says the end is."""

    name: str  # "the head", "the signed checkpoint": how messages call it
    seq: int
    file: str
    last: str
    stale_why: str  # why the log can run past it


@dataclass(frozen=True)
class _End:
    """Where the verified chain actually ends."""

    count: int
    last_hash: str
    entry: Entry | None

    @property
    def file(self) -> str:
        return self.entry.file if self.entry else segment_name(1)

    @property
    def line(self) -> int:
        return self.entry.line if self.entry else 0


def verify_log(
    directory: Path,
    key: bytes | None,
    public_key: Ed25519PublicKey | None,
    home: Path | None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> VerifyResult:
    """Check the chain in `directory`, its head (with `key`) and its checkpoint (with
    `public_key`); `home` lets R13 see evidence that records should exist.

    `on_record` sees each record that passed its checks, in order, as the pass reads it: a
    reader that also wants the records reads the log once. Until the result says ok, what it
    saw may be a prefix of the log.
    """
    return _Verifier(directory, key, public_key, home, on_record).run()


class _Verifier:
    """The verify algorithm of docs/audit-format.md, one MUST-reject rule per check."""

    def __init__(
        self,
        directory: Path,
        key: bytes | None,
        public_key: Ed25519PublicKey | None,
        home: Path | None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.on_record = on_record
        self.directory = directory
        self.key = key
        self.public_key = public_key
        self.home = home
        self.segs = list_segments(directory)
        self.files = [n for _, n in self.segs]
        self.signed_seq = 0
        self.head: dict[str, Any] | None = None

    def _entries(self):
        return entries(self.directory, self.segs)

    def _check(self, entry: Entry) -> tuple[dict[str, Any] | None, str | None, str | None]:
        """(record, problem kind, reason) for one line judged on its own (R1–R5)."""
        if not entry.terminated:
            return None, "malformed", "has no line terminator (torn write)"
        rec, reason = parse_line(entry.raw)
        if reason:
            return rec, "malformed", reason
        assert rec is not None
        if self.key is not None and not hmac.compare_digest(compute_mac(self.key, rec), rec["mac"]):
            return rec, "bad_mac", "MAC does not verify under the audit key"
        return rec, None, None

    def _locate(self, seq: int) -> Entry | None:
        for entry in self._entries():
            rec, _ = parse_line(entry.raw)
            if isinstance(rec, dict) and rec.get("seq") == seq:
                return entry
        return None

    def _find_seq(self, seq: int, after: Entry) -> Entry | None:
        started = False
        for entry in self._entries():
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
        head_raw, head = self._load_head()
        self.head = head
        problem = self._numbering_problem()
        if problem is not None:
            return self._result(0, problem)
        expected_seq, expected_prev = 1, GENESIS
        count = 0
        last_entry: Entry | None = None
        entries_ = self._entries()
        current = next(entries_, None)
        while current is not None:
            nxt = next(entries_, None)
            rec, kind, reason = self._check(current)
            if kind is not None:
                problem = self._intrinsic(
                    current, rec, kind, reason, nxt, head, expected_seq, expected_prev
                )
                return self._result(count, problem)
            assert rec is not None
            problem = self._sequence_problem(current, rec, expected_seq, expected_prev)
            if problem is not None:
                return self._result(count, problem)
            count += 1
            if self.on_record is not None:
                self.on_record(rec)
            expected_seq = rec["seq"] + 1
            expected_prev = line_hash(current.raw)
            last_entry = current
            current = nxt

        end = _End(count, expected_prev, last_entry)
        problem = None
        if self.key is not None:  # the head is MAC'd: without the key only the checkpoint counts
            problem = self._check_head(head_raw, head, end)
        if problem is None:
            problem = self._check_checkpoint(end)
        return self._result(count, problem)

    def _numbering_problem(self) -> Problem | None:
        """R9: log files are numbered from 1 without gaps."""
        for pos, (index, name) in enumerate(self.segs, start=1):
            if index != pos:
                missing = segment_name(pos)
                return Problem(
                    "deleted",
                    None,
                    missing,
                    None,
                    f"log file {missing} is missing (found {name} in its place)",
                )
        return None

    def _sequence_problem(
        self, current: Entry, rec: dict[str, Any], expected_seq: int, expected_prev: str
    ) -> Problem | None:
        """R6–R8 for a record that is sound on its own: its place in the chain."""
        seq = rec["seq"]
        if seq < expected_seq:
            # R6: every seq appears once; a replayed copy of an authentic record is an insert.
            return Problem(
                "inserted",
                seq,
                current.file,
                current.line,
                f"repeats an earlier record (expected seq {expected_seq} here)",
            )
        if seq > expected_seq:
            # R7: seqs are consecutive; a gap is a deletion unless the seq turns up later.
            found = self._find_seq(expected_seq, current)
            if found is not None:
                return Problem(
                    "reordered",
                    seq,
                    current.file,
                    current.line,
                    f"out of order: seq {expected_seq} belongs here but is at "
                    f"{found.file} line {found.line}",
                )
            gap = seq - expected_seq
            return Problem(
                "deleted",
                expected_seq,
                current.file,
                current.line,
                f"missing: seq {expected_seq}"
                + (f" to {seq - 1} ({gap} records)" if gap > 1 else "")
                + f" should come before seq {seq}, which is here",
            )
        if rec["prev"] != expected_prev:
            # R8: prev is the hash of the line before it.
            return Problem(
                "edited",
                seq,
                current.file,
                current.line,
                "does not chain to the record before it (its prev is not the hash of "
                "that line: one of them was replaced)",
            )
        return None

    def _compare_seal(self, seal: _Seal, end: _End) -> Problem | None:
        """R11–R12 and C4: a seal (head or checkpoint) pins exactly the end of the log."""
        if seal.seq > end.count:
            return Problem(
                "truncated",
                end.count + 1,
                end.file,
                end.line + 1,
                f"log ends at seq {end.count} but {seal.name} seals seq {seal.seq}: "
                f"{seal.seq - end.count} record(s) removed from the tail",
            )
        if seal.seq < end.count:
            first_unsealed = self._locate(seal.seq + 1)
            return Problem(
                "stale_head",
                seal.seq + 1,
                first_unsealed.file if first_unsealed else end.file,
                first_unsealed.line if first_unsealed else end.line,
                f"{seal.name} seals seq {seal.seq} but the log continues to seq {end.count}: "
                + seal.stale_why,
            )
        if seal.last != end.last_hash or seal.file != end.file:
            return Problem(
                "edited",
                end.count,
                end.file,
                end.line,
                f"does not match the hash sealed in {seal.name}",
            )
        return None

    def _check_checkpoint(self, end: _End) -> Problem | None:
        """C1–C4: the signed checkpoint seals exactly the end of the log."""
        public = self.public_key
        if public is None:
            return None  # a log from before signed checkpoints, verified with its MAC key
        try:
            raw = (self.directory / CHECKPOINT_FILE).read_bytes()
        except FileNotFoundError:
            if end.count == 0 and self.key is not None:
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
        seal = _Seal(
            "the signed checkpoint",
            cp["seq"],
            cp["file"],
            cp["last"],
            "the records after it are not signed (an older checkpoint was put back, or a crash "
            "hit before the checkpoint update; the next append repairs that)",
        )
        problem = self._compare_seal(seal, end)
        if problem is None:
            self.signed_seq = cp["seq"]
        return problem

    def _load_head(self) -> tuple[bytes | None, dict[str, Any] | None]:
        if self.key is None:
            return None, None
        try:
            raw = (self.directory / HEAD_FILE).read_bytes()
        except FileNotFoundError:
            return None, None
        if head_problem(raw, self.key) is not None:
            return raw, None
        return raw, json.loads(raw)

    def _intrinsic(
        self,
        entry: Entry,
        rec: dict[str, Any] | None,
        kind: str,
        reason: str | None,
        nxt: Entry | None,
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
        self, head_raw: bytes | None, head: dict[str, Any] | None, end: _End
    ) -> Problem | None:
        """R10–R12: the sealed head pins the end of the log."""
        if head_raw is None:
            if end.count == 0:
                evidence = record_evidence(self.directory, self.home, key=True)
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
            assert self.key is not None
            reason = head_problem(head_raw, self.key)
            kind = "bad_mac" if reason == "bad MAC" else "malformed"
            return Problem(kind, None, HEAD_FILE, None, f"head file {reason}")
        seal = _Seal(
            "the head",
            head["seq"],
            head["file"],
            head["last"],
            "the head was replaced by an older copy (or a crash hit between append and head "
            "update)",
        )
        return self._compare_seal(seal, end)
