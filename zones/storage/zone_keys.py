"""A zone's data-encryption key under the home's key-encryption key: unwrapping it to open a
zone, and re-wrapping every version when the KEK is rotated."""

from __future__ import annotations

import base64
from pathlib import Path

from piizone.zones.config import require_initialized, save_config
from piizone.zones.storage.keys import KekProvider, load_kek_for, rewrap
from piizone.zones.storage.manifest import WrappedKey, ZoneManifest
from piizone.zones.storage.store import ZoneStore


def unwrap_zone_key(store: ZoneStore, manifest: ZoneManifest) -> bytes:
    config = require_initialized(store.home)
    provider, wrapped = store.wrapped_key(manifest)
    return load_kek_for(provider, config.kek.options(), store.home).unwrap(
        wrapped, context=manifest.id.encode()
    )


def finish_rotation(home: Path, provider_id: str, new: KekProvider | None = None) -> int:
    """Re-wrap every version not yet under `provider_id` and make it the configured KEK.

    Idempotent (a version already under it is left as is), so an interrupted rotation can be
    run again to completion. Returns how many versions are under the new KEK.
    """
    store = ZoneStore(home)
    config = require_initialized(home)
    new = new or load_kek_for(provider_id, config.kek.options(), home)
    versions = 0
    for name in store.names():
        with store.lock(name):
            for version in store.versions(name):
                directory = store.version_dir(name, version)
                manifest = store.manifest(name, version)
                provider, wrapped = store.wrapped_key(manifest)
                versions += 1
                if provider == new.provider_id:
                    continue
                old = load_kek_for(provider, config.kek.options(), home)
                blob = rewrap(wrapped, old, new, manifest.id.encode())
                manifest.key = WrappedKey(
                    provider=new.provider_id, wrapped=base64.b64encode(blob).decode()
                )
                store.write_manifest(directory, manifest)
    config.kek.key_id = new.provider_id.removeprefix("keyfile:")
    save_config(config, home)
    return versions
