"""Where a session's outputs came from, and their registration as artifacts.

`Provenance` is what every output of one sandbox session shares (zone, version, policy, command,
code, user); `register_output` turns one released file into an Artifact record (see
`artifacts`) and audits it as `artifacts.register`. The sandbox builds the provenance and calls
this after its egress check; the airlock (`airlock`) calls it for an approved file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from piizone.zones import audit
from piizone.zones.lineage.artifacts import (
    Artifact,
    argv_digest,
    ensure_artifacts_dir,
    new_artifact_id,
    now,
    register,
)
from piizone.zones.storage.manifest import ZoneManifest


@dataclass(frozen=True)
class Provenance:
    """What the outputs of one session share. No argument of the command is kept, only their
    digest (an argument can be a path or a value the user typed)."""

    session: str
    zone: str
    zone_id: str
    zone_version: int
    policy_sha256: str
    command: str
    argv_sha256: str
    code_sha256: str | None
    user: str
    uid: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def session_provenance(
    session: str,
    manifest: ZoneManifest,
    cmd: Sequence[str],
    *,
    code_sha256: str | None,
) -> Provenance:
    """The provenance of a session on the zone version `manifest`, run by the real uid."""
    actor = audit.current_actor()
    return Provenance(
        session=session,
        zone=manifest.name,
        zone_id=manifest.id,
        zone_version=manifest.version,
        policy_sha256=manifest.policy.sha256,
        command=os.path.basename(cmd[0]) if cmd else "",
        argv_sha256=argv_digest(list(cmd)),
        code_sha256=code_sha256,
        user=actor["user"],
        uid=int(actor["uid"]),
    )


def register_output(
    provenance: Provenance,
    *,
    name: str,
    sha256: str,
    size: int,
    home: Path,
    verdict: Literal["released", "approved"] = "released",
    approved_by: str | None = None,
    reason: str | None = None,
) -> Artifact:
    """Record one released file as an artifact; audited as `artifacts.register`."""
    ensure_artifacts_dir(home)
    artifact = Artifact(
        id=new_artifact_id(),
        name=name,
        sha256=sha256,
        bytes=size,
        created=now(),
        verdict=verdict,
        approved_by=approved_by,
        reason=reason,
        **provenance.to_dict(),
    )
    register(artifact, home)
    audit.record(
        "artifacts.register",
        zone=provenance.zone,
        details={
            "artifact": artifact.id,
            "session": provenance.session,
            "version": provenance.zone_version,
            "sha256": sha256,
            "bytes": size,
            "verdict": verdict,
        },
        home=home,
    )
    return artifact
