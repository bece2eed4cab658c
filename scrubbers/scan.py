"""Scanning files and directories into a Report: tables by column, text as documents."""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from piizone.scrubbers.compression import compression_of
from piizone.scrubbers.exceptions import InputError, NotTextError
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.formats import (
    CHUNK_ROWS,
    TEXT_CHUNK_CHARS,
    DecodeCounter,
    detect_encoding,
    detect_scan_format,
    is_table_format,
    iter_table_chunks,
    regular_file_stat,
)
from piizone.scrubbers.masking import masked_context
from piizone.scrubbers.prefetch import prefetch
from piizone.scrubbers.progress import (
    SCANNING,
    ItemProgress,
    PassMeter,
    ProgressCallback,
    ReadMeter,
)
from piizone.scrubbers.reports import ColumnReport, Report, Sample, SourceReport
from piizone.scrubbers.suggestions import suggest
from piizone.scrubbers.tables import KIND_IDENTIFIER, ColumnProfile, classify_column, text_values
from piizone.scrubbers.text_passes import TextPass, iter_text_passes

if TYPE_CHECKING:  # the engine loads Presidio and spaCy; only type hints need it here
    from piizone.scrubbers.engines import AnalysisEngine

_VALUE_CACHE = 50_000  # distinct cell values remembered per column (tables repeat values)


@dataclass(frozen=True)
class Target:
    """A file to scan, found directly or by walking a directory."""

    path: Path
    explicit: bool  # named on the command line (errors) vs. found in a directory (skips)


def collect_targets(paths: Iterable[str | Path]) -> list[Target]:
    """Expand directories recursively (sorted, symlinked dirs not followed). A named path that
    is missing or not a regular file stays in the list: scan_paths reports it with the rest."""
    targets: list[Target] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                targets.extend(
                    Target(Path(root) / f, False) for f in sorted(files) if not f.startswith(".")
                )
        else:
            targets.append(Target(path, True))
    return targets


def scan_paths(
    paths: Iterable[str | Path],
    engine: AnalysisEngine,
    progress: ProgressCallback | None = None,
    *,
    skip_unsupported: bool = False,
    fingerprint: Callable[[str, str], str] | None = None,
) -> Report:
    """Scan every file under `paths`. Per-file problems go into report.errors, not exceptions.

    A path named explicitly that cannot be scanned (missing, not a regular file, empty, an
    unsupported format) is an error; `skip_unsupported` lists unsupported ones as skipped
    instead. Files found in a directory that cannot be scanned are listed as skipped.
    """
    started = time.monotonic()
    report = Report(policy_sha256=engine.policy.sha256, policy_source=engine.policy.source)
    targets = collect_targets(paths)
    for target in prefetch(engine, targets, lambda t: t.path if t.path.is_file() else None):
        if target.explicit and not os.path.lexists(target.path):
            report.errors.append({"path": str(target.path), "error": "no such file or directory"})
            continue
        try:
            if target.explicit:
                regular_file_stat(target.path)  # missing, a FIFO or a device: refused, never read
            reason = skip_reason(target)
        except InputError as e:
            report.errors.append({"path": str(target.path), "error": _without_path(e, target)})
            continue
        if reason:
            accepted = skip_unsupported and reason.startswith("unsupported")
            if target.explicit and not accepted:
                report.errors.append({"path": str(target.path), "error": reason})
            else:
                report.skipped.append({"path": str(target.path), "reason": reason})
            continue
        try:
            source = scan_file(target.path, engine, progress, fingerprint)
        except InputError as e:
            report.errors.append({"path": str(target.path), "error": _without_path(e, target)})
            continue
        report.sources.append(source)
        # A file scanned only in part (bytes that did not decode) is an error of the run too.
        report.errors.extend({"path": source.path, "error": w} for w in source.warnings)
    report.filters = dict(engine.stats.filtered)
    report.suggestions = [s.to_dict() for s in suggest(report, engine.policy)]
    report.duration_s = time.monotonic() - started
    return report


def _without_path(e: InputError, target: Target) -> str:
    return str(e).removeprefix(f"{target.path}").lstrip(":").strip()


