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
    """Keep a non-overlapping set: higher score first, then the longer span, then position.

    Reports count each stretch of text once; redaction then replaces each kept span.
    """
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start, f.entity_type))
    kept: list[Finding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept)
