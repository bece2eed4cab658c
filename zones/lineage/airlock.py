"""The output airlock: quarantined outputs wait, encrypted, for a second person to review them.

As in trusted research environments (OpenSAFELY's output checking): a sandbox output the egress
check flags is never released by its author. It stays encrypted with the zone's data key in
$PIIZONE_HOME/zones/.quarantine/<session>/ (leakcheck.release.quarantine_file); here each one
gets a request record under $PIIZONE_HOME/airlock/<id>.json: its masked name, size, digest, the
masked findings the egress report showed, the session's provenance, the requester's --out and
its state (pending → approved | rejected, once).

* `approve` decrypts the held file and releases it under the same rules as a clean output (a
  fresh directory under the requester's --out, nothing overwritten, no exec bit:
  leakcheck.release), registers it as an artifact with verdict "approved", who and why, and
  removes the encrypted copy.
* `reject` deletes the encrypted copy (the plaintext never existed outside the sandbox's
  staging dir).
* The reviewer (the real uid, never an environment variable) must be neither the session's
  user nor the zone's owner, unless `[airlock] allow_self_review = true` (a team of one).
  A denial is audited `access.denied` and exits 1; unknown ids and decided requests exit 2.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from piizone.zones import access, audit
from piizone.zones.config import airlock_allows_self_review
from piizone.zones.exceptions import AccessDenied, ZoneError
from piizone.zones.home import ensure_private_dir, piizone_home, write_private_file, zones_dir
from piizone.zones.leakcheck.output_tree import DIR_FLAGS
from piizone.zones.leakcheck.release import claim_release_dir, write_released
from piizone.zones.lineage.artifacts import now
from piizone.zones.lineage.provenance import Provenance, register_output
from piizone.zones.storage.crypto import decrypt_file, decrypt_stream
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore
from piizone.zones.storage.zone_keys import unwrap_zone_key

AIRLOCK_DIR = "airlock"
MAX_RECORD_BYTES = 256 * 1024
MAX_INDEX_BYTES = 16 * 1024 * 1024


class AirlockError(ZoneError):
    """An airlock request is unknown, already decided or cannot be released (exit 2)."""


class HeldFinding(BaseModel):
    """One flagged line, as the egress report showed it: the value masked, never raw."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: str
    line: int | None = None
    reason: str
    context: str


