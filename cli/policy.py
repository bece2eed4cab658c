"""`piizone policy`: show, validate, compare and start a redaction policy."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
import yaml

from piizone.cli.errors import handle_errors
from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.policy import (
    Policy,
    default_policy_text,
    disabled_warning,
    load_policy,
)
from piizone.scrubbers.policy_diff import diff_policies, effective

app = typer.Typer(
    help="Show, validate, compare and start a redaction policy.\n\nExample:\n\n"
    "    piizone policy init -o policy.yaml && piizone policy diff policy.yaml",
    no_args_is_help=True,
)

POLICY_ARG = typer.Argument(None, metavar="[POLICY]", help="Policy YAML (default: built-in).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def warn_disabled(policy: Policy, *, as_json: bool = False) -> None:
    """The one-line warning every run using a policy that switches detectors off prints
    (a JSON object when the command's errors are JSON lines)."""
    line = disabled_warning(policy)
    if line and as_json:
        sys.stderr.write(json.dumps({"level": "warning", "warning": line}) + "\n")
    elif line:
        sys.stderr.write(f"warning: {line}\n")


def _summary(policy: Policy) -> dict:
    return {
        "source": policy.source,
        "sha256": policy.sha256,
        "entities": policy.entities,
        "disabled": list(policy.disabled),
    }


@app.command("show")
@handle_errors
def show(policy: Path | None = POLICY_ARG, json_out: bool = JSON) -> None:
    """Print a policy as it takes effect: the default's settings filled in, entity by entity.

    Example:

        piizone policy show policy.yaml
    """
    loaded = load_policy(policy)
    warn_disabled(loaded)
    if json_out:
        typer.echo(json.dumps({**_summary(loaded), "policy": effective(loaded)}, indent=2))
        return
    typer.echo(f"# {loaded.source} as it takes effect; version (sha256) {loaded.sha256}")
    typer.echo(yaml.safe_dump(effective(loaded), sort_keys=False, allow_unicode=True), nl=False)


@app.command("validate")
@handle_errors
def validate(
    policy: Path = typer.Argument(..., metavar="POLICY", help="Policy YAML to check."),
    json_out: bool = JSON,
) -> None:
    """Check a policy file; errors name the line. Exit 0 valid, 2 invalid.

    Example:

        piizone policy validate policy.yaml
    """
    loaded = load_policy(policy)
    warn_disabled(loaded)
    if json_out:
        typer.echo(json.dumps({"valid": True, **_summary(loaded)}, indent=2))
        return
    off = f"; switched off: {', '.join(loaded.disabled)}" if loaded.disabled else ""
    typer.echo(
        f"{loaded.source}: valid, version {loaded.sha256[:12]}, "
        f"{len(loaded.entities)} entity types detected{off}"
    )


@app.command("diff")
@handle_errors
def diff(
    left: Path = typer.Argument(..., metavar="POLICY", help="Policy YAML."),
    right: Path | None = typer.Argument(
        None, metavar="[OTHER]", help="Policy YAML to compare with (default: built-in)."
    ),
    json_out: bool = JSON,
) -> None:
    """Compare two policies as they take effect, setting by setting (default: with the built-in).

    Example:

        piizone policy diff policy.yaml

        piizone policy diff old.yaml new.yaml --json
    """
    a, b = load_policy(left), load_policy(right)
    changes = diff_policies(a, b)
    if json_out:
        body = {
            "left": _summary(a),
            "right": _summary(b),
            "changes": [c.to_dict() for c in changes],
        }
        typer.echo(json.dumps(body, indent=2))
        return
    typer.echo(f"--- {a.source} ({a.sha256[:12]})\n+++ {b.source} ({b.sha256[:12]})")
    for c in changes:
        typer.echo(f"{c.path}: {_show(c.left)} -> {_show(c.right)}")
    if not changes:
        typer.echo("no differences")


def _show(value: object) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)


@app.command("init")
@handle_errors
def init(
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="FILE", help="Where to write it (never overwritten)."
    ),
) -> None:
    """Write the commented default policy to a new file, to edit and pass with --policy.

    A policy extends the default entity by entity: keep only what you change, and switch a
    detector off with `PHONE_NUMBER: {enabled: false}`.

    Example:

        piizone policy init -o policy.yaml
    """
    data = default_policy_text().encode("utf-8")
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        # O_EXCL: an existing policy (or a symlink planted in its place) is never replaced.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError(
            f"{output}: already exists", hint="choose another -o, or remove it"
        ) from None
    except OSError as e:
        raise InputError(f"{output}: cannot create ({e.strerror})") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    typer.echo(f"wrote {output}; edit it, then: piizone policy validate {output}")
