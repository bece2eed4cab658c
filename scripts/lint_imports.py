"""Run import-linter (`lint-imports`) on piizone's packages as they install.

cli/, scrubbers/ and zones/ install as piizone.cli, piizone.scrubbers and piizone.zones through a
setuptools package-dir mapping, which grimp (import-linter's graph builder) cannot follow: it
walks the folder of the root package. So this copies the tree as it installs into a temporary
folder and runs lint-imports there with the contracts of pyproject.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from installed_tree import ROOT, installed_tree  # scripts/ is on sys.path when run


def main() -> int:
    with installed_tree("piizone-lint-imports-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(tmp)}
        lint = Path(sys.executable).with_name("lint-imports")
        command = [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"]
        return subprocess.run(command, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
