"""Writing command output: to stdout or to a file (never a half-written -o, never a replaced
device: see scrubbers/output_files.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from piizone.scrubbers.output_files import write_output_bytes


def write_output(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` (atomically for a file, in place for a device)."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_output_bytes(output, text.encode("utf-8"))
