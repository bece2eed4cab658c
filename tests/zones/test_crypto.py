"""Encrypted zone file format: round trips, writer checks, memory (MUST-reject: vector tests)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piizone.zones.storage import crypto
from piizone.zones.storage.crypto import (
    HEADER_SIZE,
    TAG_SIZE,
    CryptoError,
    decrypt_file,
    decrypt_stream,
    encrypt_file,
    encrypt_stream,
    iter_decrypt,
    new_dek,
)

DEK = bytes(range(32))
ZONE = "zone-7f3a"
PATH = "data/customers.parquet"
S = 16  # small segments so every rule is reachable with a few bytes
SEALED = S + TAG_SIZE


def seal(plaintext: bytes, segment_size: int = S, **binding: str) -> bytes:
    dst = io.BytesIO()
    binding = {"zone_id": ZONE, "path": PATH} | binding
    encrypt_stream(io.BytesIO(plaintext), dst, DEK, segment_size=segment_size, **binding)
    return dst.getvalue()


def unseal(ciphertext: bytes, dek: bytes = DEK, **binding: str) -> bytes:
    dst = io.BytesIO()
    binding = {"zone_id": ZONE, "path": PATH} | binding
    decrypt_stream(io.BytesIO(ciphertext), dst, dek, **binding)
    return dst.getvalue()


def segment_at(i: int) -> slice:
    return slice(HEADER_SIZE + i * SEALED, HEADER_SIZE + (i + 1) * SEALED)


def flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


FOUR = bytes(range(4 * S))  # exactly four full segments


# The MUST-reject rules of docs/zone-format.md have static vectors, computed without piizone:
# tests/vectors/zone_format/, checked by test_zone_format_vectors.py.


def test_must_reject_too_many_segments(monkeypatch):
    ciphertext = seal(FOUR)
    monkeypatch.setattr(crypto, "_MAX_SEGMENT_INDEX", 2)
    with pytest.raises(CryptoError, match="too many segments"):
        unseal(ciphertext)
    with pytest.raises(CryptoError, match="too many segments"):
        seal(FOUR)
    assert unseal(seal(FOUR[: 3 * S])) == FOUR[: 3 * S]


def test_error_messages_carry_no_key_material():
    ciphertext = seal(FOUR)
    for bad in (ciphertext[:-1], flip(ciphertext, 60), ciphertext[:20]):
        with pytest.raises(CryptoError) as excinfo:
            unseal(bad)
        text = f"{excinfo.value} {excinfo.value.hint}"
        assert DEK.hex() not in text and repr(DEK) not in text


def test_iter_decrypt_yields_only_authenticated_segments():
    ciphertext = flip(seal(FOUR), segment_at(2).start + 1)
    got = []
    with pytest.raises(CryptoError, match="segment 2"):
        for chunk in iter_decrypt(io.BytesIO(ciphertext), DEK, zone_id=ZONE, path=PATH):
            got.append(chunk)
    assert got == [FOUR[:S], FOUR[S : 2 * S]]


def test_iter_decrypt_detects_boundary_truncation_before_the_end():
    # The cut file's segments all authenticate as non-last; only the missing flag reveals it.
    chunks = iter_decrypt(
        io.BytesIO(seal(FOUR)[: segment_at(1).stop]), DEK, zone_id=ZONE, path=PATH
    )
    assert next(chunks) == FOUR[:S]
    with pytest.raises(CryptoError, match="truncated"):
        next(chunks)


def test_decrypt_file_leaves_nothing_behind_on_failure(tmp_path: Path):
    src = tmp_path / "plain.csv"
    src.write_bytes(FOUR)
    enc = tmp_path / "enc.piiz"
    assert encrypt_file(src, enc, DEK, zone_id=ZONE, path=PATH, segment_size=S) == len(FOUR)
    assert enc.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "out.csv"
    assert decrypt_file(enc, out, DEK, zone_id=ZONE, path=PATH) == len(FOUR)
    assert out.read_bytes() == FOUR and out.stat().st_mode & 0o777 == 0o600

    enc.write_bytes(enc.read_bytes()[:-1])
    out.unlink()
    with pytest.raises(CryptoError, match="truncated"):
        decrypt_file(enc, out, DEK, zone_id=ZONE, path=PATH)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.piiz", "plain.csv"]


@pytest.mark.parametrize(
    ("zone_id", "path", "message"),
    [
        ("", PATH, "zone id must be non-empty"),
        ("a\0b", PATH, "zone id must be non-empty and contain no NUL"),
        (ZONE, "", "path must be non-empty"),
        (ZONE, "/etc/passwd", "path must be relative"),
    ],
)
def test_binding_values_are_validated(zone_id, path, message):
    with pytest.raises(CryptoError, match=message):
        seal(b"x", zone_id=zone_id, path=path)


@pytest.mark.parametrize("segment_size", [0, crypto.MAX_SEGMENT_SIZE + 1])
def test_writer_refuses_bad_segment_size(segment_size):
    with pytest.raises(CryptoError, match="invalid segment size"):
        seal(b"x", segment_size=segment_size)


def test_header_layout_matches_spec():
    ciphertext = seal(b"hello", segment_size=4096)
    assert ciphertext[:4] == b"PIIZ" and ciphertext[4] == 1
    assert struct.unpack(">I", ciphertext[5:9]) == (4096,)
    assert len(ciphertext) == HEADER_SIZE + 5 + TAG_SIZE == 48 + 21
    # Salt and nonce prefix are fresh per file: the same plaintext never encrypts the same way.
    assert seal(b"hello")[9:48] != seal(b"hello")[9:48]


def test_new_dek_is_random_and_32_bytes():
    assert len(new_dek()) == 32 and new_dek() != new_dek()


# --- round trips ----------------------------------------------------------------------------


@st.composite
def sizes_around_segments(draw):
    """A segment size and a plaintext length, biased to 0, 1 and multiples of the segment ±1."""
    segment_size = draw(st.sampled_from([1, 2, 3, 16, 64, 255]))
    multiple = draw(st.integers(min_value=0, max_value=12))
    delta = draw(st.sampled_from([-1, 0, 1]))
    length = draw(
        st.one_of(
            st.just(max(0, multiple * segment_size + delta)),
            st.integers(min_value=0, max_value=2000),
            st.sampled_from([0, 1]),
        )
    )
    return segment_size, length


@settings(max_examples=300, deadline=None)
@given(sizes_around_segments(), st.randoms(use_true_random=False))
def test_round_trip_any_size(case, rng):
    segment_size, length = case
    plaintext = rng.randbytes(length)
    ciphertext = seal(plaintext, segment_size=segment_size)
    segments = max(1, -(-length // segment_size))
    assert len(ciphertext) == HEADER_SIZE + length + segments * TAG_SIZE
    assert unseal(ciphertext) == plaintext
    chunks = list(iter_decrypt(io.BytesIO(ciphertext), DEK, zone_id=ZONE, path=PATH))
    assert b"".join(chunks) == plaintext
    assert len(chunks) == segments


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([1, 7, 16, 100]))
def test_round_trip_arbitrary_bytes(plaintext, segment_size):
    assert unseal(seal(plaintext, segment_size=segment_size)) == plaintext


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_single_bit_flip_is_rejected(plaintext, data):
    ciphertext = seal(plaintext)
    offset = data.draw(st.integers(min_value=0, max_value=len(ciphertext) - 1))
    with pytest.raises(CryptoError):
        unseal(flip(ciphertext, offset))


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_any_truncation_is_rejected(plaintext, data):
    ciphertext = seal(plaintext)
    cut = data.draw(st.integers(min_value=0, max_value=len(ciphertext) - 1))
    with pytest.raises(CryptoError):
        unseal(ciphertext[:cut])


class Dribble(io.RawIOBase):
    """A stream that returns at most 3 bytes per read, like a slow pipe or socket."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        chunk = self._data.read(min(3, len(b)))
        b[: len(chunk)] = chunk
        return len(chunk)


