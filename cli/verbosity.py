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
from enum import IntEnum

from piizone.scrubbers.progress import ProgressCallback, ProgressUpdate


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


def timed_files(update: ProgressCallback) -> ProgressCallback:
    """Wrap a progress callback so that, under --verbose, each item's size and seconds are
    printed once a phase of it is done (`PATH: N bytes in S s`, the phase after it); `update`
    is returned as it is else.

    Items are processed one after the other, and a small one reports only when it is done: its
    time runs from the end of the one before (or from the start), not from its first report.
    """
    if not verbose():
        return update
    mark = [time.monotonic()]
    started: dict[tuple[str, str], float] = {}
    finished: set[tuple[str, str]] = set()

    def timed(u: ProgressUpdate, /) -> None:
        key = (u.phase, u.item)
        started.setdefault(key, mark[0])
        if u.total is not None and u.done >= u.total and key not in finished:
            finished.add(key)
            mark[0] = time.monotonic()
            seconds = mark[0] - started[key]
            detail(f"{u.item}: {u.done} {u.unit} in {seconds:.2f} s ({u.phase})")
        update(u)

    return timed