def skip_reason(target: Target) -> str | None:
    """Why a file is not scanned (unsupported, binary, empty, unreadable), or None."""
    path = target.path
    fmt = detect_scan_format(path)
    if fmt is None:
        shown = "".join(path.suffixes[-2:]) if compression_of(path) else path.suffix
        return f"unsupported format ({shown or 'no extension'})"
    try:
        st = path.stat()
    except OSError:
        return None  # let the reader report it as an error
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"  # a FIFO would block the read, a device never end
    size = st.st_size
    if size == 0:
        return "empty file"
    if fmt not in ("parquet", "xlsx"):
        try:
            detect_encoding(path)
        except InputError as e:
            if not isinstance(e, NotTextError):
                return None  # unreadable (permissions, corrupt compression): the read reports it
            # NUL bytes that are not UTF-16/32: an explicitly named file is an error (reported
            # by the read), one found in a directory is skipped as before.
            return None if target.explicit else "binary content"
    return None


def scan_file(
    path: Path,
    engine: AnalysisEngine,
    progress: ProgressCallback | None = None,
    fingerprint: Callable[[str, str], str] | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> SourceReport:
    """Scan one supported file; InputError when it cannot be read. `fingerprint`: count the
    found values by keyed fingerprint too (for a baseline). A table is read in chunks of
    `chunk_rows` rows (progress moves per chunk)."""
    fmt = detect_scan_format(path)
    if fmt is None:
        raise InputError(f"{path}: unsupported format")
    size = regular_file_stat(path).st_size
    source = SourceReport(
        path=str(path),
        kind="table" if is_table_format(fmt) else "text",
        format=fmt,
        bytes=size,
        fingerprint=fingerprint,
    )
    advance = ItemProgress(progress, SCANNING, str(path), size)
    advance.start()
    with DecodeCounter() as decoding:
        if source.kind == "table":
            _scan_table(path, fmt, engine, source, advance, chunk_rows)
        else:
            _scan_text(path, engine, source, advance)
    if decoding.invalid_bytes:
        # Named as detected: a UTF-16 file with a broken pair is not "not valid UTF-8".
        codec = detect_encoding(path).codec if fmt != "parquet" else "utf-8"
        source.warnings.append(invalid_bytes_warning(decoding.invalid_bytes, codec))
    advance.finish()
    return source


def _scan_text(
    path: Path,
    engine: AnalysisEngine,
    source: SourceReport,
    advance: ItemProgress | None,
    chunk_chars: int = TEXT_CHUNK_CHARS,
) -> None:
    """Count and sample the findings in the passes the redactor will make (text_passes), so
    the report counts what gets redacted. Progress: the bytes read, after each pass, and within
    a pass as the engine's windows are done (PassMeter)."""
    scan = TextScan(source)
    advance = advance or ItemProgress(None, SCANNING, str(path), None)  # no callback: no-op
    with ReadMeter() as meter, PassMeter(advance, meter) as passing:
        for p in iter_text_passes(path, engine, chunk_chars):
            scan.add(p)
            passing.passed(meter.position)
    scan.finish()


class TextScan:
    """A text file's report, built from its analysis passes one at a time: the scan's own, or
    the redactor's (`zone create` analyses a text file once, for the report and the redaction
    together: see zones/provision.py)."""

    def __init__(self, source: SourceReport):
        self.source = source
        self.entities: Counter[str] = Counter()
        self.newlines = 0  # in the text emitted before the current pass
        self.done = 0  # characters emitted
        self.passes = 0

    def add(self, p: TextPass) -> None:
        self.passes += 1
        source = self.source
        first_line = 1 + self.newlines - p.text.count("\n", 0, p.shift)  # where p.text starts
        for f in p.emitted_findings():
            self.entities[f.entity_type] += 1
            source.remember(f.entity_type, p.text[f.start : f.end])
            if not source.wants_sample(f.entity_type):
                continue
            line = first_line + p.text.count("\n", 0, f.start)
            source.add_sample(
                Sample(
                    entity=f.entity_type, line=line, context=masked_context(p.text, f, p.findings)
                )
            )
        self.newlines += p.text.count("\n", p.shift, p.shift + p.cut)
        self.done += p.cut

    def finish(self, invalid_bytes: int = 0, codec: str = "utf-8") -> SourceReport:
        """The report; `invalid_bytes` (in the input's `codec`) when the passes were read by
        someone else (scan_file counts its own)."""
        self.source.rows = 1 + self.newlines if self.passes else 0
        self.source.entities = dict(self.entities)
        if invalid_bytes:
            self.source.warnings.append(invalid_bytes_warning(invalid_bytes, codec))
        return self.source


def invalid_bytes_warning(invalid_bytes: int, codec: str = "utf-8") -> str:
    """The warning for bytes replaced while decoding, naming the encoding that was detected."""
    return (
        f"{invalid_bytes} bytes were not valid {codec.upper()}; they were replaced and the rest "
        "was scanned"
    )


def _scan_table(
    path: Path,
    fmt: str,
    engine: AnalysisEngine,
    source: SourceReport,
    advance: ItemProgress,
    chunk_rows: int = CHUNK_ROWS,
) -> None:
    """Progress after each chunk: the bytes read, or the rows' share of the size when the
    reader knows its rows up front (Parquet, a JSON document parsed whole, a spreadsheet)."""

    def report_progress(rows: int) -> None:
        advance(meter.done(rows, source.bytes))

    with ReadMeter() as meter:
        chunks = iter_table_chunks(path, fmt, chunk_rows)
        scan_frames(chunks, engine, source, on_chunk=report_progress)
    if source.rows == 0 and not source.columns:
        raise InputError(f"{path}: no rows")


def scan_frames(
    chunks: Iterable[pd.DataFrame],
    engine: AnalysisEngine,
    source: SourceReport,
    on_chunk: Callable[[int], None] | None = None,
) -> SourceReport:
    """Scan a table given as DataFrame chunks (a file or a database query) into `source`.
    `on_chunk` is told the rows scanned so far after each chunk."""
    profiles: dict[str, ColumnProfile] = {}
    counts: dict[str, Counter[str]] = {}
    non_empty: Counter[str] = Counter()
    caches: dict[str, dict[str, list[Finding]]] = {}
    rows = 0
    for chunk in chunks:
        for column in chunk.columns:
            name = str(column)
            if name not in profiles:  # JSON Lines may add columns in later records
                profiles[name] = classify_column(engine, name, chunk[column])
                counts[name] = Counter()
                caches[name] = {}
            profile = profiles[name]
            values = text_values(chunk[column])
            non_empty[name] += len(values)
            if profile.kind == KIND_IDENTIFIER:
                entity = profile.classification
                assert entity is not None  # classify_column names the entity of identifier columns
                counts[name][entity] += len(values)
                if source.fingerprint is not None:
                    for value, n in values.value_counts().items():
                        source.remember(entity, str(value), int(n))
                if len(values) and source.wants_sample(entity):
                    first = values.iloc[0]
                    whole = Finding(0, len(first), entity, 1.0)
                    row = rows + 1 + int(chunk.index.get_loc(values.index[0]))
                    source.add_sample(
                        Sample(
                            entity=entity,
                            row=row,
                            column=name,
                            context=masked_context(first, whole, [whole]),
                        )
                    )
            elif profile.scan_values:
                _scan_cells(engine, name, values, chunk, rows, counts[name], caches[name], source)
        rows += len(chunk)
        if on_chunk:
            on_chunk(rows)
    source.rows = rows
    source.columns = [
        ColumnReport(
            name=name,
            classification=p.classification,
            kind=p.kind,
            entities=dict(counts[name]),
            non_empty=non_empty[name],
            match_share=round(p.match_share, 3),
            header_hint=p.header_hint,
        )
        for name, p in profiles.items()
    ]
    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    source.entities = dict(total)
    return source


def _scan_cells(
    engine: AnalysisEngine,
    column: str,
    values: pd.Series,
    chunk: pd.DataFrame,
    rows_before: int,
    counts: Counter[str],
    cache: dict[str, list[Finding]],
    source: SourceReport,
) -> None:
    """Analyse each distinct value once: repeated values (templates, cities) hit the cache."""
    todo = list(dict.fromkeys(v for v in values if v not in cache))
    fresh = dict(zip(todo, engine.analyze_many(todo), strict=True))
    for index, value in values.items():
        findings = fresh[value] if value in fresh else cache[value]
        for f in findings:
            counts[f.entity_type] += 1
            source.remember(f.entity_type, value[f.start : f.end])
            if not source.wants_sample(f.entity_type):
                continue
            source.add_sample(
                Sample(
                    entity=f.entity_type,
                    column=column,
                    row=rows_before + 1 + int(chunk.index.get_loc(index)),
                    context=masked_context(value, f, findings),
                )
            )
    if len(cache) + len(fresh) > _VALUE_CACHE:
        cache.clear()  # bounded memory beats a perfect hit rate
    cache.update(list(fresh.items())[:_VALUE_CACHE])
