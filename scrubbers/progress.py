"""Progress of long work as it happens: a phase, an item, units done of the item's total.

The library reports; it never draws. Scan, redaction and zone builds call a `ProgressCallback`
with a `ProgressUpdate` per chunk, batch or pass they finish (cli/progress.py draws the bar, on
a terminal only). An update names a file path or a zone path, never a value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, replace
from typing import IO, Protocol, TypeVar

from piizone.scrubbers.thread_scope import ThreadScoped

# Phase names, in the order a zone build goes through them (an item: learning to redacting; a
# redaction in a zone writes straight into the encrypted file).
LEARNING = "learning"  # tables read ahead for their identifier values (known values)
READING = "reading"  # a zone item's content hashed, to tell whether it changed
SCANNING = "scanning"
FINGERPRINTING = "fingerprinting"  # a zone item's identifier columns, for the leak checks
REDACTING = "redacting"
ENCRYPTING = "encrypting"  # a zone's own encrypted records (canaries, fingerprints), manifest
PUBLISHING = "publishing"

T = TypeVar("T")
S = TypeVar("S", bound=Sized)

BYTES = "bytes"
ROWS = "rows"  # database tables: their size in bytes is not known before reading


@dataclass(frozen=True)
class ProgressUpdate:
    """`done` of `total` units of `item` are through `phase` (`total` None: not known)."""

    phase: str
    item: str
    done: int
    total: int | None
    unit: str = BYTES
    position: tuple[int, int] | None = None  # (this item's number, items) in a zone build


class ProgressCallback(Protocol):
    def __call__(self, update: ProgressUpdate, /) -> None: ...


class ItemProgress:
    """Reports one item's phase to a callback: `done` kept within [0, total] and never going
    back, each advance reported once. Without a callback every call is a no-op."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        phase: str,
        item: str,
        total: int | None,
        unit: str = BYTES,
        position: tuple[int, int] | None = None,
    ):
        self.callback = callback
        self.update = ProgressUpdate(phase, item, 0, total, unit, position)

    def __call__(self, done: int) -> None:
        if self.callback is None:
            return
        total = self.update.total
        done = max(done, self.update.done)
        if total is not None:
            done = min(done, total)
        if done != self.update.done:
            self.update = replace(self.update, done=done)
            self.callback(self.update)

    def start(self) -> None:
        """Say the phase began (done 0): the bar shows the phase before its first chunk ends."""
        if self.callback is not None:
            self.callback(self.update)

    def finish(self) -> None:
        """The whole item is through this phase (its total, or what was counted when unknown)."""
        if self.callback is None:
            return
        total = self.update.total
        if total is None:  # a query's rows: now they are known
            total = self.update.done
            self.update = replace(self.update, total=total)
            self.callback(self.update)
        else:
            self(total)


def counting_rows(
    chunks: Iterable[S], progress: ItemProgress | Callable[[int], None]
) -> Iterator[S]:
    """`chunks` (DataFrames, lists of records) unchanged; after the consumer is done with
    each, the rows so far reported."""
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        progress(done)


class ReadMeter(ThreadScoped):
    """How far the input file opened last (in this thread, while active) has been read, in
    bytes of the file on disk (compressed ones: compressed bytes, like their size), for
    progress bars. Its own file descriptor's offset: what a reader consumed, at most one
    buffer ahead of what was processed. A reader that knows its rows before its first chunk
    says so (`expect_rows`); progress then goes by rows (`done`)."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._last = 0
        self.rows: int | None = None  # the reader's row count, known up front

    @classmethod
    def track(cls, file: IO[bytes]) -> None:
        current = cls.current()
        if current is not None:
            current._file, current._last, current.rows = file, 0, None

    @classmethod
    def expect_rows(cls, rows: int | None) -> None:
        """The input has `rows` rows (None: not known). For readers whose bytes say nothing of
        what is done: a JSON document is read and parsed whole before its first chunk, a
        spreadsheet or Parquet file is read by its library (its recorded row counts)."""
        current = cls.current()
        if current is not None:
            current.rows = rows

    def done(self, rows: int, size: int) -> int:
        """Progress in bytes once `rows` rows are through: their share of `size` when the
        reader told its rows (expect_rows), else the bytes read."""
        if self.rows:
            return rows_share(size, rows, self.rows)
        return self.position

    @property
    def position(self) -> int:
        """Bytes read so far (the last known offset once the file is closed)."""
        if self._file is not None:
            # A pipe cannot tell; a closed file keeps its last offset.
            with contextlib.suppress(OSError, ValueError):
                self._last = self._file.tell()
        return self._last


def rows_share(size: int, rows: int, total: int) -> int:
    """Bytes done of an input of `size` bytes once `rows` of its `total` rows are through."""
    return size * min(rows, total) // total if total else 0


# Characters of windows the engine analyses between two reports of how far it got: a 1 MB pass
# over a transcript takes tens of seconds, so its windows are settled in steps of about this
# much (scrubbers/engine.py), each a move of the bar.
STEP_CHARS = 100_000


def settling_steps(windows: list[str], step_chars: int = STEP_CHARS) -> Iterator[list[str]]:
    """`windows` in order, in consecutive groups of about `step_chars` characters (one window
    at least): a batch of table cells stays one group, a long text's windows become several."""
    group: list[str] = []
    chars = 0
    for window in windows:
        group.append(window)
        chars += len(window)
        if chars >= step_chars:
            yield group
            group, chars = [], 0
    if group:
        yield group


class PassMeter(ThreadScoped):
    """An item's progress inside each analysis pass over a text file (this thread, while
    active): the engine says how far through the pass's text its windows are settled
    (`windows_settled`), and the item advances by that share between the bytes done after the
    last pass and the bytes read for this one. The caller says when a pass ends (`passed`)."""

    def __init__(self, advance: Callable[[int], None], meter: ReadMeter):
        self.advance = advance
        self.meter = meter
        self.before = 0  # bytes reported at the end of the last pass

    @classmethod
    def windows_settled(cls, end: int, length: int) -> None:
        """The engine's hook: the windows of the text at hand are settled up to `end` of its
        `length` characters (in order). Nothing happens when no pass is being metered."""
        current = cls.current()
        if current is not None and length > 0:
            before, read = current.before, current.meter.position
            if read > before:
                current.advance(before + (read - before) * min(end, length) // length)

    def passed(self, done: int) -> None:
        """A pass ended with `done` bytes through (the next pass moves on from there)."""
        self.advance(done)
        self.before = max(self.before, done)


def metered(items: Iterable[T], meter: ReadMeter, passing: PassMeter | None = None) -> Iterator[T]:
    """`items` from a generator that opens its input, with `meter` (and `passing`: a text's
    analysis passes) active while it reads (a generator body runs at each next(), not where
    it was created)."""
    iterator = iter(items)
    try:
        while True:
            with meter, passing or contextlib.nullcontext():
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item
    finally:  # stopped early (an error in the consumer): close the reader now, not at GC
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def relabelled(
    callback: ProgressCallback | None, item: str, position: tuple[int, int] | None = None
) -> ProgressCallback | None:
    """`callback` seeing every update as about `item` (at `position`): a zone names an item by
    its masked zone path, not the source path the scrubbers read."""
    if callback is None:
        return None
    target: ProgressCallback = callback

    def relabel(update: ProgressUpdate, /) -> None:
        target(replace(update, item=item, position=position))

    return relabel
