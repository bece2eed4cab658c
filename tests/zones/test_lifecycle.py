"""Zone lifecycle through the real CLI on tiny real zones: init, list/show, hold, grant/revoke, gc,
export-policy, keys status/rotate, and the command (KMS) key provider."""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.config import load_config
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore
from tests.conftest import REPO

runner = CliRunner()
FAKE_KMS = REPO / "tests" / "zones" / "fake_kms.py"
POLICY = """\
version: 1
name: team-policy
entities:
  EMAIL_ADDRESS: {operator: pseudonymize}
  PERSON: {}
  US_SSN: {}
"""


def run(*args: str):
    return runner.invoke(app, list(args))


def ok(*args: str):
    result = run(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def records(home: Path) -> list[dict]:
    return list(audit.open_audit_log(home).records())


def last(home: Path, action: str) -> dict:
    return [r for r in records(home) if r["action"] == action][-1]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "people.csv").write_text(
        "name,email,ssn\nDevin Sparks,devin.sparks@yahoo.com,780-64-0935\n"
        "Trevor Fritz,fritz.trevor@james.com,350-37-4071\n"
    )
    (d / "note.txt").write_text("Customer: I am Michelle Hall, michelle.hall@yahoo.com.\n")
    return d


@pytest.fixture
def home(piizone_home: Path) -> Path:
    ok("init")
    return piizone_home


def create(name: str, src: Path, *extra: str) -> ZoneManifest:
    ok("zone", "create", name, "--from", str(src), *extra)
    return ZoneStore().manifest(name)


# -- init --------------------------------------------------------------------------------------


