"""Progress bars on stderr, shown only on a terminal so logs and pipes stay clean."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from piizone.cli.verbosity import quiet, timed_files

stderr_console = Console(stderr=True)


@contextmanager
def byte_progress(description: str, total_bytes: int) -> Iterator:
    """Yield a callback (path, done_in_file, file_size) driving one bar over `total_bytes`."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}"),
        console=stderr_console,
        transient=True,
        disable=quiet() or not stderr_console.is_terminal,
    )
    finished: dict[str, int] = {}
    with progress:
        task = progress.add_task(description, total=total_bytes or None, current="")

        def update(path: str, done: int, size: int) -> None:
            finished[path] = max(finished.get(path, 0), min(done, size))
            progress.update(task, completed=sum(finished.values()), current=path[-40:])

        yield timed_files(update)  # per-file seconds on stderr under --verbose
