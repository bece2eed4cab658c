"""The one place where domain errors become a message on stderr and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

from scrubbers.exceptions import ScrubberError


def report_error(message: str, hint: str | None = None) -> None:
    """Print `error: …` (and `hint: …`), one line each, on stderr."""
    first_line = " ".join(str(message).split()) or "unknown error"
    sys.stderr.write(f"error: {first_line}\n")
    if hint:
        sys.stderr.write(f"hint: {' '.join(hint.split())}\n")


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so domain errors exit with their code and one line, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ScrubberError as e:
            report_error(str(e), e.hint)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            report_error("interrupted")
            raise typer.Exit(130) from None

    return wrapper
