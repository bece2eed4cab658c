"""A cheap change check for SQL sources (`piizone zone status`), recorded at build time.

A SQL source's content fingerprint (`SourceItem.fingerprint()`) reads every row; `zone status`
must stay cheap. So each build records a probe per SQL source, one aggregate query on the
server (no row leaves the database; see `SqlReader.probe_values`): on PostgreSQL the row count
and a sum of 64-bit hashes of every row's text; on SQLite the row count and, for a `?table=`,
the max of every column (a `?query=` by its count only). The SQLite probe misses an update that
moves no max and no count; `zone refresh` (which compares full fingerprints) still catches it.

The values (a max may be an e-mail address) are never stored: the manifest holds an HMAC of
them under a key derived from the zone's data key. The probe is taken before any row is read,
so data changed during a build makes the next status say "changed", never "unchanged".
"""

from __future__ import annotations

import hashlib
import hmac
import json

from piizone.zones.provision.sources.items import Source

PROBE_KEY_INFO = b"piizone-source-probe"


def probe_digest(source: Source, dek: bytes) -> str | None:
    """The keyed probe of a SQL source (hex), or None for file sources (they are hashed)."""
    if source.kind != "sql":
        return None
    reader = source.items()[0].sql_reader
    assert reader is not None
    values = reader.probe_values()
    source.items()[0].expected_rows = int(values[0])  # the count comes first: for progress
    key = hmac.new(dek, PROBE_KEY_INFO, hashlib.sha256).digest()
    canonical = json.dumps(values, default=str, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()
