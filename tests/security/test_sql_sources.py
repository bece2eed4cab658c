"""SQL sources run exactly one read-only query: no statement can be smuggled past the check.

Issue 13, finding 4: `?query=` was wrapped as `SELECT * FROM (<query>) AS piizone_q LIMIT 0`, so a
query closing the parenthesis could append `COMMIT; DROP TABLE ...` and drop a table despite the
read-only transaction. Queries are now parsed (sqlglot) as one SELECT, and PostgreSQL sessions
start with default_transaction_read_only=on.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from piizone.zones.provision.sources import SourceError, resolve_sources
from tests.zones.conftest import pg_url, sqlite_url  # noqa: F401 - fixtures

INJECTION = "SELECT 1 ) AS q; COMMIT; DROP TABLE {victim}; SELECT * FROM ( SELECT 1"


def with_query(base: str, query: str) -> str:
    return f"{base}?query={quote(query)}"


@pytest.fixture
def victim(pg_url):  # noqa: F811 - the imported fixture
    """A throwaway table an injected statement would drop."""
    engine = sa.create_engine(sa.make_url(pg_url).set(drivername="postgresql+psycopg"))
    name = f"victim_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {name} (id int)")
        conn.exec_driver_sql(f"INSERT INTO {name} VALUES (1), (2)")
    try:
        yield name, engine
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        engine.dispose()


def victim_rows(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one()


@pytest.mark.postgres
def test_pg_injection_closing_the_wrapper_is_refused_and_the_table_survives(pg_url, victim):  # noqa: F811
    name, engine = victim
    with pytest.raises(SourceError) as err:
        [src] = resolve_sources([with_query(pg_url, INJECTION.format(victim=name))])
        for item in src.items():
            list(item.table_chunks())
    assert victim_rows(engine, name) == 2  # on the old wrapper: UndefinedTable, it was dropped
    assert "not valid SQL" in str(err.value)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1; DROP TABLE {victim}",
        "SELECT 1; COMMIT; DELETE FROM {victim}",
        "DELETE FROM {victim}",
        "DROP TABLE {victim}",
        "WITH d AS (DELETE FROM {victim} RETURNING *) SELECT * FROM d",
        "SELECT * INTO copy_{victim} FROM {victim}",
        "SELECT * FROM {victim} FOR UPDATE",
        "COMMIT",
        "SET default_transaction_read_only = off",
        "SELECT $$x$$; DROP TABLE {victim}",
    ],
)
def test_pg_anything_but_one_select_is_refused(pg_url, victim, query):  # noqa: F811
    name, engine = victim
    with pytest.raises(SourceError, match="one SELECT|not valid SQL"):
        resolve_sources([with_query(pg_url, query.format(victim=name))])
    assert victim_rows(engine, name) == 2


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    [
        "SELECT id FROM {victim} ORDER BY id",
        "WITH v AS (SELECT id FROM {victim}) SELECT id FROM v ORDER BY id",
        "SELECT id FROM {victim} WHERE id = 1 UNION ALL SELECT id FROM {victim} WHERE id = 2",
        "SELECT $$a;b$$ AS s, id FROM {victim} ORDER BY id",
    ],
)
def test_pg_reading_queries_still_work(pg_url, victim, query):  # noqa: F811
    name, _ = victim
    [src] = resolve_sources([with_query(pg_url, query.format(victim=name))])
    [item] = src.items()
    assert sum(len(c) for c in item.table_chunks()) == 2


@pytest.mark.postgres
def test_pg_session_is_read_only_even_after_a_commit(pg_url, victim):  # noqa: F811
    """default_transaction_read_only is a connection option: every transaction is read-only."""
    name, _ = victim
    [src] = resolve_sources([f"{pg_url}?table={name}"])
    [item] = src.items()
    with item._sql.engine.connect() as conn:
        conn.exec_driver_sql("COMMIT")
        assert conn.exec_driver_sql("SHOW default_transaction_read_only").scalar_one() == "on"
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            conn.exec_driver_sql(f"DELETE FROM {name}")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1; DELETE FROM customers",
        "SELECT 1 ) AS q; DELETE FROM customers; SELECT * FROM ( SELECT 1",
        "SELECT * INTO c2 FROM customers",
        "ATTACH DATABASE 'x.db' AS x",
        "PRAGMA writable_schema = 1",
    ],
)
def test_sqlite_anything_but_one_select_is_refused(sqlite_url, query):  # noqa: F811
    with pytest.raises(SourceError, match="one SELECT|not valid SQL"):
        resolve_sources([with_query(sqlite_url, query)])


def test_parse_error_does_not_echo_the_query(sqlite_url):  # noqa: F811
    with pytest.raises(SourceError) as err:
        resolve_sources([with_query(sqlite_url, "SELECT FROM WHERE 'jane.doe@example.com'")])
    assert "jane.doe" not in f"{err.value} {err.value.hint}"


def test_recorded_query_keeps_no_literal(sqlite_url):  # noqa: F811
    query = "SELECT email FROM customers WHERE email = 'jane.doe@example.com' AND customer_id > 3"
    [src] = resolve_sources([with_query(sqlite_url, query)])
    [item] = src.items()
    for shown in (src.uri, item.source_uri, repr(item)):
        assert "jane.doe" not in shown and "example.com" not in shown
        assert "sha256" in shown
    assert sum(len(c) for c in item.table_chunks()) == 0


def test_colon_in_a_literal_is_not_a_bind_parameter(sqlite_url):  # noqa: F811
    [src] = resolve_sources([with_query(sqlite_url, "SELECT '12:30' AS t, 'a::b' AS u")])
    [item] = src.items()
    [frame] = list(item.table_chunks())
    assert frame.to_dict("records") == [{"t": "12:30", "u": "a::b"}]
