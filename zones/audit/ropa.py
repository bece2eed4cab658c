"""Record of processing (GDPR Art. 30 style) for one zone, from its manifest and the audit log.

Reads only metadata: the manifest's counts, hashes and sources, and the audit trail. No zone data
is decrypted, and source URIs lose credentials and custom queries before they are shown.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from piizone.zones.audit.recorder import open_audit_log, record
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import piizone_home, zones_dir
from piizone.zones.storage.store import validate_zone_name

SECURITY_MEASURES = (
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


def zone_manifest_path(name: str, home: Path | None = None) -> Path:
    return zones_dir(home) / validate_zone_name(name) / "manifest.json"


def load_manifest(name: str, home: Path | None = None) -> dict[str, Any]:
    """The zone's manifest.json; ZoneError when the zone does not exist or it is unreadable."""
    path = zone_manifest_path(name, home)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ZoneError(
            f"zone {name!r} does not exist", hint="see the zones with `piizone zone list`"
        ) from None
    except OSError as e:
        raise ZoneError(f"cannot read the manifest of zone {name!r} ({e.strerror})") from e
    try:
        manifest = json.loads(raw)
    except ValueError as e:
        raise ZoneError(
            f"the manifest of zone {name!r} is not valid JSON",
            hint=f"run `piizone zone verify {name}`",
        ) from e
    if not isinstance(manifest, dict):
        raise ZoneError(f"the manifest of zone {name!r} is not a JSON object")
    return manifest


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


def _first(mapping: dict[str, Any], *paths: str) -> Any:
    """The first present value among dotted paths: the zone code's names are not final yet."""
    for path in paths:
        node: Any = mapping
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node not in (None, "", [], {}):
            return node
    return None


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
    m = load_manifest(name, home)
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows, denied, audit_status = _access_summary(name, home)
    out = _identity_sections(name, m, when)
    out += _data_sections(m)
    out += _policy_and_access_sections(m, rows, denied)
    out += _retention_and_security_sections(m, audit_status)
    return "\n".join(out) + "\n"


def _identity_sections(name: str, m: dict[str, Any], when: str) -> list[str]:
    """The title, the zone's identity, 1 (controller and owner), 2 (purpose)."""
    owner = _first(m, "owner")
    created_by = _first(m, "created_by", "created.by")
    created = _first(m, "created.time", "created.at", "created_at", "created")
    created = None if isinstance(created, dict) else created
    out = [
        f"# Record of processing — zone `{_cell(name)}`",
        "",
        f"GDPR Art. 30-style record generated by piizone on {when} from the zone manifest and "
        "the audit log. It holds counts and identifiers only, no personal data values.",
        "",
        *_table(
            ("Field", "Value"),
            [
                ("Zone id", _first(m, "id")),
                ("Zone version", _first(m, "version")),
                ("Parent version", _first(m, "parent_version", "parent")),
                ("Created", created),
                ("Tool version", _first(m, "tool_version", "tool.version")),
            ],
        ),
        "",
        "## 1. Controller and owner",
        "",
        f"- Owner (responsible for this processing): {_cell(owner)}",
        f"- Created by: {_cell(created_by)}",
        "",
        "## 2. Purpose of processing",
        "",
        _cell(_first(m, "purpose") or "not recorded — set with `zone create --purpose`"),
        "",
        "## 3. Categories of personal data",
        "",
    ]
    return out


def _data_sections(m: dict[str, Any]) -> list[str]:
    """3 (categories of personal data), 4 (data subjects), 5 (sources)."""
    out: list[str] = []
    scan = _first(m, "scan_summary", "scan", "summary") or {}
    totals = scan.get("totals") if isinstance(scan, dict) else None
    if isinstance(totals, dict) and totals:
        out += [
            "Personal data types found in the sources by the scan (before redaction):",
            "",
            *_table(
                ("Entity type", "Occurrences"),
                sorted(
                    totals.items(), key=lambda kv: (-kv[1] if isinstance(kv[1], int) else 0, kv[0])
                ),
            ),
        ]
        if scan.get("risk") is not None:
            out += ["", f"Overall risk level from the scan: {_cell(scan['risk'])}"]
    else:
        out.append("No scan summary recorded in the manifest.")
    out += [
        "",
        "## 4. Categories of data subjects",
        "",
        "Customers (from sources): the people whose records appear in the sources below.",
        "",
        "## 5. Sources",
        "",
    ]
    sources = m.get("sources") or []
    if sources:
        out += _table(
            ("Source", "Rows", "SHA-256"),
            [
                (
                    f"`{safe_source_uri(str(s.get('uri', '')))}`",
                    s.get("rows"),
                    (s.get("sha256") or "")[:16] + ("…" if s.get("sha256") else ""),
                )
                for s in sources
                if isinstance(s, dict)
            ],
        )
    else:
        out.append("No sources recorded.")
    files = m.get("files") or []
    if files:
        n_rows = sum(f.get("rows") or 0 for f in files if isinstance(f, dict))
        out += ["", f"The zone holds {len(files)} redacted, encrypted file(s), {n_rows} rows."]
    return out


def _policy_and_access_sections(
    m: dict[str, Any], rows: list[tuple[Any, ...]], denied: list[str]
) -> list[str]:
    """6 (policy), 7 (recipients and access)."""
    policy_sha = _first(m, "policy.sha256", "policy_sha256")
    out = [
        "",
        "## 6. Policy",
        "",
        f"- Policy version (SHA-256 of policy.yaml): `{_cell(policy_sha)}`",
        "- The same policy scrubs production traffic (`piizone serve`), so pseudonyms match.",
        "",
        "## 7. Recipients and access",
        "",
    ]
    grants = _first(m, "grants", "access", "users")
    if isinstance(grants, list) and grants:
        out += [f"Granted users: {', '.join(_cell(g) for g in grants)}", ""]
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
    return out


def _retention_and_security_sections(m: dict[str, Any], audit_status: str) -> list[str]:
    """Transfers, 8 (retention and erasure), 9 (security measures)."""
    expires = _first(m, "expires", "expires_at")
    hold = m.get("legal_hold")
    hold_on = hold.get("on", hold.get("active")) if isinstance(hold, dict) else hold
    provider = _first(m, "kek_provider", "key.provider", "kek.provider", "provider_id", "provider")
    out = [
        "",
        "No transfers to third countries or external recipients are made by piizone: the zone",
        "stays encrypted on this host and sandbox sessions have no network access.",
        "",
        "## 8. Retention and erasure",
        "",
        f"- Expires: {_cell(expires or 'no expiry set')}",
        f"- Legal hold: {'ON — the zone must not be destroyed' if hold_on else 'off'}",
        "- Erasure: `piizone zone destroy` crypto-shreds the zone; `piizone zone gc` removes "
        "expired zones that are not on hold.",
        "",
        "## 9. Security measures",
        "",
    ]
    prov = f" (provider `{_cell(provider)}`)" if provider else ""
    out += ["- " + m_.format(provider=prov, audit_status=audit_status) for m_ in SECURITY_MEASURES]
    return out


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
