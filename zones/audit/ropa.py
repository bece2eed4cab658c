"""Record of processing (GDPR Art. 30 style) for one zone, from its manifest and the audit log.

Reads only metadata: the typed manifest (piizone.zones.storage.manifest: counts, hashes, sources),
config.toml's [ropa] contacts and the audit records of THIS zone, matched by zone id
(piizone.zones.audit.zone_records: an earlier, destroyed zone of the same name is not mixed in).
No zone data is decrypted, and source URIs lose credentials and custom queries before they are
shown. `ropa_facts` is the record as a dict (`audit ropa --format json`); .ropa_document renders
it as Markdown or HTML.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from piizone.zones.audit.format import AuditRecord
from piizone.zones.audit.recorder import open_audit_log, record
from piizone.zones.audit.ropa_document import to_html, to_markdown
from piizone.zones.audit.zone_records import current_zone_records
from piizone.zones.config import RopaSection, config_path, load_config
from piizone.zones.home import piizone_home
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore

ROPA_FORMAT = "piizone-ropa"
ROPA_VERSION = 1
RENDER_FORMATS: tuple[str, ...] = ("markdown", "html", "json")

# The safeguards every zone has, by name (the JSON's keys); {provider} and {audit_status} are
# filled in per zone.
SAFEGUARDS = {
    "redaction": "Redaction before storage: personal data found by the scan is removed, masked, "
    "pseudonymised or replaced under the versioned policy of section 6 before it enters the zone.",
    "encryption": "Envelope encryption at rest: zone files use streaming AES-256-GCM under a "
    "per-zone random 256-bit data key, itself wrapped by a key-encryption key{provider}; "
    "truncation, reordering and bit flips fail decryption.",
    "crypto_shredding": "Crypto-shredding: destroying the zone deletes the wrapped data key first.",
    "sandbox": "Isolated use: data scientists work inside a sandbox with no network, read-only "
    "zone data, plaintext only in memory.",
    "egress_checks": "Egress checks: files leaving a sandbox are scanned for personal data, the "
    "zone's fingerprints and canaries; a hit is held in the airlock for review.",
    "access_control": "Access control: zone directories are private to the piizone account "
    "(0700/0600); only the owner and granted users may open the zone.",
    "audit": "Accountability: every access is recorded in a hash-chained, HMAC-sealed audit log "
    "(status when generated: {audit_status}).",
}


def safe_source_uri(uri: str) -> str:
    """A source URI fit to print: no password, and a custom SQL query shown only by its hash.

    A `?query=` can hold literal values from a WHERE clause, which may be personal data.
    """
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive letter)
        return uri
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = [
        (k, f"sha256:{hashlib.sha256(v.encode()).hexdigest()[:12]}" if k == "query" else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    # urlunsplit would fold sqlite:///file into sqlite:/file, so rebuild by hand.
    text = f"{parts.scheme}://{netloc}{parts.path}" if "://" in uri else uri.split("?", 1)[0]
    return text + (f"?{urlencode(query, safe=':')}" if query else "")


def ropa_contacts(home: Path | None = None) -> RopaSection:
    """config.toml's [ropa] section (all unset when the home has no config)."""
    if not config_path(home).is_file():
        return RopaSection()
    return load_config(home).ropa


