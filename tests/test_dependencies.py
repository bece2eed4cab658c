"""Every third-party package piizone imports is declared in pyproject.toml.

An undeclared import works only while another dependency happens to pull the package in; a
release of that dependency can remove it. This parses every import of the source packages (and of
the tests) and maps it to its distribution with importlib.metadata.packages_distributions().
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SOURCES = ("cli", "scrubbers", "zones", "piizone")
FIRST_PARTY = {"piizone", "tests", "benchmarks"}


def declared(*groups: str) -> set[str]:
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for group in groups:
        specs += project["optional-dependencies"][group]
    return {canonicalize_name(Requirement(spec).name) for spec in specs}


def imported(*folders: str) -> dict[str, set[str]]:
    """Top-level module name -> files importing it (absolute imports outside the stdlib)."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def undeclared(modules: dict[str, set[str]], allowed: set[str]) -> list[str]:
    owners = packages_distributions()
    problems = []
    for module, files in sorted(modules.items()):
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if not dists:
            problems.append(f"{module}: no installed distribution provides it ({min(files)})")
        elif not dists & allowed:
            problems.append(f"{module} (from {', '.join(sorted(dists))}): {min(files)}")
    return problems


def test_the_import_scan_sees_the_known_imports() -> None:
    # Guards the scan itself: a parser that found nothing would pass the checks below.
    modules = imported(*SOURCES)
    assert {"presidio_analyzer", "spacy", "cryptography", "typer", "numpy"} <= set(modules)
    assert "json" not in modules and "piizone" not in modules


def test_every_runtime_import_is_a_declared_dependency() -> None:
    assert undeclared(imported(*SOURCES), declared()) == []


def test_every_test_import_is_declared_for_development() -> None:
    assert undeclared(imported("tests"), declared("dev")) == []


@pytest.mark.parametrize("group", ["dev", "bench"])
def test_optional_groups_do_not_satisfy_runtime_imports(group: str) -> None:
    # Test-only packages (pytest, hypothesis, ...) must never be imported by the library.
    only_optional = declared(group) - declared()
    runtime = imported(*SOURCES)
    owners = packages_distributions()
    leaked = {
        module
        for module in runtime
        if {canonicalize_name(d) for d in owners.get(module, [])} & only_optional
    }
    assert leaked == set()