class ReadOnly:
    """A file-like object with read() but no readinto()."""

    def __init__(self, data: bytes):
        self.read = io.BytesIO(data).read


@pytest.mark.parametrize("wrap", [Dribble, ReadOnly], ids=["short-reads", "read-only"])
def test_round_trip_through_awkward_readers(wrap):
    plaintext = os.urandom(5 * S + 7)
    dst = io.BytesIO()
    encrypt_stream(wrap(plaintext), dst, DEK, zone_id=ZONE, path=PATH, segment_size=S)
    out = io.BytesIO()
    decrypt_stream(wrap(dst.getvalue()), out, DEK, zone_id=ZONE, path=PATH)
    assert out.getvalue() == plaintext


class Trickle(io.RawIOBase):
    """A raw writer that accepts at most 5 bytes per call, as a pipe may."""

    def __init__(self):
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += bytes(b[:5])
        return min(5, len(b))


def test_round_trip_through_partial_writes():
    plaintext = os.urandom(3 * S + 1)
    encrypted = Trickle()
    encrypt_stream(io.BytesIO(plaintext), encrypted, DEK, zone_id=ZONE, path=PATH, segment_size=S)
    decrypted = Trickle()
    decrypt_stream(io.BytesIO(bytes(encrypted.data)), decrypted, DEK, zone_id=ZONE, path=PATH)
    assert bytes(decrypted.data) == plaintext


