"""Source names and specs as a zone's plaintext metadata may hold them: masked, or sealed.

manifest.json, report.json, `zone show` and the audit log are not encrypted, and a source file
named `jane.doe@example.com_123-45-6789.csv` or a `?query=... WHERE email = '...'` put PII in all
of them (and in the zone's own file names). So:

  * every path component of a file source (and of an SQLite database path) is recorded masked
    (piizone.scrubbers.masking.mask_name: e-mails, digits, the engine's findings; person names
    by piizone.zones.leakcheck.path_names: the zone's own values and the name lists' "First
    Last" pairs, so `john_smith_notes.csv` is as masked as `jane@x.com.csv`); a component
    that changed gets `~<8 hex>`, an HMAC of the real name under a key derived from the zone's
    data key, so two names that mask alike stay apart and a refresh maps a file to the same
    path (a name whose person the zone learned only from a text file is masked from the next
    refresh on: that build knows the parent's fingerprints);
  * a SQL source's display form already has its query literals replaced (zones.provision.sources);
  * the exact spec a refresh re-reads is stored sealed (AES-256-GCM under a key derived from the
    data key, bound to the zone id) in `spec_sealed`; `spec` holds the masked form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from piizone.scrubbers.findings import Finding
from piizone.scrubbers.masking import mask_name
from piizone.zones.exceptions import ZoneError
from piizone.zones.leakcheck.path_names import PeopleInNames
from piizone.zones.storage.manifest import KnownSource, SourceRecord

NAME_KEY_INFO = b"piizone-source-names"
SPEC_KEY_INFO = b"piizone-source-spec"
NONCE_SIZE = 12


def _derive(dek: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(dek)


class NameMasker:
    """Masks names the same way for one zone (its data key), so refreshes agree.

    Person names are masked too (zones.leakcheck.path_names): "First Last" pairs of the name
    lists always, and the zone's own values given as `people` (a build: the values learned
    from its tables and the parent version's fingerprints; `zone status`: the recorded
    version's fingerprints, which is what a refresh would know).
    """

    def __init__(
        self,
        dek: bytes,
        analyze: Callable[[str], Sequence[Finding]] | None = None,
        *,
        people: PeopleInNames | None = None,
    ):
        self._key = _derive(dek, NAME_KEY_INFO)
        self._analyze = analyze
        self._people = people or PeopleInNames()
        self._memo: dict[str, str] = {}

    def _findings(self, spaced: str) -> list[Finding]:
        extra = list(self._analyze(spaced)) if self._analyze is not None else []
        return self._people.spans(spaced) + extra

    def component(self, name: str) -> str:
        if name in self._memo:
            return self._memo[name]
        masked = mask_name(name, self._findings) if name not in ("", ".", "..") else name
        if masked != name:
            tag = hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()[:8]
            dot = masked.rfind(".")
            if dot > 0 and masked[dot + 1 :].isalpha():
                masked = f"{masked[:dot]}~{tag}{masked[dot:]}"
            else:
                masked = f"{masked}~{tag}"
        self._memo[name] = masked
        return masked

    def relpath(self, relpath: str) -> str:
        """A `/`-separated path, each component masked."""
        return "/".join(self.component(part) for part in relpath.split("/"))

    def uri(self, uri: str) -> str:
        """A source's display form: a file path masked per component; for an SQLite URL its
        database path; a PostgreSQL URL as it is (its query literals are already `?`)."""
        if "://" not in uri:
            return self.relpath(uri)
        scheme, _, rest = uri.partition("://")
        if not scheme.startswith("sqlite"):
            return uri
        path, sep, query = rest.partition("?")
        return f"{scheme}://{self.relpath(path)}{sep}{query}"


def seal_spec(spec: str, dek: bytes, zone_id: str) -> str:
    """The exact source spec, encrypted for the manifest (base64 of nonce + ciphertext)."""
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(_derive(dek, SPEC_KEY_INFO)).encrypt(nonce, spec.encode(), zone_id.encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def source_spec(entry: SourceRecord | KnownSource, dek: bytes, zone_id: str) -> str:
    """What a refresh re-reads for one manifest source entry (sealed, or a pre-sealing `spec`)."""
    sealed = entry.spec_sealed
    if sealed is None:
        return entry.spec  # manifests written before specs were sealed
    try:
        raw = base64.b64decode(sealed, validate=True)
        key = _derive(dek, SPEC_KEY_INFO)
        plain = AESGCM(key).decrypt(raw[:NONCE_SIZE], raw[NONCE_SIZE:], zone_id.encode())
    except (ValueError, InvalidTag):
        raise ZoneError(
            "a source spec in the manifest does not decrypt",
            hint="pass the sources again with `zone refresh NAME --from ...`",
        ) from None
    return plain.decode()
