"""Throughput of the zone file format (zones/crypto.py) against raw AES-256-GCM, same run.

    .venv/bin/python benchmarks/crypto_bench.py [--mib 512] [--repeat 3]

Two baselines, same key and 1 MiB chunks, no framing:
- raw AES-GCM in memory: encrypt_into/decrypt_into on one resident chunk, no reads or writes.
  The ceiling of the cipher itself.
- raw AES-GCM with the same I/O: the format's in-memory source and null sink, plain chunks read
  into a buffer, sealed and written. The fair baseline for what the format adds (header, HKDF,
  nonce with counter and last flag, one byte of look-ahead); the format's 20% budget is
  measured against it. The gap to the first row is the memcpy any streaming reader pays.
The sink is a null writer so the numbers measure crypto, not disk. Each figure is the best of
--repeat runs, all variants interleaved so they see the same machine. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from piizone.zones.storage.crypto import SEGMENT_SIZE, decrypt_stream, encrypt_stream  # noqa: E402

ZONE, PATH = "bench-zone", "data/bench.bin"


class RepeatingSource(io.RawIOBase):
    """`size` bytes served from one in-memory block, so the source costs one memcpy per read."""

    def __init__(self, block: bytes, size: int):
        self._block = memoryview(block)
        self._left = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._left, len(self._block) - self._pos)
        b[:n] = self._block[self._pos : self._pos + n]
        self._pos = (self._pos + n) % len(self._block)
        self._left -= n
        return n


class NullSink(io.RawIOBase):
    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.size += len(b)
        return len(b)


def raw_in_memory_encrypt(key: bytes, chunk: bytes, chunks: int) -> None:
    aead, out = AESGCM(key), bytearray(len(chunk) + 16)
    for i in range(chunks):
        aead.encrypt_into(i.to_bytes(12, "big"), chunk, None, out)


def raw_in_memory_decrypt(key: bytes, sealed: bytes, chunks: int) -> None:
    # One sealed chunk opened `chunks` times: the same crypto work as distinct chunks.
    aead, out = AESGCM(key), bytearray(len(sealed) - 16)
    nonce = (0).to_bytes(12, "big")
    for _ in range(chunks):
        aead.decrypt_into(nonce, sealed, None, out)


def raw_streaming_encrypt(key: bytes, chunk: bytes, size: int) -> None:
    """Plain AES-GCM over 1 MiB chunks with the format's source and sink, but no framing."""
    aead, src, sink = AESGCM(key), RepeatingSource(chunk, size), NullSink()
    buf, out = memoryview(bytearray(SEGMENT_SIZE)), bytearray(SEGMENT_SIZE + 16)
    for i in range(size // SEGMENT_SIZE):
        src.readinto(buf)
        aead.encrypt_into(i.to_bytes(12, "big"), buf, None, out)
        sink.write(out)


def raw_streaming_decrypt(key: bytes, ciphertext: bytes, size: int) -> None:
    aead, src, sink = AESGCM(key), io.BytesIO(ciphertext), NullSink()
    buf, out = memoryview(bytearray(SEGMENT_SIZE + 16)), bytearray(SEGMENT_SIZE)
    for i in range(size // SEGMENT_SIZE):
        src.readinto(buf)
        aead.decrypt_into(i.to_bytes(12, "big"), buf, None, out)
        sink.write(out)


def raw_ciphertext(key: bytes, chunk: bytes, chunks: int) -> bytes:
    aead = AESGCM(key)
    return b"".join(aead.encrypt(i.to_bytes(12, "big"), chunk, None) for i in range(chunks))


def format_encrypt(key: bytes, chunk: bytes, size: int) -> None:
    sink = NullSink()
    encrypt_stream(RepeatingSource(chunk, size), sink, key, zone_id=ZONE, path=PATH)
    assert sink.size > size


def format_decrypt(key: bytes, ciphertext: bytes, size: int) -> None:
    # BytesIO over the bytes object shares its buffer (no 512 MiB copy) until written to.
    sink = NullSink()
    assert decrypt_stream(io.BytesIO(ciphertext), sink, key, zone_id=ZONE, path=PATH) == size


def best_of(repeat: int, runs: dict[str, Callable[[], None]]) -> dict[str, float]:
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="data per run, MiB (default 512)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()

    size = args.mib * SEGMENT_SIZE
    key = os.urandom(32)
    chunk = os.urandom(SEGMENT_SIZE)
    sealed_chunk = AESGCM(key).encrypt((0).to_bytes(12, "big"), chunk, None)
    # Both decrypt runs read a distinct ciphertext of the full size from memory, so neither
    # gets to replay one cache-resident chunk.
    ciphertext_buf = io.BytesIO()
    encrypt_stream(RepeatingSource(chunk, size), ciphertext_buf, key, zone_id=ZONE, path=PATH)
    ciphertext = ciphertext_buf.getvalue()
    del ciphertext_buf
    raw_stream = raw_ciphertext(key, chunk, args.mib)

    best = best_of(
        args.repeat,
        {
            "memory encrypt": lambda: raw_in_memory_encrypt(key, chunk, args.mib),
            "stream encrypt": lambda: raw_streaming_encrypt(key, chunk, size),
            "format encrypt": lambda: format_encrypt(key, chunk, size),
            "memory decrypt": lambda: raw_in_memory_decrypt(key, sealed_chunk, args.mib),
            "stream decrypt": lambda: raw_streaming_decrypt(key, raw_stream, size),
            "format decrypt": lambda: format_decrypt(key, ciphertext, size),
        },
    )

    def mb_s(name: str) -> str:
        return f"{size / 1e6 / best[name]:,.0f}"

    def overhead(name: str, baseline: str) -> str:
        return f"{(best[name] / best[baseline] - 1) * 100:+.1f}%"

    print(
        f"{args.mib} MiB in 1 MiB segments, best of {args.repeat}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print(
        "| operation | raw AES-GCM, in memory (MB/s) | raw AES-GCM, same I/O (MB/s) "
        "| piizone format (MB/s) | format vs raw same I/O | format vs raw in memory |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for op in ("encrypt", "decrypt"):
        fmt, stream, memory = f"format {op}", f"stream {op}", f"memory {op}"
        print(
            f"| {op} | {mb_s(memory)} | {mb_s(stream)} | {mb_s(fmt)} "
            f"| {overhead(fmt, stream)} | {overhead(fmt, memory)} |"
        )


if __name__ == "__main__":
    main()
