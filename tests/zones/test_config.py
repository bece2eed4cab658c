"""zones/config.py: config.toml as the typed PiizoneConfig, its version, and its errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from piizone.zones.config import (
    CONFIG_VERSION,
    PiizoneConfig,
    ensure_serve_token,
    load_config,
    save_config,
)
from piizone.zones.exceptions import ZoneError

HOME_V1 = Path(__file__).resolve().parent.parent / "fixtures" / "home_v1"


def write(home: Path, text: str) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_the_v1_config_loads_as_the_model_and_saves_back_identical(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(HOME_V1 / "config.toml", home / "config.toml")
    config = load_config(home)
    assert config.piizone.config_version == CONFIG_VERSION == 1
    assert config.kek.provider == "keyfile" and config.kek.key_id
    assert config.kek.options() == {"provider": "keyfile", "key_id": config.kek.key_id}
    assert config.zones.default_ttl == "30d" and config.serve.token
    before = (home / "config.toml").read_text()
    save_config(config, home)
    assert (home / "config.toml").read_text() == before


def test_missing_sections_take_their_defaults(tmp_path: Path) -> None:
    write(tmp_path, '[kek]\nprovider = "command"\nwrap = ["w"]\nunwrap = ["u"]\ntimeout = 5\n')
    config = load_config(tmp_path)
    assert config.piizone.config_version == 1 and config.zones.default_ttl == "30d"
    assert config.serve.token is None
    assert config.kek.options() == {
        "provider": "command",
        "wrap": ["w"],
        "unwrap": ["u"],
        "timeout": 5.0,
    }


def test_a_default_config_saves_without_an_empty_serve_section(tmp_path: Path) -> None:
    save_config(PiizoneConfig(), tmp_path)
    text = (tmp_path / "config.toml").read_text()
    assert "[serve]" not in text and "[kek]" in text
    assert ensure_serve_token(tmp_path) is True and load_config(tmp_path).serve.token


@pytest.mark.parametrize(
    "text, message",
    [
        ("[nope]\nx = 1\n", "invalid `nope`"),
        ('[kek]\nprovider = "keyfile"\nkeyid = "ab"\n', "invalid `kek.keyid`"),
        ('[zones]\ndefault_ttl = ["s3cr3t-value"]\n', "invalid `zones.default_ttl`"),
        ('[serve]\ntoken = ["s3cr3t-value"]\n', "invalid `serve.token`"),
        ("kek = 1\n", "`kek` must be a [section]"),
        ("[kek\n", "invalid TOML"),
    ],
)
def test_an_invalid_config_is_one_error_naming_the_field_not_its_value(
    tmp_path: Path, text: str, message: str
) -> None:
    write(tmp_path, text)
    with pytest.raises(ZoneError, match=message.replace("[", r"\[")) as e:
        load_config(tmp_path)
    assert "s3cr3t" not in str(e.value) and "\n" not in str(e.value)


def test_a_newer_config_version_is_refused_with_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "[piizone]\nconfig_version = 2\n")
    with pytest.raises(ZoneError, match="unsupported config_version 2") as e:
        load_config(tmp_path)
    assert e.value.hint and "upgrade piizone" in e.value.hint


def test_the_ropa_section_is_written_only_when_set(tmp_path: Path) -> None:
    save_config(PiizoneConfig(), tmp_path)
    assert "[ropa]" not in (tmp_path / "config.toml").read_text()
    assert load_config(tmp_path).ropa.controller is None
    config = PiizoneConfig()
    config.ropa.controller = "Acme Ltd"
    config.ropa.dpo_contact = "dpo@acme.example"
    save_config(config, tmp_path)
    text = (tmp_path / "config.toml").read_text()
    assert '[ropa]\ncontroller = "Acme Ltd"\ndpo_contact = "dpo@acme.example"\n' in text
    loaded = load_config(tmp_path).ropa
    assert (loaded.controller, loaded.controller_contact) == ("Acme Ltd", None)
