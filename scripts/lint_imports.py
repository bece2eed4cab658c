"""Run import-linter (`lint-imports`) on piizone's packages as they install.

cli/, scrubbers/ and zones/ install as piizone.cli, piizone.scrubbers and piizone.zones through a
setuptools package-dir mapping, which grimp (import-linter's graph builder) cannot follow: it
walks the folder of the root package. So this copies the tree as it installs into a temporary
folder and runs lint-imports there with the contracts of pyproject.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("cli", "scrubbers", "zones")


def main() -> int:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory(prefix="piizone-lint-imports-") as tmp:
        package = Path(tmp) / "piizone"
        shutil.copytree(ROOT / "piizone", package, ignore=ignore)
        for folder in MAPPED:
            shutil.copytree(ROOT / folder, package / folder, ignore=ignore)
        env = {**os.environ, "PYTHONPATH": tmp}
        lint = Path(sys.executable).with_name("lint-imports")
        command = [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"]
        return subprocess.run(command, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
