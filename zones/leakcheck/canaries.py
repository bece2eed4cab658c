"""Canaries: synthetic records planted in a zone so that memorisation shows in a model's output.

`zone create --canaries N` adds N records with unique fake identities (Faker, seeded from fresh
randomness per zone: nothing links two zones' canaries) as one more text file of the zone,
`data/_extra/members.jsonl`, one JSON object per line:

    {"member_id": "M7Q2K9X4D3WJ", "name": "...", "email": "...@example.org",
     "phone": "(555) 201-3344", "note": "Member ... asked to ..."}

A model trained on the zone that later writes one of those values (in a session's outputs, or
in samples checked with `piizone zone canary-check NAME FILE`) has memorised training records.
The member id is the strongest signal: a random 12-character token that exists nowhere else
and that no PII detector recognises. The identities are fake (Faker names, reserved example
domains, 555 phone numbers), so a canary is never a real person.

The records themselves are kept in the zone as `canaries.json`, encrypted with the zone's DEK;
the manifest says only where and how many. Matching reuses the fingerprint matcher (keyed
HMACs of each canary value, reason "canary"). `zone refresh` carries a zone's canaries over to
the new version unchanged.

Not hidden from a determined reader: the file has its own path and raw-looking identities in an
otherwise redacted zone. Canaries measure what a model memorised from the data it was given,
not what a hostile user deliberately left out.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piizone.zones.audit import log as audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.leakcheck.fingerprints import (
    FingerprintError,
    FingerprintSet,
    Matcher,
    fingerprint_key,
    load_fingerprints,
    read_encrypted,
)
from piizone.zones.storage.crypto import EncryptingWriter
from piizone.zones.storage.store import ZoneStore
from piizone.zones.storage.zone_keys import unwrap_zone_key

if TYPE_CHECKING:  # the engine loads Presidio and spaCy: imported when first needed
    from piizone.scrubbers.engine import Engine

CANARIES_FILE = "canaries.json"
CANARY_DATA_PATH = "data/_extra/members.jsonl"
FORMAT = "piizone-canaries"
MAX_CANARIES = 10_000
_ID_ALPHABET = string.ascii_uppercase + string.digits
# Which record fields are checked, and the entity type a hit is reported as.
CANARY_FIELDS = {
    "member_id": "CANARY_ID",
    "name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
}
_NOTES = (
    "Member {name} ({member_id}) asked to update the email on file to {email}.",
    "Call back {name} at {phone} about the renewal of member {member_id}.",
    "{name} reported a billing issue; contact {email} or {phone}. Ref {member_id}.",
    "Member {member_id} ({name}) changed plan; confirmation sent to {email}.",
)


def make_canaries(count: int) -> list[dict[str, str]]:
    """`count` records with unique fake identities, random per call."""
    from faker import Faker

    if not 0 < count <= MAX_CANARIES:
        raise ValueError(f"canaries: between 1 and {MAX_CANARIES}")
    fake = Faker("en_US")
    fake.seed_instance(secrets.randbits(64))
    rnd = secrets.SystemRandom()
    records: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(records) < count:
        first, last = fake.first_name(), fake.last_name()
        name = f"{first} {last}"
        if name.casefold() in seen:
            continue  # every identity unique: a hit names exactly one record
        seen.add(name.casefold())
        member_id = "M" + "".join(rnd.choice(_ID_ALPHABET) for _ in range(11))
        # Reserved example domains and 555-01xx style numbers: never someone's real contact.
        domain = rnd.choice(("example.com", "example.net", "example.org"))
        email = f"{first}.{last}{rnd.randint(10, 9999)}@{domain}".lower()
        phone = f"({rnd.randint(201, 989)}) 555-{rnd.randint(100, 199):04d}"
        record = {"member_id": member_id, "name": name, "email": email, "phone": phone}
        record["note"] = rnd.choice(_NOTES).format(**record)
        records.append(record)
    return records


def canary_set(records: list[dict[str, str]], key: bytes) -> FingerprintSet:
    out = FingerprintSet()
    for record in records:
        for field_name, entity in CANARY_FIELDS.items():
            if record.get(field_name):
                out.add(key, entity, record[field_name])
    return out


def plant(
    staging: Path, records: list[dict[str, str]], dek: bytes, zone_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the canary data file and the encrypted record list into a staging version.

    Returns (the data file's manifest entry, the manifest's "canaries" entry: count, no values).
    """
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    data_entry = _write_encrypted(staging, CANARY_DATA_PATH, lines, dek, zone_id)
    data_entry.update(
        rows=len(records), format="jsonl", kind="text", entities={}, source="piizone:canaries"
    )
    doc = json.dumps({"format": FORMAT, "version": 1, "records": records}).encode()
    side = _write_encrypted(staging, CANARIES_FILE, doc, dek, zone_id)
    side.update(count=len(records), data_path=CANARY_DATA_PATH)
    return data_entry, side


