"""piizone's public Python API (re-exported by `piizone`): the Scrubber facade.

The Scrubber is scrubbers.api.Scrubber (scrubbers knows nothing of zones), given here the
pseudonym key from $PIIZONE_HOME and signed policy bundles (zones/serving/bundle.py).
"""

from __future__ import annotations

from pathlib import Path

from piizone.scrubbers.api import Scrubber as _Scrubber
from piizone.zones.serving.bundle import home_pseudonym_key, scrubber_from_bundle


class Scrubber(_Scrubber):
    """Redacts PII under a policy exactly as `piizone redact` and `zone create` do; thread-safe.

    Build it with `from_policy` or `from_bundle`; see scrubbers/api.py for the methods.
    """

    @classmethod
    def from_policy(
        cls, path: str | Path | None = None, *, pseudonym_key: bytes | None = None
    ) -> Scrubber:
        """The policy file at `path` (None: the default policy); the pseudonym key from
        $PIIZONE_HOME (keys/pseudonym.key) unless `pseudonym_key` is given."""
        key = pseudonym_key if pseudonym_key is not None else home_pseudonym_key()
        return super().from_policy(path, pseudonym_key=key)  # type: ignore[return-value]

    @classmethod
    def from_bundle(
        cls,
        directory: str | Path,
        *,
        pseudonym_key: bytes | None = None,
        trusted_key: str | Path | None = None,
    ) -> Scrubber:
        """A bundle written by `piizone zone export-policy`, verified first: BundleError when it
        was edited, its model is not the installed one, or its pseudonym key is not ours.
        `trusted_key` is the signer's PEM public key (default: this home's own signing key)."""
        return scrubber_from_bundle(  # type: ignore[return-value]
            directory, pseudonym_key=pseudonym_key, trusted_key=trusted_key, scrubber_class=cls
        )
