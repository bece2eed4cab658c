"""File-system primitives shared by every package of piizone (the bottom layer: it imports
nothing of piizone)."""

from __future__ import annotations


def is_within(path: str, parent: str) -> bool:
    """True when `path` is `parent` or below it (both real paths)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")
