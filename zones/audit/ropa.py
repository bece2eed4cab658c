"""Record of processing (GDPR Art. 30 style) for one zone, from its manifest and the audit log.

Reads only metadata: the typed manifest (piizone.zones.storage.manifest: counts, hashes, sources)
and the audit trail. No zone data is decrypted, and source URIs lose credentials and custom
queries before they are shown.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from piizone.zones.audit.recorder import open_audit_log, record
from piizone.zones.home import piizone_home
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore

MEASURES = (
    "Redaction before storage: personal data found by the scan is removed, masked, "
    "pseudonymised or replaced under the versioned policy of section 6 before it enters the zone.",
    "Envelope encryption at rest: zone files use streaming AES-256-GCM under a per-zone random "
    "256-bit data key, itself wrapped by a key-encryption key{provider}; truncation, reordering "
    "and bit flips fail decryption.",
    "Crypto-shredding: destroying the zone deletes the wrapped data key first.",
    "Isolated use: data scientists work inside a sandbox with no network, read-only zone data, "
    "plaintext only in memory; outputs are scanned for personal data before they leave.",
    "Access control: zone directories are private to the piizone account (0700/0600).",
    "Accountability: every access is recorded in a hash-chained, HMAC-sealed audit log "
    "(status when generated: {audit_status}).",
)


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


def _cell(value: Any) -> str:
    text = "—" if value is None or value == "" else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _access_summary(name: str, home: Path | None) -> tuple[list[tuple[Any, ...]], list[str], str]:
    log = open_audit_log(home)
    by_user: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"actions": set(), "n": 0, "first": None, "last": None, "denied": 0}
    )
    denied: list[str] = []
    for rec in log.read(zone=name):
        user = f"{rec.actor.user} (uid {rec.actor.uid})"
        u = by_user[user]
        u["n"] += 1
        u["actions"].add(rec.action)
        u["first"] = u["first"] or rec.time
        u["last"] = rec.time
        if rec.outcome == "denied" or rec.action == "access.denied":
            u["denied"] += 1
            denied.append(f"{rec.time} {user}: {rec.action} (seq {rec.seq})")
    rows = [
        (user, ", ".join(sorted(u["actions"])), u["n"], u["denied"], u["first"], u["last"])
        for user, u in sorted(by_user.items())
    ]
    result = log.verify()
    if result.ok:
        status = f"intact, {result.records} record(s) verified"
    else:
        p = result.problem
        assert p is not None
        status = f"FAILED verification: {p.kind} at {p.file} line {p.line}"
    return rows, denied, status


def render_ropa(name: str, home: Path | None = None, *, now: datetime | None = None) -> str:
    """Markdown record of processing for zone `name` (no audit record: see `produce_ropa`)."""
    home = home or piizone_home()
    m = ZoneStore(home).manifest(name)
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows, denied, audit_status = _access_summary(name, home)
    sections = (
        _identity(m, when),
        _controller_and_purpose(m),
        _personal_data(m),
        _sources(m),
        _policy(m),
        _recipients(m, rows, denied),
        _retention(m),
        _security(m, audit_status),
    )
    return "\n".join(line for section in sections for line in section) + "\n"


def _identity(m: ZoneManifest, when: str) -> list[str]:
    return [
        f"# Record of processing — zone `{_cell(m.name)}`",
        "",
        f"GDPR Art. 30-style record generated by piizone on {when} from the zone manifest and "
        "the audit log. It holds counts and identifiers only, no personal data values.",
        "",
        *_table(
            ("Field", "Value"),
            [
                ("Zone id", m.id),
                ("Zone version", m.version),
                ("Parent version", m.parent),
                ("Created", m.created),
                ("Tool version", m.tool.version),
            ],
        ),
        "",
    ]


def _controller_and_purpose(m: ZoneManifest) -> list[str]:
    by = m.created_by
    return [
        "## 1. Controller and owner",
        "",
        f"- Owner (responsible for this processing): {_cell(m.owner)}",
        f"- Created by: {_cell(by.user)} (uid {by.uid})",
        "",
        "## 2. Purpose of processing",
        "",
        _cell(m.purpose or "not recorded — set with `zone create --purpose`"),
        "",
    ]


def _personal_data(m: ZoneManifest) -> list[str]:
    out = ["## 3. Categories of personal data", ""]
    totals = m.scan.totals
    if totals:
        out += [
            "Personal data types found in the sources by the scan (before redaction):",
            "",
            *_table(
                ("Entity type", "Occurrences"),
                sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])),
            ),
            "",
            f"Overall risk level from the scan: {_cell(m.scan.risk)}",
        ]
    else:
        out.append("The scan found no personal data in the sources.")
    return [
        *out,
        "",
        "## 4. Categories of data subjects",
        "",
        "Customers (from sources): the people whose records appear in the sources below.",
        "",
    ]


def _sources(m: ZoneManifest) -> list[str]:
    out = ["## 5. Sources", ""]
    if m.sources:
        out += _table(
            ("Source", "Rows", "SHA-256"),
            [(f"`{safe_source_uri(s.uri)}`", s.rows, s.sha256[:16] + "…") for s in m.sources],
        )
    else:
        out.append("No sources recorded.")
    known = m.known_values.sources if m.known_values else []
    if known:
        out += [
            "",
            "Read only to learn identifier values to redact (`--known-values`; not copied in):",
            "",
            *_table(
                ("Source", "Rows", "SHA-256"),
                [(f"`{safe_source_uri(s.uri)}`", s.rows, s.sha256[:16] + "…") for s in known],
            ),
        ]
    if m.files:
        n_rows = sum(f.rows or 0 for f in m.files)
        out += ["", f"The zone holds {len(m.files)} redacted, encrypted file(s), {n_rows} rows."]
    return [*out, ""]


def _policy(m: ZoneManifest) -> list[str]:
    return [
        "## 6. Policy",
        "",
        f"- Policy version (SHA-256 of policy.yaml): `{_cell(m.policy.sha256)}`",
        "- The same policy scrubs production traffic (`piizone serve`), so pseudonyms match.",
        "",
    ]


def _recipients(m: ZoneManifest, rows: list[tuple[Any, ...]], denied: list[str]) -> list[str]:
    out = ["## 7. Recipients and access", ""]
    if m.grants:
        out += [f"Granted users: {', '.join(_cell(g) for g in m.grants)}", ""]
    if rows:
        out += [
            "Who acted on this zone, from the audit log:",
            "",
            *_table(("User", "Actions", "Records", "Denied", "First", "Last"), rows),
        ]
    else:
        out.append("No audit records name this zone.")
    if denied:
        out += ["", "Denied attempts:", "", *[f"- {_cell(d)}" for d in denied]]
    return [
        *out,
        "",
        "No transfers to third countries or external recipients are made by piizone: the zone",
        "stays encrypted on this host and sandbox sessions have no network access.",
        "",
    ]


def _retention(m: ZoneManifest) -> list[str]:
    return [
        "## 8. Retention and erasure",
        "",
        f"- Expires: {_cell(m.expires or 'no expiry set')}",
        f"- Legal hold: {'ON — the zone must not be destroyed' if m.legal_hold else 'off'}",
        "- Erasure: `piizone zone destroy` crypto-shreds the zone; `piizone zone gc` removes "
        "expired zones that are not on hold.",
        "",
    ]


def _security(m: ZoneManifest, audit_status: str) -> list[str]:
    provider = f" (provider `{_cell(m.key.provider)}`)"
    return [
        "## 9. Security measures",
        "",
        *("- " + text.format(provider=provider, audit_status=audit_status) for text in MEASURES),
    ]


def produce_ropa(name: str, *, home: Path | None = None, appendix: str = "") -> str:
    """Render the record of processing and audit that it was produced (`audit.ropa`).

    `appendix`: sections of higher layers (lineage's artifacts), part of the audited digest."""
    text = render_ropa(name, home) + appendix
    record(
        "audit.ropa",
        zone=name,
        details={"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text)},
        home=home,
    )
    return text
