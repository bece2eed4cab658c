"""The training-friendly operators: `generalize` and `date_shift`.

Both keep what a model learns from while removing what identifies a person:

* **generalize** coarsens a value: a date (of birth) to its year (`to: year`, default) or a
  10-year band (`to: decade`, "1980s"); a US ZIP code to its first three digits ("941**", the
  HIPAA Safe Harbor form); an IPv4 address to its /24 ("203.0.113.0/24") and an IPv6 one to its
  /48. Age is not offered: it changes with the day the zone is built, so two versions of one
  zone would disagree.
* **date_shift** moves a date by a keyed offset of up to `days` (default 30) days either way,
  the same offset for the whole run under one key (HMAC of the key): intervals between dates
  (tenure, time to churn, length of stay) survive exactly, as with Cloud DLP's date shifting.
  The date keeps its written form (2024-03-05, 03/05/2024, 5 March 2024).

A value that cannot be read as the entity's kind (a free-text "last spring") is replaced by
`<ENTITY>`: an operator never lets through a value it was asked to transform.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from datetime import date, datetime, timedelta

# Date forms the operators read and write back in the same shape. Hand-written rather than a
# parser library: dateutil guesses (it reads "12" as today's 12th), and a wrong guess here would
# silently keep a real date of birth.
_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%B %d, %Y", "%d %B %Y", "%b %d, %Y", "%d %b %Y")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_ZIP = re.compile(r"^\s*(\d{3})\d{2}(?:-\d{4})?\s*$")
DEFAULT_SHIFT_DAYS = 30


def parse_date(value: str) -> tuple[date, str] | None:
    text = " ".join(value.split())
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date(), fmt
        except ValueError:
            continue
    return None


def _placeholder(entity_type: str) -> str:
    return f"<{entity_type}>"


def generalize(entity_type: str, value: str, to: str | None = None) -> str:
    parsed = parse_date(value)
    if parsed is not None or entity_type in ("DATE_OF_BIRTH", "DATE_TIME"):
        year = parsed[0].year if parsed else _year(value)
        if year is None:
            return _placeholder(entity_type)
        return f"{year // 10 * 10}s" if to == "decade" else str(year)
    zip_match = _ZIP.match(value)
    if zip_match:
        return zip_match.group(1) + "**"
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return _placeholder(entity_type)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _year(value: str) -> int | None:
    match = _YEAR.search(value)
    return int(match.group(1)) if match else None


def shift_days(key: bytes, days: int) -> int:
    """The run's offset, fixed by the key: in [-days, -1] or [1, days] (never 0, which would
    leave every date as it was)."""
    digest = hmac.new(key, b"piizone-date-shift-v1", hashlib.sha256).digest()
    draw = int.from_bytes(digest[:8], "big") % (2 * days)
    return draw - days if draw < days else draw - days + 1


def date_shift(entity_type: str, value: str, key: bytes, days: int | None = None) -> str:
    parsed = parse_date(value)
    if parsed is None:
        return _placeholder(entity_type)
    when, fmt = parsed
    span = days or DEFAULT_SHIFT_DAYS
    offset = shift_days(key, span)
    try:
        return (when + timedelta(days=offset)).strftime(fmt)
    except OverflowError:
        return _placeholder(entity_type)
