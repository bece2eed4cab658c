"""Who is acting, and who may manage a zone.

The actor is the process's real uid and its account name, never $LOGNAME, $USER or
getpass.getuser() (which reads them first): anyone can set an environment variable, nobody can
set their uid. The audit log records the same identity (`audit.current_actor`).

Managing a zone (grant, revoke, hold, destroy, refresh) is for its owner and for root. Root is
the platform operator: it can read every key under $PIIZONE_HOME anyway, and it is who places
legal holds and cleans up after people who left; its actions are audited with uid 0 like any
other. Opening a zone's data (a sandbox session) is for the owner and the granted users only,
root included: an operator manages zones, it does not read them by default.
"""

from __future__ import annotations

import os
from pathlib import Path

from piizone.zones import audit
from piizone.zones.exceptions import AccessDenied, ZoneDenied
from piizone.zones.storage.manifest import ZoneManifest

OPERATOR_UID = 0


def current_user() -> str:
    """The account name of the real uid (`uidN` when it has none)."""
    return audit.current_actor()["user"]


def may_open(manifest: ZoneManifest, user: str) -> bool:
    """Whether `user` may read the zone's data: its owner or a grantee (root is not implied)."""
    return user == manifest.owner or user in manifest.grants


def is_operator() -> bool:
    return os.getuid() == OPERATOR_UID


def may_manage(manifest: ZoneManifest, user: str | None = None) -> bool:
    user = user or current_user()
    return user == manifest.owner or is_operator()


def require_owner(manifest: ZoneManifest, operation: str, home: Path) -> None:
    """Raise AccessDenied (audited as `access.denied`) unless the actor may manage the zone."""
    user = current_user()
    if may_manage(manifest, user):
        return
    name = manifest.name
    audit.record(
        "access.denied",
        zone=name,
        outcome="denied",
        details={"operation": operation, "user": user, "reason": "not the owner"},
        home=home,
    )
    raise AccessDenied(
        f"{user} may not {operation} zone {name!r}: only its owner ({manifest.owner}) or root may",
        hint="ask the zone's owner",
    )


def refuse_under_legal_hold(manifest: ZoneManifest, details: audit.AuditDetails) -> None:
    """Nothing of a zone under legal hold may be shredded (destroy, prune): ZoneDenied, and the
    body's audit record (`details`) says denied."""
    if manifest.legal_hold:
        details.outcome = "denied"
        raise ZoneDenied(
            f"zone {manifest.name!r} is under legal hold",
            hint=f"lift it first: piizone zone hold {manifest.name} --off",
        )
