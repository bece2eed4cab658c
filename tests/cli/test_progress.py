"""Progress bars: on a terminal they show the phase, a share below 100% before the end, bytes
(or rows) and a time left; in pipes nothing is drawn."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

import piizone.cli.progress as cli_progress
from piizone.cli.progress import progress_bar
from piizone.scrubbers.progress import ROWS, ProgressUpdate
from tests.cli.conftest import invoke, run_on_a_terminal
from tests.zones.test_progress_build import big_csv

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def frames(raw: str) -> list[str]:
    """What a terminal showed, one redraw of the bar per item."""
    text = ANSI.sub("", raw)
    return [f.strip() for f in re.split(r"[\r\n]", text) if f.strip()]


def test_scan_on_a_terminal_shows_phase_share_and_time_left(tmp_path: Path) -> None:
    # ~4.5 MB in 10,000-row chunks: the bar is redrawn (10 times a second) between them.
    path = big_csv(tmp_path / "members.csv", 120_000)
    code, shown, out = run_on_a_terminal(["scan", str(path), "--workers", "1", "--format", "json"])
    assert code == 0, shown[-2000:]
    bars = [f for f in frames(shown) if f.startswith("scanning")]
    assert bars, frames(shown)[-20:]
    shares = [int(m.group(1)) for f in bars if (m := re.search(r"\s(\d{1,3})%", f))]
    assert any(0 < s < 100 for s in shares), bars
    during = next(f for f in bars if re.search(r"\s([1-9]\d?)%", f))
    assert re.search(r"\d+\.\d/4\.\d MB", during), during
    assert re.search(r"eta \d+:\d\d:\d\d", during), during
    assert "members.csv" in during
    # The report on stdout is untouched by the bar.
    assert out.lstrip().startswith("{") and "\r" not in out


def test_no_bar_in_pipes(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "members.csv", 200)
    result = invoke("scan", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "scanning" not in result.stderr and "eta" not in result.stderr
    assert "━" not in result.stderr + result.stdout


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as a 160-column terminal whose output the test reads."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160, color_system=None)
    monkeypatch.setattr(cli_progress, "stderr_console", console)
    return screen


def last_frame(screen: io.StringIO) -> str:
    return frames(screen.getvalue())[-1]


def test_zone_items_start_the_bar_over_with_position_and_rows(terminal: io.StringIO) -> None:
    with progress_bar() as progress:
        progress(ProgressUpdate("scanning", "data/a.csv", 10, 10, position=(1, 2)))
        progress(ProgressUpdate("redacting", "data/t.parquet", 0, 500, ROWS, (2, 2)))
        progress(ProgressUpdate("redacting", "data/t.parquet", 200, 500, ROWS, (2, 2)))
    frame = last_frame(terminal)
    assert frame.startswith("redacting") and " 40%" in frame, frame
    assert "200/500 rows" in frame and "[2/2] data/t.parquet" in frame


def test_files_of_one_scan_add_up_to_the_run_total(terminal: io.StringIO) -> None:
    with progress_bar(total_bytes=4000) as progress:
        progress(ProgressUpdate("scanning", "a.csv", 1000, 1000))
        progress(ProgressUpdate("scanning", "b.txt", 1000, 3000))
    frame = last_frame(terminal)
    assert " 50%" in frame and "2.0/4.0 kB" in frame and frame.endswith("b.txt"), frame


def test_disable_draws_nothing(terminal: io.StringIO) -> None:
    with progress_bar(disable=True) as progress:  # the hook for --quiet
        progress(ProgressUpdate("scanning", "a.csv", 5, 10))
    assert terminal.getvalue() == ""


def test_zone_create_draws_its_phases(
    terminal: io.StringIO, piizone_home: Path, tmp_path: Path
) -> None:
    """`zone create` hands the build a bar: its last phase is still on the screen at the end."""
    big_csv(tmp_path / "members.csv", 50)
    assert invoke("init").exit_code == 0
    result = invoke("zone", "create", "prog", "--from", str(tmp_path / "members.csv"))
    assert result.exit_code == 0, result.stderr
    shown = "\n".join(frames(terminal.getvalue()))
    assert "publishing" in shown and "prog" in shown, shown
    assert str(tmp_path) not in shown  # zone paths, not the source's
