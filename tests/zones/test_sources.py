"""zones.provision.sources: files, directories, SQLite and a real PostgreSQL as zone sources."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
import sqlalchemy as sa

from piizone.zones.exceptions import ZoneError
from piizone.zones.provision.sources import Source, SourceError, SourceItem, resolve_sources
from tests.conftest import SAMPLE_DATA
from tests.zones.conftest import build_customers_db, customers_frame

CUSTOMERS_CSV = SAMPLE_DATA / "customers.csv"
PG_PASSWORD = "piizone-test"


def only_item(source: Source) -> SourceItem:
    items = source.items()
    assert len(items) == 1
    return items[0]


def write_csv(path: Path, rows: int, start: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["id,name"] + [f"{i},name-{i}" for i in range(start, start + rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def all_messages(err: pytest.ExceptionInfo[SourceError]) -> str:
    """Everything a user or a log could see of the error."""
    e = err.value
    return f"{e} {e.hint or ''} {e!r}"


# ----------------------------------------------------------------------------------------------
# Files


def test_source_error_is_a_zone_error():
    assert issubclass(SourceError, ZoneError)


def test_single_table_file(tmp_path):
    [src] = resolve_sources([str(CUSTOMERS_CSV)])
    assert src.kind == "files"
    assert src.uri == str(CUSTOMERS_CSV)
    assert src.skipped == []
    item = only_item(src)
    assert (item.relpath, item.kind, item.fmt) == ("customers.csv", "table", "csv")
    assert item.path == CUSTOMERS_CSV.resolve()
    assert item.size == CUSTOMERS_CSV.stat().st_size
    assert item.rows is None
    frames = list(item.table_chunks(chunk_rows=128))
    assert [len(f) for f in frames] == [128, 128, 128, 116]
    assert item.rows == 500 == src.rows
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), customers_frame())


def test_single_text_file_and_relative_path(tmp_path, monkeypatch):
    (tmp_path / "call.txt").write_text("Hi, this is Ann calling about my card.\n")
    monkeypatch.chdir(tmp_path)
    [src] = resolve_sources(["call.txt"])
    assert src.uri == str(tmp_path / "call.txt")  # manifests get an absolute path
    item = only_item(src)
    assert (item.relpath, item.kind, item.fmt) == ("call.txt", "text", "txt")
    assert "".join(c.text for c in item.text_chunks()) == (tmp_path / "call.txt").read_text()
    assert item.count_rows() is None
    with pytest.raises(SourceError, match="not a table"):
        next(item.table_chunks())


def test_directory_walk_nested(tmp_path):
    root = tmp_path / "export"
    write_csv(root / "a.csv", 3)
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "b.jsonl").write_text('{"x": 1}\n{"x": 2}\n')
    (root / "sub" / "deeper" / "c.md").write_text("# notes\n")
    pd.DataFrame({"v": [1, 2, 3, 4]}).to_parquet(root / "sub" / "d.parquet")
    (root / "e.tsv").write_text("k\tv\n1\t2\n")
    [src] = resolve_sources([str(root)])
    assert src.kind == "files"
    assert [(i.relpath, i.kind, i.fmt) for i in src.items()] == [
        ("export/a.csv", "table", "csv"),
        ("export/e.tsv", "table", "tsv"),
        ("export/sub/b.jsonl", "table", "jsonl"),
        ("export/sub/d.parquet", "table", "parquet"),
        ("export/sub/deeper/c.md", "text", "txt"),
    ]
    assert src.skipped == []
    rows = {
        i.relpath: sum(len(c) for c in i.table_chunks()) for i in src.items() if i.kind == "table"
    }
    assert rows == {
        "export/a.csv": 3,
        "export/e.tsv": 1,
        "export/sub/b.jsonl": 2,
        "export/sub/d.parquet": 4,
    }
    assert src.rows == 10


def test_directory_with_trailing_slash_and_dot(tmp_path, monkeypatch):
    write_csv(tmp_path / "dump" / "a.csv", 1)
    [src] = resolve_sources([str(tmp_path / "dump") + "/"])
    assert [i.relpath for i in src.items()] == ["dump/a.csv"]
    monkeypatch.chdir(tmp_path / "dump")
    [src] = resolve_sources(["."])
    assert [i.relpath for i in src.items()] == ["dump/a.csv"]


def test_directory_skips_unsupported_and_hidden(tmp_path):
    root = tmp_path / "d"
    write_csv(root / "ok.csv", 1)
    (root / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (root / "README").write_text("no extension\n")
    write_csv(root / ".secret.csv", 1)
    (root / ".git").mkdir()
    write_csv(root / ".git" / "inside.csv", 1)
    os.mkfifo(root / "pipe.csv")
    [src] = resolve_sources([str(root)])
    assert [i.relpath for i in src.items()] == ["d/ok.csv"]
    assert dict(src.skipped) == {
        "d/.git": "hidden directory",
        "d/.secret.csv": "hidden file",
        "d/README": "unsupported file type (no extension)",
        "d/pipe.csv": "not a regular file",
        "d/sheet.xlsx": "unsupported file type .xlsx",
    }


def test_empty_directory_gives_no_items(tmp_path):
    (tmp_path / "empty").mkdir()
    [src] = resolve_sources([str(tmp_path / "empty")])
    assert src.items() == [] and src.skipped == []


def test_symlink_leaving_the_root_is_refused(tmp_path):
    outside = write_csv(tmp_path / "elsewhere" / "payroll.csv", 2)
    root = tmp_path / "src"
    write_csv(root / "ok.csv", 1)
    (root / "innocent.csv").symlink_to(outside)
    with pytest.raises(SourceError, match="innocent.csv points outside the source directory"):
        resolve_sources([str(root)])


def test_symlinked_directory_leaving_the_root_is_refused(tmp_path):
    write_csv(tmp_path / "etc" / "x.csv", 1)
    root = tmp_path / "src"
    root.mkdir()
    (root / "more").symlink_to(tmp_path / "etc", target_is_directory=True)
    with pytest.raises(SourceError, match="more points outside"):
        resolve_sources([str(root)])


def test_relative_symlink_escaping_via_dotdot_is_refused(tmp_path):
    write_csv(tmp_path / "secret.csv", 1)
    root = tmp_path / "src"
    root.mkdir()
    (root / "x.csv").symlink_to("../secret.csv")
    with pytest.raises(SourceError, match="outside"):
        resolve_sources([str(root)])


def test_symlink_inside_the_root_is_allowed(tmp_path):
    root = tmp_path / "src"
    real = write_csv(root / "2024" / "customers.csv", 4)
    (root / "latest.csv").symlink_to("2024/customers.csv")
    (root / "current").symlink_to("2024", target_is_directory=True)
    [src] = resolve_sources([str(root)])
    items = {i.relpath: i for i in src.items()}
    assert set(items) == {"src/2024/customers.csv", "src/latest.csv"}
    assert items["src/latest.csv"].path == real.resolve()
    assert sum(len(c) for c in items["src/latest.csv"].table_chunks()) == 4
    assert dict(src.skipped) == {"src/current": "symlink to a directory inside the source"}


def test_broken_symlink_inside_root_is_skipped(tmp_path):
    root = tmp_path / "src"
    write_csv(root / "ok.csv", 1)
    (root / "gone.csv").symlink_to("missing.csv")
    [src] = resolve_sources([str(root)])
    assert [i.relpath for i in src.items()] == ["src/ok.csv"]
    assert dict(src.skipped) == {"src/gone.csv": "broken symlink"}


def test_single_file_symlink_is_followed(tmp_path):
    real = write_csv(tmp_path / "store" / "v2.csv", 2)
    (tmp_path / "latest.csv").symlink_to(real)
    item = only_item(resolve_sources([str(tmp_path / "latest.csv")])[0])
    assert item.relpath == "latest.csv"  # named as the user named it
    assert item.path == real.resolve()


def test_relpath_collision_between_sources_is_refused(tmp_path):
    a = write_csv(tmp_path / "a" / "customers.csv", 1)
    b = write_csv(tmp_path / "b" / "customers.csv", 1)
    with pytest.raises(SourceError, match="two sources write data/customers.csv"):
        resolve_sources([str(a), str(b)])
    with pytest.raises(SourceError, match="two sources"):
        resolve_sources([str(tmp_path / "a"), str(tmp_path / "a")])


def test_file_and_directory_prefix_collision_is_refused(tmp_path):
    write_csv(tmp_path / "x" / "dump.csv" / "inner.csv", 1)  # a directory named dump.csv
    single = write_csv(tmp_path / "y" / "dump.csv", 1)
    with pytest.raises(SourceError, match="both a file"):
        resolve_sources([str(single), str(tmp_path / "x" / "dump.csv")])


# Found by the soak fuzzer: pathlib's expanduser raises RuntimeError for an unknown user.
@pytest.mark.parametrize(
    "spec",
    [
        "~no-such-user-7f3a",
        "~no-such-user-7f3a/data.csv",
        "sqlite:///~no-such-user-7f3a/x.db?table=t",
    ],
)
def test_an_unknown_users_home_is_a_source_error(spec):
    with pytest.raises(SourceError, match="no such user's home directory"):
        resolve_sources([spec])


@pytest.mark.parametrize("name", ["missing.csv", "missing-dir"])
def test_missing_path(tmp_path, name):
    with pytest.raises(SourceError, match="no such file or directory"):
        resolve_sources([str(tmp_path / name)])


def test_unsupported_single_file(tmp_path):
    (tmp_path / "book.xlsx").write_bytes(b"PK")
    with pytest.raises(SourceError, match="unsupported file type '.xlsx'") as err:
        resolve_sources([str(tmp_path / "book.xlsx")])
    assert "csv" in (err.value.hint or "")


def test_unreadable_file_is_refused(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "locked.csv", 1)
    # Tests run as root, where chmod 000 still reads; simulate what access(2) says to a user.
    real_access = os.access
    monkeypatch.setattr(
        "piizone.zones.provision.sources.files.os.access",
        lambda p, mode: Path(p) != path and real_access(p, mode),
    )
    with pytest.raises(SourceError, match="permission denied"):
        resolve_sources([str(path)])
    with pytest.raises(SourceError, match="permission denied"):
        resolve_sources([str(tmp_path)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_subdirectory_is_refused(tmp_path):
    locked = tmp_path / "d" / "locked"
    write_csv(locked / "a.csv", 1)
    locked.chmod(0)
    try:
        with pytest.raises(SourceError, match="cannot read"):
            resolve_sources([str(tmp_path / "d")])
    finally:
        locked.chmod(0o700)


def test_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "p.csv")
    with pytest.raises(SourceError, match="not a regular file"):
        resolve_sources([str(tmp_path / "p.csv")])


@pytest.mark.parametrize("specs", [[], [""], ["   "]])
def test_no_or_empty_source(specs):
    with pytest.raises(SourceError):
        resolve_sources(specs)


# ----------------------------------------------------------------------------------------------
# Fingerprints and files changing under us


def test_file_fingerprint_is_sha256_of_bytes_and_stable(tmp_path):
    path = write_csv(tmp_path / "a.csv", 50)
    first = only_item(resolve_sources([str(path)])[0]).fingerprint()
    again = only_item(resolve_sources([str(path)])[0]).fingerprint()
    assert first == again == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_fingerprint_of_large_file_streams_blocks(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"line of text\n" * 300_000)  # ~3.9 MB: several 1 MiB blocks
    item = only_item(resolve_sources([str(path)])[0])
    assert item.fingerprint() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_fingerprint_changes_with_content(tmp_path):
    path = write_csv(tmp_path / "a.csv", 5)
    before = only_item(resolve_sources([str(path)])[0]).fingerprint()
    path.write_text(path.read_text().replace("name-3", "name-X"))
    after = only_item(resolve_sources([str(path)])[0]).fingerprint()
    assert before != after


def test_directory_fingerprint(tmp_path):
    root = tmp_path / "d"
    write_csv(root / "a.csv", 2)
    write_csv(root / "s" / "b.csv", 2)
    fp1 = resolve_sources([str(root)])[0].fingerprint()
    assert fp1 == resolve_sources([str(root)])[0].fingerprint()
    write_csv(root / "s" / "b.csv", 2, start=1)
    fp2 = resolve_sources([str(root)])[0].fingerprint()
    assert fp2 != fp1
    (root / "s" / "b.csv").rename(root / "s" / "c.csv")  # same bytes, another name
    assert resolve_sources([str(root)])[0].fingerprint() not in (fp1, fp2)


def test_single_file_source_fingerprint_is_the_files(tmp_path):
    path = write_csv(tmp_path / "a.csv", 2)
    [src] = resolve_sources([str(path)])
    assert src.fingerprint() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_vanished_before_reading(tmp_path):
    path = write_csv(tmp_path / "a.csv", 5)
    item = only_item(resolve_sources([str(path)])[0])
    path.unlink()
    with pytest.raises(SourceError, match="vanished"):
        list(item.table_chunks())
    with pytest.raises(SourceError, match="vanished"):
        item.fingerprint()
    with pytest.raises(SourceError, match="vanished"):
        item.count_rows()


def test_text_file_vanished_before_reading(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello\n")
    item = only_item(resolve_sources([str(path)])[0])
    path.unlink()
    with pytest.raises(SourceError, match="vanished"):
        list(item.text_chunks())


def test_file_vanished_mid_read(tmp_path):
    path = write_csv(tmp_path / "a.csv", 5000)
    item = only_item(resolve_sources([str(path)])[0])
    chunks = item.table_chunks(chunk_rows=100)
    assert len(next(chunks)) == 100
    path.unlink()
    with pytest.raises(SourceError, match="vanished while being read"):
        list(chunks)


def test_file_rewritten_mid_read(tmp_path):
    path = write_csv(tmp_path / "a.csv", 5000)
    item = only_item(resolve_sources([str(path)])[0])
    chunks = item.table_chunks(chunk_rows=100)
    next(chunks)
    with path.open("a") as f:
        f.write("9999,appended\n")
    with pytest.raises(SourceError, match="changed while being read"):
        list(chunks)


def test_file_replaced_by_symlink_after_resolving_is_refused(tmp_path):
    secret = write_csv(tmp_path / "outside" / "secret.csv", 1)
    root = tmp_path / "src"
    path = write_csv(root / "a.csv", 1)
    [item] = resolve_sources([str(root)])[0].items()
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(SourceError, match="changed since the source was resolved"):
        list(item.table_chunks())


def test_malformed_file_is_a_source_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    item = only_item(resolve_sources([str(path)])[0])
    with pytest.raises(SourceError, match="invalid JSON"):
        list(item.table_chunks())


# ----------------------------------------------------------------------------------------------
# SQLite


def sql_url(base: str, **params: str) -> str:
    return base + "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())


def test_sqlite_table_reads_all_rows_in_order(sqlite_url):
    [src] = resolve_sources([sql_url(sqlite_url, table="customers")])
    assert src.kind == "sql"
    assert src.uri == f"{sqlite_url}?table=customers"
    item = only_item(src)
    assert (item.relpath, item.kind, item.fmt, item.path, item.size) == (
        "customers.parquet",
        "table",
        "sql",
        None,
        None,
    )
    chunks = list(item.table_chunks(chunk_rows=64))
    assert [len(c) for c in chunks] == [64] * 7 + [52]
    got = pd.concat(chunks, ignore_index=True)
    want = customers_frame()
    assert list(got.columns) == list(want.columns)
    assert got["customer_id"].tolist() == [int(v) for v in want["customer_id"]]
    assert got["email"].tolist() == want["email"].tolist()
    assert item.rows == 500 == item.count_rows() == src.rows


def test_sqlite_chunksize_from_url(sqlite_url):
    item = only_item(resolve_sources([sql_url(sqlite_url, table="customers", chunksize="200")])[0])
    assert item.chunk_rows == 200
    assert [len(c) for c in item.table_chunks()] == [200, 200, 100]


@pytest.mark.parametrize("chunksize", ["0", "-5", "abc", "99999999999"])
def test_sqlite_bad_chunksize(sqlite_url, chunksize):
    with pytest.raises(SourceError, match="chunksize"):
        resolve_sources([sql_url(sqlite_url, table="customers", chunksize=chunksize)])


def test_sqlite_query(sqlite_url):
    query = "SELECT customer_id, plan FROM customers WHERE plan = 'plus' ORDER BY customer_id DESC"
    [src] = resolve_sources([sql_url(sqlite_url, query=query)])
    item = only_item(src)
    assert item.relpath == f"query_{hashlib.sha256(query.encode()).hexdigest()[:8]}.parquet"
    got = pd.concat(item.table_chunks(chunk_rows=10), ignore_index=True)
    want = customers_frame()
    want_ids = sorted((int(i) for i in want[want.plan == "plus"].customer_id), reverse=True)
    assert got["customer_id"].tolist() == want_ids
    assert set(got["plan"]) == {"plus"}
    assert item.count_rows() == len(want_ids)


def test_sqlite_query_trailing_semicolon_is_the_same_query(sqlite_url):
    a = only_item(resolve_sources([sql_url(sqlite_url, query="SELECT 1 AS one")])[0])
    b = only_item(resolve_sources([sql_url(sqlite_url, query=" SELECT 1 AS one ; ")])[0])
    assert a.relpath == b.relpath


def test_sqlite_empty_result_yields_one_empty_frame(sqlite_url):
    item = only_item(
        resolve_sources([sql_url(sqlite_url, query="SELECT email FROM customers WHERE 0")])[0]
    )
    chunks = list(item.table_chunks())
    assert len(chunks) == 1 and chunks[0].empty and list(chunks[0].columns) == ["email"]
    assert item.rows == 0


def test_sqlite_unknown_table(sqlite_url):
    with pytest.raises(SourceError, match="no such table"):
        resolve_sources([sql_url(sqlite_url, table="customer")])


@pytest.mark.parametrize(
    "name",
    [
        "customers; DROP TABLE customers",
        "customers--",
        "customers where 1=1",
        '"customers"',
        "1customers",
        "a.b.c",
        "main..customers",
        "customers.",
        "",
    ],
)
def test_sqlite_malicious_table_name_is_refused(sqlite_url, name):
    with pytest.raises(SourceError):
        resolve_sources([sql_url(sqlite_url, table=name)])
    item = only_item(resolve_sources([sql_url(sqlite_url, table="customers")])[0])
    assert item.count_rows() == 500


def test_sqlite_schema_qualified_table(sqlite_url):
    item = only_item(resolve_sources([sql_url(sqlite_url, table="main.customers")])[0])
    assert item.relpath == "main.customers.parquet"
    assert item.count_rows() == 500


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM customers",
        "UPDATE customers SET email = NULL",
        "DROP TABLE customers",
        "SELECT 1; DELETE FROM customers",
    ],
)
def test_sqlite_writing_query_is_refused(sqlite_url, query):
    with pytest.raises(SourceError):
        [src] = resolve_sources([sql_url(sqlite_url, query=query)])
        list(only_item(src).table_chunks())
    item = only_item(resolve_sources([sql_url(sqlite_url, table="customers")])[0])
    assert item.count_rows() == 500


def test_sqlite_sql_error_does_not_echo_values(sqlite_url):
    with pytest.raises(SourceError, match="no such column") as err:
        resolve_sources([sql_url(sqlite_url, query="SELECT nonexistent FROM customers")])
    assert "OperationalError" in str(err.value)


def test_sqlite_missing_database_is_not_created(tmp_path):
    db = tmp_path / "typo.db"
    with pytest.raises(SourceError, match="no such SQLite database file"):
        resolve_sources([f"sqlite:///{db}?table=customers"])
    assert not db.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///{db}", "exactly one of"),
        ("sqlite:///{db}?table=customers&query=SELECT%201", "exactly one of"),
        ("sqlite:///{db}?table=customers&table=orders", "more than one"),
        ("sqlite://?table=customers", "path of an SQLite database"),
        ("sqlite:///{db}?table=customers&timeout=5", "unsupported SQLite URL parameter"),
        ("sqlite+aiosqlite:///{db}?table=customers", "driver 'aiosqlite' is not supported"),
        ("postgresql+psycopg2://u:pw@localhost/db?table=t", "driver 'psycopg2'"),
        ("mysql://u:pw@localhost/db?table=t", "unsupported source scheme 'mysql'"),
        ("http://example.com/data.csv", "unsupported source scheme 'http'"),
        ("postgresql://u:pw@[::1/db?table=t", "not a valid database URL"),
        ("sqlite:///{db}?query=%20%20", "empty"),
    ],
)
def test_bad_database_urls(sqlite_url, url, message):
    db = sqlite_url.removeprefix("sqlite:///")
    with pytest.raises(SourceError, match=message) as err:
        resolve_sources([url.format(db=db)])
    assert ":pw@" not in all_messages(err)


def test_sqlite_fingerprint_stable_and_matches_the_read(sqlite_url):
    url = sql_url(sqlite_url, table="customers")
    item = only_item(resolve_sources([url])[0])
    fp = item.fingerprint()
    assert len(fp) == 64 and fp == only_item(resolve_sources([url])[0]).fingerprint()
    list(item.table_chunks(chunk_rows=33))  # chunking does not change what is hashed
    assert item.last_fingerprint == fp
    assert resolve_sources([url])[0].fingerprint() == fp


def test_sqlite_fingerprint_changes_when_a_row_changes(tmp_path):
    db = build_customers_db(tmp_path / "p.db")
    url = f"sqlite:///{db}?table=customers"
    before = only_item(resolve_sources([url])[0]).fingerprint()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE customers SET plan = 'gold' WHERE customer_id = 250")
    con.close()
    assert only_item(resolve_sources([url])[0]).fingerprint() != before


def test_sqlite_table_without_primary_key_is_read_in_a_stable_order(tmp_path):
    rows = [(i % 3, f"v{i}") for i in range(20)]
    fingerprints = []
    for name, order in (("a.db", rows), ("b.db", list(reversed(rows)))):
        with sqlite3.connect(tmp_path / name) as con:
            con.execute("CREATE TABLE t (k, v)")  # untyped columns, no primary key
            con.executemany("INSERT INTO t VALUES (?, ?)", order)
        con.close()
        item = only_item(resolve_sources([f"sqlite:///{tmp_path / name}?table=t"])[0])
        got = pd.concat(item.table_chunks(chunk_rows=7), ignore_index=True)
        assert list(got.itertuples(index=False, name=None)) == sorted(rows)
        fingerprints.append(item.last_fingerprint)
    assert fingerprints[0] == fingerprints[1]


def test_sql_relpath_collision_is_refused(sqlite_url):
    url = sql_url(sqlite_url, table="customers")
    with pytest.raises(SourceError, match="two sources write data/customers.parquet"):
        resolve_sources([url, url])


def test_sqlite_database_removed_after_resolving(tmp_path):
    db = build_customers_db(tmp_path / "p.db")
    item = only_item(resolve_sources([f"sqlite:///{db}?table=customers"])[0])
    db.unlink()
    with pytest.raises(SourceError):
        list(item.table_chunks())
    assert not db.exists()


# ----------------------------------------------------------------------------------------------
# PostgreSQL (a real server: scripts/ci-postgres.sh)


def pg_with(pg_url: str, **params: str) -> str:
    return sql_url(pg_url, **params)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres
def test_pg_table_rows_match_the_sample(pg_url):
    [src] = resolve_sources([pg_with(pg_url, table="customers")])
    item = only_item(src)
    assert (item.relpath, item.kind, item.fmt) == ("customers.parquet", "table", "sql")
    chunks = list(item.table_chunks(chunk_rows=150))
    assert [len(c) for c in chunks] == [150, 150, 150, 50]
    got = pd.concat(chunks, ignore_index=True)
    want = customers_frame()
    assert list(got.columns) == list(want.columns)
    assert got["customer_id"].tolist() == [int(v) for v in want["customer_id"]]
    for column in ("full_name", "email", "ssn", "street_address", "notes"):
        assert got[column].fillna("").tolist() == want[column].tolist(), column
    assert [f"{v:.2f}" for v in got["monthly_spend"]] == want["monthly_spend"].tolist()
    assert [str(d) for d in got["date_of_birth"]] == want["date_of_birth"].tolist()
    assert item.rows == 500 == item.count_rows()


@pytest.mark.postgres
def test_pg_postgres_scheme_alias_and_masked_uri(pg_url):
    url = pg_with(pg_url, table="customers").replace("postgresql://", "postgres://", 1)
    [src] = resolve_sources([url])
    u = sa.make_url(pg_url)
    assert (
        src.uri == f"postgresql://{u.username}:***@{u.host}:{u.port}/{u.database}?table=customers"
    )
    for text in (src.uri, repr(src), str(src.items()), repr(src.items()[0]._sql)):
        assert PG_PASSWORD not in text
    assert only_item(src).count_rows() == 500


@pytest.mark.postgres
def test_pg_query(pg_url):
    query = (
        "SELECT customer_id, email FROM customers WHERE tenure_months > 60 "
        "ORDER BY customer_id DESC"
    )
    item = only_item(resolve_sources([pg_with(pg_url, query=query)])[0])
    assert item.relpath.startswith("query_") and item.relpath.endswith(".parquet")
    got = pd.concat(item.table_chunks(chunk_rows=25), ignore_index=True)
    want = customers_frame()
    want = want[want.tenure_months.astype(int) > 60]
    assert got["customer_id"].tolist() == sorted(map(int, want.customer_id), reverse=True)
    assert item.count_rows() == len(want) == item.rows


@pytest.mark.postgres
def test_pg_fingerprint_stable_and_matches_the_read(pg_url):
    url = pg_with(pg_url, table="customers")
    item = only_item(resolve_sources([url])[0])
    fp = item.fingerprint()
    assert fp == only_item(resolve_sources([url])[0]).fingerprint()
    list(item.table_chunks(chunk_rows=77))
    assert item.last_fingerprint == fp


@pytest.mark.postgres
def test_pg_bad_password_is_a_source_error_without_the_password(pg_url):
    wrong = "Wr0ng-Secret-xyz"
    url = pg_with(pg_url.replace(f":{PG_PASSWORD}@", f":{wrong}@"), table="customers")
    with pytest.raises(SourceError, match="authentication failed") as err:
        resolve_sources([url])
    text = all_messages(err)
    assert wrong not in text and "***" in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


@pytest.mark.postgres
def test_pg_password_in_query_parameter_is_masked(pg_url):
    base = pg_url.replace(f":{PG_PASSWORD}@", "@")
    [src] = resolve_sources([pg_with(base, table="customers", password=PG_PASSWORD)])
    assert PG_PASSWORD not in src.uri
    assert only_item(src).count_rows() == 500


@pytest.mark.postgres
def test_pg_server_down_is_a_source_error(pg_url):
    down = sa.make_url(pg_url).set(port=free_port()).render_as_string(hide_password=False)
    url = pg_with(down, table="customers")
    with pytest.raises(SourceError, match="connection refused") as err:
        resolve_sources([url])
    assert PG_PASSWORD not in all_messages(err)


@pytest.mark.postgres
def test_pg_unknown_database_and_table(pg_url):
    with pytest.raises(SourceError, match="no such table"):
        resolve_sources([pg_with(pg_url, table="no_such_table")])
    other_db = sa.make_url(pg_url).set(database="no_such_db").render_as_string(hide_password=False)
    with pytest.raises(SourceError, match="does not exist") as err:
        resolve_sources([pg_with(other_db, table="customers")])
    assert PG_PASSWORD not in all_messages(err)


@pytest.mark.postgres
def test_pg_malicious_table_name_is_refused(pg_url):
    with pytest.raises(SourceError, match="invalid table name"):
        resolve_sources([pg_with(pg_url, table="customers;DROP TABLE customers")])
    assert only_item(resolve_sources([pg_with(pg_url, table="customers")])[0]).count_rows() == 500


@pytest.mark.postgres
def test_pg_sql_error_never_echoes_row_values(pg_url):
    # The cast fails on the first name; PostgreSQL's message would quote it.
    item = only_item(
        resolve_sources([pg_with(pg_url, query="SELECT full_name::int FROM customers")])[0]
    )
    with pytest.raises(SourceError, match="InvalidTextRepresentation") as err:
        list(item.table_chunks())
    text = all_messages(err)
    assert not any(name in text for name in customers_frame().full_name)
    assert PG_PASSWORD not in text


@pytest.mark.postgres
def test_pg_query_syntax_error(pg_url):
    with pytest.raises(SourceError, match="syntax error"):
        resolve_sources([pg_with(pg_url, query="SELECT FROM WHERE customers")])


@pytest.fixture
def pg_sequence(pg_url):
    """A throwaway sequence: nextval() is a write that a read-only transaction must refuse."""
    engine = sa.create_engine(sa.make_url(pg_url).set(drivername="postgresql+psycopg"))
    name = f"piizone_test_seq_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SEQUENCE {name}")
    try:
        yield name, engine
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SEQUENCE IF EXISTS {name}")
        engine.dispose()


@pytest.mark.postgres
def test_pg_query_runs_read_only(pg_url, pg_sequence):
    name, engine = pg_sequence
    item = only_item(resolve_sources([pg_with(pg_url, query=f"SELECT nextval('{name}')")])[0])
    with pytest.raises(SourceError, match="read-only"):
        list(item.table_chunks())
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT is_called FROM {name}").scalar_one() is False


@pytest.mark.postgres
def test_pg_data_modifying_query_is_refused(pg_url):
    for query in (
        "DELETE FROM customers",
        "WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d",
    ):
        with pytest.raises(SourceError):
            [src] = resolve_sources([pg_with(pg_url, query=query)])
            list(only_item(src).table_chunks())
    assert only_item(resolve_sources([pg_with(pg_url, table="customers")])[0]).count_rows() == 500


@pytest.mark.postgres
def test_pg_reads_through_a_server_side_cursor(pg_url, monkeypatch):
    """Rows are fetched chunk by chunk from a server cursor, not loaded whole into memory."""
    item = only_item(resolve_sources([pg_with(pg_url, table="customers")])[0])
    reader = item._sql
    opened = []
    original = type(reader)._connect

    def spy(self):
        conn = original(self)
        opened.append(conn)
        return conn

    monkeypatch.setattr(type(reader), "_connect", spy)
    chunks = item.table_chunks(chunk_rows=50)
    next(chunks)
    [conn] = opened
    assert conn.exec_driver_sql("SELECT count(*) FROM pg_cursors").scalar_one() == 1
    assert sum(len(c) for c in chunks) == 450
    assert conn.closed
