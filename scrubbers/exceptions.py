"""Domain errors of the scrubbers package. The CLI turns them into `error:`/`hint:` lines."""

from __future__ import annotations


class ScrubberError(Exception):
    """Base class: a failure a user can act on; its message never contains raw PII."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class EngineError(ScrubberError):
    """The detection engine could not be built (model missing, bad recognizer name)."""


class InputError(ScrubberError):
    """An input file or value cannot be read as what it claims to be."""


class NotTextError(InputError):
    """A file read as text holds binary bytes (NULs, and not UTF-16/32)."""


class PolicyError(ScrubberError):
    """A policy file is invalid; the message names file, line and problem."""
