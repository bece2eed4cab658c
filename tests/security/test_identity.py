"""Access checks use the real uid, never $LOGNAME/$USER (issue 13, finding 10).

Before: `LOGNAME=ana piizone sandbox run anaz …` passed the check for ana (getpass.getuser()
reads $LOGNAME first), and anyone could grant, revoke, hold or destroy a zone they did not own.
The tests run piizone in a subprocess whose real uid is `nobody`, with the owner's name in
every environment variable that names a user. Only the real uid is changed (setresuid, effective
uid still root): the interpreter on these machines lives under /root (mode 0700), where a fully
unprivileged process could not even start Python. The real uid is the identity piizone reads.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from piizone.zones import access, audit, lifecycle
from piizone.zones.exceptions import AccessDenied
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore
from tests.conftest import REPO

NOBODY = pwd.getpwnam("nobody")
ZONE = "anaz"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching uid needs root")


@pytest.fixture
def shared_home(make_zone) -> Path:
    """A home with zone `anaz` created (and so owned) by root."""
    made = make_zone(ZONE)
    assert made.manifest.owner == "root"
    return made.home


# Real uid := nobody, then the CLI as `python -m piizone.cli.main` would run it.
BOOTSTRAP = (
    "import os, runpy, sys; os.setresuid({uid}, 0, 0); "
    "sys.argv[0] = 'piizone'; runpy.run_module('piizone.cli.main', run_name='__main__')"
)


def as_nobody(home: Path, *args: str, pretend: str = "root") -> subprocess.CompletedProcess:
    """Run the CLI as uid `nobody`, with every user-naming variable saying `pretend`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PIIZONE_HOME": str(home),
        "HOME": str(home.parent),
        "LOGNAME": pretend,
        "USER": pretend,
        "LNAME": pretend,
        "USERNAME": pretend,
    }
    return subprocess.run(
        [sys.executable, "-c", BOOTSTRAP.format(uid=NOBODY.pw_uid), *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def last_record(home: Path) -> dict:
    return list(audit.open_audit_log(home).records())[-1]


@pytest.mark.parametrize(
    "command",
    [
        ["zone", "grant", ZONE, "nobody"],
        ["zone", "revoke", ZONE, "bob"],
        ["zone", "hold", ZONE, "--on"],
        ["zone", "destroy", ZONE, "--yes"],
        ["zone", "refresh", ZONE],
        ["sandbox", "run", ZONE, "--out", "out", "--", "true"],
    ],
    ids=["grant", "revoke", "hold", "destroy", "refresh", "sandbox"],
)
def test_the_owners_name_in_the_environment_grants_nothing(shared_home, command):
    before = ZoneStore(shared_home).manifest(ZONE)
    done = as_nobody(shared_home, *command)
    assert done.returncode == 1, done.stderr
    assert "nobody may not" in done.stderr
    after = ZoneStore(shared_home).manifest(ZONE)
    assert after == before  # not granted, not held, not destroyed
    denial = last_record(shared_home)
    assert denial["action"] == "access.denied" and denial["outcome"] == "denied"
    assert denial["actor"]["uid"] == NOBODY.pw_uid and denial["actor"]["user"] == "nobody"
    assert denial["details"]["user"] == "nobody"
    assert audit.open_audit_log(shared_home).verify().ok


def test_gc_leaves_another_owners_expired_zone(shared_home):
    ZoneStore(shared_home).update_manifest(ZONE, expires="2000-01-01T00:00:00Z")
    done = as_nobody(shared_home, "zone", "gc", "--yes")
    assert done.returncode == 0, done.stderr
    assert "not yours" in done.stdout
    assert ZoneStore(shared_home).exists(ZONE)
    gc = last_record(shared_home)
    assert gc["action"] == "zone.gc" and gc["details"]["destroyed"] == 0
    assert gc["details"]["others"] == 1


def test_the_owner_by_uid_may_manage_whatever_the_environment_says(shared_home):
    ZoneStore(shared_home).update_manifest(ZONE, owner="nobody")
    done = as_nobody(shared_home, "zone", "grant", ZONE, "bob", pretend="mallory")
    assert done.returncode == 0, done.stderr
    assert ZoneStore(shared_home).manifest(ZONE).grants == ["bob"]
    record = last_record(shared_home)
    assert record["action"] == "zone.grant" and record["actor"]["user"] == "nobody"


def test_root_is_the_operator_and_may_manage_any_zone(shared_home):
    ZoneStore(shared_home).update_manifest(ZONE, owner="nobody")
    assert lifecycle.set_hold(ZONE, True, ZoneStore(shared_home)).legal_hold is True


def test_current_user_is_the_real_uids_account(monkeypatch, piizone_home):
    lifecycle.init_home(piizone_home)
    store = ZoneStore(piizone_home)
    # A manifest is all the check reads: no zone data needed at this level.
    manifest = ZoneManifest.model_construct(name=ZONE, owner="root")
    monkeypatch.setenv("LOGNAME", "root")
    monkeypatch.setenv("USER", "root")
    monkeypatch.setattr(os, "getuid", lambda: NOBODY.pw_uid)
    assert access.current_user() == "nobody"
    with pytest.raises(AccessDenied):
        access.require_owner(manifest, "grant", store.home)
    assert last_record(piizone_home)["details"] == {
        "operation": "grant",
        "user": "nobody",
        "reason": "not the owner",
    }
