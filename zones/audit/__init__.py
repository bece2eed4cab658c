"""The tamper-evident audit log (hash chain, MAC, signed checkpoints), its export and the
record of processing (RoPA) built from it. Depends on storage, the base modules and scrubbers
(error messages are masked like file names before they are recorded).

Modules: `format` (the stored record, head and checkpoint formats, canonical JSON, MAC, hash
chain), `segments` (the log's files), `checkpoints` (Ed25519 seals and the signing key), `log`
(AuditLog: appends, locks, head, crash repair, rotation, reading), `verify` (verification),
`recorder` (`record`, `audited`, opening and verifying a home's log), `export`, `ropa`.

The rest of piizone audits itself through the names below (`from piizone.zones import audit`).
"""

from piizone.zones.audit.checkpoints import (
    ensure_signing_key,
    load_public_key,
    make_checkpoint,
    public_key_id,
)
from piizone.zones.audit.format import (
    ACTIONS,
    CHECKPOINT_CONTEXT,
    FORMAT_VERSION,
    GENESIS,
    KEY_FILE,
    MAX_DETAILS_BYTES,
    OUTCOMES,
    PROBLEM_KINDS,
    RECORD_FIELDS,
    SIGNING_KEY_FILE,
    SIGNING_PUBLIC_FILE,
    STRIPPED,
    AuditError,
    canonical_json,
    compute_mac,
    current_actor,
    line_hash,
    parse_time,
    sanitize_details,
    segment_name,
)
from piizone.zones.audit.log import AuditLog
from piizone.zones.audit.recorder import (
    AuditDetails,
    audited,
    ensure_audit_key,
    error_detail,
    open_audit_log,
    record,
    verify_home,
)
from piizone.zones.audit.verify import Problem, VerifyResult

__all__ = [
    "ACTIONS",
    "CHECKPOINT_CONTEXT",
    "FORMAT_VERSION",
    "GENESIS",
    "KEY_FILE",
    "MAX_DETAILS_BYTES",
    "OUTCOMES",
    "PROBLEM_KINDS",
    "RECORD_FIELDS",
    "SIGNING_KEY_FILE",
    "SIGNING_PUBLIC_FILE",
    "STRIPPED",
    "AuditDetails",
    "AuditError",
    "AuditLog",
    "Problem",
    "VerifyResult",
    "audited",
    "canonical_json",
    "compute_mac",
    "current_actor",
    "ensure_audit_key",
    "ensure_signing_key",
    "error_detail",
    "line_hash",
    "load_public_key",
    "make_checkpoint",
    "open_audit_log",
    "parse_time",
    "public_key_id",
    "record",
    "sanitize_details",
    "segment_name",
    "verify_home",
]
