"""The source tree as it installs: piizone/ with cli/, scrubbers/ and zones/ inside it.

pyproject.toml maps the three top-level folders under `piizone.` (package-dir), which tools that
walk a package's folder (grimp for import-linter, mypy) cannot follow; scripts/lint_imports.py
and scripts/typecheck.py run them on this copy instead.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("cli", "scrubbers", "zones")


@contextlib.contextmanager
def installed_tree(prefix: str) -> Iterator[Path]:
    """A temporary folder holding `piizone/` laid out as it installs; removed on exit."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        package = Path(tmp) / "piizone"
        shutil.copytree(ROOT / "piizone", package, ignore=ignore)
        for folder in MAPPED:
            shutil.copytree(ROOT / folder, package / folder, ignore=ignore)
        yield Path(tmp)
