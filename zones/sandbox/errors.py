"""What can go wrong with a sandbox session, as the errors the CLI reports (exit codes in
cli/sandbox.py)."""

from __future__ import annotations

from piizone.zones.exceptions import ZoneError


class SandboxError(ZoneError):
    """A sandbox session could not be started or run."""


class SandboxUnavailable(SandboxError):
    """No isolation is available here (bubblewrap missing or user namespaces blocked)."""


class SessionInterrupted(SandboxError):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) ended the session; its outputs were discarded."""

    def __init__(self, signame: str, exit_code: int):
        super().__init__(
            f"session interrupted by {signame}; its outputs were discarded unscanned",
            hint="rerun the command to completion to get its outputs checked and released",
        )
        self.signal = signame
        self.exit_code = exit_code


class SandboxDenied(SandboxError):
    """The caller may not open this zone (not its owner, not granted, expired)."""

    exit_code = 1
