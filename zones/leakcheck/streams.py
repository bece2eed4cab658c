"""What a session's command prints (`sandbox run`: stdout and stderr) is scanned line by line
as it streams, and masked before it reaches the caller's terminal or logs."""

from __future__ import annotations

import queue
import threading
from collections import Counter
from typing import TYPE_CHECKING

from piizone.scrubbers.findings import resolve_overlaps
from piizone.scrubbers.masking import mask_value
from piizone.zones.leakcheck.matching import (
    NAME_UNCHECKED_ENTITIES,
    Finding,
    engine_for_zone,
    hit_span,
    line_view_findings,
    scan_hits,
    zone_matcher,
)
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore

if TYPE_CHECKING:  # the engine module loads spaCy and Presidio: imported where it is used
    from piizone.scrubbers.engines import AnalysisEngine
    from piizone.zones.leakcheck.fingerprints import Matcher


class StreamScanner:
    """Scans what a session's command prints (stdout/stderr of `sandbox run`) line by line as
    it streams, and masks what it finds before it reaches the caller's terminal or logs.

    The pattern detectors (not the NER types: see NAME_UNCHECKED_ENTITIES) and the zone's
    fingerprints and canaries, on each line and its decoded views; they load on the first
    line (a silent command pays nothing). A line with a finding is printed with each value
    masked; a line whose finding is only in a decoded view (base64, hex, …) cannot be masked
    in place and is withheld whole.
    Both streams share one lock: the engine is not made for concurrent use.
    """

    MAX_LINE = 64 * 1024  # longer lines are scanned (and printed) in pieces
    BATCH = 64

    def __init__(self, store: ZoneStore, name: str, manifest: ZoneManifest, dek: bytes):
        self._store, self._name, self._manifest, self._dek = store, name, manifest, dek
        self._engine: AnalysisEngine | None = None
        self._matcher: Matcher | None = None
        self._lock = threading.Lock()
        self.lines_masked = 0
        self.entities: Counter[str] = Counter()

    def _load(self) -> None:
        if self._engine is None:
            self._engine = engine_for_zone(self._store, self._name)
            self._matcher = zone_matcher(
                self._store.current_dir(self._name), self._manifest, self._dek
            )

    def mask_line(self, line: str) -> str:
        """`line` as it may be shown: unchanged, values masked, or withheld."""
        return self.mask_lines([line])[0]

    def mask_lines(self, lines: list[str]) -> list[str]:
        """`mask_line` for a batch: the detectors run once over all of them (nlp.pipe), which
        is what keeps a chatty training loop from being throttled by the check."""
        todo = [i for i, line in enumerate(lines) if line.strip()]
        shown = list(lines)
        if not todo:
            return shown
        with self._lock:
            self._load()
            engine, matcher = self._engine, self._matcher
            assert engine is not None and matcher is not None  # set by _load()
            detected = engine.analyze_many([lines[i] for i in todo])
            for i, found in zip(todo, detected, strict=True):
                line = lines[i]
                # No NER types, as for names: on progress lines and JSON dumps without context
                # the model tags words as people and places; the zone's people are
                # fingerprinted.
                spans = [d for d in found if d.entity_type not in NAME_UNCHECKED_ENTITIES]
                spans = resolve_overlaps(spans + [hit_span(h) for h in scan_hits(matcher, line)])
                decoded = line_view_findings(line, None, matcher, engine, NAME_UNCHECKED_ENTITIES)
                if not spans and not decoded:
                    continue
                self.lines_masked += 1
                self.entities.update(s.entity_type for s in spans)
                self.entities.update(f.entity for f in decoded)
                shown[i] = _masked_line(line, spans, decoded)
        return shown

    def pump(self, src, dst) -> None:
        """Copy `src` (a pipe, bytes) to `dst` (a text or binary stream) line by line, masked.

        A reader thread queues lines as they come; this thread masks whatever has queued up
        in one batch (at most BATCH lines): a slow producer sees no added latency, a fast one
        is checked at the batched rate."""
        pending: queue.Queue[bytes | None] = queue.Queue(maxsize=4 * self.BATCH)

        def read() -> None:
            try:
                while raw := src.readline(self.MAX_LINE):
                    pending.put(raw)
            finally:
                pending.put(None)
                src.close()

        threading.Thread(target=read, name="piizone-stream", daemon=True).start()
        sink = getattr(dst, "buffer", None)
        done = False
        while not done:
            batch = [pending.get()]
            while batch[-1] is not None and len(batch) < self.BATCH:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is None:
                done = True
                batch.pop()
            if not batch:
                continue
            # Only the last item may be None (end of stream), and it was popped above.
            texts = [raw.decode("utf-8", errors="replace") for raw in batch if raw is not None]
            try:
                shown = "".join(self.mask_lines(texts))
            except Exception as e:  # noqa: BLE001 - fail closed, and keep draining the pipe
                self.lines_masked += len(texts)
                why = f"[piizone: line withheld: the output check failed ({type(e).__name__})]\n"
                shown = why * len(texts)
            try:
                if sink is not None:
                    sink.write(shown.encode("utf-8", errors="replace"))
                else:
                    dst.write(shown)
                dst.flush()
            except (OSError, ValueError):
                continue  # the reader went away: keep draining so the command is not blocked


def _masked_line(line: str, spans, decoded: list[Finding]) -> str:
    """The line with each span masked; withheld whole when a finding is only in a decoded
    view (it cannot be masked in place)."""
    end = "\n" if line.endswith("\n") else ""
    if decoded:
        kinds = ", ".join(sorted({f.entity for f in decoded}))
        return f"[piizone: line withheld: {kinds} in an encoded form]{end}"
    out, pos = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out += [line[pos : span.start], mask_value(line[span.start : span.end], "")]
        pos = span.end
    out.append(line[pos:])
    return "".join(out)
