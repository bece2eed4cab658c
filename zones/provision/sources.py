"""Zone sources: files, directories and SQL databases, as items read in bounded memory.

A SOURCE string (`piizone zone create NAME --from SOURCE...`) is one of
  * a file (csv, tsv, jsonl, json, parquet, txt/md/...) -> one item named by its basename;
  * a directory -> one item per supported file, named `<dirname>/<relative path>`; hidden entries
    and unsupported files are skipped and reported in `Source.skipped`; a symlink whose target
    leaves the directory is refused (a zone must never pull in files nobody chose);
  * a SQLAlchemy URL (PostgreSQL via psycopg 3, SQLite) with `?table=NAME` or `?query=SELECT...`
    and optionally `&chunksize=N` -> one table item `<table>.parquet` or
    `query_<sha256(query)[:8]>.parquet`.

A `?query=` must parse (sqlglot) as exactly one reading statement and what runs is the SQL
regenerated from that parse; PostgreSQL connections start every transaction read-only
(`default_transaction_read_only=on`). See `_read_only_query`.

Secrets: the password of a URL (and `password`-like query parameters) never appears in a message,
in `Source.uri` (the form recorded in manifests) or in a repr. Database error messages are not
echoed except for syntax/name errors, whose text quotes the user's SQL, never row values.

Fingerprints (`SourceItem.fingerprint()`, sha256 hex) say whether a source changed since the last
zone version:
  * files: sha256 of the bytes;
  * SQL: sha256 over a canonical serialisation of the rows in the order they are read: a header
    line with the column names, then one JSON array per row (`default=str` for dates, decimals...).
    `?table=` reads `ORDER BY` the primary key, or by every orderable column when there is none,
    so an unchanged table gives the same fingerprint. `?query=` keeps the user's order: a query
    without ORDER BY may return rows in a different order and so a different fingerprint — that
    only costs a re-scan, it never reuses stale data.
Reading a SQL item with `table_chunks()` hashes the very rows it yields; afterwards `rows` and
`last_fingerprint` describe exactly the data that was read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlglot import exp

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import (
    CHUNK_ROWS,
    TEXT_CHUNK_CHARS,
    TEXT_CHUNK_OVERLAP,
    TextChunk,
    check_columns,
    detect_format,
    is_table_format,
    iter_table_chunks,
    iter_text_chunks,
)
from piizone.zones.exceptions import ZoneError

__all__ = ["Source", "SourceError", "SourceItem", "resolve_sources"]

HASH_BLOCK = 1024 * 1024
MAX_CHUNK_ROWS = 10_000_000
CONNECT_TIMEOUT_S = 10
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# A `?query=` must parse as exactly one of these (SELECT, WITH ... SELECT, UNION/INTERSECT/EXCEPT,
# a parenthesised query, VALUES) ...
READ_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)
# ... holding none of these anywhere: a data-modifying CTE, SELECT INTO (creates a table), row
# locks, transaction control, and anything sqlglot could only keep as an opaque command.
WRITE_NODES = (
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Pragma,
    exp.Attach,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
)
SQL_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite"}
# Literal values in a query (a WHERE email = '...') may be personal data: the recorded form of a
# query replaces them with `?` (see _display_query).
LITERAL_NODES = (
    exp.Literal,
    exp.RawString,
    exp.ByteString,
    exp.HexString,
    exp.BitString,
    exp.National,
)
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# Query parameters of ours, removed before the URL reaches the database driver.
OWN_PARAMS = ("table", "query", "chunksize")
# Query parameters libpq/psycopg accept that carry secrets; masked like the URL password.
SECRET_PARAMS = frozenset({"password", "sslpassword"})
MASK = "***"


class SourceError(ZoneError):
    """A source cannot be resolved or read. One line; never a password or a row value."""


# --------------------------------------------------------------------------------------------
# Public model


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
    last_fingerprint: str | None = None  # SQL: hash of the rows the last full read yielded
    chunk_rows: int = CHUNK_ROWS
    _sql: _SqlReader | None = field(default=None, repr=False, compare=False)

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
        with _file_errors(self.path):
            yield from iter_text_chunks(self.path, chunk_chars, overlap)
        self._check_unchanged(before)

    # -- content hash --------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 hex of the content (file bytes; SQL rows canonically serialised, in order)."""
        if self._sql is not None:
            digest = self._sql.fingerprint()
            self.last_fingerprint = digest
            return digest
        assert self.path is not None
        before = self._check_file()
        h = hashlib.sha256()
        with _file_errors(self.path), open(self.path, "rb") as f:
            while block := f.read(HASH_BLOCK):
                h.update(block)
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
        with _file_errors(self.path):
            for chunk in iter_table_chunks(self.path, self.fmt, chunk_rows):
                total += len(chunk)
                yield chunk
        self._check_unchanged(before)
        self.rows = total

    def _sql_chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        assert self._sql is not None
        h = _RowHasher()
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


