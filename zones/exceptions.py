"""Domain errors of the zones package. The CLI turns them into `error:`/`hint:` lines."""

from __future__ import annotations

from piizone.scrubbers.exceptions import ScrubberError


class ZoneError(ScrubberError):
    """Base class for zone, key, audit and sandbox failures."""


class AccessDenied(ZoneError):
    """The acting user (by real uid) may not do this to the zone: exit 1, audited access.denied."""

    exit_code = 1


class ZoneDenied(ZoneError):
    """The operation is not allowed on this zone (legal hold): exit 1, audited as denied."""

    exit_code = 1


class Cancelled(ZoneError):
    """The user declined a confirmation: exit 1 (a refusal, not a usage error)."""

    exit_code = 1
