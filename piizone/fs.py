"""File-system primitives shared by every package of piizone (the bottom layer: it imports
nothing of piizone).

  * `atomic_write` / `atomic_file`: the one way a file is replaced — a temp file in the same
    directory, fsync of the file, rename, fsync of the directory — so a crash leaves the old
    content or the new one, never half of it, and the rename itself survives the crash.
  * `flocked`: the one advisory lock (flock on a lock file) used for the audit log, zones and
    keys.
  * `file_sha256`: a file's digest through `hashlib.file_digest` (no hand-rolled read loop).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")

PRIVATE_FILE_MODE = 0o600


class TargetNotRegular(OSError):
    """The path to replace is a link, device, FIFO, socket or directory: it is not replaced."""

    def __init__(self, path: str | os.PathLike[str], kind: str):
        super().__init__(f"{path}: is {kind}; not replaced")
        self.path = Path(path)
        self.kind = kind


def is_within(path: str, parent: str) -> bool:
    """True when `path` is `parent` or below it (both real paths)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def kind_of(mode: int) -> str:
    """What a non-regular st_mode is, as an error message says it ("a symbolic link", ...)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so a rename inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_replaceable(path: Path) -> None:
    # os.replace over a link replaces the link (surprising whoever made it); over /dev/null it
    # turns the device into a regular file (as root that breaks the machine); over a FIFO it
    # takes the pipe away from its reader. Only a regular file (or nothing) is replaced.
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise TargetNotRegular(path, kind_of(mode))


@contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    *,
    mode: int = PRIVATE_FILE_MODE,
    overwrite: bool = True,
    fsync: bool = True,
) -> Iterator[IO[bytes]]:
    """A binary file that appears at `path` only when the block ends without an error.

    The temp file is made beside `path` (mkstemp: O_EXCL, so never through a planted link) with
    `mode`; on success it is fsynced and renamed over `path`, then the directory is fsynced.
    A target that is not a regular file raises TargetNotRegular and is left as it was. With
    overwrite=False an existing `path` raises FileExistsError (link(2) fails if the target
    exists: no window where, say, a key file could be clobbered). fsync=False only exists to
    build large fixtures quickly. On any error the temp file is removed.
    """
    dest = Path(path)
    parent = dest.parent if str(dest.parent) else Path(".")
    if overwrite:
        _check_replaceable(dest)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        if overwrite:
            # Checked again right before the rename: something may have appeared meanwhile.
            _check_replaceable(dest)
            os.replace(tmp, dest)
        else:
            os.link(tmp, dest)
            os.unlink(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(parent)


def atomic_write(
    path: str | os.PathLike[str],
    content: bytes | Callable[[IO[bytes]], T],
    *,
    mode: int = PRIVATE_FILE_MODE,
    overwrite: bool = True,
    fsync: bool = True,
) -> T | int:
    """Replace `path` atomically with `content`: bytes, or a writer called with the open file.

    Returns the writer's result (or the number of bytes written). See `atomic_file`.
    """
    with atomic_file(path, mode=mode, overwrite=overwrite, fsync=fsync) as f:
        if callable(content):
            return content(f)
        f.write(content)
        return len(content)


@contextmanager
def flocked(
    path: str | os.PathLike[str],
    *,
    shared: bool = False,
    wait: bool = True,
    missing_ok: bool = False,
) -> Iterator[bool]:
    """Hold flock on the lock file `path` for the block; yields whether the lock is held.

    Exclusive locks create the file (0600); a shared lock opens it read-only, so a reader with
    no write access can still wait for writers. wait=False yields False at once when another
    process holds it. missing_ok (shared only): a lock file that was never created means no
    writer ever ran, so there is nothing to wait for — yields True without locking.
    Errors opening the file are raised before the block starts; closing releases the lock.
    """
    if shared:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not missing_ok:
                raise
            fd = -1
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    if fd < 0:
        yield True
        return
    try:
        op = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, op)
            held = True
        except BlockingIOError:
            held = False
        yield held
    finally:
        os.close(fd)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def overwrite_in_place(path: Path) -> None:
    """Overwrite a file's bytes with random ones and sync, before it is unlinked: what a shred
    of a key (or of a wrapped key in a manifest) leaves in the blocks it used."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
