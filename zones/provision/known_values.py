"""Known-value redaction for one build: identifier values learned from the zone's tables and
from dictionary-only `--known-values` sources, and what the manifest records of them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from piizone.scrubbers.known_values import KnownValues
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.progress import LEARNING, ProgressCallback, counting_rows, relabelled
from piizone.scrubbers.redact import learn_values
from piizone.zones.leakcheck.fingerprints import FingerprintCollector
from piizone.zones.provision.metadata_names import NameMasker, seal_spec
from piizone.zones.provision.sources import Source, SourceItem, refresh_spec
from piizone.zones.provision.zonefile import item_progress


@dataclass
class KnownPlan:
    """Known-value redaction for one build: the dictionary-only sources and the switch."""

    specs: list[str]
    sources: list[Source]
    enabled: bool
    rows: list[int] = field(default_factory=list)  # rows learned per source
    hashes: list[str] = field(default_factory=list)  # content sha256 per source

    def learn(
        self,
        items: list[SourceItem],
        engine: Any,
        redactor: Redactor,
        collector: FingerprintCollector,
        progress: ProgressCallback | None = None,
        masked: Callable[[str], str] = str,
    ) -> KnownValues | None:
        """`progress`: each table read (the phase `learning`), named by `masked(relpath)`."""
        if not self.enabled:
            return None
        known = KnownValues()
        for index, item in enumerate(items, 1):
            if item.kind == "table":
                shown = relabelled(progress, f"data/{masked(item.relpath)}", (index, len(items)))
                _learn_item(known, item, engine, redactor, shown)
        for source in self.sources:
            own = KnownValues()
            rows = 0
            for item in source.items():
                if item.kind != "table":
                    continue  # a text has no columns to say what its values are
                rows += _learn_item(
                    own, item, engine, redactor, relabelled(progress, masked(item.relpath))
                )
            # Their values never reach the redactor unless they show up in the zone: the
            # egress check should still catch them leaving a session.
            for entity, value in own.values():
                collector.add(entity, value)
            known.update(own)
            self.rows.append(rows)
            self.hashes.append(source.fingerprint())
        return known

    def digest(self, known: KnownValues | None, dek: bytes) -> str | None:
        return known.digest(_known_values_key(dek)) if known is not None else None

    def manifest(
        self, known: KnownValues | None, dek: bytes, names: NameMasker, zone_id: str
    ) -> dict[str, Any]:
        """What the manifest says: the sources (masked, no password) and counts, never a value.

        Like the zone's own sources, the address is stored masked and what refresh re-reads is
        sealed under the zone's key (piizone.zones.provision.metadata_names).
        """
        return {
            "enabled": self.enabled,
            "sources": [
                {
                    "uri": names.uri(source.uri),
                    "spec": names.uri(source.uri),
                    "spec_sealed": seal_spec(refresh_spec(spec), dek, zone_id),
                    "sha256": sha,
                    "rows": rows,
                }
                for spec, source, sha, rows in zip(
                    self.specs, self.sources, self.hashes, self.rows, strict=True
                )
            ],
            "values": len(known) if known is not None else 0,
            # Keyed by the zone's DEK: says whether a refresh learned the same values, and
            # nothing about them without the key.
            "digest": self.digest(known, dek),
        }


def _learn_item(
    known: KnownValues,
    item: SourceItem,
    engine: Any,
    redactor: Redactor,
    progress: ProgressCallback | None = None,
) -> int:
    """Learn one table item's identifier values; the rows read."""
    if item.path is not None:
        return learn_values(
            known, engine, redactor, path=item.path, fmt=item.fmt, progress=progress
        )
    reading = item_progress(progress, LEARNING, item)
    rows = learn_values(known, engine, redactor, chunks=counting_rows(item.table_chunks(), reading))
    reading.finish()
    return rows


def _known_values_key(dek: bytes) -> bytes:
    return hmac.new(dek, b"piizone-known-values", hashlib.sha256).digest()