def test_init_is_private_and_idempotent(piizone_home: Path) -> None:
    first = json.loads(ok("init", "--json").stdout)
    # 4 dirs, config, KEK, pseudonym key, audit key, audit signing key, bundle-signing key,
    # serve token
    assert first["kek"].startswith("keyfile:") and len(first["created"]) == 10
    keys = {p.name: p.read_bytes() for p in (piizone_home / "keys").iterdir()}
    assert {"pseudonym.key", "audit.key", "bundle-signing.ed25519"} <= set(keys)
    assert any(n.startswith("kek-") for n in keys)
    again = json.loads(ok("init", "--json").stdout)
    assert again["created"] == [] and again["kek"] == first["kek"]
    assert {p.name: p.read_bytes() for p in (piizone_home / "keys").iterdir()} == keys
    for p in [piizone_home, *piizone_home.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    assert [r["action"] for r in records(piizone_home)] == ["init", "init"]


# -- list, show --------------------------------------------------------------------------------


def test_list_json_fields(home: Path, src: Path) -> None:
    assert json.loads(ok("zone", "list", "--json").stdout) == []
    create("a", src, "--owner", "ada", "--ttl", "2w", "--purpose", "fraud")
    create("b", src)
    zones = json.loads(ok("zone", "list", "--json").stdout)
    assert [z["name"] for z in zones] == ["a", "b"]
    a = zones[0]
    for field in ("name", "version", "created", "owner", "expires", "size", "risk"):
        assert field in a
    assert (a["version"], a["owner"], a["risk"], a["purpose"]) == (1, "ada", "high", "fraud")
    assert a["size"] == sum(
        p.stat().st_size for p in ZoneStore().current_dir("a").rglob("*") if p.is_file()
    )
    created = time.strptime(a["created"], "%Y-%m-%dT%H:%M:%SZ")
    expires = time.strptime(a["expires"], "%Y-%m-%dT%H:%M:%SZ")
    assert round((time.mktime(expires) - time.mktime(created)) / 86400) == 14
    table = ok("zone", "list").stdout
    assert "a" in table and "ada" in table and "high" in table
    assert last(home, "zone.list")["details"] == {"zones": 2}


def test_show_json_has_lineage_and_no_wrapped_key(home: Path, src: Path) -> None:
    m = create("z", src, "--purpose", "churn")
    (src / "note.txt").write_text("Customer: nothing personal today.\n")
    ok("zone", "refresh", "z")
    shown = json.loads(ok("zone", "show", "z", "--json").stdout)
    assert shown["version"] == 2 and shown["parent"] == 1 and shown["purpose"] == "churn"
    assert [(v["version"], v["parent"]) for v in shown["lineage"]] == [(1, None), (2, 1)]
    assert shown["key"] == {"provider": m.key.provider}
    text = ok("zone", "show", "z", "--json").stdout + ok("zone", "show", "z").stdout
    assert m.key.wrapped not in text and "wrapped" not in text
    assert "lineage: v1" in ok("zone", "show", "z").stdout
    assert last(home, "zone.show")["zone"] == "z"


# -- hold, grant, revoke, gc ---------------------------------------------------------------------


def test_hold_on_and_off(home: Path, src: Path) -> None:
    create("z", src)
    ok("zone", "hold", "z", "--on")
    assert ZoneStore().manifest("z").legal_hold is True
    assert last(home, "zone.hold")["details"] == {"legal_hold": True}
    assert run("zone", "destroy", "z", "--yes").exit_code == 1
    ok("zone", "hold", "z", "--off")
    assert ZoneStore().manifest("z").legal_hold is False
    ok("zone", "destroy", "z", "--yes")
    assert not ZoneStore().exists("z")


def test_grant_and_revoke(home: Path, src: Path) -> None:
    create("z", src)
    assert "granted to alice" in ok("zone", "grant", "z", "alice").stdout
    ok("zone", "grant", "z", "bob")
    ok("zone", "grant", "z", "alice")  # idempotent
    assert ZoneStore().manifest("z").grants == ["alice", "bob"]
    assert last(home, "zone.grant")["details"] == {"user": "alice"}
    assert "granted to bob" in ok("zone", "revoke", "z", "alice").stdout
    assert ZoneStore().manifest("z").grants == ["bob"]
    assert "owner only" in ok("zone", "revoke", "z", "bob").stdout
    assert last(home, "zone.revoke")["zone"] == "z"
    bad = run("zone", "grant", "z", "../root")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: invalid user name")
    assert ok("zone", "verify", "z")  # grants do not touch the data


def test_gc_destroys_expired_zones_not_on_hold(home: Path, src: Path) -> None:
    create("old", src, "--ttl", "1s")
    create("held", src, "--ttl", "1s")
    create("fresh", src)
    ok("zone", "hold", "held", "--on")
    time.sleep(2.1)
    dry = ok("zone", "gc", "--dry-run").stdout
    assert "would destroy: old" in dry and "kept (legal hold): held" in dry
    assert ZoneStore().names() == ["fresh", "held", "old"]
    listed = {z["name"]: z for z in json.loads(ok("zone", "list", "--json").stdout)}
    assert listed["old"]["expired"] and not listed["fresh"]["expired"]
    out = ok("zone", "gc", "--yes").stdout
    assert "destroyed: old" in out
    assert ZoneStore().names() == ["fresh", "held"]
    assert not (home / "zones" / ".versions" / "old").exists()
    destroyed = [r for r in records(home) if r["action"] == "zone.destroy"]
    assert [(r["zone"], r["outcome"]) for r in destroyed] == [("old", "success")]
    assert last(home, "zone.gc")["details"]["destroyed"] == 1
    assert last(home, "zone.gc")["details"]["held"] == 1


def test_export_policy_writes_the_exact_policy(home: Path, src: Path, tmp_path: Path) -> None:
    policy = tmp_path / "team.yaml"
    policy.write_text(POLICY)
    create("z", src, "--policy", str(policy))
    out = tmp_path / "deploy" / "prod"
    result = ok("zone", "export-policy", "z", "-o", str(out))
    assert (out / "policy.yaml").read_bytes() == POLICY.encode()
    assert f"wrote {out}" in result.stdout
    assert {p.name for p in out.iterdir()} >= {"bundle.json", "bundle.sig", "bundle-signing.pub"}
    assert last(home, "zone.export_policy")["zone"] == "z"
    # and the exported policy is the zone's version of it
    from piizone.scrubbers.policy import load_policy

    assert load_policy(out / "policy.yaml").sha256 == ZoneStore().manifest("z").policy.sha256


# -- keys --------------------------------------------------------------------------------------


def test_keys_status_lists_each_zones_kek(home: Path, src: Path) -> None:
    a = create("a", src)
    create("b", src)
    status = json.loads(ok("keys", "status", "--json").stdout)
    configured = load_config(home).kek
    assert status["configured"] == configured.options()
    assert status["zones"] == [
        {"name": "a", "provider": a.key.provider},
        {"name": "b", "provider": a.key.provider},
    ]
    assert a.key.provider == f"keyfile:{configured.key_id}"
    table = ok("keys", "status").stdout  # one table row per zone: zone, provider
    rows = [[c.strip() for c in ln.split("│")[1:-1]] for ln in table.splitlines() if "│" in ln]
    assert ["a", a.key.provider] in rows


def test_keys_rotate_rewraps_without_reencrypting(home: Path, src: Path) -> None:
    store = ZoneStore()
    old = create("a", src)
    (src / "note.txt").write_text("Customer: different now.\n")
    ok("zone", "refresh", "a")
    create("b", src)

    def data_bytes() -> dict[str, bytes]:
        return {
            str(p.relative_to(store.root)): p.read_bytes()
            for p in store.root.glob(".versions/*/*/data/**/*")
            if p.is_file()
        }

    before = data_bytes()
    ok("keys", "rotate", "--yes")
    new_id = load_config(home).kek.key_id
    assert f"keyfile:{new_id}" != old.key.provider
    for name, version in (("a", 1), ("a", 2), ("b", 1)):
        m = store.manifest(name, version)
        assert m.key.provider == f"keyfile:{new_id}"
        assert m.key.wrapped != old.key.wrapped
    assert data_bytes() == before
    for name in ("a", "b"):
        ok("zone", "verify", name)
    rec = last(home, "key.rotate")
    assert rec["details"]["versions"] == 3 and rec["details"]["provider"] == f"keyfile:{new_id}"
    assert {z["provider"] for z in json.loads(ok("keys", "status", "--json").stdout)["zones"]} == {
        f"keyfile:{new_id}"
    }
    # new zones use the new KEK; the old KEK is no longer needed to open anything
    assert create("c", src).key.provider == f"keyfile:{new_id}"
    (home / "keys" / f"kek-{old.key.provider.removeprefix('keyfile:')}.key").unlink()
    for name in ("a", "b", "c"):
        ok("zone", "verify", name)


def command_config(home: Path, *, extra: str = "") -> None:
    wrap = json.dumps([sys.executable, str(FAKE_KMS), "wrap"])
    unwrap = json.dumps([sys.executable, str(FAKE_KMS), "unwrap"])
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        "[piizone]\nconfig_version = 1\n\n"
        f'[kek]\nprovider = "command"\nid = "fake-kms"\nwrap = {wrap}\nunwrap = {unwrap}\n'
        f'{extra}\n[zones]\ndefault_ttl = "30d"\n'
    )