def resolve_sources(specs: list[str]) -> list[Source]:
    """Resolve SOURCE strings; refuses (SourceError) anything that cannot be read as a whole."""
    if not specs:
        raise SourceError("no source given", hint="pass --from FILE, DIR or a database URL")
    sources = [_resolve_one(spec) for spec in specs]
    _refuse_collisions(sources)
    return sources


# --------------------------------------------------------------------------------------------
# Files and directories


def _resolve_one(spec: str) -> Source:
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError("empty source")
    if URL_SCHEME.match(spec):
        return _resolve_sql(spec)
    return _resolve_path(spec)


def _expand_user(spec: str) -> Path:
    """`~` and `~user` expanded; an unknown user is a SourceError (pathlib raises RuntimeError)."""
    try:
        return Path(spec).expanduser()
    except RuntimeError:
        raise SourceError(f"{spec.split('/', 1)[0]}: no such user's home directory") from None


def _resolve_path(spec: str) -> Source:
    if "\0" in spec:
        raise SourceError("a source path cannot contain a NUL character")
    given = _expand_user(spec)
    shown = str(given.absolute())
    try:
        st = given.stat()
    except FileNotFoundError:
        raise SourceError(f"{shown}: no such file or directory") from None
    except OSError as e:
        raise SourceError(f"{shown}: cannot access ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        return _resolve_dir(given, shown)
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{shown}: not a regular file or directory")
    fmt = detect_format(given)
    if fmt is None:
        raise SourceError(
            f"{shown}: unsupported file type {given.suffix or '(no extension)'!r}",
            hint="supported: csv, tsv, jsonl, json, parquet, txt/md",
        )
    # A single file named explicitly may be a symlink: the user chose its target.
    real = Path(os.path.realpath(given))
    item = _file_item(real, given.name, fmt, shown, st.st_size)
    return Source(uri=shown, kind="files", _items=[item])


def _resolve_dir(given: Path, shown: str) -> Source:
    root = Path(os.path.realpath(given))
    if not os.access(root, os.R_OK | os.X_OK):
        raise SourceError(f"{shown}: permission denied")
    top = given.absolute().name or root.name  # "." or "/data/" still name the directory
    if not top:
        raise SourceError(f"{shown}: refusing to read the whole filesystem root")
    items: list[SourceItem] = []
    skipped: list[tuple[str, str]] = []

    def walk_error(err: OSError) -> None:
        rel = _rel(root, Path(err.filename)) if err.filename else "."
        raise SourceError(f"{shown}: cannot read {rel} ({err.strerror})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error, followlinks=False):
        here = Path(dirpath)
        dirnames.sort()
        for d in list(dirnames):
            full = here / d
            rel = f"{top}/{_rel(root, full)}"
            if d.startswith("."):
                dirnames.remove(d)
                skipped.append((rel, "hidden directory"))
            elif full.is_symlink():
                _refuse_escape(root, full, shown)
                # Its target is inside the source and read there; following it too would read
                # the same files twice and could loop.
                dirnames.remove(d)
                skipped.append((rel, "symlink to a directory inside the source"))
        for name in sorted(filenames):
            full = here / name
            rel = f"{top}/{_rel(root, full)}"
            if name.startswith("."):
                skipped.append((rel, "hidden file"))
                continue
            if full.is_symlink():
                _refuse_escape(root, full, shown)
            try:
                st = full.stat()
            except FileNotFoundError:
                skipped.append((rel, "broken symlink" if full.is_symlink() else "vanished"))
                continue
            except OSError as e:
                raise SourceError(f"{shown}: cannot access {rel} ({e.strerror})") from None
            if not stat.S_ISREG(st.st_mode):
                skipped.append((rel, "not a regular file"))
                continue
            fmt = detect_format(name)
            if fmt is None:
                skipped.append((rel, f"unsupported file type {full.suffix or '(no extension)'}"))
                continue
            real = Path(os.path.realpath(full))
            items.append(_file_item(real, rel, fmt, shown, st.st_size))
    return Source(uri=shown, kind="files", skipped=skipped, _items=items)


def _file_item(real: Path, relpath: str, fmt: str, shown: str, size: int) -> SourceItem:
    if not os.access(real, os.R_OK):
        raise SourceError(f"{shown}: {relpath}: permission denied")
    kind = "table" if is_table_format(fmt) else "text"
    return SourceItem(relpath=relpath, kind=kind, fmt=fmt, source_uri=shown, path=real, size=size)


def _refuse_escape(root: Path, link: Path, shown: str) -> None:
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(root):
        raise SourceError(
            f"{shown}: symlink {_rel(root, link)} points outside the source directory; refused",
            hint="copy the file into the directory, or pass its target as a separate --from",
        )


def _rel(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.name


def _refuse_collisions(sources: list[Source]) -> None:
    """Two items may not land on the same path, nor one on a directory the other needs."""
    owner: dict[str, str] = {}
    for src in sources:
        for item in src._items:
            if item.relpath in owner:
                raise SourceError(
                    f"two sources write data/{item.relpath} ({owner[item.relpath]} and {src.uri})",
                    hint="rename one of them or pass its parent directory instead",
                )
            owner[item.relpath] = src.uri
    for relpath, uri in owner.items():
        parts = relpath.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in owner:
                raise SourceError(
                    f"data/{prefix} would be both a file ({owner[prefix]}) and a directory ({uri})"
                )


# --------------------------------------------------------------------------------------------
# Databases


def _resolve_sql(spec: str) -> Source:
    try:
        url = make_url(spec)
    except (ArgumentError, ValueError):
        # The message of make_url may echo the string, password included.
        raise SourceError(
            "not a valid database URL", hint="e.g. postgresql://user@host/db?table=NAME"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise SourceError(
                f"database driver {driver!r} is not supported",
                hint="use postgresql:// (psycopg 3)",
            )
        dialect = "postgresql"
    elif backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise SourceError(f"database driver {driver!r} is not supported", hint="use sqlite://")
        dialect = "sqlite"
    else:
        raise SourceError(
            f"unsupported source scheme {backend!r}",
            hint="files, directories, postgresql:// or sqlite:// URLs",
        )

    params = dict(url.query)
    table, query, chunksize = (_own_param(params, name) for name in OWN_PARAMS)
    display = _display_url(url, dialect, params, table, query, chunksize)
    if (table is None) == (query is None):
        raise SourceError(
            f"{display}: give exactly one of ?table=NAME or ?query=SELECT...",
        )
    chunk_rows = CHUNK_ROWS
    if chunksize is not None:
        if not chunksize.isdecimal() or not 1 <= int(chunksize) <= MAX_CHUNK_ROWS:
            raise SourceError(f"{display}: chunksize must be between 1 and {MAX_CHUNK_ROWS}")
        chunk_rows = int(chunksize)

    if dialect == "postgresql":
        engine = _postgres_engine(url, params)
    else:
        engine = _sqlite_engine(url, params, display)

    if table is not None:
        schema, name = _split_table(table, display)
        reader = _SqlReader(engine, display, dialect, table=(schema, name))
        relpath = f"{table}.parquet"
    else:
        assert query is not None  # exactly one of table and query, checked above
        sql = query.strip().rstrip(";").strip()
        if not sql:
            raise SourceError(f"{display}: empty ?query=")
        runnable = _read_only_query(sql, dialect, display)
        reader = _SqlReader(engine, display, dialect, query=runnable)
        relpath = f"query_{hashlib.sha256(sql.encode()).hexdigest()[:8]}.parquet"
    reader.check()  # connect now: a wrong password or an unknown table fails before any work
    item = SourceItem(
        relpath=relpath,
        kind="table",
        fmt="sql",
        source_uri=display,
        chunk_rows=chunk_rows,
        _sql=reader,
    )
    return Source(uri=display, kind="sql", _items=[item])


def _own_param(params: dict[str, str | tuple[str, ...]], name: str) -> str | None:
    """Take piizone's own ?table=, ?query= or ?chunksize= out of the URL's parameters."""
    value = params.pop(name, None)
    if isinstance(value, tuple):
        raise SourceError(f"database URL has more than one ?{name}=")
    return value


def _display_url(
    url: URL,
    dialect: str,
    params: dict[str, Any],
    table: str | None,
    query: str | None,
    chunksize: str | None,
) -> str:
    """The canonical, password-free spelling recorded in manifests and shown in messages."""
    shown: dict[str, Any] = {k: (MASK if k in SECRET_PARAMS else v) for k, v in params.items()}
    if isinstance(query, str):
        query = _display_query(query, dialect)
    for k, v in (("table", table), ("query", query), ("chunksize", chunksize)):
        if v is not None:
            shown[k] = v
    canonical = url.set(drivername=dialect, query=shown)
    return canonical.render_as_string(hide_password=True)


def _read_only_query(sql: str, dialect: str, display: str) -> str:
    """The SQL to run for a `?query=`: exactly one reading statement, regenerated by sqlglot.

    Checking the text with a regex and wrapping it (`SELECT * FROM (<query>) ...`) let a query
    close the parenthesis and append `COMMIT; DROP TABLE ...`. Parsing proves there is one
    statement and what it is; running the SQL sqlglot generates from that one parse tree (not the
    user's text) leaves no room for a statement sqlglot and the server would split differently
    (dollar quotes, comments). Comments are dropped: they cannot change a result.
    """
    read = SQL_DIALECTS[dialect]
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except sqlglot.errors.ParseError as e:
        where = e.errors[0] if e.errors else {}
        at = f" at line {where.get('line', '?')}, column {where.get('col', '?')}" if where else ""
        # sqlglot's own message quotes the query around the error: it may hold literal values.
        raise SourceError(
            f"{display}: ?query= is not valid SQL (syntax error{at})",
            hint="sources read one SELECT (WITH ... SELECT and UNION are fine)",
        ) from None
    except sqlglot.errors.SqlglotError as e:
        raise SourceError(
            f"{display}: ?query= is not valid SQL ({type(e).__name__})",
            hint="sources read one SELECT (WITH ... SELECT and UNION are fine)",
        ) from None
    if len(statements) != 1:
        raise SourceError(
            f"{display}: ?query= must be exactly one SELECT statement (got {len(statements)})",
            hint="sources are read-only: no ';' between statements",
        )
    [tree] = statements
    writes = sorted({type(n).__name__.upper() for n in tree.walk() if isinstance(n, WRITE_NODES)})
    if not isinstance(tree, READ_ROOTS) or writes:
        what = ", ".join(writes) or type(tree).__name__.upper()
        raise SourceError(
            f"{display}: ?query= must be one SELECT statement that only reads (found {what})",
            hint="sources are read-only: no DDL/DML, SELECT INTO, FOR UPDATE or SET",
        )
    return tree.sql(dialect=read, comments=False)


def _display_query(sql: str, dialect: str) -> str:
    """A `?query=` fit for manifests and messages: literals as `?`, plus the query's hash.

    The hash tells two queries apart that differ only in their literals (a zone refresh compares
    sources by this form); a query that does not parse is shown by its hash alone.
    """
    digest = hashlib.sha256(sql.strip().rstrip(";").strip().encode()).hexdigest()[:12]
    try:
        statements = [s for s in sqlglot.parse(sql, read=SQL_DIALECTS[dialect]) if s is not None]
    except sqlglot.errors.SqlglotError:
        statements = []
    if len(statements) != 1:
        return f"sha256:{digest}"
    masked = statements[0].transform(
        lambda n: exp.Placeholder() if isinstance(n, LITERAL_NODES) else n
    )
    return f"{masked.sql(comments=False)} -- sha256:{digest}"


def _postgres_engine(url: URL, params: dict[str, Any]) -> Engine:
    driver_url = url.set(drivername="postgresql+psycopg", query=params)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in params:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    # Every transaction of the session starts read-only (a server-side session default, not a
    # statement we run), so even a write that got past the query check, or a COMMIT ending our
    # READ ONLY transaction, cannot change the database. libpq `options` from the URL are kept.
    own = "-c default_transaction_read_only=on"
    user_options = params.get("options")
    if isinstance(user_options, str) and user_options.strip():
        driver_url = driver_url.set(query={k: v for k, v in params.items() if k != "options"})
        own = f"{user_options} {own}"  # the last -c for a setting wins: ours
    connect_args["options"] = own
    # NullPool: every read opens and closes its own connection; nothing lingers between reads.
    return sa.create_engine(driver_url, poolclass=NullPool, connect_args=connect_args)


def _sqlite_engine(url: URL, params: dict[str, Any], display: str) -> Engine:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise SourceError(f"{display}: give the path of an SQLite database file")
    if params:
        raise SourceError(f"{display}: unsupported SQLite URL parameter(s) {sorted(params)}")
    path = _expand_user(database).absolute()
    if not path.is_file():
        # sqlite3 would silently create an empty database here; a typo must be an error.
        raise SourceError(f"{display}: no such SQLite database file")
    # Read-only at the engine level: `?query=` can then never write, whatever it says.
    ro_uri = f"file:{quote(str(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(ro_uri, uri=True)

    return sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)


def _split_table(table: str, display: str) -> tuple[str | None, str]:
    parts = table.split(".")
    if not TABLE_NAME.match(table) or len(parts) > 2 or not all(parts):
        raise SourceError(
            f"{display}: invalid table name", hint="letters, digits, _ and one optional schema."
        )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


class _RowHasher:
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


class _SqlReader:
    """Runs the item's SELECT inside a rolled-back, read-only transaction, in batches."""

    def __init__(
        self,
        engine: Engine,
        display: str,
        dialect: str,
        table: tuple[str | None, str] | None = None,
        query: str | None = None,
    ) -> None:
        self.engine = engine
        self.display = display
        self.dialect = dialect
        self.table = table
        self.query = query

    def __repr__(self) -> str:  # the engine's URL holds the password: keep it out of reprs
        return f"_SqlReader({self.display})"

    # -- statements ----------------------------------------------------------------------------
    def _select(self, conn: Connection) -> sa.Executable:
        if self.query is not None:
            # `\:` keeps a colon in a literal (`'12:30'`) from being read as a bind parameter.
            return sa.text(self.query.replace(":", r"\:"))
        assert self.table is not None
        schema, name = self.table
        try:
            table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
        except NoSuchTableError:
            raise SourceError(f"{self.display}: no such table") from None
        return sa.select(table).order_by(*_order_columns(table, self.dialect))

    # -- operations ----------------------------------------------------------------------------
    def check(self) -> None:
        """Connect, and prove the table exists or the query compiles, reading no rows."""

        def probe(conn: Connection) -> None:
            stmt = self._select(conn)
            if self.query is not None:
                # Safe to wrap: the query was parsed as exactly one statement and regenerated.
                conn.execute(sa.text(f"SELECT * FROM ({stmt.text}) AS piizone_q LIMIT 0"))  # type: ignore[attr-defined]
            else:
                conn.execute(stmt.limit(0))  # type: ignore[attr-defined]

        self._run(probe)

    def count(self) -> int:
        def count(conn: Connection) -> int:
            stmt = self._select(conn)
            sub = (
                stmt.columns().subquery("piizone_q")  # type: ignore[attr-defined]
                if self.query is not None
                else stmt.subquery("piizone_q")  # type: ignore[attr-defined]
            )
            return int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())

        return self._run(count)

    def fingerprint(self) -> str:
        h = _RowHasher()
        for columns, rows in self.batches(CHUNK_ROWS):
            if not h.started:
                h.header(columns)
            h.rows(rows)
        return h.hexdigest()

    def batches(self, chunk_rows: int) -> Iterator[tuple[list[str], Sequence[Any]]]:
        """(column names, rows) per batch; one batch with no rows for an empty result."""
        conn = self._connect()
        try:
            with self._errors():
                self._begin(conn)
                stmt = self._select(conn)  # reflection first, with ordinary cursors
                # Per statement, not per connection: only the SELECT runs as a server-side cursor.
                result = conn.execute(
                    stmt,
                    execution_options={"stream_results": True, "max_row_buffer": chunk_rows},
                )
                columns = list(result.keys())
            yielded = False
            while True:
                with self._errors():
                    rows = result.fetchmany(chunk_rows)
                if not rows and yielded:
                    break
                yielded = True
                yield columns, rows
                if not rows:
                    break
        finally:
            self._close(conn)

    # -- plumbing ------------------------------------------------------------------------------
    def _run(self, fn: Callable[[Connection], Any]) -> Any:
        conn = self._connect()
        try:
            with self._errors():
                self._begin(conn)
                return fn(conn)
        finally:
            self._close(conn)

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except DBAPIError as e:
            raise SourceError(f"{self.display}: cannot connect ({_connect_reason(e)})") from None
        except SQLAlchemyError as e:
            raise SourceError(f"{self.display}: cannot connect ({type(e).__name__})") from None

    def _begin(self, conn: Connection) -> None:
        conn.begin()
        if self.dialect == "postgresql":
            # The transaction is rolled back anyway; READ ONLY also stops a `?query=` that tries
            # to write (or calls a function that does) before it changes anything.
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    @staticmethod
    def _close(conn: Connection) -> None:
        try:
            conn.rollback()
            conn.close()
        except SQLAlchemyError:
            conn.invalidate()

    def _errors(self) -> _SqlErrors:
        return _SqlErrors(self.display)


class _SqlErrors:
    """Turns database errors into one-line SourceErrors that cannot carry row values."""

    def __init__(self, display: str) -> None:
        self.display = display

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if exc is None or isinstance(exc, SourceError | GeneratorExit):
            return False
        if isinstance(exc, DBAPIError):
            raise SourceError(f"{self.display}: {_db_error(exc)}") from None
        if isinstance(exc, SQLAlchemyError):
            raise SourceError(f"{self.display}: database error ({type(exc).__name__})") from None
        return False


def _order_columns(table: sa.Table, dialect: str) -> list[sa.Column]:
    """Primary key order; without one, every column whose type the database can sort."""
    pk = list(table.primary_key.columns)
    if pk:
        return pk
    if dialect == "sqlite":
        # SQLite sorts any value (and its untyped columns reflect as NullType).
        return list(table.columns)
    # PostgreSQL cannot sort json, xml, point, ...: types SQLAlchemy reflects as JSON or NullType.
    return [c for c in table.columns if not isinstance(c.type, sa.JSON | sa.types.NullType)]


def _db_error(exc: DBAPIError) -> str:
    orig = exc.orig
    name = type(orig).__name__ if orig is not None else type(exc).__name__
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    # SQLSTATE class 42 (syntax error, undefined table/column, permission denied): the message
    # quotes the user's SQL or identifiers, never data. Other messages (e.g. "invalid input
    # syntax for type integer: ...") can quote row values, so only the class is shown.
    if sqlstate and sqlstate.startswith("42") and primary:
        return f"query failed: {primary.splitlines()[0]} ({name})"
    if isinstance(orig, sqlite3.Error):
        first = str(orig).splitlines()[0] if str(orig) else ""
        if first.startswith(("no such table", "no such column", "near ", "incomplete input")):
            return f"query failed: {first} ({name})"
        if "readonly" in first or "read-only" in first:
            return f"query tried to write; sources are read-only ({name})"
    if sqlstate == "25006":
        return f"query tried to write; sources are read-only ({name})"
    return f"query failed ({name}{', SQLSTATE ' + sqlstate if sqlstate else ''})"


def _connect_reason(exc: DBAPIError) -> str:
    """A fixed phrase for why a connection failed; the driver's text is never echoed."""
    text = str(exc.orig).lower() if exc.orig is not None else ""
    reasons = (
        ("password authentication failed", "authentication failed"),
        ("no password supplied", "no password given; set PGPASSWORD or use ~/.pgpass"),
        ("authentication failed", "authentication failed"),
        ("connection refused", "connection refused"),
        ("does not exist", "database or user does not exist"),
        ("timeout expired", "timed out"),
        ("could not translate host name", "unknown host"),
        ("name or service not known", "unknown host"),
        ("no pg_hba.conf entry", "rejected by the server's pg_hba.conf"),
        ("unable to open database", "cannot open the database file"),
    )
    for needle, reason in reasons:
        if needle in text:
            return reason
    return type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__


class _file_errors:
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