# --- bounded memory -------------------------------------------------------------------------


class PatternSource(io.RawIOBase):
    """`size` bytes of a repeating pattern, generated on demand and hashed as they are read."""

    def __init__(self, size: int):
        self._left = size
        self._block = os.urandom(1 << 16) * 16  # 1 MiB
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._left, len(self._block))
        b[:n] = self._block[:n]
        self.sha256.update(memoryview(b)[:n])
        self._left -= n
        return n


class HashingSink(io.RawIOBase):
    def __init__(self):
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.sha256.update(b)
        self.size += len(b)
        return len(b)


@pytest.mark.slow
def test_memory_stays_bounded_for_large_streams():
    size = 256 << 20
    source, sink = PatternSource(size), HashingSink()
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce():
        try:
            with os.fdopen(write_fd, "wb") as pipe:
                encrypt_stream(source, pipe, DEK, zone_id=ZONE, path=PATH)
        except BaseException as e:  # surfaced in the main thread below
            errors.append(e)

    tracemalloc.start()
    try:
        writer = threading.Thread(target=produce)
        writer.start()
        with os.fdopen(read_fd, "rb") as pipe:
            assert decrypt_stream(pipe, sink, DEK, zone_id=ZONE, path=PATH) == size
        writer.join()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not errors
    assert sink.size == size and sink.sha256.digest() == source.sha256.digest()
    # Both ends together hold a few segment-sized buffers (1 MiB each); 256 MiB never is.
    assert peak < 12 << 20, f"peak traced memory {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 3, 1000])
@pytest.mark.parametrize("pieces", [1, 7])
def test_encrypting_writer_matches_the_format(size, pieces):
    from piizone.zones.storage.crypto import EncryptingWriter

    data = os.urandom(size)
    dek = new_dek()
    out = io.BytesIO()
    writer = EncryptingWriter(out, dek, zone_id="z1", path="data/a.csv", segment_size=64)
    step = max(1, size // pieces)
    for i in range(0, size, step):
        writer.write(data[i : i + step])
    writer.close()
    assert writer.size == size and writer.sha256 == hashlib.sha256(data).hexdigest()
    plain = io.BytesIO()
    decrypt_stream(io.BytesIO(out.getvalue()), plain, dek, zone_id="z1", path="data/a.csv")
    assert plain.getvalue() == data


def test_unclosed_writer_output_is_rejected():
    from piizone.zones.storage.crypto import EncryptingWriter

    dek = new_dek()
    out = io.BytesIO()
    writer = EncryptingWriter(out, dek, zone_id="z1", path="p", segment_size=64)
    writer.write(os.urandom(200))  # crash before close(): no final segment
    with pytest.raises(CryptoError):
        decrypt_stream(io.BytesIO(out.getvalue()), io.BytesIO(), dek, zone_id="z1", path="p")
