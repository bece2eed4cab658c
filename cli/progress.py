"""Progress bars on stderr, shown only on a terminal so logs and pipes stay clean.

One bar per command: the phase (scanning, redacting, ...), the item and, in a zone build, its
position; bytes (rows for a database table) done of the total; the share done and the time left.
The library reports `ProgressUpdate`s (piizone.scrubbers.progress); this module only draws them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from piizone.cli.verbosity import quiet, timed_files
from piizone.scrubbers.progress import ROWS, ProgressCallback, ProgressUpdate

stderr_console = Console(stderr=True)


class _Amount(ProgressColumn):
    """Bytes as rich's DownloadColumn shows them (`1.2/20.1 MB`); rows as `1,000/5,000 rows`."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()

    def render(self, task: Task) -> Text:
        if task.total is None and not task.completed:
            return Text("")  # a step with nothing to count (publishing)
        if task.fields.get("unit") != ROWS:
            return self._bytes.render(task)
        total = f"{int(task.total):,}" if task.total is not None else "?"
        return Text(f"{int(task.completed):,}/{total} rows", style="progress.download")


class _TimeLeft(ProgressColumn):
    """Time left at the average rate since the phase began.

    Hand-written over rich's TimeRemainingColumn: that one needs two updates within its
    30-second window, and one pass over a megabyte of transcript can take a minute, so it would
    show no estimate at all where one matters most.
    """

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed
        if not task.total or not task.completed or not elapsed:
            return Text("eta -:--:--", style="progress.remaining")
        left = elapsed * (task.total - task.completed) / task.completed
        return Text(f"eta {timedelta(seconds=int(left))}", style="progress.remaining")


class _Bar:
    """Draws updates on one task: it starts over at each new phase (and, without a run-wide
    total, at each new item); with one, the items of a phase add up to it (scan of a folder)."""

    def __init__(self, progress: Progress, total_bytes: int | None):
        self.progress = progress
        self.total_bytes = total_bytes
        self.task: TaskID = progress.add_task("starting", total=None, where="", unit="")
        self.key: tuple[str, str] | None = None
        self.done: dict[str, int] = {}  # per item, in the current phase (run-wide total)

    def __call__(self, u: ProgressUpdate, /) -> None:
        run_wide = self.total_bytes is not None and u.position is None
        key = (u.phase, "" if run_wide else u.item)
        if key != self.key:  # a new phase: its own start time, so its own estimate
            self.key, self.done = key, {}
            self.progress.reset(self.task, total=None, completed=0)
        if run_wide:
            self.done[u.item] = u.done
            completed, total = sum(self.done.values()), self.total_bytes or None
        else:
            completed, total = u.done, u.total or None
        where = f"[{u.position[0]}/{u.position[1]}] " if u.position else ""
        self.progress.update(
            self.task,
            description=u.phase,
            completed=completed,
            total=total,
            where=f"{where}{u.item[-40:]}",
            unit=u.unit,
        )


@contextmanager
def progress_bar(
    total_bytes: int | None = None, *, disable: bool = False
) -> Iterator[ProgressCallback]:
    """Yield a ProgressCallback drawing one bar on stderr (nothing when stderr is not a
    terminal, or with `disable`: the hook for a --quiet). `total_bytes`: the run's total over
    many files (scan), else each item's own total is used."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        _Amount(),
        TimeElapsedColumn(),
        _TimeLeft(),
        TextColumn("{task.fields[where]}"),
        console=stderr_console,
        transient=True,
        disable=disable or quiet() or not stderr_console.is_terminal,
    )
    with progress:
        yield timed_files(_Bar(progress, total_bytes))  # per-item seconds under --verbose
