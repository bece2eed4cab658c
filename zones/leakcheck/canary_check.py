"""`piizone zone canary-check NAME FILE`: look for a zone's canaries and original-PII
fingerprints in a file of samples (a model's generated text, say), masked and audited.

The canaries themselves (making, planting, loading) are in `canaries`; the matching is
`matching`'s, shared with the egress check.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from piizone.zones import audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.leakcheck.matching import LazyEngine, match_text_output, zone_matcher
from piizone.zones.storage.store import ZoneStore
from piizone.zones.storage.zone_keys import unwrap_zone_key


@dataclass
class CheckReport:
    zone: str
    file: str
    lines: int = 0
    findings: list[Any] = field(
        default_factory=list
    )  # piizone.zones.leakcheck.matching.Finding, masked
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
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()  # fail closed before any work
    started = {"file": Path(file).name}
    with (
        _read_errors(file),
        audit.audited("zone.canary_check", zone=name, home=store.home, details=started) as details,
    ):
        manifest = store.manifest(name)
        path = Path(file)
        if not path.is_file():
            raise ZoneError(f"{file}: not a file", hint="pass the file of samples to check")
        dek = unwrap_zone_key(store, manifest)
        matcher = zone_matcher(store.current_dir(name), manifest, dek)
        report = CheckReport(zone=name, file=str(file))
        # The policy's detectors mask whatever else is on a hit's line (loaded only for hits).
        findings = match_text_output(path, matcher, LazyEngine(store, name)) if matcher else []
        for f in findings:
            f.file = path.name
        report.findings = findings
        report.reasons = dict(Counter(f.reason for f in findings))
        with open(path, "rb") as fh:
            report.lines = sum(1 for _ in fh)
        details.update(
            version=manifest.version,
            bytes=path.stat().st_size,
            lines=report.lines,
            reasons=report.reasons,
            entities=dict(Counter(f.entity for f in findings)),
            canaries=manifest.canaries.count if manifest.canaries else 0,
            fingerprints=manifest.fingerprints.count if manifest.fingerprints else 0,
        )
        details.outcome = "success" if report.clean else "denied"
    return report


@contextlib.contextmanager
def _read_errors(file: Path | str) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise ZoneError(f"cannot read {file} ({e.strerror})") from None
