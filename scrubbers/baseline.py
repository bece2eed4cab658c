"""A baseline of accepted findings, as detect-secrets and gitleaks keep one.

`scan --baseline .piizone-baseline.json` does not count findings listed there against
`--fail-on`; `--update-baseline` writes the current findings into it. A finding is keyed by
file (relative to the working directory), entity type and a keyed fingerprint of its value
(HMAC-SHA256), never the value:

    {"version": 1, "tool": "piizone", "keyed_by": "salt" | "PIIZONE_BASELINE_KEY",
     "salt": HEX, "findings": [{"path", "entity", "fingerprint", "count"}]}

The key is the file's random salt, or the secret in $PIIZONE_BASELINE_KEY when set. With the
salt alone, someone holding the baseline can test guesses of a low-entropy value (an SSN has
10^9): set PIIZONE_BASELINE_KEY in CI to make the fingerprints unguessable without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.output_files import write_output_bytes
from piizone.scrubbers.reports import Report

BASELINE_VERSION = 1
KEY_ENV = "PIIZONE_BASELINE_KEY"
MAX_BASELINE_BYTES = 64 * 1024 * 1024


@dataclass
class Baseline:
    salt: bytes
    findings: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    @property
    def keyed_by(self) -> str:
        return KEY_ENV if os.environ.get(KEY_ENV) else "salt"

    def fingerprint(self, entity: str, value: str) -> str:
        key = os.environ.get(KEY_ENV, "").encode() or self.salt
        message = self.salt + b"\0" + entity.encode() + b"\0" + value.encode("utf-8", "replace")
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    def apply(self, report: Report) -> None:
        """Set report.accepted: per entity, how many of its findings the baseline lists."""
        accepted: Counter[str] = Counter()
        for source in report.sources:
            for (entity, fp), n in source.fingerprints.items():
                listed = self.findings.get((_key_path(source.path), entity, fp), 0)
                accepted[entity] += min(n, listed)
        report.accepted = {e: n for e, n in accepted.items() if n}

    def update_from(self, report: Report) -> None:
        """Replace the accepted findings by the report's."""
        self.findings = Counter()
        for source in report.sources:
            for (entity, fp), n in source.fingerprints.items():
                self.findings[(_key_path(source.path), entity, fp)] = n

    def to_json(self) -> str:
        rows = [
            {"path": p, "entity": e, "fingerprint": f, "count": n}
            for (p, e, f), n in sorted(self.findings.items())
        ]
        body = {
            "version": BASELINE_VERSION,
            "tool": "piizone",
            "keyed_by": self.keyed_by,
            "salt": self.salt.hex(),
            "findings": rows,
        }
        return json.dumps(body, indent=2) + "\n"

    def save(self, path: Path) -> None:
        write_output_bytes(path, self.to_json().encode("utf-8"))


def _key_path(path: str) -> str:
    """A file as the baseline names it: relative to the working directory, `/`-separated, so
    `scan data/` and `scan $PWD/data/` (or another checkout of the repository) agree."""
    return Path(os.path.relpath(os.path.abspath(path))).as_posix()


def load_baseline(path: Path, *, create: bool = False) -> Baseline:
    """Read a baseline; a missing one is a new, empty baseline when `create`, else an error."""
    if not path.exists():
        if create:
            return Baseline(salt=secrets.token_bytes(16))
        raise InputError(f"{path}: no such baseline", hint="create it with --update-baseline")
    try:
        if path.stat().st_size > MAX_BASELINE_BYTES:
            raise InputError(f"{path}: baseline too large")
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable baseline ({type(e).__name__})") from None
    try:
        if data["version"] != BASELINE_VERSION or data["tool"] != "piizone":
            raise InputError(f"{path}: not a piizone baseline (version {data['version']!r})")
        baseline = Baseline(salt=bytes.fromhex(data["salt"]))
        for row in data["findings"]:
            key = (str(row["path"]), str(row["entity"]), str(row["fingerprint"]))
            baseline.findings[key] = int(row["count"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: malformed baseline ({type(e).__name__})") from None
    return baseline