class HeldOutput(BaseModel):
    """One quarantined output awaiting review (format: piizone-airlock v1)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["piizone-airlock"] = "piizone-airlock"
    airlock_version: Literal[1] = 1
    id: str
    index: int  # its number in the session's quarantine (the file is <index>.piiz)
    name: str  # as the egress report shows it (masked when the name itself was flagged)
    sha256: str
    bytes: int
    kind: str
    out_dir: str  # the requester's --out (real path): approved files go under it
    findings: list[HeldFinding]
    provenance: Provenance
    created: str
    status: Literal["pending", "approved", "rejected"] = "pending"
    decided_by: str | None = None
    decided_uid: int | None = None
    decided: str | None = None
    reason: str | None = Field(default=None, max_length=500)
    artifact: str | None = None
    released_to: str | None = None


def airlock_dir(home: Path | None = None) -> Path:
    return (home or piizone_home()) / AIRLOCK_DIR


def _record_path(home: Path, request_id: str) -> Path:
    return airlock_dir(home) / f"{request_id}.json"


def _save(record: HeldOutput, home: Path, *, new: bool = False) -> None:
    data = (json.dumps(record.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()
    write_private_file(_record_path(home, record.id), data, overwrite=not new)


def hold_outputs(
    report: Any, provenance: Provenance, out_dir: Path, home: Path
) -> list[HeldOutput]:
    """A pending request for every output the egress `report` quarantined (in its order)."""
    held: list[HeldOutput] = []
    if not report.quarantined:
        return held
    ensure_private_dir(airlock_dir(home))
    for index, item in enumerate(report.quarantined):
        findings = [
            HeldFinding(entity=f.entity, line=f.line, reason=f.reason, context=f.context)
            for f in report.findings
            if f.file == item.file
        ]
        record = HeldOutput(
            id="q" + secrets.token_hex(8),
            index=index,
            name=item.file,
            sha256=item.sha256,
            bytes=item.bytes,
            kind=item.kind,
            out_dir=os.path.realpath(out_dir),
            findings=findings,
            provenance=provenance,
            created=now(),
        )
        _save(record, home, new=True)
        held.append(record)
    return held


def _read(path: Path) -> HeldOutput:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            raise AirlockError(f"airlock record {path.name} is too large")
        return HeldOutput.model_validate_json(data)
    except (OSError, ValidationError, ValueError) as e:
        raise AirlockError(f"airlock record {path.name} is damaged ({type(e).__name__})") from None


def list_held(
    home: Path | None = None, *, zone: str | None = None, status: str | None = None
) -> list[HeldOutput]:
    directory = airlock_dir(home)
    if not directory.is_dir():
        return []
    found = [_read(p) for p in directory.glob("q*.json") if p.is_file() and not p.is_symlink()]
    if zone is not None:
        found = [r for r in found if r.provenance.zone == zone]
    if status is not None:
        found = [r for r in found if r.status == status]
    return sorted(found, key=lambda r: (r.created, r.id))


def get_held(request_id: str, home: Path | None = None) -> HeldOutput:
    """The request with this id or a unique prefix of it (at least 4 characters)."""
    hint = "see `piizone airlock list`"
    if len(request_id) < 4 or not request_id.isalnum():
        raise AirlockError(f"not an airlock id: {request_id!r}", hint=hint)
    matches = [r for r in list_held(home) if r.id.startswith(request_id)]
    if not matches:
        raise AirlockError(f"no airlock request {request_id!r}", hint=hint)
    if len(matches) > 1:
        raise AirlockError(f"airlock id {request_id!r} is ambiguous", hint="give more characters")
    return matches[0]


def show_held(request_id: str, home: Path | None = None) -> HeldOutput:
    """The request (its findings masked); audited as `airlock.show`."""
    home = Path(home or piizone_home())
    record = get_held(request_id, home)
    audit.record(
        "airlock.show",
        zone=record.provenance.zone,
        details={"request": record.id, "session": record.provenance.session},
        home=home,
    )
    return record


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    # fcntl.flock by hand: one decision at a time, so two reviewers cannot both approve (or one
    # approve while another rejects) the same request. Released when the process dies.
    ensure_private_dir(airlock_dir(home))
    fd = os.open(airlock_dir(home) / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _pending(request_id: str, home: Path, operation: str) -> HeldOutput:
    record = get_held(request_id, home)
    if record.status != "pending":
        raise AirlockError(
            f"airlock request {record.id} was already {record.status} by {record.decided_by}",
            hint=f"a decided request cannot be {operation}d",
        )
    return record


def check_reviewer(record: HeldOutput, owner: str | None, operation: str, home: Path) -> str:
    """The acting user, if they may decide on `record`; AccessDenied (audited) otherwise."""
    user = access.current_user()
    author = record.provenance.user
    if user not in (author, owner) or airlock_allows_self_review(home):
        return user
    role = "author of the session" if user == author else "owner of the zone"
    audit.record(
        "access.denied",
        zone=record.provenance.zone,
        outcome="denied",
        details={
            "operation": f"airlock.{operation}",
            "user": user,
            "request": record.id,
            "reason": f"reviewer is the {role}",
        },
        home=home,
    )
    raise AccessDenied(
        f"{user} may not {operation} airlock request {record.id}: they are the {role}",
        hint="another person reviews outputs (or set [airlock] allow_self_review = true in "
        "config.toml for a team of one)",
    )


def _check_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise AirlockError("a --reason is required", hint='e.g. --reason "aggregate, k >= 10"')
    if len(reason) > 500:
        raise AirlockError("--reason is longer than 500 characters")
    return reason


def _zone_key(record: HeldOutput, home: Path) -> tuple[ZoneManifest, bytes]:
    """The manifest of the session's zone version and its data key (the quarantine's key)."""
    prov = record.provenance
    store = ZoneStore(home)
    try:
        manifest = store.manifest(prov.zone, prov.zone_version)
    except ZoneError as e:
        raise AirlockError(
            f"zone {prov.zone!r} v{prov.zone_version} of request {record.id} is gone ({e})",
            hint="its quarantine cannot be decrypted any more; reject the request",
        ) from None
    if manifest.id != prov.zone_id:
        raise AirlockError(f"zone {prov.zone!r} is not the zone request {record.id} came from")
    return manifest, unwrap_zone_key(store, manifest)


def _quarantine(record: HeldOutput, home: Path) -> Path:
    return zones_dir(home) / ".quarantine" / record.provenance.session


def _held_file(record: HeldOutput, home: Path) -> Path:
    return _quarantine(record, home) / f"{record.index:05d}.piiz"


def _original_name(record: HeldOutput, home: Path, dek: bytes) -> str:
    """The output's path as the command wrote it, from the quarantine's encrypted index."""
    session = record.provenance.session
    buf = io.BytesIO()
    with open(_quarantine(record, home) / "index.piiz", "rb") as f:
        decrypt_stream(
            f, buf, dek, zone_id=record.provenance.zone_id, path=f"quarantine/{session}/index"
        )
    if buf.tell() > MAX_INDEX_BYTES:
        raise AirlockError(f"the quarantine index of session {session} is too large")
    files = json.loads(buf.getvalue()).get("files") or []
    if not 0 <= record.index < len(files) or not isinstance(files[record.index], str):
        raise AirlockError(f"the quarantine index of session {session} does not name the file")
    return files[record.index]


def approve(request_id: str, reason: str, home: Path | None = None) -> HeldOutput:
    """Release the held file to a fresh dir under the requester's --out and register it."""
    home = Path(home or piizone_home())
    reason = _check_reason(reason)
    audit.open_audit_log(home).check_writable()
    with _locked(home):
        record = _pending(request_id, home, "approve")
        manifest, dek = _zone_key(record, home)
        user = check_reviewer(record, manifest.owner, "approve", home)
        held = _held_file(record, home)
        if not held.is_file():
            raise AirlockError(f"the held file of request {record.id} is missing")
        rel = _original_name(record, home, dek)
        staging = ensure_private_dir(airlock_dir(home) / ".staging")
        for stale in staging.iterdir():  # left by an approve that was killed (we hold the lock)
            stale.unlink()
        plain = staging / record.id
        try:
            decrypt_file(
                held, plain, dek, zone_id=record.provenance.zone_id,
                path=f"quarantine/{record.provenance.session}/{record.index:05d}",
            )  # fmt: skip
            release_dir = _release(plain, rel, record, home)
        finally:
            with contextlib.suppress(FileNotFoundError):
                plain.unlink()
        artifact = register_output(
            record.provenance, name=record.name, sha256=record.sha256, size=record.bytes,
            home=home, verdict="approved", approved_by=user, reason=reason,
        )  # fmt: skip
        held.unlink()
        record = _decide(record, "approved", user, reason, home)
        record.artifact, record.released_to = artifact.id, str(release_dir)
        _save(record, home)
        _remove_empty_quarantine(record, home)
    _audit_decision(record, "approve", home)
    return record


