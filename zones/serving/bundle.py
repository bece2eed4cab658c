"""Signed policy bundles: a zone's policy as the governance artifact production runs unchanged.

`zone export-policy NAME -o DIR` writes (spec and MUST-reject rules: docs/policy-bundle.md):

    policy.yaml          the zone's exact policy file
    bundle.json          what the policy belongs to: the zone (name, id, version), the policy's
                         sha256 and its file's sha256, a reference to the pseudonym key (its id,
                         never the key), the spaCy model (name, version, sha256), the tool version
    bundle.sig           Ed25519 signature over bundle.json's exact bytes (base64)
    bundle-signing.pub   the signer's public key (PEM), so anyone can verify offline

The signing key is made by `piizone init` (keys/bundle-signing.ed25519, 0600). Verification
(`Scrubber.from_bundle`, `piizone serve --bundle`) refuses a bundle whose files were edited,
whose model differs from the installed one, or whose pseudonym key is not the one in use. The
public key travelling with a bundle proves it is intact; who signed it is proven only against a
key you trust: `trusted_key`, else this home's own signing key when it has one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from piizone.fs import atomic_write
from piizone.scrubbers.api import Scrubber
from piizone.scrubbers.exceptions import PolicyError
from piizone.scrubbers.models import ModelInfo, installed_model
from piizone.scrubbers.operators import policy_uses
from piizone.scrubbers.policy import Policy, parse_policy
from piizone.scrubbers.reports import tool_version
from piizone.zones import audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import keys_dir
from piizone.zones.storage.keys import PSEUDONYM_KEY_NAME, read_key_file
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.signing import (
    SIGNING_PUBLIC_NAME,
    public_pem,
    signing_key_path,
)
from piizone.zones.storage.store import ZoneStore, iso, utc_now

BUNDLE_FORMAT = "piizone-policy-bundle"
BUNDLE_VERSION = 1
POLICY_FILE = "policy.yaml"
MANIFEST_FILE = "bundle.json"
SIGNATURE_FILE = "bundle.sig"
PUBLIC_KEY_FILE = "bundle-signing.pub"
# Bounds on what a bundle's files may hold: they are read whole before being trusted.
MAX_FILE_BYTES = 4 * 1024 * 1024


class BundleError(ZoneError):
    """A policy bundle is missing, altered, untrusted, or does not fit this installation."""


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature, policy, model and key reference all checked out."""

    directory: Path
    manifest: dict[str, Any]
    policy: Policy
    signer: str  # key id of the signing key
    trusted: bool  # signed by a trusted key (not only intact)

    def provenance(self) -> dict[str, Any]:
        return {
            "bundle": {
                "zone": self.manifest["zone"],
                "created": self.manifest["created"],
                "signer": self.signer,
                "trusted": self.trusted,
                "tool": self.manifest["tool"],
            }
        }


# --- keys ----------------------------------------------------------------------------------


def load_signing_key(home: Path | None = None) -> Ed25519PrivateKey:
    path = signing_key_path(home)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise BundleError(
            f"missing bundle-signing key {path}", hint="run `piizone init` (it adds missing keys)"
        ) from None
    with os.fdopen(fd, "rb") as f:
        # Like ssh with private keys: a signing key others can read signs for them too.
        if os.fstat(f.fileno()).st_mode & 0o077:
            raise BundleError(
                f"bundle-signing key {path} is accessible by other users", hint=f"chmod 600 {path}"
            )
        data = f.read(MAX_FILE_BYTES)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise BundleError(f"bundle-signing key {path} is corrupted") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"bundle-signing key {path} is not an Ed25519 key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """16 hex digits naming a public key (sha256 of its raw bytes)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def home_pseudonym_key(home: Path | None = None) -> bytes | None:
    """$PIIZONE_HOME's pseudonym key, or None when the home has none (nothing is created)."""
    path = keys_dir(home) / PSEUDONYM_KEY_NAME
    return read_key_file(path, "pseudonym key") if path.exists() else None


