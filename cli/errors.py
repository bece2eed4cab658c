"""The one place where domain errors become a message on stderr and an exit code."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer

from piizone.scrubbers.exceptions import ScrubberError


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so temp files and staging are removed on the way."""


_MAIN_PID = os.getpid()


def _on_sigterm(signum: int, frame: Any) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker: die the ordinary way, the parent reports
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated()


def install_signal_handlers() -> None:
    """SIGTERM raises Terminated in the main process (the default action would kill us before
    any `finally` ran: a 13 GB temp output stayed behind)."""
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)


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
        except Terminated:
            report_error("terminated")
            raise typer.Exit(143) from None

    return wrapper
