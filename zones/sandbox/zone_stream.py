"""The zone's plaintext on its way into the sandbox: each file decrypted chunk by chunk and written
as an uncompressed tar stream into the pipe the in-sandbox init step unpacks. Nothing decrypted
touches a disk."""

from __future__ import annotations

import tarfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from piizone.zones.sandbox.errors import SandboxError
from piizone.zones.storage.crypto import iter_decrypt
from piizone.zones.storage.manifest import ZoneManifest

_TAR_BUFSIZE = 1 << 20


def tar_stream(
    entries: Iterable[tuple[str, int, Iterator[bytes]]], dst: Any, *, mtime: float | None = None
) -> int:
    """Write (relpath, size, chunks) as an uncompressed tar stream ('w|': never seeks, no temp
    files), so decrypted bytes go from memory straight into the pipe. Returns bytes of content."""
    total = 0
    now = time.time() if mtime is None else mtime
    # 1 MiB (one AEAD segment) both for reads and for the stream's buffer: tarfile's stream
    # re-slices its buffer per `bufsize` written, quadratic with the 10 KiB default.
    with tarfile.open(
        fileobj=dst, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_TAR_BUFSIZE
    ) as tar:
        # typeshed omits TarFile.copybufsize (set in TarFile.__init__, read by addfile).
        tar.copybufsize = _TAR_BUFSIZE  # type: ignore[attr-defined]
        for relpath, size, chunks in entries:
            info = tarfile.TarInfo(relpath)
            info.size, info.mode, info.mtime, info.uid, info.gid = size, 0o444, now, 0, 0
            tar.addfile(info, _ChunkReader(chunks, size))
            total += size
    return total


class _ChunkReader:
    """A read()-able view of an iterator of byte chunks; checks the promised size exactly.

    Reads return exactly n bytes until the end (tarfile treats a short read as truncation) and
    copy each byte once: slicing a growing buffer made streaming quadratic in the segment size.
    """

    def __init__(self, chunks: Iterator[bytes], size: int):
        self._chunks, self._left = iter(chunks), size
        self._view, self._pos = memoryview(b""), 0

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        if self._pos >= len(self._view) and n:
            chunk = next(self._chunks, None)
            if chunk is not None and len(chunk) == n:  # the common case: one whole segment
                self._left -= n
                return chunk
            self._view, self._pos = memoryview(chunk or b""), 0
            if chunk is None:
                raise SandboxError("zone file is shorter than the size in its manifest")
        out = bytearray()
        while len(out) < n:
            if self._pos >= len(self._view):
                chunk = next(self._chunks, None)
                if chunk is None:
                    # A short file would shift every later tar header; stop the stream instead.
                    raise SandboxError("zone file is shorter than the size in its manifest")
                self._view, self._pos = memoryview(chunk), 0
            take = min(n - len(out), len(self._view) - self._pos)
            out += self._view[self._pos : self._pos + take]
            self._pos += take
        self._left -= n
        return bytes(out)


def zone_entries(directory: Path, manifest: ZoneManifest, dek: bytes):
    """(relpath under /zone/data, size, decrypted chunks) for every file of the zone."""
    for entry in manifest.files:
        path = entry.path
        rel = path.removeprefix("data/")
        parts = Path(rel).parts
        if not path.startswith("data/") or Path(rel).is_absolute() or ".." in parts:
            raise SandboxError(f"zone {manifest.name!r}: bad file path in the manifest")
        yield rel, entry.bytes, _decrypted(directory / path, dek, manifest.id, path)


def _decrypted(path: Path, dek: bytes, zone_id: str, rel: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from iter_decrypt(f, dek, zone_id=zone_id, path=rel)
