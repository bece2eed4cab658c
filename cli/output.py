"""Writing command output: to stdout or atomically to a file (never a half-written -o)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from scrubbers.exceptions import InputError


def write_output(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` via a temp file and rename."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{output}: directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"{output}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{output}: cannot write ({e.strerror})") from None