def _release(plain: Path, rel: str, record: HeldOutput, home: Path) -> Path:
    """Write the decrypted file like a clean output: a fresh dir under the requester's --out
    (DIR if new or empty, else DIR/<request id>), O_EXCL, no symlink followed, mode 0644."""
    try:
        release_dir = claim_release_dir(Path(record.out_dir), record.id, home)
        root_fd = os.open(release_dir, DIR_FLAGS)
        try:
            write_released(root_fd, rel, plain)
        finally:
            os.close(root_fd)
    except OSError as e:
        raise AirlockError(
            f"cannot release request {record.id} under {record.out_dir} ({e.strerror})",
            hint="the request stays pending; fix the directory and approve again",
        ) from None
    return release_dir


def reject(request_id: str, reason: str, home: Path | None = None) -> HeldOutput:
    """Delete the held (encrypted) file; the request stays as the record of the decision."""
    home = Path(home or piizone_home())
    reason = _check_reason(reason)
    audit.open_audit_log(home).check_writable()
    with _locked(home):
        record = _pending(request_id, home, "reject")
        owner = _zone_owner(record, home)
        user = check_reviewer(record, owner, "reject", home)
        with contextlib.suppress(FileNotFoundError):
            _held_file(record, home).unlink()
        record = _decide(record, "rejected", user, reason, home)
        _save(record, home)
        _remove_empty_quarantine(record, home)
    _audit_decision(record, "reject", home)
    return record


def _zone_owner(record: HeldOutput, home: Path) -> str | None:
    """The owner of the session's zone version; None once it is gone (a reject still works)."""
    prov = record.provenance
    try:
        return ZoneStore(home).manifest(prov.zone, prov.zone_version).owner
    except ZoneError:
        return None


def _decide(record: HeldOutput, status: str, user: str, reason: str, home: Path) -> HeldOutput:
    return record.model_copy(
        update={
            "status": status,
            "decided_by": user,
            "decided_uid": os.getuid(),
            "decided": now(),
            "reason": reason,
        }
    )


def _remove_empty_quarantine(record: HeldOutput, home: Path) -> None:
    """Once no held file of the session is left, its quarantine (the index) goes too."""
    qdir = _quarantine(record, home)
    with contextlib.suppress(OSError):
        if not any(p.suffix == ".piiz" and p.name != "index.piiz" for p in qdir.iterdir()):
            shutil.rmtree(qdir)


def _audit_decision(record: HeldOutput, operation: str, home: Path) -> None:
    # The reason is the reviewer's free text: only its length goes into the log, like argv.
    audit.record(
        f"airlock.{operation}",
        zone=record.provenance.zone,
        details={
            "request": record.id,
            "session": record.provenance.session,
            "version": record.provenance.zone_version,
            "sha256": record.sha256,
            "bytes": record.bytes,
            "author": record.provenance.user,
            "reason_chars": len(record.reason or ""),
            **({"artifact": record.artifact} if record.artifact else {}),
        },
        home=home,
    )
