"""`piizone redact` through the real app: outputs, summary, audit, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.storage.keys import ensure_pseudonym_key
from tests.conftest import REPO, SAMPLE_DATA

runner = CliRunner()
PIIZONE = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "piizone"
TICKET = {"id": 7, "email": "maria.garcia@example.com", "body": "Call Maria Garcia on 415-555-0132"}


def run(*args: str, **kwargs):
    return runner.invoke(app, ["redact", *args], **kwargs)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.jsonl"
    path.write_text(json.dumps(TICKET) + "\n")
    return path


def test_help_has_an_example() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and "piizone redact" in result.output


def test_redacts_to_output_with_a_summary_line(piizone_home, src, tmp_path, no_network) -> None:
    out = tmp_path / "out.jsonl"
    result = run(str(src), "-o", str(out))
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert record["id"] == 7 and record["email"] == "<EMAIL_ADDRESS>"
    assert "Maria" not in out.read_text() and "415-555-0132" not in out.read_text()
    assert result.stdout == ""
    assert result.stderr.startswith("redacted 1 rows (jsonl)")
    assert "EMAIL_ADDRESS" in result.stderr and "maria" not in result.stderr.lower()


def test_stdout_and_json_summary(piizone_home, src) -> None:
    result = run(str(src), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["email"] == "<EMAIL_ADDRESS>"
    summary = json.loads(result.stderr)
    assert summary["format"] == "jsonl" and summary["rows"] == 1
    assert summary["entities"]["EMAIL_ADDRESS"] >= 1


def test_audited_when_home_exists(piizone_home, src, tmp_path) -> None:
    piizone_home.mkdir()
    result = run(str(src), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.output
    (rec,) = audit.open_audit_log().records(action="redact.run")
    assert rec["outcome"] == "success"
    assert rec["details"]["format"] == "jsonl" and rec["details"]["rows"] == 1
    assert len(rec["details"]["policy_sha256"]) == 64
    assert "maria" not in json.dumps(rec).lower()


def test_pseudonymize_with_the_home_key(piizone_home, src, tmp_path) -> None:
    ensure_pseudonym_key(piizone_home)
    policy = tmp_path / "p.yaml"
    # A policy's engine section names its recognizers: start from the default policy.
    default = (REPO / "scrubbers" / "default_policy.yaml").read_text("utf-8")
    policy.write_text(
        default.replace("default_operator: replace", "default_operator: pseudonymize")
    )
    first = run(str(src), "--policy", str(policy))
    second = run(str(src), "--policy", str(policy))
    assert first.exit_code == 0, first.output
    token = json.loads(first.stdout)["email"]
    assert token.startswith("<EMAIL_ADDRESS_") and json.loads(second.stdout)["email"] == token


BAD_POLICIES = {
    "invalid YAML": ("entities: [unclosed\n", "invalid YAML"),
    "unknown operator": ("default_operator: scramble\n", "unknown operator"),
    "unknown entity": ("entities:\n  FAVOURITE_COLOUR: {}\n", "unknown entity"),
    "missing pseudonym key": ("default_operator: pseudonymize\n", "no pseudonym key"),
}


@pytest.mark.parametrize("case", list(BAD_POLICIES))
def test_bad_policy_is_one_error_line(piizone_home, src, tmp_path, case: str) -> None:
    text, message = BAD_POLICIES[case]
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    out = tmp_path / "out.jsonl"
    result = run(str(src), "-o", str(out), "--policy", str(policy))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and message in lines[0]
    assert all(line.startswith("hint: ") for line in lines[1:]) and len(lines) <= 2
    if case == "missing pseudonym key":
        assert lines[1] == "hint: run piizone init"
    assert "Traceback" not in result.output
    assert (
        not out.exists()
        and sorted(p.name for p in tmp_path.iterdir())
        == [
            "piizone-home",
            "policy.yaml",
            "tickets.jsonl",
        ][int(not (tmp_path / "piizone-home").exists()) :]
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.xlsx", b"PK", "unsupported format"),
        ("missing.csv", None, "no such file"),
        ("broken.jsonl", b'{"a": 1}\n{oops\n', "invalid JSON"),
    ],
)
def test_bad_input_is_one_error_line(piizone_home, tmp_path, name, content, message) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    out = tmp_path / "out.dat"
    result = run(str(tmp_path / name), "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_failure_is_audited(piizone_home, tmp_path) -> None:
    piizone_home.mkdir()
    (tmp_path / "broken.jsonl").write_text("{oops\n")
    assert run(str(tmp_path / "broken.jsonl"), "-o", str(tmp_path / "o.jsonl")).exit_code == 2
    (rec,) = audit.open_audit_log().records(action="redact.run")
    # the error one way (zones.audit.error_detail): piizone's message, on one line
    assert rec["outcome"] == "failure" and "invalid JSON" in rec["details"]["error"]
    assert rec["details"]["policy_sha256"]


def test_stdin_to_stdout_in_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "PIIZONE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [str(PIIZONE), "redact", "-", "--input-format", "jsonl"],
        input=json.dumps(TICKET) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert json.loads(result.stdout)["email"] == "<EMAIL_ADDRESS>"
    assert "redacted 1 rows (jsonl)" in result.stderr


def test_sample_transcript(piizone_home, tmp_path) -> None:
    src = SAMPLE_DATA / "call_transcripts" / "call_001.txt"
    out = tmp_path / "call.txt"
    result = run(str(src), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "<PERSON>" in out.read_text()
    assert len(out.read_text().splitlines()) == len(src.read_text().splitlines())


def test_output_format_follows_the_output_extension(tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "people.csv"
    src.write_text("name,email,plan\nJane Roe,jane.roe@example.com,basic\n")
    out = tmp_path / "people.parquet"
    result = runner.invoke(app, ["redact", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:4] == b"PAR1"  # Parquet, not CSV bytes in a .parquet file
    rows = pq.read_table(out).to_pylist()
    assert rows[0]["plan"] == "basic" and "jane.roe" not in str(rows)
    wrong = tmp_path / "people.jsonl"
    refused = runner.invoke(app, ["redact", str(src), "-o", str(wrong)])
    assert refused.exit_code == 2 and not wrong.exists()
    assert "a csv input cannot be written as jsonl" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_input_format_replaces_f_which_still_works_with_a_warning(tmp_path):
    import subprocess
    import sys

    data = "name,email\nJane Roe,jane.roe@example.com\n"

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "piizone.cli.main", "redact", "-", *args]
        return subprocess.run(cmd, input=data, capture_output=True, text=True, timeout=300)

    new = run("--input-format", "csv")
    assert new.returncode == 0, new.stderr
    assert "jane.roe" not in new.stdout and "deprecated" not in new.stderr
    old = run("-f", "csv")
    assert old.returncode == 0 and old.stdout == new.stdout
    assert "warning: -f/--format is deprecated here; use --input-format" in old.stderr
