"""Issue 13, finding 9: output names are printed escaped, never interpreted.

A file named with a terminal escape sequence was printed raw (it could rewrite the report the
user reads), and a name like `[/bold]x.txt` crashed the CLI (rich markup) after the files had
been released. Names and contexts are shown with control (and invisible format) characters
escaped, and printed with rich markup and emoji codes off: the name as it is, never interpreted.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from tests.zones.test_sandbox import require_isolation

runner = CliRunner()


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("metrics.csv", "metrics.csv"),
        ("\x1b[31mred.txt", "\\x1b[31mred.txt"),
        ("[/bold]x.txt", "[/bold]x.txt"),  # printed without markup: shown as it is
        (":smile:.txt", ":smile:.txt"),
        ("a\nb.txt", "a\\nb.txt"),
        ("bell\x07.txt", "bell\\x07.txt"),
        ("rtl\u202etxt.exe", "rtl\\u202etxt.exe"),  # right-to-left override spoofs the name
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("c1\x9b31m", "c1\\x9b31m"),  # the 8-bit CSI
        ("café.txt", "café.txt"),
    ],
)
def test_printable(raw, shown):
    from piizone.cli.sandbox import printable

    assert printable(raw) == shown


@pytest.fixture(scope="module")
def names_zone(make_zone):
    require_isolation()
    return make_zone("n1")


def test_hostile_names_are_printed_escaped(names_zone, monkeypatch, tmp_path):
    monkeypatch.setenv("PIIZONE_HOME", str(names_zone.home))
    script = (
        # A dir `[` and a file `bold]x.txt` in it: the report shows the path `[/bold]x.txt`.
        "mkdir '/zone/out/[' && echo ok > '/zone/out/[/bold]x.txt' && "
        "echo ok > \"/zone/out/$(printf '\\033[2J\\033[31mred.txt')\" && "
        "ln -s /etc/passwd '/zone/out/[red]link'"
    )
    out = tmp_path / "out"
    done = runner.invoke(app, ["sandbox", "run", "n1", "--out", str(out), "--", "sh", "-c", script])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.exit_code == 0, done.output
    assert "\x1b" not in done.output
    assert "released    [/bold]x.txt" in done.output
    assert "\\x1b[2J\\x1b[31mred.txt" in done.output
    assert "[red]link" in done.output
    released = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert released == sorted(["[/bold]x.txt", "\x1b[2J\x1b[31mred.txt"])
