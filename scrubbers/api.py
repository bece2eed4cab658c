"""The public Python API production imports: a policy's redaction as a thread-safe object.

    from piizone import Scrubber
    scrubber = Scrubber.from_policy("policy.yaml")
    scrubber.scrub_text("Call Jane Doe at 555-0100")   # -> "Call <PERSON> at <PHONE_NUMBER>"

Train/serve parity is the point: every method runs the very code `piizone redact` and
`zone create` run (scrubbers/redact.py), so a text is redacted as a .txt file holding it, a list
of records as a .jsonl file holding them, a DataFrame as a table file, byte for byte, pseudonyms
and fakes included, under the same policy and pseudonym key.

This module knows nothing of zones: the `piizone` package's Scrubber adds the pseudonym key from
$PIIZONE_HOME and signed policy bundles (zones/bundle.py) on top of this class.
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.findings import Finding
from piizone.scrubbers.models import ModelInfo, installed_model
from piizone.scrubbers.policy import Policy, load_policy
from piizone.scrubbers.reports import tool_version

if TYPE_CHECKING:
    import pandas as pd

    from piizone.scrubbers.text_passes import TextPass

# One lock per engine: the engine (spaCy, its memo) and the redactors' Faker are not
# thread-safe, and Scrubbers of one policy share one engine per process (engine_for).
# Concurrency comes from processes (`piizone serve --workers N`), not threads.
_ENGINE_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _engine_lock(policy_sha256: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _ENGINE_LOCKS.setdefault(policy_sha256, threading.Lock())


class Scrubber:
    """Detects and redacts PII under one policy; safe to share between threads.

    `pseudonym_key` is the secret behind `pseudonymize` and `fake` (the same key as the
    training zone's gives the same tokens and surrogates). `provenance` says where the policy
    came from (a bundle's zone and signer) and is shown by `describe()`.
    """

    def __init__(
        self,
        policy: Policy,
        pseudonym_key: bytes | None = None,
        *,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        # Imported here: they load Presidio, spaCy and Faker (seconds).
        from piizone.scrubbers.engines import make_engine
        from piizone.scrubbers.operators import Redactor

        self.policy = policy
        self.model: ModelInfo = installed_model(policy.model.engine.spacy_model)
        self.provenance: dict[str, Any] = dict(provenance or {})
        self._redactor = Redactor(policy, pseudonym_key)
        note = self._redactor.key_fallback_note()
        if note:  # as `redact` says it: a service whose joins silently die is worse
            warnings.warn(note, UserWarning, stacklevel=2)
        self._lock = _engine_lock(policy.sha256)
        with self._lock:
            self._engine = make_engine(policy, workers=1)  # in-process, one per policy

    @classmethod
    def from_policy(
        cls, path: str | Path | None = None, *, pseudonym_key: bytes | None = None
    ) -> Scrubber:
        """A Scrubber for the policy file at `path` (None: the default policy)."""
        return cls(load_policy(path), pseudonym_key)

    # --- identity --------------------------------------------------------------------------

    @property
    def policy_sha256(self) -> str:
        """The policy's version: sha256 of its canonical form (as in manifests and reports)."""
        return self.policy.sha256

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def model_version(self) -> str:
        return self.model.version

    def describe(self) -> dict[str, Any]:
        """What this Scrubber runs: policy version, model, tool version, provenance. No keys."""
        return {
            "policy": {
                "sha256": self.policy.sha256,
                "name": self.policy.model.name,
                "source": self.policy.source,
                "entities": self.policy.entities,
            },
            "model": self.model.to_dict(),
            "tool": {"name": "piizone", "version": tool_version()},
            **self.provenance,
        }

    # --- text ------------------------------------------------------------------------------

    def scrub_text(self, text: str) -> str:
        """`text` redacted exactly as `piizone redact` redacts a .txt file holding it."""
        return self.scrub_text_counted(text)[0]

    def scrub_text_counted(self, text: str) -> tuple[str, dict[str, int]]:
        """The redacted text and the number of values replaced per entity type."""
        from piizone.scrubbers.redact import redact_string

        _check_text(text, "text")
        with self._lock:
            redacted, summary = redact_string(text, self._engine, self._redactor)
        return redacted, summary.entities

    def scan_text(self, text: str) -> list[Finding]:
        """The findings `scrub_text` replaces, as offsets into `text` (no copies of values)."""
        from piizone.scrubbers.redact import redact_string

        _check_text(text, "text")
        found: list[Finding] = []
        offset = 0

        def collect(p: TextPass) -> None:
            nonlocal offset
            found.extend(s.shifted(offset) for s in p.spans)
            offset += p.cut

        with self._lock:
            redact_string(text, self._engine, self._redactor, on_pass=collect)
        return found

    # --- records and tables ----------------------------------------------------------------

    def scrub_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """One record (a JSON object) redacted as a one-line .jsonl file; the input is unchanged."""
        return self.scrub_records([record])[0]

    def scrub_records(self, records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Records redacted as one .jsonl file holding them: fields are profiled over the batch."""
        return self.scrub_records_counted(records)[0]

    def scrub_records_counted(
        self, records: list[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """The redacted records (copies) and the number of values replaced per entity type."""
        from piizone.scrubbers.redact import redact_records

        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise InputError("records must be a list of objects (mappings)")
        copies = [copy.deepcopy(dict(r)) for r in records]
        for i, r in enumerate(copies):
            _check_record(r, f"records[{i}]")
        with self._lock:
            summary = redact_records(copies, self._engine, self._redactor)
        return copies, summary.entities

    def scrub_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A redacted copy of `frame`, handled as `redact` handles a table file with its rows.

        Identifier columns are transformed vectorised (one operator call per distinct value),
        free-text columns value by value, `drop` columns removed; the index is kept.
        """
        import pandas as pd

        from piizone.scrubbers.redact import redact_frame

        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"scrub_frame takes a pandas DataFrame, not {type(frame).__name__}")
        with self._lock:
            redacted, _ = redact_frame(frame, self._engine, self._redactor)
        return redacted

    def __repr__(self) -> str:  # never the key
        return f"<Scrubber policy {self.policy.sha256[:12]} model {self.model.describe()}>"


def _check_text(value: Any, where: str) -> None:
    """A str that can be written as UTF-8: JSON's "\\ud800" escapes decode to lone surrogates,
    which no file holds and which no output could be encoded with."""
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(
            f"{where}: not valid Unicode text (unpaired surrogate at offset {e.start})"
        ) from None


def _check_record(value: Any, where: str) -> None:
    """Every string in a record is valid Unicode. `where` names the record, never a field:
    field names are data too."""
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InputError(f"{where}: field names must be strings")
            _check_text(k, f"{where} (a field name)")
            _check_record(v, where)
    elif isinstance(value, list):
        for v in value:
            _check_record(v, where)
