"""A text file as the passes the redactor analyses it in, shared by the scan and the redactor.

A file larger than one chunk is analysed a chunk at a time with the end of what was already
written as left context, and each pass cuts the text where no finding straddles. The scan and
the redactor walk the same passes, so a report counts exactly the spans that get redacted;
`zone create` builds a text file's report from the redactor's passes (scan.TextScan), so the
file is analysed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.formats import TEXT_CHUNK_CHARS, TEXT_CHUNK_OVERLAP, TextEncoding, open_text
from piizone.scrubbers.known_values import merge_findings


@dataclass(frozen=True)
class TextPass:
    """One analysis: the written context, then the new text; `cut` new characters are done."""

    text: str  # what was analysed
    findings: list[Finding]  # in `text`
    shift: int  # where the new characters start in `text` (the context's length)
    cut: int  # how many of the new characters this pass emits
    spans: list[Finding]  # what to redact in the emitted text, relative to it
    # Known values (scrubbers.known_values) matched in `text`: span -> the value the operator
    # transforms, so a pseudonym matches the column's own token. In memory only.
    values: dict[tuple[int, int], str] = field(default_factory=dict, repr=False)

    @property
    def emitted(self) -> str:
        return self.text[self.shift : self.shift + self.cut]

    def emitted_values(self) -> dict[tuple[int, int], str]:
        """`values` for the spans this pass redacts, relative to the emitted text."""
        if not self.values:
            return {}
        shift = self.shift
        return {(a - shift, b - shift): v for (a, b), v in self.values.items() if a >= shift}

    def emitted_findings(self) -> list[Finding]:
        """The findings (in `text`) whose spans this pass redacts: each counted once per file."""
        return [f for f in self.findings if 0 < f.end - self.shift <= self.cut]


def iter_text_passes(
    path: Path | str | IO[str],
    engine: Any,
    chunk_chars: int = TEXT_CHUNK_CHARS,
    overlap: int = TEXT_CHUNK_OVERLAP,
    known: Any = None,
    encoding: TextEncoding | None = None,
) -> Iterator[TextPass]:
    """The passes over a text file (or "-" for stdin); memory is bounded by the chunk size.

    An open text stream (io.StringIO) is walked the same way and left open: the Python API
    redacts a string exactly as it would a .txt file holding it, whatever its length.

    `known` (a piizone.scrubbers.known_values.KnownValues) adds its matches to the engine's findings
    before the cut is chosen, so a known value is never split between two passes either.
    """
    context = ""  # the end of what was already emitted: left context for the analyzer
    buffer = ""  # read but not yet emitted
    opened = nullcontext(path) if hasattr(path, "read") else open_text(Path(path), encoding)
    with opened as f:
        while True:
            try:
                block = f.read(chunk_chars)
            except OSError as e:
                raise InputError(f"{path}: read failed ({e.strerror})") from None
            buffer += block
            if not buffer:
                return
            # A short read is the end of the file: cut nothing back, so a file shorter than a
            # chunk is analysed as one text.
            final = len(block) < chunk_chars
            if not final:
                limit = len(buffer) - overlap
                if limit <= 0:
                    continue  # too little yet to keep `overlap` characters back
                cut = _cut_point(buffer, limit)
            else:
                cut = len(buffer)
            text = context + buffer
            findings = engine.analyze(text)
            values: dict[tuple[int, int], str] = {}
            if known:
                findings, values = merge_findings(findings, known.find(text))
            spans, cut = _spans_before(findings, len(context), cut, limit=len(buffer))
            yield TextPass(text, findings, len(context), cut, spans, values)
            context = (context + buffer[:cut])[-overlap:] if overlap else ""
            buffer = buffer[cut:]
            if final:
                return


def _spans_before(
    findings: list[Finding], shift: int, cut: int, limit: int
) -> tuple[list[Finding], int]:
    """Findings (relative to the buffer) that end by `cut`; the cut moves before a straddler.

    A finding starting in the already-written context had its head written unredacted (the
    earlier pass did not see it); its tail is redacted rather than left whole.
    """
    spans: list[Finding] = []
    for f in findings:
        start, end = max(f.start - shift, 0), f.end - shift
        if end <= 0:
            continue
        if start < cut < end:
            # Only when the entity fills the whole kept-back window would the cut reach 0;
            # then it is taken whole now rather than never.
            cut = start if start > 0 else min(end, limit)
        if end <= cut:
            spans.append(Finding(start, end, f.entity_type, f.score, f.recognizer))
    return spans, cut


def _cut_point(buffer: str, limit: int) -> int:
    """Where to cut the buffer: after the last newline, else whitespace, before `limit`."""
    floor = limit // 2
    for sep in ("\n", " ", "\t"):
        i = buffer.rfind(sep, floor, limit)
        if i >= 0:
            return i + 1
    return limit
