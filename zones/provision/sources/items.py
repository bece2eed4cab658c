"""The source model: a resolved SOURCE (`Source`) and the items it lands in the zone as
(`SourceItem`), read in bounded memory as table or text chunks, with content fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import (
    CHUNK_ROWS,
    TEXT_CHUNK_CHARS,
    TEXT_CHUNK_OVERLAP,
    TextChunk,
    check_columns,
    iter_table_chunks,
    iter_text_chunks,
)
from piizone.zones.exceptions import ZoneError

if TYPE_CHECKING:
    from piizone.zones.provision.sources.sql import SqlReader

MAX_CHUNK_ROWS = 10_000_000
HASH_BLOCK = 256 * 1024


class SourceError(ZoneError):
    """A source cannot be resolved or read. One line; never a password or a row value."""


@dataclass
class SourceItem:
    """One thing that lands in the zone under data/<relpath>."""

    relpath: str
    kind: str  # "table" | "text"
    fmt: str  # csv/tsv/jsonl/json/parquet/txt for files, "sql" for databases
    source_uri: str  # the display form of the source it came from (password masked)
    path: Path | None = None
    size: int | None = None
    rows: int | None = None  # known once table_chunks() ran to the end (or after count_rows())
    expected_rows: int | None = None  # SQL: the probe's count before reading, for progress only
    last_fingerprint: str | None = None  # SQL: hash of the rows the last full read yielded
    chunk_rows: int = CHUNK_ROWS
    _sql: SqlReader | None = field(default=None, repr=False, compare=False)

    @property
    def sql_reader(self) -> SqlReader | None:
        """The reader of a SQL item (None for a file)."""
        return self._sql

    # -- tables --------------------------------------------------------------------------------
    def table_chunks(self, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
        """The table as DataFrame chunks of at most `chunk_rows` rows (memory stays bounded)."""
        n = self._chunk_rows(chunk_rows)
        if self.kind != "table":
            raise SourceError(f"{self.relpath}: not a table (it is {self.kind})")
        if self._sql is not None:
            yield from self._sql_chunks(n)
        else:
            yield from self._file_chunks(n)

    def count_rows(self) -> int | None:
        """Number of rows of a table item (None for text). SQL counts on the server."""
        if self.kind != "table":
            return None
        if self._sql is not None:
            self.rows = self._sql.count()
            return self.rows
        total = 0
        for chunk in self._file_chunks(self.chunk_rows):
            total += len(chunk)
        return total

    # -- text ----------------------------------------------------------------------------------
    def text_chunks(
        self, chunk_chars: int = TEXT_CHUNK_CHARS, overlap: int = TEXT_CHUNK_OVERLAP
    ) -> Iterator[TextChunk]:
        """A text file as overlapping chunks (see piizone.scrubbers.formats.iter_text_chunks)."""
        if self.kind != "text" or self.path is None:
            raise SourceError(f"{self.relpath}: not a text file")
        before = self._check_file()
        with file_errors(self.path):
            yield from iter_text_chunks(self.path, chunk_chars, overlap)
        self._check_unchanged(before)

    # -- content hash --------------------------------------------------------------------------
    def fingerprint(self, progress: Callable[[int], None] | None = None) -> str:
        """sha256 hex of the content (file bytes; SQL rows canonically serialised, in order).
        `progress`: told the bytes (SQL: rows) hashed so far, per block or batch."""
        if self._sql is not None:
            digest = self._sql.fingerprint(progress)
            self.last_fingerprint = digest
            return digest
        assert self.path is not None
        before = self._check_file()
        with file_errors(self.path), open(self.path, "rb") as f:
            if progress is None:
                h = hashlib.file_digest(f, "sha256")
            else:  # file_digest, a block at a time, to report between blocks
                h = hashlib.sha256()
                while block := f.read(HASH_BLOCK):
                    h.update(block)
                    progress(f.tell())
        self._check_unchanged(before)
        return h.hexdigest()

    # -- internals -----------------------------------------------------------------------------
    def _chunk_rows(self, chunk_rows: int | None) -> int:
        n = self.chunk_rows if chunk_rows is None else chunk_rows
        if not 1 <= n <= MAX_CHUNK_ROWS:
            raise SourceError(f"chunk size must be between 1 and {MAX_CHUNK_ROWS}")
        return n

    def _file_chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        assert self.path is not None
        before = self._check_file()
        total = 0
        with file_errors(self.path):
            for chunk in iter_table_chunks(self.path, self.fmt, chunk_rows):
                total += len(chunk)
                yield chunk
        self._check_unchanged(before)
        self.rows = total

    def _sql_chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        assert self._sql is not None
        h = RowHasher()
        total = 0
        for columns, rows in self._sql.batches(chunk_rows):
            if not h.started:
                h.header(columns)
            h.rows(rows)
            total += len(rows)
            # The same conversion pandas.read_sql_query does (DataFrame.from_records, floats
            # coerced); done here so the very rows yielded are the ones hashed.
            yield check_columns(
                pd.DataFrame.from_records(
                    [tuple(r) for r in rows], columns=list(columns), coerce_float=True
                ),
                self.relpath,
            )
        self.rows = total
        self.last_fingerprint = h.hexdigest()

    def _check_file(self) -> os.stat_result:
        """The file is still the regular file resolved earlier; its stat, to compare after."""
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise SourceError(f"{self.path}: source file vanished") from None
        except OSError as e:
            raise SourceError(f"{self.path}: cannot read ({e.strerror})") from None
        # The path was resolved to its real location; if a component turned into a symlink since,
        # it could now point anywhere (outside the source directory), so refuse.
        if os.path.realpath(self.path) != str(self.path) or not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{self.path}: changed since the source was resolved")
        return st

    def _check_unchanged(self, before: os.stat_result) -> None:
        """A file rewritten or removed while we read it gave us a mix of old and new data."""
        assert self.path is not None
        try:
            after = os.stat(self.path)
        except FileNotFoundError:
            raise SourceError(f"{self.path}: source file vanished while being read") from None
        except OSError as e:
            raise SourceError(f"{self.path}: cannot read ({e.strerror})") from None
        if (after.st_ino, after.st_size, after.st_mtime_ns) != (
            before.st_ino,
            before.st_size,
            before.st_mtime_ns,
        ):
            raise SourceError(f"{self.path}: source file changed while being read")


@dataclass
class Source:
    """One SOURCE argument, resolved."""

    uri: str  # display/manifest form; a URL's password is masked
    kind: str  # "files" | "sql"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason)
    probe: str | None = None  # SQL: keyed cheap fingerprint taken before reading (sources.probe)
    _items: list[SourceItem] = field(default_factory=list, repr=False)

    def items(self) -> list[SourceItem]:
        return list(self._items)

    def fingerprint(self) -> str:
        """One hash for the whole source: the item's own, or over `relpath sha256` lines."""
        # A single file's relpath is its basename; a directory's items always contain a "/".
        if self.kind == "sql" or (len(self._items) == 1 and "/" not in self._items[0].relpath):
            return self._items[0].fingerprint()
        h = hashlib.sha256()
        for item in sorted(self._items, key=lambda i: i.relpath):
            h.update(f"{item.relpath}\0{item.fingerprint()}\n".encode())
        return h.hexdigest()

    @property
    def rows(self) -> int | None:
        """Total rows over the table items, once every one of them has been read; else None."""
        tables = [i for i in self._items if i.kind == "table"]
        if not tables or any(i.rows is None for i in tables):
            return None
        return sum(i.rows or 0 for i in tables)


class RowHasher:
    """sha256 over a header line of column names and one JSON array per row."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.started = False

    def header(self, columns: list[str]) -> None:
        self.started = True
        self._h.update(_canonical(list(columns)))

    def rows(self, rows: Sequence[Any]) -> None:
        for row in rows:
            self._h.update(_canonical(list(row)))

    def hexdigest(self) -> str:
        if not self.started:
            self.header([])
        return self._h.hexdigest()


def _canonical(values: list[Any]) -> bytes:
    return (
        json.dumps(values, default=_json_default, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode()


def _json_default(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)  # Decimal, date/time, UUID, ...: their str() is stable and exact


class file_errors:
    """OSError and read errors of a file source become a SourceError naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if exc is None or isinstance(exc, SourceError | GeneratorExit):
            return False
        if isinstance(exc, FileNotFoundError):
            raise SourceError(f"{self.path}: source file vanished") from None
        if isinstance(exc, InputError):
            raise SourceError(str(exc), hint=exc.hint) from None
        if isinstance(exc, OSError):
            raise SourceError(f"{self.path}: read failed ({exc.strerror})") from None
        return False
