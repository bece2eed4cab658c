"""Property-based fuzzing of the input parsers: only domain errors, never anything else.

Whatever bytes a policy, a table file or a source URL holds, the parser either succeeds or
raises the project's own error (PolicyError, InputError, SourceError: all ScrubberError), which
the CLI turns into one `error:` line. Any other exception would be a traceback for the user.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piizone.scrubbers.exceptions import ScrubberError
from piizone.scrubbers.formats import detect_encoding, iter_table_chunks, iter_text_chunks
from piizone.scrubbers.policy import parse_policy
from piizone.zones.provision.sources import resolve_sources

FUZZ = settings(
    max_examples=int(os.environ.get("PIIZONE_FUZZ_EXAMPLES", "150")),  # make soak: more
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WORK = Path(tempfile.mkdtemp(prefix="piizone-fuzz-"))


def consume(fn, *args) -> None:
    """Run a parser to the end; only a ScrubberError may come out."""
    try:
        result = fn(*args)
        if hasattr(result, "__iter__") and not isinstance(result, str | bytes | dict):
            for _ in result:
                pass
    except ScrubberError:
        pass


def write(name: str, data: bytes) -> Path:
    path = WORK / name
    path.write_bytes(data)
    return path


# --- policies ----------------------------------------------------------------------------------

POLICY_KEYS = [
    "version",
    "engine",
    "entities",
    "default_operator",
    "columns",
    "allow_list",
    "deny_list",
    "custom_recognizers",
    "recognizers",
    "regex",
    "patterns",
    "score",
    "operator",
    "type",
    "threshold",
]
yaml_scalars = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["(a+)+", "[", "mask", "drop", "US_SSN", "PERSON", "*", "&a", "*a", "!!python"]
    ),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(POLICY_KEYS) | st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)


@FUZZ
@given(st.text(max_size=400))
def test_policy_text(text: str) -> None:
    consume(lambda t: parse_policy(t, source="fuzz.yaml"), text)


@FUZZ
@given(st.dictionaries(st.sampled_from(POLICY_KEYS), yaml_values, max_size=6))
def test_policy_structures(data: dict) -> None:
    consume(lambda t: parse_policy(t, source="fuzz.yaml"), json.dumps(data, default=str))


# --- table and text files ----------------------------------------------------------------------

csv_like = st.lists(
    st.lists(
        st.text(alphabet=st.sampled_from('ab,"\t\n\r\x00é1 '), max_size=6), min_size=1, max_size=4
    ),
    max_size=6,
).map(lambda rows: "\n".join(",".join(r) for r in rows))
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"])


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["csv", "tsv", "jsonl", "json", "parquet"]))
def test_table_bytes(data: bytes, fmt: str) -> None:
    path = write(f"fuzz.{fmt}", data)
    consume(iter_table_chunks, path, fmt, 3)


@FUZZ
@given(csv_like, encodings, st.sampled_from(["csv", "tsv"]))
def test_csv_text_in_any_encoding(text: str, encoding: str, fmt: str) -> None:
    path = write(f"fuzz.{fmt}", text.encode(encoding, errors="replace"))
    consume(iter_table_chunks, path, fmt, 2)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda c: st.one_of(
        st.lists(c, max_size=3), st.dictionaries(st.text(max_size=5), c, max_size=3)
    ),
    max_leaves=10,
)


@FUZZ
@given(st.lists(json_values, max_size=5), encodings)
def test_jsonl_and_json_values(values: list, encoding: str) -> None:
    lines = "\n".join(json.dumps(v) for v in values)
    consume(iter_table_chunks, write("fuzz.jsonl", lines.encode(encoding, "replace")), "jsonl", 2)
    doc = json.dumps(values).encode(encoding, "replace")
    consume(iter_table_chunks, write("fuzz.json", doc), "json", 2)


@FUZZ
@given(st.binary(max_size=400))
def test_text_bytes(data: bytes) -> None:
    path = write("fuzz.txt", data)
    consume(detect_encoding, path)
    consume(iter_text_chunks, path, 64, 8)


@FUZZ
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=2000))
def test_damaged_parquet(noise: bytes, at: int) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": ["x", "y"], "b": [1, 2]}), buf)
    data = bytearray(buf.getvalue())
    at %= len(data)
    data[at : at + len(noise)] = noise
    consume(iter_table_chunks, write("fuzz.parquet", bytes(data)), "parquet", 1)


# --- source URLs (never a network connection: PostgreSQL URLs fail before connecting) ---------


@pytest.fixture(scope="module")
def sqlite_db() -> Path:
    path = WORK / "fuzz.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER, name TEXT)")
    return path


url_params = st.dictionaries(
    st.sampled_from(["table", "query", "chunksize", "password", "mode", "x"]),
    st.text(max_size=30) | st.sampled_from(["t", "SELECT 1", "SELECT * FROM t; DROP TABLE t"]),
    max_size=3,
)


@FUZZ
@given(params=url_params)
def test_sqlite_urls(sqlite_db: Path, params: dict) -> None:
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    consume(resolve_sources, [f"sqlite:///{sqlite_db}?{query}"])
    with sqlite3.connect(sqlite_db) as conn:  # whatever the URL said, the table is intact
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


@FUZZ
@given(st.text(max_size=60))
def test_arbitrary_source_strings(spec: str) -> None:
    if spec.lower().startswith(("postgres", "postgresql")):
        spec = "x" + spec  # no live server here: keep the fuzzer off the network
    consume(resolve_sources, [spec])


@FUZZ
@given(url_params)
def test_postgres_urls_without_exactly_one_table_or_query(params: dict) -> None:
    params = dict(params)
    if ("table" in params) != ("query" in params):
        params.pop("table", None)
        params.pop("query", None)
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    consume(resolve_sources, [f"postgresql://u:pw@127.0.0.1:1/db?{query}"])
