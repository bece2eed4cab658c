"""Streaming AEAD format for zone files (spec: docs/zone-format.md).

AES-256-GCM over fixed-size segments, one HKDF-derived key per file bound to the zone id and the
file's path, and a nonce that carries the segment counter and a last-segment flag.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator
from typing import IO, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from piizone.fs import atomic_write
from piizone.zones.exceptions import ZoneError

MAGIC = b"PIIZ"
VERSION = 1
SEGMENT_SIZE = 1 << 20
MAX_SEGMENT_SIZE = 64 << 20
DEK_SIZE = 32
TAG_SIZE = 16
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
HEADER_SIZE = len(MAGIC) + 1 + 4 + SALT_SIZE + NONCE_PREFIX_SIZE  # 48
KEY_INFO_LABEL = b"piizone-file-v1"

# The counter is 4 bytes of the 12-byte nonce; past this the nonce would repeat.
_MAX_SEGMENT_INDEX = 0xFFFFFFFF
# On an authentication failure the reader tries nearby positions to tell "reordered" from
# "corrupted". Error path only, and bounded so a hostile file cannot make it expensive.
_PROBE_WINDOW = 16

_LAST = b"\x01"
_NOT_LAST = b"\x00"


class CryptoError(ZoneError):
    """An encrypted zone file is malformed, tampered with, or opened with the wrong key."""


def new_dek() -> bytes:
    """A fresh random 256-bit data key."""
    return os.urandom(DEK_SIZE)


def encrypt_stream(
    src: BinaryIO,
    dst: IO[bytes],
    dek: bytes,
    *,
    zone_id: str,
    path: str,
    segment_size: int = SEGMENT_SIZE,
) -> int:
    """Encrypt everything readable from `src` into `dst`; return the number of plaintext bytes."""
    _check_segment_size(segment_size)
    header = (
        MAGIC
        + bytes([VERSION])
        + struct.pack(">I", segment_size)
        + os.urandom(SALT_SIZE)
        + os.urandom(NONCE_PREFIX_SIZE)
    )
    aead = AESGCM(_file_key(dek, header, zone_id, path))
    prefix = header[-NONCE_PREFIX_SIZE:]
    _write_all(dst, header)

    # One segment plus one byte of look-ahead: the extra byte tells whether more plaintext
    # follows, so the last segment is known without holding two segments in memory.
    buf = bytearray(segment_size + 1)
    view = memoryview(buf)
    out = memoryview(bytearray(segment_size + TAG_SIZE))
    carried = 0
    index = 0
    total = 0
    while True:
        filled = carried + _read_into(src, view[carried:])
        last = filled <= segment_size
        size = filled if last else segment_size
        if index > _MAX_SEGMENT_INDEX:
            raise CryptoError("too many segments: the plaintext is larger than the format allows")
        sealed = out[: size + TAG_SIZE]
        aead.encrypt_into(_nonce(prefix, index, last), view[:size], header, sealed)
        _write_all(dst, sealed)
        total += size
        if last:
            return total
        buf[0] = buf[segment_size]
        carried = 1
        index += 1


class EncryptingWriter(io.RawIOBase):
    """A write-only file object that encrypts into `dst` as it is written (same format).

    Producers that write (CSV/Parquet writers, redaction) stream straight into the zone's
    encrypted file: plaintext never touches the disk, and memory holds at most two segments.
    `sha256` and `size` describe the plaintext, for the manifest. close() seals the final
    segment; an exception before close() leaves an unterminated file that readers reject.
    """

    def __init__(
        self,
        dst: BinaryIO,
        dek: bytes,
        *,
        zone_id: str,
        path: str,
        segment_size: int = SEGMENT_SIZE,
    ):
        super().__init__()
        _check_segment_size(segment_size)
        self._header = (
            MAGIC
            + bytes([VERSION])
            + struct.pack(">I", segment_size)
            + os.urandom(SALT_SIZE)
            + os.urandom(NONCE_PREFIX_SIZE)
        )
        self._aead = AESGCM(_file_key(dek, self._header, zone_id, path))
        self._prefix = self._header[-NONCE_PREFIX_SIZE:]
        self._dst = dst
        self._segment_size = segment_size
        self._buf = bytearray()
        self._index = 0
        self._hash = hashlib.sha256()
        self.size = 0
        _write_all(dst, self._header)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a closed EncryptingWriter")
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._buf += view
        self.size += len(view)
        # Seal only when more bytes follow a full segment: the last segment must carry the flag.
        while len(self._buf) > self._segment_size:
            self._seal(bytes(self._buf[: self._segment_size]), last=False)
            del self._buf[: self._segment_size]
        return len(view)

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buf), last=True)
            self._buf.clear()
        super().close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def _seal(self, plain: bytes, *, last: bool) -> None:
        if self._index > _MAX_SEGMENT_INDEX:
            raise CryptoError("too many segments: the plaintext is larger than the format allows")
        nonce = _nonce(self._prefix, self._index, last)
        _write_all(self._dst, self._aead.encrypt(nonce, plain, self._header))
        self._index += 1


def iter_decrypt(src: BinaryIO, dek: bytes, *, zone_id: str, path: str) -> Iterator[bytes]:
    """Yield the plaintext segment by segment; raise CryptoError at the first bad segment.

    Only authenticated plaintext is yielded. A truncated or tampered file raises after the
    segments before the damage were yielded, so consumers that need all-or-nothing must stage.
    """
    # Fresh bytes per segment (no buffer reuse): the consumer may keep what it was given.
    for plain in _decrypt_segments(src, dek, zone_id=zone_id, path=path, reuse_buffer=False):
        assert isinstance(plain, bytes)  # reuse_buffer=False: AESGCM.decrypt returns bytes
        yield plain


def decrypt_stream(src: BinaryIO, dst: IO[bytes], dek: bytes, *, zone_id: str, path: str) -> int:
    """Decrypt `src` into `dst`; return the number of plaintext bytes written."""
    total = 0
    for chunk in _decrypt_segments(src, dek, zone_id=zone_id, path=path, reuse_buffer=True):
        _write_all(dst, chunk)
        total += len(chunk)
    return total


def encrypt_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    dek: bytes,
    *,
    zone_id: str,
    path: str,
    segment_size: int = SEGMENT_SIZE,
) -> int:
    """Encrypt a file into `dst_path` (mode 0600, replaced atomically); return plaintext bytes."""
    with open(src_path, "rb") as src:
        return atomic_write(
            dst_path,
            lambda dst: encrypt_stream(
                src, dst, dek, zone_id=zone_id, path=path, segment_size=segment_size
            ),
        )


def decrypt_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    dek: bytes,
    *,
    zone_id: str,
    path: str,
) -> int:
    """Decrypt a file into `dst_path` (mode 0600); it appears only once all of it verified."""
    with open(src_path, "rb") as src:
        return atomic_write(
            dst_path,
            lambda dst: decrypt_stream(src, dst, dek, zone_id=zone_id, path=path),
        )


def _decrypt_segments(
    src: BinaryIO, dek: bytes, *, zone_id: str, path: str, reuse_buffer: bool
) -> Iterator[bytes | memoryview]:
    header, segment_size = _read_header(src)
    aead = AESGCM(_file_key(dek, header, zone_id, path))
    prefix = header[-NONCE_PREFIX_SIZE:]
    sealed_size = segment_size + TAG_SIZE

    buf = bytearray(sealed_size + 1)
    view = memoryview(buf)
    out = memoryview(bytearray(segment_size)) if reuse_buffer else None
    carried = 0
    index = 0
    while True:
        filled = carried + _read_into(src, view[carried:])
        last = filled <= sealed_size
        size = filled if last else sealed_size
        if filled == 0:
            raise CryptoError("truncated: no segments after the header")
        if size < TAG_SIZE:
            raise CryptoError(f"truncated: segment {index} is shorter than its authentication tag")
        if index > _MAX_SEGMENT_INDEX:
            raise CryptoError("too many segments: the file is larger than the format allows")
        sealed = view[:size]
        try:
            if out is not None:
                plain: bytes | memoryview = out[: size - TAG_SIZE]
                aead.decrypt_into(_nonce(prefix, index, last), sealed, header, plain)
            else:
                plain = aead.decrypt(_nonce(prefix, index, last), sealed, header)
        except InvalidTag:
            raise _diagnose(aead, prefix, header, sealed, index, last) from None
        if last and size == TAG_SIZE and index > 0:
            # Authentic, but a spec-following writer never emits it: one plaintext, one encoding.
            raise CryptoError(f"empty final segment {index} on non-empty plaintext")
        yield plain
        if last:
            return
        buf[0] = buf[sealed_size]
        carried = 1
        index += 1


def _read_header(src: BinaryIO) -> tuple[bytes, int]:
    head = _read_exact(src, len(MAGIC) + 1)
    if len(head) < len(MAGIC):
        if head and MAGIC.startswith(head):
            raise CryptoError("truncated: header is incomplete")
        raise CryptoError("not a piizone encrypted file")
    if head[: len(MAGIC)] != MAGIC:
        raise CryptoError("not a piizone encrypted file")
    if len(head) < len(MAGIC) + 1:
        raise CryptoError("truncated: header is incomplete")
    version = head[len(MAGIC)]
    if version != VERSION:
        raise CryptoError(
            f"unsupported format version {version}",
            hint="written by a newer piizone; upgrade to read it" if version > VERSION else None,
        )
    rest = _read_exact(src, HEADER_SIZE - len(head))
    if len(rest) < HEADER_SIZE - len(head):
        raise CryptoError("truncated: header is incomplete")
    header = head + rest
    (segment_size,) = struct.unpack(">I", header[5:9])
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise CryptoError(f"invalid segment size {segment_size}")
    return header, segment_size


def _diagnose(
    aead: AESGCM, prefix: bytes, header: bytes, sealed: memoryview, index: int, last: bool
) -> CryptoError:
    """Name what went wrong with a segment that failed authentication (error path only)."""

    def opens_as(position: int, as_last: bool) -> bool:
        if position > _MAX_SEGMENT_INDEX:
            return False
        try:
            aead.decrypt(_nonce(prefix, position, as_last), sealed, header)
        except InvalidTag:
            return False
        return True

    full = len(sealed) == int.from_bytes(header[5:9], "big") + TAG_SIZE
    if last and full and opens_as(index, False):
        return CryptoError(f"truncated: segment {index} is not marked last but the file ends there")
    if not last and opens_as(index, True):
        return CryptoError(f"trailing data after the last segment ({index})")
    for position in range(max(0, index - _PROBE_WINDOW), index + _PROBE_WINDOW + 1):
        for as_last in (False, True):
            if (position, as_last) != (index, last) and opens_as(position, as_last):
                return CryptoError(
                    f"segment out of order or duplicated: position {index} holds segment {position}"
                )
    if index == 0:
        return CryptoError(
            "authentication failed at segment 0: wrong key or file bound to another zone/path",
            hint="check the zone's key provider; a file copied from another zone or path, "
            "or a modified header, fails the same way",
        )
    if last:
        return CryptoError(f"truncated or corrupted: final segment {index} failed authentication")
    return CryptoError(f"authentication failed at segment {index}: the data was modified")


def _file_key(dek: bytes, header: bytes, zone_id: str, path: str) -> bytes:
    if len(dek) != DEK_SIZE:
        raise CryptoError(f"data key must be {DEK_SIZE} bytes")
    if path.startswith("/"):
        raise CryptoError("path must be relative to the zone directory")
    info = KEY_INFO_LABEL + _binding(zone_id, "zone id") + b"\0" + _binding(path, "path")
    salt = header[9 : 9 + SALT_SIZE]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(dek)


def _binding(value: str, what: str) -> bytes:
    # A NUL inside either value would make (zone id, path) pairs ambiguous in the HKDF info.
    if not value or "\0" in value:
        raise CryptoError(f"{what} must be non-empty and contain no NUL byte")
    return value.encode("utf-8")


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (_LAST if last else _NOT_LAST)


def _check_segment_size(segment_size: int) -> None:
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise CryptoError(f"invalid segment size {segment_size}")


def _read_into(src: BinaryIO, view: memoryview) -> int:
    """Fill `view` from `src` until it is full or the stream ends; return the bytes read."""
    readinto = getattr(src, "readinto", None)
    filled = 0
    while filled < len(view):
        if readinto is not None:
            n = readinto(view[filled:])
        else:
            data = src.read(len(view) - filled)
            n = len(data) if data else 0
            view[filled : filled + n] = data or b""
        if not n:
            break
        filled += n
    return filled


def _write_all(dst: IO[bytes], data: bytes | memoryview) -> None:
    # Raw (unbuffered) files and pipes may accept only part of a write.
    view = memoryview(data)
    while view:
        written = dst.write(view)
        if written is None:
            raise BlockingIOError("the destination is non-blocking and not ready")
        view = view[written:]


def _read_exact(src: BinaryIO, size: int) -> bytes:
    buf = bytearray(size)
    return bytes(buf[: _read_into(src, memoryview(buf))])
