"""Database sources through SQLAlchemy (PostgreSQL via psycopg 3, SQLite): `?table=` or one
read-only `?query=`, read in a rolled-back read-only transaction; passwords and row values never
reach a message."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
import sqlglot
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlglot import exp

from piizone.scrubbers.formats import CHUNK_ROWS
from piizone.zones.provision.sources.files import expand_user
from piizone.zones.provision.sources.items import (
    MAX_CHUNK_ROWS,
    RowHasher,
    Source,
    SourceError,
    SourceItem,
)

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
# Query parameters of ours, removed before the URL reaches the database driver.
OWN_PARAMS = ("table", "query", "chunksize")
# Query parameters libpq/psycopg accept that carry secrets; masked like the URL password.
SECRET_PARAMS = frozenset({"password", "sslpassword"})
MASK = "***"


def resolve_sql(spec: str) -> Source:
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
    own: dict[str, str | None] = {}
    for name in OWN_PARAMS:
        value = params.pop(name, None)
        if isinstance(value, tuple):
            raise SourceError(f"database URL has more than one ?{name}=")
        own[name] = value
    table, query, chunksize = (own[k] for k in OWN_PARAMS)
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
        reader = SqlReader(engine, display, dialect, table=(schema, name))
        relpath = f"{table}.parquet"
    else:
        assert query is not None  # exactly one of table and query, checked above
        sql = query.strip().rstrip(";").strip()
        if not sql:
            raise SourceError(f"{display}: empty ?query=")
        runnable = _read_only_query(sql, dialect, display)
        reader = SqlReader(engine, display, dialect, query=runnable)
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
    path = expand_user(database).absolute()
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


class SqlReader:
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
        return f"SqlReader({self.display})"

    # -- statements ----------------------------------------------------------------------------
    def _select(self, conn: Connection) -> sa.TextClause | sa.Select[Any]:
        """The query's text (a TextClause) for a ?query=, else a SELECT of the ?table=."""
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
            if isinstance(stmt, sa.TextClause):  # a ?query=
                # Safe to wrap: the query was parsed as exactly one statement and regenerated.
                conn.execute(sa.text(f"SELECT * FROM ({stmt.text}) AS piizone_q LIMIT 0"))
            else:
                conn.execute(stmt.limit(0))

        self._run(probe)

    def count(self) -> int:
        def count(conn: Connection) -> int:
            stmt = self._select(conn)
            sub = (
                stmt.columns().subquery("piizone_q")
                if isinstance(stmt, sa.TextClause)  # a ?query=
                else stmt.subquery("piizone_q")
            )
            return int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())

        return self._run(count)

    def probe_values(self) -> list[Any]:
        """A cheap fingerprint computed on the server (sources.probe); no row leaves the database.

        PostgreSQL: row count and the sum of a 64-bit hash of every row's text form (catches
        updates too). SQLite (no hash function): row count and, for a `?table=`, the max of every
        column's text form.
        """

        def probe(conn: Connection) -> list[Any]:
            stmt = self._select(conn)
            selectable = stmt.columns() if isinstance(stmt, sa.TextClause) else stmt
            sub = selectable.subquery("piizone_q")
            aggregates: list[Any] = [sa.func.count()]
            if self.dialect == "postgresql":
                row: sa.ColumnClause[Any] = sa.literal_column("piizone_q::text")
                aggregates.append(sa.func.sum(sa.func.hashtextextended(row, 0)))
            elif self.query is None:
                aggregates += [sa.func.max(sa.cast(c, sa.Text)) for c in sub.c]
            return list(conn.execute(sa.select(*aggregates).select_from(sub)).one())

        return self._run(probe)

    def fingerprint(self, on_rows: Callable[[int], None] | None = None) -> str:
        h = RowHasher()
        done = 0
        for columns, rows in self.batches(CHUNK_ROWS):
            if not h.started:
                h.header(columns)
            h.rows(rows)
            done += len(rows)
            if on_rows is not None:
                on_rows(done)
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
