"""The zone manifest (manifest.json of each version) as a typed model, with its format version.

What provisioning writes and every reader reads: identity and lineage, owner and access, the
wrapped data key, sources (masked, their refresh spec sealed under the zone key), files, the
scan summary, and the encrypted side files (fingerprints, canaries). Values only, never data.

Stored as JSON with sorted keys, fields exactly as written: `dump()` leaves out what the writer
did not set (a zone without canaries has no "canaries" key), so a manifest read and written back
is byte-identical. A manifest of an older format version is upgraded on reading (`UPGRADES`);
one newer than this code is refused with a hint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from piizone.zones.exceptions import ZoneError

MANIFEST_FORMAT = "piizone-zone-manifest"
MANIFEST_VERSION = 1
# UPGRADES[n] turns a version-n manifest (parsed JSON) into version n+1. Version 1 is the first
# format (tests/fixtures/home_v1 holds one); a change of the stored fields bumps
# MANIFEST_VERSION and adds its step here, so zones already on disk keep opening.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


# GDPR Art. 6(1)(a)-(f), in that order: `zone create --lawful-basis`.
LawfulBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]
LAWFUL_BASES: tuple[str, ...] = get_args(LawfulBasis)


class _Stored(BaseModel):
    # forbid: a field this code does not know is a manifest it must not rewrite (it would drop it).
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Actor(_Stored):
    user: str
    uid: int
    host: str


class WrappedKey(_Stored):
    provider: str  # "keyfile:<id>", "kms:..."
    wrapped: str  # base64 of the DEK wrapped by the provider's KEK


class PolicyRef(_Stored):
    sha256: str  # of the policy's canonical form: the policy version
    source: str


class ToolRef(_Stored):
    name: str
    version: str


class ScanSummary(_Stored):
    totals: dict[str, int]  # entity type -> occurrences found before redaction
    risk: str


class SourceRecord(_Stored):
    """One --from source: shown masked; what refresh re-reads is `spec_sealed`."""

    uri: str
    spec: str  # masked like uri (before sealing existed: the spec refresh re-reads)
    spec_sealed: str | None = None
    kind: str
    sha256: str  # over the source items' fingerprints
    rows: int
    files: list[str]
    probe: str | None = None  # SQL: a keyed digest of a cheap fingerprint (zone status)


class FileEntry(_Stored):
    """One encrypted data file of the zone (sha256/bytes describe the plaintext)."""

    path: str
    sha256: str
    bytes: int
    rows: int | None = None
    format: str
    kind: str
    entities: dict[str, int]
    known_values: dict[str, int] = {}  # spans found as known values, by entity
    source: str
    source_sha256: str | None = None  # the source item's fingerprint (refresh reuse)


class SideFile(_Stored):
    """An encrypted side file (not zone data): fingerprints.bin, canaries."""

    path: str
    sha256: str
    bytes: int
    count: int
    data_path: str | None = None  # canaries: the data file they are planted in


class KnownSource(_Stored):
    uri: str
    spec: str
    spec_sealed: str | None = None
    sha256: str
    rows: int


class KnownValues(_Stored):
    """Known-value redaction: the dictionary-only sources and a keyed digest, never a value."""

    enabled: bool
    sources: list[KnownSource]
    values: int
    digest: str | None


class ZoneManifest(_Stored):
    format: str = MANIFEST_FORMAT
    manifest_version: int = MANIFEST_VERSION
    id: str
    name: str
    version: int
    parent: int | None
    created: str  # ISO 8601 UTC, "Z"
    created_by: Actor
    purpose: str | None
    # Optional and left out when not given: manifests written before it dump byte-identically.
    lawful_basis: LawfulBasis | None = None
    owner: str
    expires: str | None
    legal_hold: bool
    grants: list[str]
    key: WrappedKey
    sources: list[SourceRecord]
    policy: PolicyRef
    tool: ToolRef
    files: list[FileEntry]
    scan: ScanSummary
    fingerprints: SideFile | None = None  # absent in zones built before fingerprints
    known_values: KnownValues | None = None
    canaries: SideFile | None = None  # only in zones with planted canaries

    def dump(self) -> dict[str, Any]:
        """The stored JSON object: the fields that were read or set, nothing added."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> bytes:
        return json.dumps(self.dump(), indent=2, sort_keys=True).encode() + b"\n"


def parse_manifest(data: Any, name: str) -> ZoneManifest:
    """A parsed manifest.json as the model, upgraded to MANIFEST_VERSION; ZoneError otherwise."""
    if not isinstance(data, dict):
        raise ZoneError(f"zone {name!r}: the manifest is not a JSON object")
    version = data.get("manifest_version")
    if (
        data.get("format") != MANIFEST_FORMAT
        or not isinstance(version, int)
        or isinstance(version, bool)
        or not 1 <= version <= MANIFEST_VERSION
    ):
        raise ZoneError(
            f"zone {name!r}: unsupported manifest version {version!r}",
            hint="upgrade piizone to open this zone",
        )
    while version < MANIFEST_VERSION:
        data = UPGRADES[version](data)
        version += 1
        data["manifest_version"] = version
    try:
        return ZoneManifest.model_validate(data)
    except ValidationError as e:
        # The field's location only: a value (an owner name, a path) is not for an error line.
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise ZoneError(
            f"zone {name!r}: invalid manifest ({where}: {first['type']})",
            hint=f"run `piizone zone verify {name}`",
        ) from None
