"""What a session left in its staging dir (/zone/out on the host): listed within limits without
following a symlink, told text from binary, and removed however deep it goes.

The limits bound what one session may hand to the egress check: over any, nothing is released
(`OutputLimitExceeded`, an audited `withheld`). A 1,200-deep tree once crashed a recursive
walk, left the raw files on disk and broke every later session.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from piizone.zones.exceptions import ZoneError

TEXT_EXTENSIONS = frozenset({".csv", ".tsv", ".json", ".jsonl", ".txt", ".md", ".ipynb", ".log"})
_SNIFF_BYTES = 64 * 1024
# How a directory of the tree is opened: never through a symlink.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# Limits of what one session may hand to the egress check; over any, nothing is released.
# Generous for training outputs (checkpoints, a results tree), far below what breaks a walk.
MAX_OUTPUT_DEPTH = 32
MAX_OUTPUT_ENTRIES = 10_000
MAX_OUTPUT_PATH = 1024  # characters of a relative path
MAX_OUTPUT_BYTES = 64 << 30


class EgressError(ZoneError):
    """The outputs of a session could not be checked or released."""


class OutputLimitExceeded(EgressError):
    """The outputs exceed a limit of the egress check (depth, entries, path length, bytes)."""


def is_text_output(path: Path) -> bool:
    """By extension, else by content: no NUL byte and few control bytes in the first 64 KiB.

    Deliberately loose (latin-1 or broken UTF-8 counts as text): a file wrongly taken for text
    costs a scan, a file wrongly taken for binary would leave unscanned.
    """
    if path.suffix.lower() in TEXT_EXTENSIONS:
        return True
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if b"\x00" in head:
        return False
    control = sum(1 for b in head if b < 32 and b not in b"\t\n\r\f\b\x1b")
    return control <= len(head) // 10


def iter_outputs(root: Path) -> list[tuple[str, Path, os.stat_result]]:
    """(relpath, path, lstat) for everything under root, without following symlinks.

    Iterative, and within the limits above: the whole listing is checked before anything is
    scanned, so a tree over a limit fails before any file is looked at. Raises
    OutputLimitExceeded.
    """
    found: list[tuple[str, Path, os.stat_result]] = []
    total = 0
    stack = [("", 0)]
    while stack:
        rel_dir, depth = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            entries = sorted(it, key=lambda e: e.name)
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if len(found) >= MAX_OUTPUT_ENTRIES:
                raise OutputLimitExceeded(f"more than {MAX_OUTPUT_ENTRIES} entries")
            if len(rel) > MAX_OUTPUT_PATH:
                raise OutputLimitExceeded(f"a path longer than {MAX_OUTPUT_PATH} characters")
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if depth + 1 > MAX_OUTPUT_DEPTH:
                    raise OutputLimitExceeded(
                        f"directories nested deeper than {MAX_OUTPUT_DEPTH} (depth limit)"
                    )
                subdirs.append(rel)
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
            if total > MAX_OUTPUT_BYTES:
                raise OutputLimitExceeded(f"more than {MAX_OUTPUT_BYTES} bytes")
            found.append((rel, root / rel, st))
        stack += [(d, depth + 1) for d in reversed(subdirs)]
    return found


def remove_tree(root: Path) -> None:
    """Remove `root` and everything below it, however deep, never following a symlink.

    shutil.rmtree recurses (RecursionError near 1,000 levels, which a session can create) and
    uses full paths (ENAMETOOLONG). This walks down with one fd, each directory opened relative
    to its parent, and climbs back with "..": safe because nothing writes there any more (the
    sandbox is gone). Directories the command made unreadable are opened up first.
    """
    root = Path(root)
    try:
        fd = os.open(root, DIR_FLAGS)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(root)
        return
    names: list[str] = []
    try:
        while True:
            child = None
            with os.scandir(fd) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:
                try:
                    sub = os.open(child, DIR_FLAGS, dir_fd=fd)
                except PermissionError:
                    os.chmod(child, 0o700, dir_fd=fd)
                    sub = os.open(child, DIR_FLAGS, dir_fd=fd)
                os.fchmod(sub, 0o700)  # listable and writable, whatever the command set
                os.close(fd)
                fd = sub
                names.append(child)
                continue
            if not names:
                break
            parent = os.open("..", DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(root)
