"""Run mypy on piizone's packages as they install (`make lint`; config: pyproject [tool.mypy]).

cli/, scrubbers/ and zones/ install as piizone.cli, piizone.scrubbers and piizone.zones through a
setuptools package-dir mapping, which mypy cannot follow from the source tree (it would see bare
`zones` packages, or two names for one file). So, as scripts/lint_imports.py does, this copies
the tree as it installs into a temporary folder, runs `mypy -p piizone` there, and prints the
errors with the paths of the checkout (piizone/zones/x.py -> zones/x.py) so editors can jump.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from installed_tree import MAPPED, ROOT, installed_tree  # scripts/ is on sys.path when run

_COPIED = re.compile(r"^piizone/(" + "|".join(MAPPED) + r")/", flags=re.MULTILINE)


def main() -> int:
    with installed_tree("piizone-typecheck-") as tree:
        tmp = str(tree)
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "-p",
            "piizone",
            *sys.argv[1:],
        ]
        env = {**os.environ, "MYPYPATH": tmp}
        result = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
    sys.stdout.write(_COPIED.sub(r"\1/", result.stdout))
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