def test_command_key_provider(piizone_home: Path, src: Path, tmp_path: Path, monkeypatch) -> None:
    kms_key = tmp_path / "kms.key"
    kms_key.write_bytes(bytes(range(32)))
    monkeypatch.setenv("FAKE_KMS_KEY", str(kms_key))
    command_config(piizone_home)
    ok("init")
    m = create("k", src)
    assert m.key.provider == "command:fake-kms"
    ok("zone", "verify", "k")
    (src / "note.txt").write_text("Customer: no PII here.\n")
    ok("zone", "refresh", "k")
    ok("zone", "verify", "k")
    assert json.loads(ok("keys", "status", "--json").stdout)["zones"] == [
        {"name": "k", "provider": "command:fake-kms"}
    ]

    monkeypatch.setenv("FAKE_KMS_FAIL", "5")
    result = run("zone", "verify", "k")
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert last(piizone_home, "zone.verify")["outcome"] == "failure"
    monkeypatch.delenv("FAKE_KMS_FAIL")

    kms_key.write_bytes(bytes(32))  # the KMS lost its key: unwrap fails, loudly
    assert run("zone", "verify", "k").exit_code == 2
    kms_key.write_bytes(bytes(range(32)))
    ok("zone", "verify", "k")

    rotate = run("keys", "rotate", "--yes")
    assert rotate.exit_code == 2 and "keys rotate creates keyfile KEKs" in rotate.stderr
