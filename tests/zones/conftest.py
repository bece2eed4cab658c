"""Database fixtures for zone tests: a real PostgreSQL (`pg_url`), an SQLite file (`sqlite_url`).

PostgreSQL comes from PIIZONE_TEST_PG_URL (CI exports it after running scripts/ci-postgres.sh).
When it is unset and we are root with the server binaries installed, the fixture runs that script
itself. Without a server, tests needing it fail when CI is set (a silent skip would hide a broken
CI set-up) and skip with the reason otherwise.
"""

from __future__ import annotations

import glob
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, SAMPLE_DATA

PG_ENV = "PIIZONE_TEST_PG_URL"
CI_SCRIPT = REPO / "scripts" / "ci-postgres.sh"
CUSTOMERS_CSV = SAMPLE_DATA / "customers.csv"

CUSTOMERS_DDL = """
CREATE TABLE customers (
    customer_id    INTEGER PRIMARY KEY,
    full_name      TEXT,
    email          TEXT,
    phone          TEXT,
    ssn            TEXT,
    date_of_birth  TEXT,
    street_address TEXT,
    plan           TEXT,
    monthly_spend  REAL,
    tenure_months  INTEGER,
    churned        TEXT,
    notes          TEXT
)
"""


def _unreachable(url: str) -> str | None:
    """None if we can log in and query; else a short reason (the driver's, no password in it)."""
    import psycopg

    conninfo = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            conn.execute("SELECT 1 FROM customers LIMIT 1")
    except Exception as e:  # any failure means "not usable"; the kind of failure is the reason
        first = str(e).splitlines()[0] if str(e) else ""
        return f"{type(e).__name__}: {first}"
    return None


def _start_server() -> tuple[str | None, str | None]:
    """Run scripts/ci-postgres.sh; (url, None) or (None, reason)."""
    try:
        done = subprocess.run(
            ["bash", str(CI_SCRIPT)], capture_output=True, text=True, timeout=180, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"scripts/ci-postgres.sh could not run ({type(e).__name__})"
    match = re.search(rf"^export {PG_ENV}=(\S+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not match:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:])
        return None, f"scripts/ci-postgres.sh failed (exit {done.returncode}): {tail}"
    return match.group(1), None


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a live PostgreSQL with the fake `customers` table (sample_data/customers.csv)."""
    url = os.environ.get(PG_ENV)
    problem: str | None = None
    if not url:
        can_start = os.geteuid() == 0 and glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if can_start:
            url, problem = _start_server()
        else:
            problem = (
                f"{PG_ENV} is not set and no server can be started here "
                "(needs root and the Debian postgresql package)"
            )
    if url and problem is None:
        problem = _unreachable(url)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL required in CI: {problem}", pytrace=False)
        pytest.skip(
            f"PostgreSQL not available: {problem}; "
            f"run `sudo bash scripts/ci-postgres.sh` and export {PG_ENV}"
        )
    assert url is not None
    return url


def customers_frame() -> pd.DataFrame:
    """sample_data/customers.csv with every cell as the exact string in the file."""
    return pd.read_csv(CUSTOMERS_CSV, dtype=str, keep_default_na=False)


def build_customers_db(path: Path) -> Path:
    """An SQLite file with a `customers` table (primary key customer_id) from the sample CSV."""
    frame = customers_frame()
    with sqlite3.connect(path) as con:
        con.execute(CUSTOMERS_DDL)
        placeholders = ",".join("?" * len(frame.columns))
        con.executemany(
            f"INSERT INTO customers VALUES ({placeholders})",
            [
                tuple(None if v == "" else v for v in row)
                for row in frame.itertuples(index=False, name=None)
            ],
        )
    con.close()
    return path


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """sqlite:/// URL (no ?table=) of a read-only-by-convention customers database."""
    path = build_customers_db(tmp_path_factory.mktemp("sqlite") / "prod.db")
    return f"sqlite:///{path}"
