"""Writing an output path (`-o`) safely: atomically for files, in place for devices and pipes.

A regular file (or a new one) is written to a temp file beside it and renamed into place only
once complete, so a failure never leaves half an output. That rename must never hit anything
else: renaming over `/dev/null` replaces the device with a regular file (as root, that breaks
the machine), and renaming over a FIFO replaces the pipe someone is reading from. So:

  * character devices and FIFOs are opened and streamed into in place (as a shell `>` would);
  * a symbolic link is followed only to one of those (`-o /dev/stdout`); a link to anything
    else is refused — writing through it would touch a file the path does not name, and
    replacing it would surprise whoever made it;
  * block devices, sockets and directories are refused.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from piizone.fs import TargetNotRegular, atomic_file, kind_of
from piizone.scrubbers.exceptions import InputError

FILE_MODE = 0o600


def _streams_in_place(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


@contextmanager
def open_output(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary sink for `path`: in place for a device or FIFO, else temp file + rename.

    Raises InputError for a target that must not be written (see the module docstring). On an
    error inside the block, a temp file is removed and nothing appears at `path`.
    """
    dest = Path(path)
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise InputError(f"{dest}: cannot write ({e.strerror})") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        try:
            target = os.stat(dest)
        except OSError:
            target = None
        if target is None or not _streams_in_place(target.st_mode):
            raise InputError(
                f"{dest}: is a symbolic link; refusing to write through it",
                hint="pass the path it points to, or remove the link",
            )
        with _in_place(dest, follow=True) as f:
            yield f
        return
    if st is not None and _streams_in_place(st.st_mode):
        with _in_place(dest, follow=False) as f:
            yield f
        return
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(f"{dest}: is {kind_of(st.st_mode)}; cannot write output there")
    with _atomic(dest) as f:
        yield f


@contextmanager
def _in_place(dest: Path, *, follow: bool) -> Iterator[IO[bytes]]:
    flags = os.O_WRONLY | os.O_NOCTTY | (0 if follow else os.O_NOFOLLOW)
    try:
        # A FIFO's open blocks until a reader comes, as with a shell redirection.
        fd = os.open(dest, flags)
    except OSError as e:
        raise InputError(f"{dest}: cannot write ({e.strerror})") from None
    # Checked on the open file: the path may have been swapped since the lstat.
    if not _streams_in_place(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{dest}: changed while being opened; not written")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
    except OSError as e:
        raise InputError(f"{dest}: cannot write ({e.strerror or type(e).__name__})") from None


@contextmanager
def _atomic(dest: Path) -> Iterator[IO[bytes]]:
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{dest}: directory {parent} does not exist")
    try:
        with atomic_file(dest, mode=FILE_MODE) as f:
            yield f
    except TargetNotRegular as e:
        # A device, FIFO or link that appeared at `dest` since the first look is not replaced.
        raise InputError(f"{dest}: changed to {e.kind} while writing; not written") from None
    except OSError as e:
        raise InputError(f"{dest}: cannot write ({e.strerror or type(e).__name__})") from None


def write_output_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` through open_output."""
    with open_output(path) as f:
        f.write(data)