def pseudonym_key_id(key: bytes) -> str:
    """16 hex digits naming a pseudonym key: a one-way digest of a 256-bit random key, so it
    tells which key is meant without helping anyone compute a token."""
    return hashlib.sha256(b"piizone-pseudonym-key-id-v1\0" + key).hexdigest()[:16]


# --- export --------------------------------------------------------------------------------


def export_bundle(name: str, out_dir: Path, store: ZoneStore | None = None) -> Path:
    """Write the zone's signed policy bundle into `out_dir`; audited (zone.export_policy)."""
    store = store or ZoneStore()
    audit.open_audit_log(store.home).check_writable()
    with (
        _os_errors(out_dir),
        audit.audited("zone.export_policy", zone=name, home=store.home) as details,
    ):
        manifest = store.manifest(name)
        policy_bytes = (store.current_dir(name) / POLICY_FILE).read_bytes()
        policy = _parse(policy_bytes, f"zone {name} v{manifest.version}", manifest.policy.sha256)
        if policy.sha256 != manifest.policy.sha256:
            raise BundleError(
                f"zone {name!r}: its policy.yaml does not match the manifest's policy sha256",
                hint=f"run `piizone zone verify {name}`",
            )
        signing = load_signing_key(store.home)
        key = home_pseudonym_key(store.home)
        model = installed_model(policy.model.engine.spacy_model)
        body = _manifest(name, manifest, policy, policy_bytes, model, key, signing)
        data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
        out_dir.mkdir(parents=True, exist_ok=True)
        _refuse_non_regular_targets(out_dir)
        # The signature goes last: a bundle cut short by a crash never verifies.
        for file, content in (
            (POLICY_FILE, policy_bytes),
            (PUBLIC_KEY_FILE, public_pem(signing.public_key())),
            (MANIFEST_FILE, data),
            (SIGNATURE_FILE, base64.b64encode(signing.sign(data)) + b"\n"),
        ):
            # Mode 0644: a bundle is for review and deployment, it holds no secret.
            atomic_write(out_dir / file, content, mode=0o644)
        details.update(
            version=manifest.version,
            policy_sha256=policy.sha256,
            signer=body["signature"]["key_id"],
        )
    return out_dir


@contextlib.contextmanager
def _os_errors(out_dir: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise BundleError(f"{out_dir}: cannot write the bundle ({e.strerror or e})") from None


def _manifest(
    name: str,
    zone: ZoneManifest,
    policy: Policy,
    policy_bytes: bytes,
    model: ModelInfo,
    key: bytes | None,
    signing: Ed25519PrivateKey,
) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "bundle_version": BUNDLE_VERSION,
        "created": iso(utc_now()),
        "zone": {"name": name, "id": zone.id, "version": zone.version},
        "policy": {
            "file": POLICY_FILE,
            "sha256": policy.sha256,
            "file_sha256": hashlib.sha256(policy_bytes).hexdigest(),
            "name": policy.model.name,
        },
        "pseudonym_key": {
            "file": f"$PIIZONE_HOME/keys/{PSEUDONYM_KEY_NAME}",
            "id": pseudonym_key_id(key) if key is not None else None,
        },
        "model": model.to_dict(),
        "tool": {"name": "piizone", "version": tool_version()},
        "signature": {
            "algorithm": "ed25519",
            "key_id": key_id(signing.public_key()),
            "public_key": PUBLIC_KEY_FILE,
        },
    }


# --- verification --------------------------------------------------------------------------


