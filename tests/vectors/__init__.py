"""Reading the known-answer vectors written by scripts/make_vectors.py (format: its docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Vector:
    name: str
    headers: dict[str, str]
    body: bytes

    @property
    def expect(self) -> str:
        return self.headers["expect"]

    def location(self, key: str) -> int | None:
        value = self.headers[key]
        return None if value == "-" else int(value)

    def files(self) -> dict[str, bytes]:
        """An audit vector's body: `-- NAME SIZE --` lines, each followed by SIZE bytes."""
        out, rest = {}, self.body
        while rest:
            marker, rest = rest.split(b"\n", 1)
            dashes, name, size, closing = marker.decode("ascii").split(" ")
            assert (dashes, closing) == ("--", "--"), f"{self.name}: bad file marker {marker!r}"
            out[name], rest = rest[: int(size)], rest[int(size) :]
            assert len(out[name]) == int(size), f"{self.name}: {name} is cut short"
        return out


def load(path: Path) -> Vector:
    head, body = path.read_bytes().split(b"\n\n", 1)
    headers = dict(line.split(": ", 1) for line in head.decode("utf-8").splitlines())
    return Vector(path.name, headers, body)


def vectors(kind: str) -> list[Vector]:
    """Every vector of tests/vectors/<kind>/, sorted by name."""
    return [load(p) for p in sorted((HERE / kind).iterdir())]
