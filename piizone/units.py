"""The one duration parser and the one size parser (bottom layer: imports nothing of piizone).

Zone TTLs (`--ttl 30d`), audit filters (`--since 12h`) and sandbox limits (`--memory 4G`) all
read their values here. Callers turn UnitError into their own domain error and message.

Hand-written rather than taken from a library (humanfriendly, pytimeparse): those accept
fractions, words and decimal SI sizes, and the accepted grammar below is a user-facing
contract that tests pin (`1.5G`, `1y`, `-1d` are refused; `M` means MiB).
"""

from __future__ import annotations

import re
from datetime import timedelta

# ASCII digits only: `\d` would take any Unicode digit ('١', '۳'), which nobody means to type.
_DURATION = re.compile(r"([0-9]{1,20})[ \t]*([smhdw])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Far beyond any real TTL or look-back, yet `now ± MAX_DURATION` stays within datetime's range.
MAX_DURATION = timedelta(days=1000 * 365)

_SIZE = re.compile(r"([0-9]{1,20})[ \t]*(?:([kKmMgGtT])(?:i?[bB])?|[bB])?")
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Sizes end up in setrlimit/cgroup files (64-bit): anything beyond 1 EiB is a typo.
MAX_SIZE = 1 << 60


class UnitError(ValueError):
    """A duration or size that does not parse or is out of range."""


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """ "90m", "12h", "30d", "2w" (surrounding blanks ignored) -> timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise UnitError(f"not a duration: {text!r}")
    seconds = int(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds == 0 and not allow_zero:
        raise UnitError(f"zero duration: {text!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise UnitError(f"duration out of range: {text!r}")
    return timedelta(seconds=seconds)


def parse_size(text: str) -> int:
    """ "1048576", "8k", "512M", "2GiB", "4gb" -> bytes (binary units: M is 2**20)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise UnitError(f"not a size: {text!r}")
    size = int(match.group(1)) * SIZE_UNITS[(match.group(2) or "").lower()]
    if size == 0:
        raise UnitError(f"zero size: {text!r}")
    if size > MAX_SIZE:
        raise UnitError(f"size out of range: {text!r}")
    return size
