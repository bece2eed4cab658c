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
(`default_transaction_read_only=on`). See `sql._read_only_query`.

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

Modules: `items` (the Source/SourceItem model, chunked reading, fingerprints), `files` (files and
directories), `sql` (SQLAlchemy/PostgreSQL/SQLite, read-only, the query guard). This package's
own code tells the kinds of SOURCE apart and refuses two items landing on one path.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from piizone.zones.provision.sources.files import resolve_path
from piizone.zones.provision.sources.items import Source, SourceError, SourceItem
from piizone.zones.provision.sources.sql import resolve_sql

__all__ = ["Source", "SourceError", "SourceItem", "refresh_spec", "resolve_sources"]

URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def resolve_sources(specs: list[str]) -> list[Source]:
    """Resolve SOURCE strings; refuses (SourceError) anything that cannot be read as a whole."""
    if not specs:
        raise SourceError("no source given", hint="pass --from FILE, DIR or a database URL")
    sources = [_resolve_one(spec) for spec in specs]
    _refuse_collisions(sources)
    return sources


def _resolve_one(spec: str) -> Source:
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError("empty source")
    if URL_SCHEME.match(spec):
        return resolve_sql(spec)
    return resolve_path(spec)


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


def refresh_spec(spec: str) -> str:
    """What refresh re-reads: an absolute path, or the URL without its password.

    A password is never stored; refresh takes it from PGPASSWORD / ~/.pgpass as libpq does, or
    from `zone refresh --from URL`.
    """
    if "://" not in spec:
        return str(Path(spec).resolve())
    url = make_url(spec)
    if not url.password:
        return spec
    # Not url.set(password=None): to URL.set, None means "leave unchanged".
    bare = URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return bare.render_as_string(hide_password=False)
