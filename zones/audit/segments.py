"""The log's files on disk: which segments exist, their lines, and whether records should exist.

Segments are `audit-NNNNNN.jsonl`, numbered from 1 in chain order; a new one starts when the
current one would pass the size limit. Reading them takes no lock: callers hold the log's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from piizone.zones.audit.format import CHECKPOINT_FILE, KEY_FILE, SEGMENT_RE, AuditError
from piizone.zones.home import keys_dir, zones_dir


def record_evidence(directory: Path, home: Path | None, *, key: bool = False) -> str | None:
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


def list_segments(directory: Path) -> list[tuple[int, str]]:
    """(index, name) of the log files present, in chain order."""
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = SEGMENT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m[1]), p.name))
    return sorted(found)


def has_records(directory: Path) -> bool:
    """True when any segment holds a byte (a log exists whose key must not be replaced)."""
    return any((directory / n).stat().st_size for _, n in list_segments(directory))


@dataclass
class Entry:
    """One line of a segment as stored (without its LF), and whether an LF ended it."""

    file: str
    line: int
    raw: bytes
    terminated: bool


def entries(directory: Path, segs: list[tuple[int, str]]) -> Iterator[Entry]:
    """Every line of the segments `segs` of `directory`, in order."""
    for _, name in segs:
        try:
            data = (directory / name).read_bytes()
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
            yield Entry(name, i, raw, terminated=terminated_last or i < len(lines))
