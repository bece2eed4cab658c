"""Where piizone keeps its state ($PIIZONE_HOME) and how private files are written there."""

from __future__ import annotations

import os
from pathlib import Path

from piizone.fs import atomic_write
from piizone.fs import fsync_dir as fsync_dir  # re-exported: zones modules import it here

DIR_MODE = 0o700
FILE_MODE = 0o600


def piizone_home() -> Path:
    """$PIIZONE_HOME, or ~/.piizone when unset."""
    env = os.environ.get("PIIZONE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".piizone"


def keys_dir(home: Path | None = None) -> Path:
    return (home or piizone_home()) / "keys"


def audit_dir(home: Path | None = None) -> Path:
    return (home or piizone_home()) / "audit"


def zones_dir(home: Path | None = None) -> Path:
    return (home or piizone_home()) / "zones"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700; tighten the mode if it already exists."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def write_private_file(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Write `data` atomically with mode 0600 (piizone.fs.atomic_write).

    With overwrite=False an existing file is left alone and FileExistsError is raised, which is
    how key files are protected from being replaced.
    """
    ensure_private_dir(path.parent)
    atomic_write(path, data, mode=FILE_MODE, overwrite=overwrite)