def load_canaries(directory: Path, manifest: dict[str, Any], dek: bytes) -> list[dict[str, str]]:
    entry = manifest.get("canaries")
    if not entry:
        return []
    try:
        doc = json.loads(read_encrypted(directory, entry, dek, manifest["id"]))
        if doc.get("format") != FORMAT:
            raise ValueError("unknown format")
        return list(doc["records"])
    except (ValueError, KeyError, TypeError) as e:
        raise FingerprintError(f"unreadable canaries ({type(e).__name__})") from None


def zone_matcher(directory: Path, manifest: dict[str, Any], dek: bytes) -> Matcher:
    """One matcher for the zone's fingerprints (reason "fingerprint") and canaries."""
    key = fingerprint_key(dek)
    matcher = Matcher(key)
    matcher.add_set(load_fingerprints(directory, manifest, dek), "fingerprint")
    matcher.add_set(canary_set(load_canaries(directory, manifest, dek), key), "canary")
    return matcher


def _write_encrypted(
    staging: Path, rel: str, data: bytes, dek: bytes, zone_id: str
) -> dict[str, Any]:
    target = staging / rel
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw:
        writer = EncryptingWriter(raw, dek, zone_id=zone_id, path=rel)
        writer.write(data)
        writer.close()
    return {"path": rel, "sha256": writer.sha256, "bytes": writer.size}


# -- `piizone zone canary-check NAME FILE` ----------------------------------------------------


@dataclass
class CheckReport:
    zone: str
    file: str
    lines: int = 0
    findings: list[Any] = field(
        default_factory=list
    )  # piizone.zones.leakcheck.egress.Finding, masked
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


def canary_check(name: str, file: Path, store: ZoneStore | None = None) -> CheckReport:
    """Look for the zone's canaries and original-PII fingerprints in `file`; audited.

    Like the other `zone` commands it needs the zone's key, i.e. access to $PIIZONE_HOME. Each
    check is a membership test against the zone's original values, so each one is audited
    (`zone.canary_check`, hit counts only) — repeated checks of guessed values show in the log.
    """
    from piizone.zones.leakcheck.egress import match_text_output

    store = store or ZoneStore()
    details: dict[str, Any] = {"file": Path(file).name}
    try:
        audit.open_audit_log(store.home).check_writable()  # fail closed before any work
        manifest = store.manifest(name)
        path = Path(file)
        if not path.is_file():
            raise ZoneError(f"{file}: not a file", hint="pass the file of samples to check")
        dek = unwrap_zone_key(store, manifest)
        matcher = zone_matcher(store.current_dir(name), manifest, dek)
        report = CheckReport(zone=name, file=str(file))
        # The policy's detectors mask whatever else is on a hit's line (loaded only for hits).
        findings = match_text_output(path, matcher, _LazyEngine(store, name)) if matcher else []
        for f in findings:
            f.file = path.name
        report.findings = findings
        report.reasons = dict(Counter(f.reason for f in findings))
        with open(path, "rb") as fh:
            report.lines = sum(1 for _ in fh)
        details.update(
            version=manifest["version"],
            bytes=path.stat().st_size,
            lines=report.lines,
            reasons=report.reasons,
            entities=dict(Counter(f.entity for f in findings)),
            canaries=(manifest.get("canaries") or {}).get("count", 0),
            fingerprints=(manifest.get("fingerprints") or {}).get("count", 0),
        )
    except BaseException as e:
        if not isinstance(e, audit.AuditError):
            audit.record(
                "zone.canary_check",
                zone=name,
                outcome="failure",
                details={**details, "error": type(e).__name__},
                home=store.home,
            )
        if isinstance(e, OSError):
            raise ZoneError(f"cannot read {file} ({e.strerror})") from None
        raise
    audit.record(
        "zone.canary_check",
        zone=name,
        outcome="success" if report.clean else "denied",
        details=details,
        home=store.home,
    )
    return report


class _LazyEngine:
    """The zone's policy engine, loaded on the first line that needs it (NLP start-up costs
    seconds; a clean file never pays it)."""

    def __init__(self, store: ZoneStore, name: str):
        self._store, self._name = store, name
        self._engine: Engine | None = None

    def analyze(self, text: str):
        if self._engine is None:
            from piizone.zones.leakcheck.egress import _engine_for_zone

            self._engine = _engine_for_zone(self._store, self._name)
        return self._engine.analyze(text)