def ropa_facts(
    name: str,
    home: Path | None = None,
    *,
    now: datetime | None = None,
    released: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The record of processing of zone `name` as a JSON-ready dict (no audit record).

    `released`: the files that left this zone (id, zone_version, verdict, created, bytes), from
    the artifact registry of a higher layer; None leaves the section out.
    """
    home = home or piizone_home()
    m = ZoneStore(home).manifest(name)
    moment = now or datetime.now(UTC)
    contacts = ropa_contacts(home)
    log = open_audit_log(home)
    naming: list[AuditRecord] = []  # the zone's records, gathered by the verifying pass

    def gather(rec: dict[str, Any]) -> None:
        if rec["zone"] == name:
            naming.append(AuditRecord.of(rec))

    verified = log.verify(on_record=gather)
    if verified.ok:
        audit_status = f"intact, {verified.records} record(s) verified"
        records = current_zone_records(name, home, naming)
    else:
        p = verified.problem
        assert p is not None
        audit_status = f"FAILED verification: {p.kind} at {p.file} line {p.line}"
        records = current_zone_records(name, home)  # what the log says past the damage too
    access, denied = _access(records)
    provider = f" (provider `{m.key.provider}`)"
    return {
        "format": ROPA_FORMAT,
        "ropa_version": ROPA_VERSION,
        "generated": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "zone": {
            "name": m.name,
            "id": m.id,
            "version": m.version,
            "parent": m.parent,
            "created": m.created,
            "tool_version": m.tool.version,
        },
        "controller": {
            "name": contacts.controller,
            "contact": contacts.controller_contact,
            "dpo_contact": contacts.dpo_contact,
        },
        "owner": m.owner,
        "created_by": {"user": m.created_by.user, "uid": m.created_by.uid},
        "purpose": m.purpose or None,
        "lawful_basis": m.lawful_basis,
        "personal_data": _personal_data(m),
        "data_subjects": _data_subjects(m),
        "sources": _sources(m),
        "policy": {"sha256": m.policy.sha256},
        "recipients": {"owner": m.owner, "grantees": list(m.grants)},
        "access": access,
        "denied": denied,
        "retention": _retention(m, moment),
        "safeguards": {
            key: text.format(provider=provider, audit_status=audit_status)
            for key, text in SAFEGUARDS.items()
        },
        "audit_log": {"ok": verified.ok, "records": verified.records, "status": audit_status},
        "released_artifacts": released,
    }


def _personal_data(m: ZoneManifest) -> dict[str, Any]:
    totals = sorted(m.scan.totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "categories": [{"entity_type": k, "occurrences": n} for k, n in totals],
        "risk": m.scan.risk,
    }


def _data_subjects(m: ZoneManifest) -> dict[str, Any]:
    """What the scan tells about whose data it is: that people's data was found, of which kinds.

    Not which group they are (customers, employees, patients): the scan cannot know, so the
    record says so rather than guess; the purpose is where an owner states it."""
    found = sorted(t for t, n in m.scan.totals.items() if n > 0)
    if not found:
        return {"found": False, "description": "none: the scan found no personal data"}
    return {
        "found": True,
        "description": "people whose personal data the scan found in the sources; the scan "
        "does not tell which group they belong to (see the purpose)",
        "evidence": found,
    }


def _sources(m: ZoneManifest) -> dict[str, Any]:
    def row(uri: str, rows: int, sha256: str) -> dict[str, Any]:
        return {"uri": safe_source_uri(uri), "rows": rows, "sha256": sha256}

    known = m.known_values.sources if m.known_values else []
    return {
        "read": [row(s.uri, s.rows, s.sha256) for s in m.sources],
        "known_values": [row(s.uri, s.rows, s.sha256) for s in known],
        "zone_files": len(m.files),
        "zone_rows": sum(f.rows or 0 for f in m.files),
    }


def _access(records: list[AuditRecord]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Who acted on the zone (one entry per account) and every denied attempt."""
    by_user: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"actions": set(), "records": 0, "denied": 0, "first": None, "last": None}
    )
    denied: list[dict[str, Any]] = []
    for rec in records:
        u = by_user[(rec.actor.user, rec.actor.uid)]
        u["records"] += 1
        u["actions"].add(rec.action)
        u["first"] = u["first"] or rec.time
        u["last"] = rec.time
        if rec.outcome == "denied" or rec.action == "access.denied":
            u["denied"] += 1
            denied.append(
                {
                    "seq": rec.seq,
                    "time": rec.time,
                    "user": rec.actor.user,
                    "uid": rec.actor.uid,
                    "action": rec.action,
                }
            )
    access = [
        {"user": user, "uid": uid, **u, "actions": sorted(u["actions"])}
        for (user, uid), u in sorted(by_user.items())
    ]
    return access, denied


def _retention(m: ZoneManifest, now: datetime) -> dict[str, Any]:
    days_left = None
    if m.expires:
        expires = datetime.fromisoformat(m.expires)
        days_left = round((expires - now).total_seconds() / 86400)
    return {"expires": m.expires, "days_left": days_left, "legal_hold": m.legal_hold}


def render_ropa(name: str, home: Path | None = None, *, now: datetime | None = None) -> str:
    """Markdown record of processing for zone `name` (no audit record: see `produce_ropa`)."""
    return to_markdown(ropa_facts(name, home, now=now))


def render_facts(facts: dict[str, Any], fmt: str) -> str:
    """The record in `fmt` (markdown, html or json)."""
    if fmt == "json":
        return json.dumps(facts, indent=2, sort_keys=True) + "\n"
    if fmt == "html":
        return to_html(facts)
    if fmt == "markdown":
        return to_markdown(facts)
    raise ValueError(f"unknown RoPA format {fmt!r}")


def produce_ropa(
    name: str,
    *,
    home: Path | None = None,
    fmt: str = "markdown",
    released: list[dict[str, Any]] | None = None,
) -> str:
    """Render the record of processing in `fmt` and audit that it was produced (`audit.ropa`).

    `released`: the files that left the zone (see `ropa_facts`), part of the audited digest."""
    text = render_facts(ropa_facts(name, home, released=released), fmt)
    record(
        "audit.ropa",
        zone=name,
        details={
            "format": fmt,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "bytes": len(text),
        },
        home=home,
    )
    return text
