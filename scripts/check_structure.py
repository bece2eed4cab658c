"""Structure limits that `make lint` enforces (ruff has no rule for the first two).

- no file in zones/ or scrubbers/ longer than 500 lines;
- no function (or method) in zones/ or scrubbers/ longer than 80 lines;
- no module of piizone (cli/, scrubbers/, zones/, piizone/) imports a private name (`_x`) of
  another module, neither `from m import _x` nor `m._x` on an imported module.

Usage: python scripts/check_structure.py [--max-file N] [--max-function N] [ROOT]
Prints one line per breach and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

SIZED = ("zones", "scrubbers")
PACKAGES = ("cli", "scrubbers", "zones", "piizone")


def _python_files(root: Path, folders: tuple[str, ...]) -> list[Path]:
    return sorted(p for folder in folders for p in (root / folder).rglob("*.py"))


def size_breaches(root: Path, max_file: int, max_function: int) -> list[str]:
    breaches = []
    for path in _python_files(root, SIZED):
        text = path.read_text("utf-8")
        lines = len(text.splitlines())
        rel = path.relative_to(root)
        if lines > max_file:
            breaches.append(f"{rel}: {lines} lines (limit {max_file})")
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > max_function:
                    breaches.append(
                        f"{rel}:{node.lineno}: function {node.name} is {length} lines"
                        f" (limit {max_function})"
                    )
    return breaches


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_module(name: str | None, level: int) -> bool:
    """True for an import of piizone's own code (absolute piizone.* or any relative import)."""
    return level > 0 or (name or "").split(".")[0] == "piizone"


def private_import_breaches(root: Path) -> list[str]:
    breaches = []
    for path in _python_files(root, PACKAGES):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        rel = path.relative_to(root)
        module_aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _own_module(node.module, node.level):
                for alias in node.names:
                    if _is_private(alias.name):
                        breaches.append(
                            f"{rel}:{node.lineno}: imports private {alias.name} from {node.module}"
                        )
                    else:
                        module_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if _own_module(alias.name, 0) and alias.asname:
                        module_aliases.add(alias.asname)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases
                and _is_private(node.attr)
            ):
                breaches.append(f"{rel}:{node.lineno}: uses private {node.value.id}.{node.attr}")
    return breaches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=Path(__file__).resolve().parents[1], type=Path)
    parser.add_argument("--max-file", type=int, default=500)
    parser.add_argument("--max-function", type=int, default=80)
    args = parser.parse_args(argv)
    breaches = size_breaches(args.root, args.max_file, args.max_function)
    breaches += private_import_breaches(args.root)
    for line in breaches:
        print(line)
    if breaches:
        print(f"{len(breaches)} structure breach(es)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
