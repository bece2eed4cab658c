"""Bounded time and space on hostile inputs (issue 13, finding 12).

Each case ran unbounded before: a FIFO as input hung, /dev/zero wrote a 13 GB temp file (left
behind after SIGTERM), a YAML alias bomb grew memory without end, `(a|aa)+$` backtracked for
ever, a one-row CSV with 10,000 columns took 80 s. Every check here runs under a hard time limit
(a subprocess timeout, or SIGALRM in-process) so a regression fails instead of hanging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.scrubbers.exceptions import InputError, PolicyError
from piizone.scrubbers.formats import MAX_COLUMNS, iter_table_chunks
from piizone.scrubbers.policy import load_policy, parse_policy
from tests.conftest import REPO

runner = CliRunner()


@contextmanager
def time_limit(seconds: int):
    """Fail (not hang) if the block runs longer than `seconds` (in-process, main thread)."""

    def expired(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cli(*args: str, timeout: float = 120, env: dict | None = None, **kwargs):
    """The real CLI in a subprocess with a hard timeout."""
    return subprocess.run(
        [sys.executable, "-m", "piizone.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        **kwargs,
    )


def assert_one_error(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in stderr, (needle, stderr)


# --- non-regular inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["redact"], ["scan", "--format", "markdown"]])
def test_a_fifo_input_is_refused_without_blocking(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "input.txt"
    os.mkfifo(fifo)  # nobody ever writes: opening it to read would block for ever
    with time_limit(60):
        result = runner.invoke(app, [*command, str(fifo)])
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, "not a regular file")


def test_dev_zero_input_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with time_limit(60):
        result = runner.invoke(
            app, ["redact", "/dev/zero", "--input-format", "txt", "-o", str(out)]
        )
    assert result.exit_code == 2
    assert_one_error(result.stderr, "not a regular file")
    assert list(tmp_path.iterdir()) == []


def test_stdin_beyond_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with open("/dev/zero", "rb") as zero:
        done = cli(
            "redact",
            "-",
            "-o",
            str(out),
            stdin=zero,
            env={"PIIZONE_MAX_STDIN_BYTES": "200000"},
        )
    assert done.returncode == 2, done.stderr
    assert_one_error(done.stderr, "stdin", "200000")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_removes_the_temp_output(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "piizone.cli.main", "redact", "-", "-o", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        # Writing more than one read chunk makes it start on the output; then it waits for more.
        proc.stdin.write(b"nothing personal here\n" * 60_000)
        proc.stdin.flush()
        deadline = time.monotonic() + 90
        while not list(tmp_path.glob(".out.txt.*")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(tmp_path.glob(".out.txt.*")), "the temp output never appeared"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    assert b"Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


# --- policies ----------------------------------------------------------------------------------

ALIAS_BOMB = """\
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
allow_list: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    with time_limit(20), pytest.raises(PolicyError, match="alias"):
        parse_policy(ALIAS_BOMB, source="bomb.yaml")


def test_a_huge_policy_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("allow_list:\n" + "  - xxxxxxxxxxxxxxxx\n" * 200_000)
    with time_limit(20), pytest.raises(PolicyError, match="too large"):
        load_policy(path)


def test_a_fifo_policy_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    with time_limit(20), pytest.raises(PolicyError, match="not a regular file"):
        load_policy(fifo)


def custom_policy(regex: str) -> str:
    return f"""\
custom_recognizers:
  - name: Ticket
    entity: TICKET_ID
    patterns:
      - regex: '{regex}'
        score: 0.9
entities:
  TICKET_ID: {{}}
"""


@pytest.mark.parametrize("regex", [r"(a|aa)+$", r"(a+)+$", r"(\d*)*x", r"((ab)*c?)+d"])
def test_catastrophic_regex_is_refused_at_load(regex: str) -> None:
    with time_limit(20), pytest.raises(PolicyError, match="backtrack"):
        parse_policy(custom_policy(regex), source="p.yaml")


@pytest.mark.parametrize("regex", [r"TCK-\d{6}", r"[A-Z]{2}\d+(-\d+)?", r"(?:ab|cd)\d{3}"])
def test_ordinary_regex_is_accepted(regex: str) -> None:
    parse_policy(custom_policy(regex), source="p.yaml")


def test_a_slow_regex_that_passes_the_check_times_out_loudly(tmp_path: Path) -> None:
    """Polynomial backtracking (no nesting) is bounded by the timeout, and fails the file
    instead of skipping the recognizer silently (a skipped recognizer is missed PII)."""
    policy = tmp_path / "p.yaml"
    policy.write_text(custom_policy(r"[\d.]+[\d.]+[\d.]+[\d.]+[\d.]+[^\d.]"))
    data = tmp_path / "digits.txt"
    # Nothing for the last class to match, so it backtracks: O(n^5) steps. Dots keep the text
    # from being one long code-like run (the engine blanks those before analysis).
    data.write_text("1." * 1500)
    done = cli("redact", str(data), "--policy", str(policy), env={"PIIZONE_REGEX_TIMEOUT_S": "1"})
    assert done.returncode == 2, done.stderr
    assert_one_error(done.stderr, "Ticket", "timed out")
    assert "1.1.1" not in done.stdout


# --- wide tables -------------------------------------------------------------------------------


def test_a_csv_with_too_many_columns_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    n = 10_000
    path.write_text(",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("x" * n) + "\n")
    with time_limit(20), pytest.raises(InputError, match=f"{n} columns"):
        list(iter_table_chunks(path, "csv"))
    with time_limit(60):
        result = runner.invoke(app, ["scan", str(path), "--json"])
    assert result.exit_code == 2
    assert f"more than {MAX_COLUMNS}" in result.stderr


def test_a_jsonl_with_too_many_fields_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    path.write_text("{" + ",".join(f'"k{i}": 1' for i in range(MAX_COLUMNS + 1)) + "}\n")
    with time_limit(20), pytest.raises(InputError, match="columns"):
        list(iter_table_chunks(path, "jsonl"))
