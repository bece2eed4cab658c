"""$PIIZONE_HOME/config.toml: the key provider, zone defaults, the serve token, the airlock and
the RoPA's controller and DPO contact.

The file as stored is the `PiizoneConfig` model: one sub-model per [section], with the format
version in [piizone] config_version. A config newer than this code is refused; a missing section
takes its defaults. Invalid values are one error line naming the field, never its value (the
serve token lives here).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from piizone.zones.exceptions import ZoneError
from piizone.zones.home import piizone_home, write_private_file

CONFIG_NAME = "config.toml"
CONFIG_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True)


class MetaSection(_Section):
    config_version: int = CONFIG_VERSION


class KekSection(_Section):
    """[kek]: which key provider wraps the zones' data keys, and its settings.

    keyfile: key_id; passphrase: kdf, params, id; command: wrap, unwrap, timeout, id. The
    provider checks its own settings (piizone.zones.storage.keys.load_kek).
    """

    provider: str = "keyfile"
    key_id: str | None = None
    kdf: str | None = None
    params: dict[str, Any] | None = None
    id: str | None = None
    wrap: list[str] | None = None
    unwrap: list[str] | None = None
    timeout: float | None = None

    def options(self) -> dict[str, Any]:
        """The provider settings as load_kek takes them (the ones that are set)."""
        return self.model_dump(exclude_none=True)


class ZonesSection(_Section):
    default_ttl: str = "30d"


class ServeSection(_Section):
    token: str | None = None


class AirlockSection(_Section):
    """[airlock]: who may review held outputs, and the optional small-count check."""

    allow_self_review: StrictBool = False
    small_counts: StrictBool = False
    min_count: StrictInt = Field(default=5, ge=1)


class RopaSection(_Section):
    """[ropa]: who answers for the processing, shown in every zone's record of processing
    (`piizone audit ropa`). Free text: an organisation's name, an address or a mailbox."""

    controller: str | None = None
    controller_contact: str | None = None
    dpo_contact: str | None = None


OPTIONAL_SECTIONS = frozenset({"serve", "airlock", "ropa"})


class PiizoneConfig(_Section):
    piizone: MetaSection = Field(default_factory=MetaSection)
    kek: KekSection = Field(default_factory=KekSection)
    zones: ZonesSection = Field(default_factory=ZonesSection)
    serve: ServeSection = Field(default_factory=ServeSection)
    airlock: AirlockSection = Field(default_factory=AirlockSection)
    ropa: RopaSection = Field(default_factory=RopaSection)


def config_path(home: Path | None = None) -> Path:
    return (home or piizone_home()) / CONFIG_NAME


def load_config(home: Path | None = None) -> PiizoneConfig:
    """The config (defaults for what it leaves out); ZoneError naming the bad line or field."""
    path = config_path(home)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ZoneError(f"{path} not found", hint="run `piizone init`") from None
    except tomllib.TOMLDecodeError as e:
        raise ZoneError(f"{path}: invalid TOML ({e})") from None
    for section, values in data.items():
        if not isinstance(values, dict):
            raise ZoneError(f"{path}: `{section}` must be a [section]")
    version = data.get("piizone", {}).get("config_version", CONFIG_VERSION)
    if type(version) is int and version > CONFIG_VERSION:
        raise ZoneError(
            f"{path}: unsupported config_version {version}", hint="upgrade piizone to use it"
        )
    try:
        return PiizoneConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ZoneError(f"{path}: invalid `{where}` ({first['msg']})") from None


def require_initialized(home: Path | None = None) -> PiizoneConfig:
    """The config of an initialised home; ZoneError with a hint when `piizone init` never ran."""
    home = home or piizone_home()
    if not config_path(home).is_file():
        raise ZoneError(f"piizone is not initialised in {home}", hint="run `piizone init`")
    return load_config(home)


def save_config(config: PiizoneConfig, home: Path | None = None) -> None:
    """Write the config atomically (0600). Comments are regenerated, values kept."""
    lines = ["# piizone configuration (written by piizone; edit with care).", ""]
    # Optional sections are written only when set: [serve] before a token is made, [airlock]
    # left at its defaults (a hand-added [airlock] section must not meet a second one).
    for section in type(config).model_fields:
        part = getattr(config, section)
        if section in OPTIONAL_SECTIONS and part == type(part)():
            continue
        values = part.model_dump(exclude_none=True)
        if not values:
            continue
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
    if load_config(home).serve.token:
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
    return load_config(home).serve.token or None


def airlock_allows_self_review(home: Path | None = None) -> bool:
    """`[airlock] allow_self_review` (default false): may the author of a session, or the zone's
    owner, decide on its quarantined outputs? Only for a team of one; a typo is an error (the
    typed config refuses a non-boolean), not a silent yes or no."""
    if not config_path(home).is_file():
        return False
    return load_config(home).airlock.allow_self_review
