"""Where piizone keeps its state ($PIIZONE_HOME) and how private files are written there."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
    """Write `data` atomically with mode 0600: temp file in the same dir, fsync, rename.

    With overwrite=False an existing file is left alone and FileExistsError is raised, which is
    how key files are protected from being replaced.
    """
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails if the target exists: no window where a key could be clobbered.
            os.link(tmp, path)
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
