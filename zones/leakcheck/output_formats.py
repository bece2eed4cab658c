"""Text out of the binary formats a training run writes, so the egress check can read them.

Parquet, Arrow IPC, gzip (csv.gz, jsonl.gz), zip, NumPy .npy and pickle are opened as *data*
and turned into lines of text (cell values, strings, numbers), which egress.py scans like
any text output. Nothing is executed: a pickle is never unpickled (its opcodes are walked with
pickletools.genops and the strings and numbers it carries are read out), .npy is loaded with
allow_pickle=False.

Every reader is bounded (decompressed bytes, members, rows, opcodes, elements): over a bound,
or on anything it cannot read, the file is *unreadable* and the caller holds it like an
unknown binary. `text_lines` returns None for a format it does not know.
"""

from __future__ import annotations

import gzip
import io
import pickletools
import zipfile
from collections.abc import Iterator
from pathlib import Path

from piizone.zones.exceptions import ZoneError

MAX_DECODED_BYTES = 256 << 20  # decompressed text a gzip/zip may expand to
MAX_MEMBERS = 1_000
MAX_ITEMS = 2_000_000  # rows x columns, array elements, pickle opcodes
_SNIFF = 8


class UnreadableOutput(ZoneError):
    """A known binary format that could not be read within the bounds (held, not released)."""


def _kind(head: bytes, path: Path) -> str | None:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "arrow"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"  # PROTO opcode, protocols 2-5
    if path.suffix.lower() in (".pkl", ".pickle") and head[:1] in (b"(", b"]", b"}"):
        return "pickle"  # protocol 0/1 pickles have no magic
    return None


def text_lines(path: Path) -> Iterator[str] | None:
    """Lines of text held by `path` if it is a known binary format, else None.

    Iterating raises UnreadableOutput when the content breaks a bound or the format.
    """
    with open(path, "rb") as f:
        head = f.read(_SNIFF)
    kind = _kind(head, path)
    if kind is None:
        return None
    return _guarded(_READERS[kind], path)


def _guarded(reader, path: Path) -> Iterator[str]:
    try:
        yield from reader(path)
    except UnreadableOutput:
        raise
    except Exception as e:  # noqa: BLE001 - any parser failure means "cannot vouch for it"
        raise UnreadableOutput(f"unreadable ({type(e).__name__})") from None


def _bounded_read(stream, limit: int = MAX_DECODED_BYTES) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UnreadableOutput(f"expands beyond {limit} bytes")
    return data


def _lines_of_bytes(data: bytes, name: str) -> Iterator[str]:
    """Text (or a nested known format) inside a decompressed member."""
    kind = _kind(data[:_SNIFF], Path(name))
    if kind in ("gzip", "zip", "parquet", "arrow"):
        raise UnreadableOutput("nested archives are not opened")
    if kind is not None:
        yield from _READERS[kind](io.BytesIO(data))
        return
    if b"\x00" in data[:65536]:
        raise UnreadableOutput("a binary member")
    yield from data.decode("utf-8", errors="replace").splitlines()


def _gzip(path) -> Iterator[str]:
    with gzip.open(path, "rb") as f:
        data = _bounded_read(f)
    yield from _lines_of_bytes(data, str(path).removesuffix(".gz"))


def _zip(path) -> Iterator[str]:
    total = 0
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnreadableOutput(f"more than {MAX_MEMBERS} members")
        for info in members:
            yield info.filename  # names carry data too
            if info.is_dir():
                continue
            with archive.open(info) as member:
                data = _bounded_read(member, MAX_DECODED_BYTES - total)
            total += len(data)
            yield from _lines_of_bytes(data, info.filename)


def _table_lines(table) -> Iterator[str]:
    if table.num_rows * max(1, table.num_columns) > MAX_ITEMS:
        raise UnreadableOutput(f"more than {MAX_ITEMS} cells")
    yield ", ".join(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for row in zip(*columns, strict=True):
        yield ", ".join("" if v is None else str(v) for v in row)


def _parquet(path) -> Iterator[str]:
    import pyarrow.parquet as pq

    yield from _table_lines(pq.read_table(path))


def _arrow(path) -> Iterator[str]:
    import pyarrow as pa

    with (
        pa.memory_map(str(path))
        if isinstance(path, Path)
        else pa.BufferReader(path.getvalue()) as source
    ):
        yield from _table_lines(pa.ipc.open_file(source).read_all())


def _npy(path) -> Iterator[str]:
    import numpy as np

    array = np.load(path, allow_pickle=False)  # an object array (pickled) raises: held
    if array.size > MAX_ITEMS:
        raise UnreadableOutput(f"more than {MAX_ITEMS} elements")
    flat = array.reshape(-1)
    for start in range(0, flat.size, 64):
        yield " ".join(str(v) for v in flat[start : start + 64].tolist())


def _pickle(path) -> Iterator[str]:
    data = path.getvalue() if isinstance(path, io.BytesIO) else Path(path).read_bytes()
    for count, (_, arg, _) in enumerate(pickletools.genops(data), 1):
        if count > MAX_ITEMS:
            raise UnreadableOutput(f"more than {MAX_ITEMS} pickle opcodes")
        if isinstance(arg, bytes):
            yield arg.decode("utf-8", errors="replace")
        elif isinstance(arg, str):
            yield arg
        elif isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) >= 100_000:
            yield str(arg)  # an SSN or a phone stored as a number; small ones are memo indexes


_READERS = {
    "parquet": _parquet,
    "arrow": _arrow,
    "gzip": _gzip,
    "zip": _zip,
    "npy": _npy,
    "pickle": _pickle,
}
