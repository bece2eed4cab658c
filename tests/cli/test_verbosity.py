"""`piizone -q` and `piizone -v` (cli/verbosity.py), and shell completion (issue 16, point 5).

Quiet: no progress bar, no notices on stderr; warnings and errors still print; stdout unchanged.
Verbose: `verbose:` lines on stderr (home, config, engine, per-file timing); stdout unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke, invoke_ok, run_on_a_terminal, runner
from tests.conftest import REPO, SAMPLE_DATA

TEXT = "Call John Smith at 555-0100 about the refund.\n"
PHONE_OFF = "version: 1\nentities:\n  PHONE_NUMBER: {enabled: false}\n"


@pytest.fixture
def inputs(tmp_path: Path, piizone_home: Path) -> Path:
    invoke_ok("init")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "call.txt").write_text(TEXT)
    (tmp_path / "in" / "note.txt").write_text("Write to ada@example.org.\n")
    return tmp_path / "in"


def report(stdout: str) -> dict:
    """A JSON scan report without what changes from run to run (time and duration)."""
    data = json.loads(stdout)
    data.pop("generated_at")
    data.pop("duration_s")
    return data


def test_quiet_scan_prints_nothing_on_stderr_and_the_same_report(inputs: Path) -> None:
    plain = invoke_ok("scan", str(inputs), "--format", "json")
    quiet = invoke_ok("-q", "scan", str(inputs), "--format", "json")
    assert quiet.stderr == ""
    assert report(quiet.stdout) == report(plain.stdout)
    assert report(quiet.stdout)["sources"][0]["entities"]
    assert invoke_ok("--quiet", "scan", str(inputs / "call.txt")).stderr == ""


def test_quiet_keeps_warnings_and_errors(inputs: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(PHONE_OFF)
    warned = invoke_ok("-q", "scan", str(inputs), "--policy", str(policy))
    lines = warned.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "PHONE_NUMBER" in lines[0]
    missing = invoke("-q", "scan", str(tmp_path / "nowhere.csv"))
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: ") and "nowhere.csv" in missing.stderr


def test_quiet_drops_the_redact_summary_not_the_output(inputs: Path, tmp_path: Path) -> None:
    plain = invoke_ok("redact", str(inputs / "call.txt"), "-o", str(tmp_path / "a.txt"))
    assert plain.stderr.startswith("redacted ") and "PERSON 1" in plain.stderr
    quiet = invoke_ok("-q", "redact", str(inputs / "call.txt"), "-o", str(tmp_path / "b.txt"))
    assert quiet.stderr == ""
    assert (tmp_path / "b.txt").read_text() == (tmp_path / "a.txt").read_text()
    assert "John Smith" not in (tmp_path / "b.txt").read_text()
    as_json = invoke_ok("-q", "redact", str(inputs / "call.txt"), "--json", "-o", "-")
    assert json.loads(as_json.stderr)["entities"]["PERSON"] == 1  # asked for: still printed


def test_verbose_says_more_on_stderr_only(inputs: Path, piizone_home: Path) -> None:
    plain = invoke_ok("scan", str(inputs), "--format", "json")
    loud = invoke_ok("-v", "scan", str(inputs), "--format", "json")
    assert report(loud.stdout) == report(plain.stdout)
    assert "verbose:" not in plain.stderr
    lines = loud.stderr.splitlines()
    assert len(loud.stderr) > len(plain.stderr) and all(ln.startswith("verbose: ") for ln in lines)
    assert f"verbose: home {piizone_home} (initialised)" in lines
    assert f"verbose: config {piizone_home / 'config.toml'}" in lines
    assert any(
        ln.startswith("verbose: engine in-process, 1 worker(s), spaCy model ") for ln in lines
    )
    timed = [ln for ln in lines if " bytes in " in ln]
    assert [ln.split(": ")[1] for ln in timed] == [
        str(inputs / "call.txt"),
        str(inputs / "note.txt"),
    ]
    assert timed[0].split(": ")[2].startswith(f"{len(TEXT)} bytes in ")


def test_verbose_on_a_listing_leaves_its_csv_alone(inputs: Path) -> None:
    plain = invoke_ok("zone", "list", "--format", "csv")
    loud = invoke_ok("--verbose", "zone", "list", "--format", "csv")
    assert loud.stdout == plain.stdout and "verbose: home " in loud.stderr


def test_quiet_and_verbose_together_is_a_usage_error(inputs: Path) -> None:
    result = invoke("-q", "-v", "scan", str(inputs))
    assert result.exit_code == 2 and result.stdout == ""
    assert "--quiet and --verbose cannot be used together" in result.stderr


def _scan_on_a_terminal(*options: str) -> tuple[int, str, str]:
    """`piizone OPTIONS scan customers.csv` with stderr on a terminal: (status, shown, stdout)."""
    args = [*options, "scan", "--format", "json", str(SAMPLE_DATA / "customers.csv")]
    return run_on_a_terminal(args)


def test_quiet_shows_no_progress_bar_on_a_terminal(piizone_home: Path) -> None:
    invoke_ok("init")
    code, shown, stdout = _scan_on_a_terminal()
    assert code == 0 and "scanning" in shown  # the bar, on a terminal by default
    code, shown, quiet_stdout = _scan_on_a_terminal("-q")
    assert code == 0 and shown == ""
    assert report(quiet_stdout) == report(stdout)


# -- shell completion ---------------------------------------------------------------------------


def test_show_completion_prints_a_bash_script_for_piizone(
    monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    # typer detects the shell from the process tree; this variable (typer's own) makes
    # --show-completion take the shell as its value instead, so the test does not depend on
    # which shell started pytest.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    from piizone.cli.main import app

    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="piizone")
    assert result.exit_code == 0, result.output
    assert "_PIIZONE_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _piizone_completion piizone" in result.stdout


def test_completion_in_a_real_process() -> None:
    """The script `--install-completion` installs calls piizone back with _PIIZONE_COMPLETE:
    that works under `python -m` too (prog name piizone), offline, and completes commands."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "piizone.cli.main"]
    source = subprocess.run(
        cmd, env={**env, "_PIIZONE_COMPLETE": "source_bash"}, capture_output=True, text=True
    )
    assert source.returncode == 0 and "complete -o default -F _piizone_completion piizone" in (
        source.stdout
    )
    words = {
        "_PIIZONE_COMPLETE": "complete_bash",
        "COMP_WORDS": "piizone zone li",
        "COMP_CWORD": "2",
    }
    completed = subprocess.run(cmd, env={**env, **words}, capture_output=True, text=True)
    assert completed.returncode == 0 and completed.stdout.split() == ["list"]
    help_text = subprocess.run(
        [*cmd, "--help"], env={**env, "COLUMNS": "120"}, capture_output=True, text=True
    ).stdout
    assert "--install-completion" in help_text and "--quiet" in help_text