def verify_bundle(
    directory: str | Path,
    *,
    pseudonym_key: bytes | None,
    trusted_key: str | Path | None = None,
    home: Path | None = None,
) -> VerifiedBundle:
    """Check a bundle against docs/policy-bundle.md's MUST-reject rules; BundleError if one fails.

    `pseudonym_key` is the key production will use; `trusted_key` a PEM public key file the
    signer must match (default: this home's own bundle-signing key, if it has one).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"{directory}: no such bundle directory")
    data = _read_bounded(directory / MANIFEST_FILE)
    public = _load_public(_read_bounded(directory / PUBLIC_KEY_FILE), directory / PUBLIC_KEY_FILE)
    encoded = _read_bounded(directory / SIGNATURE_FILE).strip()
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(f"{directory / SIGNATURE_FILE}: not a base64 signature") from None
    try:
        public.verify(signature, data)
    except InvalidSignature:
        raise BundleError(
            f"{directory}: bad signature: {MANIFEST_FILE} was edited after signing, or the "
            "signature is not its signer's",
            hint="export the bundle again from the zone (piizone zone export-policy)",
        ) from None
    manifest = _parse_manifest(data, directory)
    signer = key_id(public)
    if manifest["signature"].get("key_id") != signer:
        raise BundleError(f"{directory}: {MANIFEST_FILE} names another signing key than the one")
    trusted = _check_trust(public, signer, trusted_key, home, directory)
    policy_bytes = _read_bounded(directory / POLICY_FILE)
    if hashlib.sha256(policy_bytes).hexdigest() != manifest["policy"]["file_sha256"]:
        raise BundleError(
            f"{directory / POLICY_FILE}: edited after signing (its sha256 is not the signed one)",
            hint="policy changes go through a zone: create or refresh it, then export again",
        )
    policy = _parse(policy_bytes, str(directory / POLICY_FILE), manifest["policy"]["sha256"])
    if policy.sha256 != manifest["policy"]["sha256"]:
        # Same bytes, another version: the policy's defaults changed under it (another piizone).
        raise BundleError(
            f"{directory}: the policy's sha256 here is {policy.sha256[:12]}, the bundle's "
            f"{manifest['policy']['sha256'][:12]} (piizone {tool_version()} reads it "
            f"differently from {manifest['tool'].get('version')})",
            hint="run the piizone version that exported the bundle",
        )
    _check_model(manifest["model"], policy, directory)
    _check_pseudonym_key(manifest["pseudonym_key"].get("id"), pseudonym_key, policy, directory)
    return VerifiedBundle(directory, manifest, policy, signer, trusted)


def scrubber_from_bundle(
    directory: str | Path,
    *,
    pseudonym_key: bytes | None = None,
    trusted_key: str | Path | None = None,
    home: Path | None = None,
    scrubber_class: type[Scrubber] = Scrubber,
) -> Scrubber:
    """A Scrubber for a verified bundle; the pseudonym key from $PIIZONE_HOME unless given."""
    key = pseudonym_key if pseudonym_key is not None else home_pseudonym_key(home)
    bundle = verify_bundle(directory, pseudonym_key=key, trusted_key=trusted_key, home=home)
    return scrubber_class(bundle.policy, key, provenance=bundle.provenance())


def scrubber_from_zone(name: str, store: ZoneStore | None = None) -> Scrubber:
    """A Scrubber for a zone's current policy; refused when it is not the manifest's version."""
    store = store or ZoneStore()
    manifest = store.manifest(name)
    policy = _parse(
        (store.current_dir(name) / POLICY_FILE).read_bytes(),
        f"zone {name} v{manifest.version}",
        manifest.policy.sha256,
    )
    if policy.sha256 != manifest.policy.sha256:
        raise BundleError(
            f"zone {name!r}: policy sha256 {policy.sha256[:12]} is not the manifest's "
            f"{manifest.policy.sha256[:12]}; refusing to serve another policy",
            hint=f"run `piizone zone verify {name}`",
        )
    zone = {"name": name, "id": manifest.id, "version": manifest.version}
    return Scrubber(policy, home_pseudonym_key(store.home), provenance={"zone": zone})


def _check_trust(
    public: Ed25519PublicKey,
    signer: str,
    trusted_key: str | Path | None,
    home: Path | None,
    directory: Path,
) -> bool:
    if trusted_key is not None:
        path = Path(trusted_key)
        expected = key_id(_load_public(_read_bounded(path), path))
    else:
        own = keys_dir(home) / SIGNING_PUBLIC_NAME
        if not own.is_file():
            return False  # nothing to pin against: intact, signer unproven (shown as such)
        expected = key_id(_load_public(_read_bounded(own), own))
    if expected != signer:
        raise BundleError(
            f"{directory}: signed by key {signer}, not by the trusted key {expected}",
            hint="pass the exporting home's keys/bundle-signing.ed25519.pub as the trusted key "
            "(--trusted-key) once you have checked it",
        )
    return True


def _check_model(recorded: dict[str, Any], policy: Policy, directory: Path) -> None:
    name = policy.model.engine.spacy_model
    if recorded.get("name") != name:
        raise BundleError(f"{directory}: the bundle's model {recorded.get('name')!r} is not {name}")
    installed = installed_model(name)
    if (recorded.get("version"), recorded.get("sha256")) != (installed.version, installed.sha256):
        raise BundleError(
            f"{directory}: built with model {name} {recorded.get('version')} (sha256 "
            f"{str(recorded.get('sha256'))[:12]}), installed is {installed.describe()}",
            hint="install the model the bundle was built with (requirements/model.txt)",
        )


def _check_pseudonym_key(
    recorded: str | None, key: bytes | None, policy: Policy, directory: Path
) -> None:
    keyed = policy_uses(policy, "pseudonymize") or policy_uses(policy, "fake")
    if key is None:
        if keyed:
            raise BundleError(
                f"{directory}: the policy pseudonymizes or fakes values but no pseudonym key "
                "is available",
                hint="copy the exporting home's keys/pseudonym.key into $PIIZONE_HOME/keys/",
            )
        return
    if recorded is not None and pseudonym_key_id(key) != recorded:
        raise BundleError(
            f"{directory}: the pseudonym key here (id {pseudonym_key_id(key)}) is not the "
            f"zone's (id {recorded}); tokens would not match the training data",
            hint="use the exporting home's keys/pseudonym.key",
        )


def _parse_manifest(data: bytes, directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BundleError(f"{directory / MANIFEST_FILE}: not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{directory / MANIFEST_FILE}: not a piizone policy bundle")
    if manifest.get("bundle_version") != BUNDLE_VERSION:
        raise BundleError(
            f"{directory / MANIFEST_FILE}: unsupported bundle version "
            f"{manifest.get('bundle_version')!r} (this piizone reads {BUNDLE_VERSION})"
        )
    shapes = {
        "zone": dict,
        "policy": dict,
        "pseudonym_key": dict,
        "model": dict,
        "tool": dict,
        "signature": dict,
        "created": str,
    }
    for field, kind in shapes.items():
        if not isinstance(manifest.get(field), kind):
            raise BundleError(f"{directory / MANIFEST_FILE}: missing or malformed `{field}`")
    for field in ("sha256", "file_sha256"):
        if not isinstance(manifest["policy"].get(field), str):
            raise BundleError(f"{directory / MANIFEST_FILE}: missing `policy.{field}`")
    return manifest


def _parse(policy_bytes: bytes, source: str, recorded_sha256: str | None = None) -> Policy:
    # recorded_sha256: a policy stored before entities extended the default keeps its reading.
    try:
        return parse_policy(
            policy_bytes.decode("utf-8"), source=source, recorded_sha256=recorded_sha256
        )
    except UnicodeDecodeError:
        raise PolicyError(f"{source}: policy is not UTF-8") from None


def _read_bounded(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BundleError(f"{path}: missing from the bundle") from None
    except OSError as e:
        raise BundleError(f"{path}: cannot read ({e.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return data


def _load_public(data: bytes, path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise BundleError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path}: not an Ed25519 public key")
    return key


def _refuse_non_regular_targets(out_dir: Path) -> None:
    """A bundle replaces only regular files: a link or device at one of its names is refused.

    atomic_write refuses such an entry too, but only once the files before it are written;
    checked first, nothing of the bundle is written, and a link there means someone expects the
    bundle elsewhere: say so with a hint.
    """
    for file in (POLICY_FILE, PUBLIC_KEY_FILE, MANIFEST_FILE, SIGNATURE_FILE):
        try:
            mode = os.lstat(out_dir / file).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            raise BundleError(
                f"{out_dir / file}: exists and is {kind}",
                hint="export the bundle into a new or empty directory",
            )
