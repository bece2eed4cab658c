"""Help is documentation: every command has a summary, an example, and a place in the README."""

from __future__ import annotations

import re

import pytest
import typer.main

from piizone.cli.main import app
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def commands() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(cmd, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            found[" ".join(path)] = cmd

    walk(typer.main.get_command(app), ())
    return found


def test_the_command_surface_of_the_design_is_registered():
    expected = {
        "init",
        "scan",
        "redact",
        "zone create",
        "zone list",
        "zone show",
        "zone verify",
        "zone refresh",
        "zone destroy",
        "zone gc",
        "zone hold",
        "zone grant",
        "zone revoke",
        "zone export-policy",
        "sandbox run",
        "sandbox shell",
        "audit log",
        "audit verify",
        "audit export",
        "audit ropa",
        "keys rotate",
        "keys status",
        "serve",
    }
    assert expected <= set(commands())


@pytest.mark.parametrize("path", sorted(commands()))
def test_command_has_help_with_an_example(path):
    help_text = commands()[path].help or ""
    summary = help_text.strip().splitlines()[0] if help_text.strip() else ""
    assert summary.endswith("."), f"{path}: the first line of --help is a one-line summary"
    assert "Example:" in help_text and f"piizone {path}" in help_text, path


@pytest.mark.parametrize("path", sorted(commands()))
def test_command_is_in_the_readme(path):
    *group, name = path.split()
    prefix = "piizone " + " ".join(group) if group else "piizone"
    lines = [ln for ln in README.splitlines() if prefix in ln]
    assert any(
        re.search(rf"(^|[\s|`]){re.escape(name)}(\s|$|`)", ln.split(prefix, 1)[1]) for ln in lines
    ), f"README does not show `piizone {path}`"


CODE_PATH = re.compile(
    r"(?<![\w/.])((?:zones|scrubbers|cli|piizone|scripts|tests|benchmarks)/[\w/]+\.(?:py|yaml))"
)


def test_every_code_path_the_docs_name_exists():
    # The docs point readers at files (`zones/storage/crypto.py`); a move must take them along.
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    missing = [
        f"{doc.name}: {match}"
        for doc in docs
        for match in CODE_PATH.findall(doc.read_text())
        if not (REPO / match).exists()
    ]
    assert missing == []
