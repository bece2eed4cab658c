"""A detected span of personal information."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Finding:
    """One entity at [start, end) of a text; carries no copy of the value itself."""

    start: int
    end: int
    entity_type: str
    score: float
    # Which recognizer won a tie is not part of a finding's identity: Presidio dedupes equal spans
    # through a set, whose order follows each process's hash seed, and findings from worker
    # processes must equal a single process's.
    recognizer: str = field(default="", compare=False)

    def shifted(self, offset: int) -> Finding:
        return Finding(
            self.start + offset, self.end + offset, self.entity_type, self.score, self.recognizer
        )


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """A non-overlapping set that covers every character any finding covered.

    Higher score first, then the longer span. A lower-ranked finding that overlaps kept ones
    still counts for its uncovered characters: of the same type as the finding it overlaps, it
    widens that finding ("wright" + "bradley wright" -> "bradley wright"); of another type, its
    uncovered remainder is kept as its own finding. Dropping it whole would leak "bradley".
    """
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start, f.entity_type))
    kept: list[Finding] = []
    for f in ranked:
        overlapping = [k for k in kept if f.start < k.end and k.start < f.end]
        if not overlapping:
            kept.append(f)
            continue
        if len(overlapping) == 1 and overlapping[0].entity_type == f.entity_type:
            k = overlapping[0]
            start, end = min(k.start, f.start), max(k.end, f.end)
            if all(o is k or o.end <= start or o.start >= end for o in kept):
                kept[kept.index(k)] = Finding(start, end, k.entity_type, k.score, k.recognizer)
                continue
        for start, end in _uncovered(f, kept):
            kept.append(Finding(start, end, f.entity_type, f.score, f.recognizer))
    return sorted(kept)


def _uncovered(f: Finding, kept: list[Finding]) -> list[tuple[int, int]]:
    """The parts of `f` no kept finding covers (at least 2 characters: no stray letters)."""
    pieces, pos = [], f.start
    for k in sorted(k for k in kept if f.start < k.end and k.start < f.end):
        if k.start > pos:
            pieces.append((pos, k.start))
        pos = max(pos, k.end)
    if pos < f.end:
        pieces.append((pos, f.end))
    return [(a, b) for a, b in pieces if b - a >= 2]
