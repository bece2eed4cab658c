"""Hand a pool several small text files at once.

Scan and redaction take one file at a time, and a transcript file (a few KB) is one text: with
`--workers N` only one worker would be busy. `prefetch` walks ahead over the next files, up to
a few million characters, analyses them in one `analyze_many` call (the pool spreads their
windows over every worker) and leaves the findings in the engine's memo; the scan and the
redaction of each file then read them from there. A file is read the way `iter_text_chunks` and
the text redactor read it (one chunk), so the memo holds exactly the text they analyse, and the
findings are the ones they would compute themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import TEXT_CHUNK_CHARS, DecodeCounter, detect_format, open_text

T = TypeVar("T")
# Characters analysed ahead at a time; the engine's memo keeps twice this of long texts.
GROUP_CHARS = 4_000_000


def single_chunk_text(path: Path) -> str | None:
    """The text of a text file that scan and redaction analyse whole, else None."""
    if detect_format(path) != "txt":
        return None
    try:
        size = path.stat().st_size
        # Bytes bound characters: a file this small is read in one chunk by both.
        if not 0 < size <= TEXT_CHUNK_CHARS:
            return None
        # Its own counter: decoding problems are reported by the real read, not this one.
        with DecodeCounter(), open_text(path) as f:
            text = f.read(TEXT_CHUNK_CHARS)
    except (InputError, OSError, ValueError):
        return None  # the real read reports it
    return None if "\x00" in text else text


def prefetch(engine, items: Iterable[T], path_of: Callable[[T], Path | None]) -> Iterator[T]:
    """`items`, unchanged and in order; the text files among them analysed ahead in groups.

    Only for engines that fan out (a pool or Dask); the in-process engine gains nothing.
    `path_of` gives an item's file, or None for items not to analyse ahead.
    """
    items = list(items)
    if getattr(engine, "workers", 1) <= 1:
        yield from items
        return
    ahead = 0  # items[:ahead] were analysed ahead (or are not text files)
    for i, item in enumerate(items):
        if i >= ahead:
            texts: list[str] = []
            chars = 0
            while ahead < len(items) and chars < GROUP_CHARS:
                path = path_of(items[ahead])
                text = single_chunk_text(path) if path is not None else None
                if text is not None:
                    texts.append(text)
                    chars += len(text)
                ahead += 1
            for _ in engine.analyze_many(texts):
                pass
        yield item
