"""Matching shared by the leak checks: the zone's matcher (fingerprints and canaries), the zone's
policy engine, and what they find in text, line by line and in the decoded views of each line.

Used by the egress check (`egress`, `streams`) and by `zone canary-check` (`canary_check`);
both import it, it imports neither. A finding's context is always masked: every hit and
everything the policy's detectors find on the line is masked before a line is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from piizone.scrubbers.findings import Finding as Span
from piizone.scrubbers.findings import resolve_overlaps
from piizone.scrubbers.masking import masked_context
from piizone.zones.leakcheck.canaries import canary_set, load_canaries
from piizone.zones.leakcheck.decoded_views import decoded_views, digit_views
from piizone.zones.leakcheck.fingerprints import Matcher, fingerprint_key, load_fingerprints
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore

if TYPE_CHECKING:  # the engine module loads spaCy and Presidio: imported where it is used
    from piizone.scrubbers.engines import AnalysisEngine

# Entity types that only the NER model finds: on a bare file name it has no context and reads
# "ok.txt" as a place and "curve.npy" as a person. Names are checked with the pattern
# detectors (e-mail, SSN, phone, card, …) and the zone's fingerprints and canaries (which do
# know the people of the zone: `maria_gonzalez.csv`).
NAME_UNCHECKED_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"})


@dataclass
class Finding:
    file: str
    entity: str
    context: str  # masked: the value itself never appears
    line: int | None = None
    # "policy" (detectors) | "fingerprint" | "canary" | "decoded" (in a decoded view of the
    # line) | "name" (in the file's path) | "binary" (unreadable, held unless --allow-binary)
    # | "small_count" (a count under k in a table: small_counts, opt-in)
    reason: str = "policy"


def zone_matcher(directory: Path, manifest: ZoneManifest, dek: bytes) -> Matcher:
    """One matcher for the zone's fingerprints (reason "fingerprint") and canaries."""
    key = fingerprint_key(dek)
    matcher = Matcher(key)
    matcher.add_set(load_fingerprints(directory, manifest, dek), "fingerprint")
    matcher.add_set(canary_set(load_canaries(directory, manifest, dek), key), "canary")
    return matcher


def engine_for_zone(store: ZoneStore, name: str) -> AnalysisEngine:
    """The detectors of the zone's own policy. Imported here, not at the top: the engine
    loads spaCy and Presidio (seconds), which a clean file or a silent command never needs."""
    from piizone.scrubbers.engines import make_engine
    from piizone.scrubbers.policy import parse_policy

    policy_path = store.current_dir(name) / "policy.yaml"
    policy = parse_policy(
        policy_path.read_text("utf-8"),
        source=f"zone {name} policy",
        recorded_sha256=store.manifest(name).policy.sha256,
    )
    return make_engine(policy, workers=1)  # in-process: the cached Engine of this policy


class LazyEngine:
    """The zone's policy engine, loaded on the first line that needs it (NLP start-up costs
    seconds; a clean file never pays it)."""

    def __init__(self, store: ZoneStore, name: str):
        self._store, self._name = store, name
        self._engine: AnalysisEngine | None = None

    def analyze(self, text: str):
        if self._engine is None:
            self._engine = engine_for_zone(self._store, self._name)
        return self._engine.analyze(text)


def match_text_output(path: Path, matcher, engine=None) -> list[Finding]:
    """Fingerprint and canary hits in a text file, line by line, masked; and what the decoded
    views of each line hold (`line_view_findings`).

    The context around a hit masks the other hits *and* what the policy's detectors find on
    that line (`engine`), so the report never shows a neighbouring value raw.
    """

    findings: list[Finding] = []
    with open(path, "rb") as f:
        for number, line in enumerate(_text_lines(f), 1):
            hits = matcher.scan_line(line) if matcher else []
            if hits:
                spans = [Span(h.start, h.end, h.entity_type, 1.0) for h in hits]
                detected = list(engine.analyze(line)) if engine is not None else []
                masked = resolve_overlaps(spans + detected)
                for hit, span in zip(hits, spans, strict=True):
                    context = masked_context(line, span, masked)
                    findings.append(Finding("", hit.entity_type, context, number, hit.reason))
            findings += line_view_findings(line, number, matcher, engine)
    return findings


def line_view_findings(
    line: str, number: int | None, matcher, engine, skip: frozenset[str] = frozenset()
) -> list[Finding]:
    """Findings in the decoded views of `line` (zones.leakcheck.decoded_views): base64, hex, URL and
    `\\u` escapes decoded, NFKC without zero-width characters, digits joined and spelled
    digits written. Reason "decoded"; the context is the view, masked."""

    views = decoded_views(line)
    digits = digit_views(line, views) if matcher else []
    if not views and not digits:
        return []
    # What the line shows as written is reported by the other checks; a view repeats it.
    seen = {(h.entity_type, _alnum(line[h.start : h.end])) for h in scan_hits(matcher, line)}
    if views and engine is not None:
        seen |= {(d.entity_type, _alnum(line[d.start : d.end])) for d in engine.analyze(line)}
    found: list[Finding] = []
    for view, use_engine in [(v, True) for v in views] + [(v, False) for v in digits]:
        hits = [hit_span(h) for h in scan_hits(matcher, view)]
        if use_engine and engine is not None:
            hits += [d for d in engine.analyze(view) if d.entity_type not in skip]
        spans = resolve_overlaps(hits)
        for span in spans:
            if (span.entity_type, _alnum(view[span.start : span.end])) in seen:
                continue
            context = masked_context(view, span, spans)
            found.append(Finding("", span.entity_type, context, number, "decoded"))
    return found


def scan_hits(matcher, text: str) -> list:
    """The matcher's hits in `text`; none without a matcher."""
    return matcher.scan_line(text) if matcher else []


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _text_lines(f):
    # Lines end at "\n" only, as in scrubbers.scan: line numbers agree between the two checks.
    for raw in f:
        yield raw.decode("utf-8", errors="replace")


def remask_policy_findings(path: Path, findings: list[Finding], matcher, engine) -> None:
    """Rebuild the detectors' contexts of a file that also has fingerprint or canary hits.

    A detector's context masks only what the detectors found, so a fingerprinted value next
    to it (the very thing they missed) would show raw. Each context is rebuilt from its own
    line with both kinds of span masked; one that cannot be placed is withheld.
    """

    wanted = {f.line for f in findings if f.line}
    lines: dict[int, str] = {}
    with open(path, "rb") as fh:
        for number, line in enumerate(_text_lines(fh), 1):
            if number in wanted:
                lines[number] = line
    for f in findings:
        line = lines.get(f.line or 0)
        f.context = "(context withheld)"
        if line is None:
            continue
        hits = [Span(h.start, h.end, h.entity_type, 1.0) for h in matcher.scan_line(line)]
        spans = resolve_overlaps(hits + list(engine.analyze(line)))
        focus = next((s for s in spans if s.entity_type == f.entity), None)
        if focus is not None:
            f.context = masked_context(line, focus, spans)


def hit_span(hit):
    """A matcher hit as a detector span (score 1.0), to mask and resolve them together."""
    return Span(hit.start, hit.end, hit.entity_type, 1.0)
