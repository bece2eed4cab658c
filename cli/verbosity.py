"""How much piizone says on stderr: `piizone -q …` (quiet) or `piizone -v …` (verbose).

One level per process, set by the top-level callback (cli/main.py) before any command runs.
Results on stdout never depend on it. Quiet drops progress bars and notices (`note:`, summaries,
"nothing to do" lines); warnings and errors always print, as a switched-off detector or a
failed input must never go unseen. Verbose adds `verbose:` lines: home and config paths, the
analysis engine chosen, and how long each input file took.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import IntEnum


class Verbosity(IntEnum):
    quiet = -1
    normal = 0
    verbose = 1


_level = Verbosity.normal


def set_verbosity(level: Verbosity) -> None:
    global _level
    _level = level


def quiet() -> bool:
    return _level is Verbosity.quiet


def verbose() -> bool:
    return _level is Verbosity.verbose


def notice(message: str) -> None:
    """An informational line on stderr, left out under --quiet."""
    if not quiet():
        sys.stderr.write(f"{message}\n")


def detail(message: str) -> None:
    """A diagnostic line on stderr, only under --verbose."""
    if verbose():
        sys.stderr.write(f"verbose: {message}\n")


def timed_files(update: Callable[[str, int, int], None]) -> Callable[[str, int, int], None]:
    """Wrap a progress callback (path, done_in_file, file_size) so that, under --verbose, each
    file's bytes and seconds are printed once it is done; `update` is returned as it is else.

    Files are processed one after the other, and a small one reports only when it is done: its
    time runs from the end of the one before (or from the start), not from its first report.
    """
    if not verbose():
        return update
    mark = [time.monotonic()]
    started: dict[str, float] = {}
    finished: set[str] = set()

    def timed(path: str, done: int, size: int) -> None:
        started.setdefault(path, mark[0])
        if done >= size and path not in finished:
            finished.add(path)
            mark[0] = time.monotonic()
            detail(f"{path}: {size} bytes in {mark[0] - started[path]:.2f} s")
        update(path, done, size)

    return timed
