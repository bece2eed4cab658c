"""$PIIZONE_HOME/config.toml: the key provider, zone defaults and the serve token."""

from __future__ import annotations

import json
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from piizone.zones.exceptions import ZoneError
from piizone.zones.home import piizone_home, write_private_file

CONFIG_NAME = "config.toml"
CONFIG_VERSION = 1
DEFAULTS: dict[str, dict[str, Any]] = {
    "piizone": {"config_version": CONFIG_VERSION},
    "kek": {"provider": "keyfile"},
    "zones": {"default_ttl": "30d"},
}


def config_path(home: Path | None = None) -> Path:
    return (home or piizone_home()) / CONFIG_NAME


def load_config(home: Path | None = None) -> dict[str, dict[str, Any]]:
    """The config merged over the defaults; ZoneError naming the line when it is invalid."""
    path = config_path(home)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ZoneError(f"{path} not found", hint="run `piizone init`") from None
    except tomllib.TOMLDecodeError as e:
        raise ZoneError(f"{path}: invalid TOML ({e})") from None
    merged = {section: dict(values) for section, values in DEFAULTS.items()}
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ZoneError(f"{path}: `{section}` must be a [section]")
        merged.setdefault(section, {}).update(values)
    return merged


def require_initialized(home: Path | None = None) -> dict[str, dict[str, Any]]:
    """The config of an initialised home; ZoneError with a hint when `piizone init` never ran."""
    home = home or piizone_home()
    if not config_path(home).is_file():
        raise ZoneError(f"piizone is not initialised in {home}", hint="run `piizone init`")
    return load_config(home)


def save_config(config: dict[str, dict[str, Any]], home: Path | None = None) -> None:
    """Write the config atomically (0600). Comments are regenerated, values kept."""
    lines = ["# piizone configuration (written by piizone; edit with care).", ""]
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
        lines.append("")
    write_private_file(config_path(home), "\n".join(lines).encode())


def _toml_value(value: Any) -> str:
    # The config holds strings, numbers, booleans and lists of strings; JSON's spelling of those
    # is valid TOML (tomllib reads it back), which saves a TOML writer dependency.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    raise ZoneError(f"cannot store {type(value).__name__} in config.toml")


SERVE_TOKEN_ENV = "PIIZONE_SERVE_TOKEN"


def ensure_serve_token(home: Path | None = None) -> bool:
    """Give config.toml a [serve] token for `piizone serve` if it has none; True if one was made.

    An existing token is never replaced (clients hold it). 32 random bytes, URL-safe. The line
    is added to the file's text rather than the file regenerated: the rest of a hand-edited
    config (comments, nested tables save_config cannot write) stays as it was.
    """
    if load_config(home).get("serve", {}).get("token"):
        return False
    path = config_path(home)
    text = path.read_text("utf-8")
    line = f"token = {json.dumps(secrets.token_urlsafe(32))}"
    header = re.search(r"(?m)^\[serve\][ \t]*(#.*)?$", text)
    if header:
        text = f"{text[: header.end()]}\n{line}{text[header.end() :]}"
    else:
        text = f"{text.rstrip()}\n\n[serve]\n{line}\n"
    tomllib.loads(text)  # never write a config that would not load
    write_private_file(path, text.encode())
    return True


def serve_token(home: Path | None = None) -> str | None:
    """The bearer token `piizone serve` requires: $PIIZONE_SERVE_TOKEN, else config's; or None."""
    token = os.environ.get(SERVE_TOKEN_ENV)
    if token:
        return token
    if not config_path(home).is_file():
        return None
    value = load_config(home).get("serve", {}).get("token")
    return value if isinstance(value, str) and value else None


def airlock_allows_self_review(home: Path | None = None) -> bool:
    """`[airlock] allow_self_review` (default false): may the author of a session, or the zone's
    owner, decide on its quarantined outputs? Only for a team of one; a typo is an error, not
    a silent yes or no."""
    if not config_path(home).is_file():
        return False
    value = load_config(home).get("airlock", {}).get("allow_self_review", False)
    if not isinstance(value, bool):
        raise ZoneError(
            f"{config_path(home)}: [airlock] allow_self_review must be true or false",
            hint="allow_self_review = false",
        )
    return value
