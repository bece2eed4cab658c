"""Confirmation for destructive commands: ask on a terminal, require --yes in scripts."""

from __future__ import annotations

import sys

import typer

from piizone.zones.exceptions import Cancelled, ZoneError


def confirm_or_abort(question: str, yes: bool, *, action: str, zone: str | None = None) -> None:
    """Go on only when confirmed; a refusal for want of a terminal is audited as `action`."""
    if yes:
        return
    if not sys.stdin.isatty():
        from piizone.zones import lifecycle

        lifecycle.record_unconfirmed(action, zone)
        raise ZoneError(
            f"{question} — refusing without confirmation", hint="no terminal to ask on: pass --yes"
        )
    if not typer.confirm(question, default=False, err=True):
        raise Cancelled("cancelled")
