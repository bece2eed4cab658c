"""Packaging: cli/, scrubbers/ and zones/ install under `piizone.` and nothing else does."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import piizone

REPO = Path(__file__).resolve().parents[1]
MAPPED = {"cli": "piizone.cli", "scrubbers": "piizone.scrubbers", "zones": "piizone.zones"}


def _folder_packages() -> set[str]:
    found = {"piizone"}
    for folder, package in MAPPED.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((package, *parts)))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(setuptools["packages"]) == _folder_packages()
    assert setuptools["package-dir"] == {"piizone": "piizone", **{v: k for k, v in MAPPED.items()}}


def test_import_piizone_is_light_and_names_its_version_and_api() -> None:
    code = (
        "import sys, piizone; "
        "print(piizone.__version__); "
        "print(any(m.startswith(('presidio', 'spacy')) for m in sys.modules)); "
        "print(sorted(piizone.__all__))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout.splitlines()
    assert out[0] == piizone.__version__ and out[0][0].isdigit()
    assert out[1] == "False"  # the NLP stack loads only when a Scrubber is asked for
    assert "Scrubber" in out[2]


def test_bare_folder_names_are_not_importable_outside_the_checkout() -> None:
    code = (
        "import importlib.util as u; "
        "print([n for n in ('cli', 'zones', 'scrubbers') if u.find_spec(n)]); "
        "import piizone.zones.storage.store as s, piizone.cli.main; print(s.__name__)"
    )
    # As an installed user runs it: no checkout on the path (a PYTHONPATH would put one there).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/", env=env
    ).stdout.splitlines()
    assert out == ["[]", "piizone.zones.storage.store"]


def test_public_api_resolves_lazily() -> None:
    from piizone.scrubbers.exceptions import PolicyError

    assert piizone.PolicyError is PolicyError
    assert "Scrubber" in dir(piizone)
