"""The artifact registry: one JSON record per released file under $PIIZONE_HOME/artifacts/.

A record is written when a file leaves a sandbox (released clean, or approved from the airlock)
and never changed after. It holds no content and no raw PII: the file's digest and size, the
released (already scanned) name, the zone's id/version/policy digest, the command's name and a
digest of its whole argument list (what was typed stays out of the record, as in the audit log),
the digest of the code directory when one was given, the kernel's user and the egress verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from piizone.zones.exceptions import ZoneError
from piizone.zones.home import ensure_private_dir, piizone_home, write_private_file

ARTIFACT_FORMAT: Final = "piizone-artifact"
ARTIFACT_VERSION: Final = 1
ARTIFACTS_DIR = "artifacts"
MAX_RECORD_BYTES = 64 * 1024


class ArtifactError(ZoneError):
    """An artifact is unknown, ambiguous or its record is damaged."""


class Artifact(BaseModel):
    """One released file and where it came from (format: piizone-artifact v1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["piizone-artifact"] = ARTIFACT_FORMAT
    artifact_version: Literal[1] = ARTIFACT_VERSION
    id: str
    name: str
    sha256: str
    bytes: int
    zone: str
    zone_id: str
    zone_version: int
    policy_sha256: str
    session: str
    command: str
    argv_sha256: str
    code_sha256: str | None = None
    user: str
    uid: int
    created: str
    verdict: Literal["released", "approved"]
    approved_by: str | None = None
    reason: str | None = Field(default=None, max_length=500)


def artifacts_dir(home: Path | None = None) -> Path:
    return (home or piizone_home()) / ARTIFACTS_DIR


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def argv_digest(argv: list[str]) -> str:
    return hashlib.sha256("\0".join(argv).encode("utf-8", "surrogateescape")).hexdigest()


def code_digest(directory: Path) -> str:
    """One sha256 over the code directory: every regular file's relative path and content, in
    sorted order (symlinks and special files are named, never followed)."""
    digest = hashlib.sha256()
    root = directory.resolve()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix().encode("utf-8", "surrogateescape")
        if path.is_symlink() or not path.is_file():
            digest.update(b"L" if path.is_symlink() else b"D")
            digest.update(rel + b"\0")
            continue
        digest.update(b"F" + rel + b"\0" + file_sha256(path).encode() + b"\0")
    return digest.hexdigest()


def new_artifact_id() -> str:
    return "a" + secrets.token_hex(8)


def register(artifact: Artifact, home: Path | None = None) -> Path:
    """Write the record; an id is never reused (FileExistsError would mean a bug)."""
    path = artifacts_dir(home) / f"{artifact.id}.json"
    data = (json.dumps(artifact.model_dump(), indent=2, sort_keys=True) + "\n").encode()
    write_private_file(path, data, overwrite=False)
    return path


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read(path: Path) -> Artifact:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            raise ArtifactError(
                f"artifact record {path.name} is larger than {MAX_RECORD_BYTES} bytes"
            )
        return Artifact.model_validate_json(data)
    except (OSError, ValidationError, ValueError) as e:
        raise ArtifactError(
            f"artifact record {path.name} is damaged ({type(e).__name__})"
        ) from None


def list_artifacts(home: Path | None = None, *, zone: str | None = None) -> list[Artifact]:
    directory = artifacts_dir(home)
    if not directory.is_dir():
        return []
    found = [_read(p) for p in directory.glob("a*.json") if p.is_file() and not p.is_symlink()]
    if zone is not None:
        found = [a for a in found if a.zone == zone]
    return sorted(found, key=lambda a: (a.created, a.id))


def get_artifact(artifact_id: str, home: Path | None = None) -> Artifact:
    """The artifact with this id or a unique prefix of it (at least 4 characters)."""
    if len(artifact_id) < 4 or not artifact_id.isalnum():
        raise ArtifactError(
            f"not an artifact id: {artifact_id!r}", hint="see `piizone artifacts list`"
        )
    matches = [a for a in list_artifacts(home) if a.id.startswith(artifact_id)]
    if not matches:
        raise ArtifactError(f"no artifact {artifact_id!r}", hint="see `piizone artifacts list`")
    if len(matches) > 1:
        raise ArtifactError(
            f"artifact id {artifact_id!r} is ambiguous", hint="give more characters"
        )
    return matches[0]


def ensure_artifacts_dir(home: Path | None = None) -> Path:
    directory = artifacts_dir(home)
    ensure_private_dir(directory)
    os.chmod(directory, 0o700)
    return directory
