"""Help shows metavars (PATH, NAME, TEXT), never Python types such as `<list[Path]>`."""

from __future__ import annotations

import re
import subprocess
import sys

from piizone.cli.main import cli_command

PYTHON_TYPE = re.compile(r"<(?:list\[|str>|int|float|bool>|path>)")


def _params(command, path=()):
    for param in command.params:
        yield " ".join(path), param
    for name, sub in getattr(command, "commands", {}).items():
        yield from _params(sub, (*path, name))


def test_every_value_parameter_has_a_plain_metavar():
    missing = [
        f"{path}: {param.name} -> {param.metavar!r}"
        for path, param in _params(cli_command())
        if not getattr(param, "is_flag", False)
        and (not param.metavar or PYTHON_TYPE.search(param.metavar))
    ]
    assert missing == []


def test_the_rendered_help_has_no_python_types():
    for args in (["scan", "--help"], ["zone", "create", "--help"], ["sandbox", "run", "--help"]):
        out = subprocess.run(
            [sys.executable, "-m", "piizone.cli.main", *args],
            capture_output=True,
            text=True,
            check=True,
            env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        ).stdout
        assert not PYTHON_TYPE.search(out), (args, out)
        assert "Example" in out


def test_the_top_level_and_every_group_show_an_example():
    root = cli_command()
    groups = [root, *(c for c in root.commands.values() if getattr(c, "commands", None))]
    assert len(groups) >= 6
    missing = [g.name for g in groups if "Example:" not in (g.help or "")]
    assert missing == []
