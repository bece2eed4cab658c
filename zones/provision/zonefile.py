"""One source item into one encrypted zone file: scanned for the report, then redacted straight
into an EncryptingWriter, so its plaintext never reaches the disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, cast

from piizone.scrubbers.formats import iter_table_chunks
from piizone.scrubbers.known_values import KnownValues
from piizone.scrubbers.progress import (
    BYTES,
    FINGERPRINTING,
    ROWS,
    SCANNING,
    ItemProgress,
    ProgressCallback,
    ReadMeter,
    counting_rows,
    metered,
    relabelled,
)
from piizone.scrubbers.redact import redact_frames, redact_into
from piizone.scrubbers.reports import SourceReport
from piizone.scrubbers.scan import TextScan, scan_file, scan_frames
from piizone.zones.leakcheck.fingerprints import (
    FingerprintCollector,
    collect_columns,
    identifier_columns,
)
from piizone.zones.provision.sources import SourceItem
from piizone.zones.storage.crypto import EncryptingWriter


def provision_item(
    item: SourceItem,
    zone_path: str,
    staging: Path,
    dek: bytes,
    zone_id: str,
    engine,
    redactor,
    collector: FingerprintCollector | None = None,
    known: KnownValues | None = None,
    progress: ProgressCallback | None = None,
    position: tuple[int, int] | None = None,
) -> tuple[dict[str, Any], SourceReport]:
    """Scan one item for the report, then redact it straight into its encrypted file.

    A text file is analysed once: its report is built from the redactor's own passes (the
    engine's memo could not hold a file over its long-text budget between a scan and a
    redaction, so such a file used to be analysed twice).

    `progress` sees each phase per chunk, as `zone_path` at `position` (see item_progress).
    """
    progress = relabelled(progress, zone_path, position)
    source_report, text_scan = _scan_item(item, zone_path, engine, progress)
    # Whole-column identifiers bypass the redactor's per-value hook: fingerprint them here.
    columns = identifier_columns(source_report, redactor.policy) if collector else {}
    if collector and columns and item.path is not None:
        _fingerprint_columns(item, item.path, collector, columns, progress)
    target = prepare(staging / zone_path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw:
        writer = EncryptingWriter(raw, dek, zone_id=zone_id, path=zone_path)
        # An io.RawIOBase is a binary file, but not of typeshed's IO[bytes] class.
        out = cast(IO[bytes], writer)
        if text_scan is not None:
            assert item.path is not None  # a text scan is made for files only
            summary = redact_into(
                item.path,
                out,
                engine,
                redactor,
                fmt=item.fmt,
                on_pass=text_scan.add,
                known=known,
                progress=progress,
            )
            text_scan.finish(summary.invalid_bytes, summary.encoding)
        elif item.path is not None:
            summary = redact_into(
                item.path, out, engine, redactor, fmt=item.fmt, known=known, progress=progress
            )
        else:
            chunks = item.table_chunks()
            if collector and columns:  # not one more database query: collect on the way through
                chunks = collect_columns(collector, chunks, columns)
            summary = redact_frames(
                chunks,
                out,
                engine,
                redactor,
                known=known,
                name=zone_path,
                progress=progress,
                total_rows=item.expected_rows,
            )
        writer.close()
    return {
        "path": zone_path,
        "sha256": writer.sha256,
        "bytes": writer.size,
        "rows": summary.rows,
        "format": "parquet" if item.fmt == "sql" else item.fmt,
        "kind": item.kind,
        "entities": summary.entities,
        "known_values": summary.known_values,  # counts of spans found as known values
        "source": item.source_uri,
    }, source_report


def _fingerprint_columns(
    item: SourceItem,
    path: Path,
    collector: FingerprintCollector,
    columns: dict[str, str],
    progress: ProgressCallback | None,
) -> None:
    """Fingerprint the values of a table file's identifier `columns` (read once more)."""
    reading, meter = item_progress(progress, FINGERPRINTING, item), ReadMeter()
    chunks = collect_columns(collector, metered(iter_table_chunks(path, item.fmt), meter), columns)
    # A JSON document is read whole: by rows (ReadMeter.done).
    for _ in counting_rows(chunks, lambda rows: reading(meter.done(rows, item.size or 0))):
        pass
    reading.finish()


def _scan_item(
    item: SourceItem, zone_path: str, engine, progress: ProgressCallback | None
) -> tuple[SourceReport, TextScan | None]:
    """The item's report, scanned now; a text file's is built later from the redactor's
    passes (the TextScan returned)."""
    source_report = SourceReport(
        path=zone_path, kind=item.kind, format=item.fmt, bytes=item.size or 0
    )
    if item.path is not None and item.fmt == "txt":
        return source_report, TextScan(source_report)
    if item.path is not None:
        source_report = scan_file(item.path, engine, progress)
        source_report.path = zone_path
    else:
        scanning = item_progress(progress, SCANNING, item)
        scan_frames(counting_rows(item.table_chunks(), scanning), engine, source_report)
        scanning.finish()
    return source_report, None


def item_progress(progress: ProgressCallback | None, phase: str, item: SourceItem) -> ItemProgress:
    """A started phase of `item`: its bytes for a file, its rows for a database table (of the
    probe's count). `progress` is relabelled (`relabelled`): it names the masked zone path."""
    if item.path is not None:
        total, unit = item.size, BYTES
    else:
        total, unit = item.expected_rows, ROWS
    advance = ItemProgress(progress, phase, item.relpath, total, unit)
    advance.start()
    return advance


def prepare(path: Path) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
