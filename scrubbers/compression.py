"""Compressed inputs (`.gz`, `.bz2`, `.zst`) read as a stream of their decompressed bytes.

`scan` reads `customers.csv.gz` as the CSV it holds: the format is the suffix before the
compression suffix. Decompression streams (nothing is written to disk, memory stays bounded);
a damaged or truncated stream is one InputError, never a library's traceback.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from pathlib import Path
from typing import IO

import zstandard

from piizone.scrubbers.exceptions import InputError

COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".zst": "zstd"}


def compression_of(path: str | Path) -> str | None:
    """'gzip', 'bzip2' or 'zstd' by the file's last suffix; None for an uncompressed name."""
    return COMPRESSIONS.get(Path(path).suffix.lower())


def inner_name(path: str | Path) -> Path:
    """The name without its compression suffix (`a.csv.gz` -> `a.csv`)."""
    path = Path(path)
    return path.with_suffix("") if compression_of(path) else path


class _Decompressed(io.RawIOBase):
    """A decompressing reader whose failures are InputErrors naming the file."""

    def __init__(self, inner: IO[bytes] | io.BufferedIOBase, kind: str, name: str):
        self._inner, self._kind, self._name = inner, kind, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
            raise InputError(
                f"{self._name}: corrupt or truncated {self._kind} data ({type(e).__name__})"
            ) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


class _ZstdReader(io.RawIOBase):
    """zstd frames one after another, decompressed; a stream cut inside a frame is an error.

    Written out over decompressobj because zstandard's stream_reader ends a truncated frame
    quietly, and the rest of the file would go unscanned without a word.
    """

    CHUNK = 256 * 1024

    def __init__(self, raw: IO[bytes], name: str):
        self._raw, self._name = raw, name
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""
        self._in_frame = False  # bytes of the current frame were fed, its end not yet seen

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._raw.read(self.CHUNK)
            if not chunk:
                if self._in_frame:
                    raise InputError(f"{self._name}: corrupt or truncated zstd data (cut short)")
                return 0
            self._feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, chunk: bytes) -> None:
        while chunk:
            self._in_frame = True
            self._pending += self._dobj.decompress(chunk)
            if not self._dobj.eof:
                return
            # A frame ended: the next one (concatenated .zst files) starts a new decompressor.
            chunk = self._dobj.unused_data
            self._dobj = zstandard.ZstdDecompressor().decompressobj()
            self._in_frame = False

    def close(self) -> None:
        self._raw.close()
        super().close()


def decompressing(raw: IO[bytes], path: str | Path) -> IO[bytes]:
    """`raw` itself for an uncompressed name, else a buffered reader of its decompressed bytes."""
    kind = compression_of(path)
    if kind is None:
        return raw
    inner: IO[bytes] | io.BufferedIOBase
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind == "bzip2":
        inner = bz2.BZ2File(raw, mode="rb")
    else:
        inner = io.BufferedReader(_ZstdReader(raw, str(path)))
    return io.BufferedReader(_Decompressed(inner, kind, str(path)))
