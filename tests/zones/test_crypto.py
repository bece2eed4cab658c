"""Encrypted zone file format: MUST-reject vectors (docs/zone-format.md), round trips, memory."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import tracemalloc
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from piizone.zones.exceptions import ZoneError
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
OTHER_DEK = bytes(range(1, 33))
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


def seal_segments(segments: list[bytes], last_flags: list[bool]) -> bytes:
    """A hand-built file, for encodings a correct writer never produces."""
    header = crypto.MAGIC + b"\x01" + struct.pack(">I", S) + os.urandom(32) + os.urandom(7)
    aead = AESGCM(crypto._file_key(DEK, header, ZONE, PATH))
    prefix = header[-7:]
    body = b"".join(
        aead.encrypt(crypto._nonce(prefix, i, last), seg, header)
        for i, (seg, last) in enumerate(zip(segments, last_flags, strict=True))
    )
    return header + body


FOUR = bytes(range(4 * S))  # exactly four full segments
TEN_AND_A_BIT = bytes(range(256))[: 10 * S + 5]  # ten full segments and a short one


def _swap(ct: bytes, a: int, b: int) -> bytes:
    out = bytearray(ct)
    out[segment_at(a)], out[segment_at(b)] = ct[segment_at(b)], ct[segment_at(a)]
    return bytes(out)


# One row per MUST-reject rule of docs/zone-format.md: (rule, build bad input, binding, message).
MUST_REJECT = [
    ("1 empty file", lambda: b"", {}, "not a piizone encrypted file"),
    ("1 bad magic", lambda: b"PIIX" + seal(FOUR)[4:], {}, "not a piizone encrypted file"),
    ("1 not encrypted", lambda: b"name,email\nAda,ada@example.com\n", {}, "not a piizone"),
    (
        "2 unknown version",
        lambda: seal(FOUR)[:4] + b"\x02" + seal(FOUR)[5:],
        {},
        "unsupported format version 2",
    ),
    (
        "2 version zero",
        lambda: seal(FOUR)[:4] + b"\x00" + seal(FOUR)[5:],
        {},
        "unsupported format version 0",
    ),
    ("3 header cut in magic", lambda: b"PI", {}, "truncated: header is incomplete"),
    ("3 header cut in salt", lambda: seal(FOUR)[:30], {}, "truncated: header is incomplete"),
    (
        "4 segment size zero",
        lambda: seal(FOUR)[:5] + b"\0\0\0\0" + seal(FOUR)[9:],
        {},
        "invalid segment size 0",
    ),
    (
        "4 segment size huge",
        lambda: seal(FOUR)[:5] + b"\xff\xff\xff\xff" + seal(FOUR)[9:],
        {},
        "invalid segment size 4294967295",
    ),
    ("5 header only", lambda: seal(FOUR)[:HEADER_SIZE], {}, "truncated: no segments"),
    (
        "6 segment shorter than tag",
        lambda: seal(b"")[: HEADER_SIZE + 10],
        {},
        "truncated: segment 0 is shorter than its authentication tag",
    ),
    (
        "7 wrong key",
        lambda: seal(FOUR),
        {"dek": OTHER_DEK},
        "authentication failed at segment 0: wrong key or file bound to another zone/path",
    ),
    (
        "7 moved to another path",
        lambda: seal(FOUR),
        {"path": "data/transactions.parquet"},
        "wrong key or file bound to another zone/path",
    ),
    (
        "7 moved to another zone",
        lambda: seal(FOUR),
        {"zone_id": "zone-0000"},
        "wrong key or file bound to another zone/path",
    ),
    (
        "7 empty file moved to another zone",
        lambda: seal(b""),
        {"zone_id": "zone-0000"},
        "wrong key or file bound to another zone/path",
    ),
    (
        "7 flipped bit in salt",
        lambda: flip(seal(FOUR), 9),
        {},
        "authentication failed at segment 0",
    ),
    (
        "7 flipped bit in nonce prefix",
        lambda: flip(seal(FOUR), 44),
        {},
        "authentication failed at segment 0",
    ),
    (
        "7 flipped bit in segment size",
        lambda: flip(seal(FOUR), 8),
        {},
        "authentication failed at segment 0",
    ),
    (
        "8 flipped bit in body",
        lambda: flip(seal(FOUR), segment_at(1).start + 3),
        {},
        "authentication failed at segment 1",
    ),
    (
        "8 flipped bit in tag",
        lambda: flip(seal(FOUR), segment_at(2).stop - 1),
        {},
        "authentication failed at segment 2",
    ),
    (
        "8 flipped bit in last segment",
        lambda: flip(seal(FOUR), segment_at(3).start),
        {},
        "final segment 3 failed authentication",
    ),
    (
        "8 reordered segments",
        lambda: _swap(seal(FOUR), 1, 2),
        {},
        "segment out of order or duplicated: position 1 holds segment 2",
    ),
    (
        "8 first two segments swapped",
        lambda: _swap(seal(FOUR), 0, 1),
        {},
        "segment out of order or duplicated: position 0 holds segment 1",
    ),
    (
        "8 duplicated segment",
        lambda: (lambda c: c[: segment_at(2).stop] + c[segment_at(1)] + c[segment_at(2).stop :])(
            seal(FOUR)
        ),
        {},
        "segment out of order or duplicated: position 3 holds segment 1",
    ),
    (
        "8 dropped segment",
        lambda: (lambda c: c[: segment_at(1).start] + c[segment_at(1).stop :])(seal(FOUR)),
        {},
        "segment out of order or duplicated: position 1 holds segment 2",
    ),
    (
        "9 truncated at a segment boundary",
        lambda: seal(FOUR)[: segment_at(2).stop],
        {},
        "truncated: segment 2 is not marked last but the file ends there",
    ),
    (
        "9 truncated at the first boundary",
        lambda: seal(FOUR)[: segment_at(0).stop],
        {},
        "truncated: segment 0 is not marked last",
    ),
    (
        "9 truncated mid-segment",
        lambda: seal(FOUR)[: segment_at(2).start + 20],
        {},
        "truncated or corrupted: final segment 2 failed authentication",
    ),
    (
        "9 last byte missing",
        lambda: seal(TEN_AND_A_BIT)[:-1],
        {},
        "truncated or corrupted: final segment 10",
    ),
    (
        "10 trailing byte after full last segment",
        lambda: seal(FOUR) + b"\0",
        {},
        "trailing data after the last segment",
    ),
    (
        "10 trailing segment after last segment",
        lambda: seal(FOUR) + seal(FOUR)[segment_at(3)],
        {},
        "trailing data after the last segment",
    ),
    (
        "10 trailing byte after short last segment",
        lambda: seal(TEN_AND_A_BIT) + b"\0",
        {},
        "truncated or corrupted: final segment 10",
    ),
    (
        "11 empty final segment on non-empty plaintext",
        lambda: seal_segments([FOUR[:S], FOUR[S : 2 * S], b""], [False, False, True]),
        {},
        "empty final segment 2 on non-empty plaintext",
    ),
]


@pytest.mark.parametrize(
    ("build", "binding", "message"),
    [pytest.param(b, k, m, id=rule) for rule, b, k, m in MUST_REJECT],
)
def test_must_reject(build, binding, message):
    with pytest.raises(CryptoError, match=message) as excinfo:
        unseal(build(), **binding)
    assert isinstance(excinfo.value, ZoneError)


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
