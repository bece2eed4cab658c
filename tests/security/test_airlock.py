"""Artifact lineage and the output airlock (issue 17, points 3 and 4), end to end.

Real bubblewrap, real files, the CLI in subprocesses. The zone is root's; a sandbox session by
root releases a model file (an artifact with the zone version's lineage and the --code digest)
and writes an output with a planted value, which is quarantined. Its author (root, also the
zone's owner) may neither reject nor approve it; `nobody` (real uid switched as in
test_identity.py) approves it, and it is released under the requester's --out and registered.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from piizone.zones import audit
from piizone.zones.lifecycle import init_home
from piizone.zones.lineage.artifacts import code_digest
from piizone.zones.provision.build import ZoneRequest, create_zone
from piizone.zones.sandbox.layout import ZONE_CODE, SandboxLayout
from piizone.zones.sandbox.session import build_bwrap_args, build_unshare_args
from piizone.zones.storage.store import ZoneStore
from tests.conftest import REPO
from tests.zones.test_sandbox import require_isolation

NOBODY = pwd.getpwnam("nobody")
ZONE = "retrain"
PLANTED = "bob.jones@gmail.com"
# Real uid := UID (effective stays root: the interpreter lives under /root), then the CLI.
BOOTSTRAP = (
    "import os, runpy, sys; os.setresuid({uid}, 0, 0); "
    "sys.argv[0] = 'piizone'; runpy.run_module('piizone.cli.main', run_name='__main__')"
)


def test_bwrap_and_unshare_bind_the_code_dir_read_only() -> None:
    layout = SandboxLayout(
        zone="z", session="s", out_dir="/tmp/o", data_fd=3, command=["true"], code_dir="/src/c"
    )
    args = build_bwrap_args(layout)
    i = args.index(ZONE_CODE)
    assert args[i - 2 : i + 1] == ["--ro-bind", "/src/c", ZONE_CODE]
    script = "\n".join(build_unshare_args(layout))
    assert f'mount -o remount,bind,ro "$R"{ZONE_CODE}' in script


def cli(home: Path, *args: str, uid: int = 0) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PIIZONE_HOME": str(home),
        "HOME": str(home.parent),
        "LANG": "C.UTF-8",
        # Naming the author in every variable must not make `nobody` the author (or back).
        "LOGNAME": "root",
        "USER": "root",
    }
    return subprocess.run(
        [sys.executable, "-c", BOOTSTRAP.format(uid=uid), *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def records(home: Path, action: str) -> list[dict]:
    return [r for r in audit.open_audit_log(home).records() if r["action"] == action]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One sandbox run: a model file and a read-only probe released, a planted value held."""
    if os.geteuid() != 0:
        pytest.skip("switching uid needs root")
    require_isolation()
    base = tmp_path_factory.mktemp("airlock")
    os.chmod(base, 0o755)
    (base / "src").mkdir()
    (base / "src" / "a.txt").write_text("plain text\n")
    home = base / "home"
    init_home(home)
    create_zone(ZoneRequest(name=ZONE, sources=[str(base / "src")]), ZoneStore(home))
    code = base / "code"
    code.mkdir()
    (code / "train.py").write_text("print('training')\n")
    out = base / "models"
    script = (
        "python3 /zone/code/train.py > /zone/out/log.txt && "
        "(touch /zone/code/x 2>/dev/null && echo writable || echo read-only) > /zone/out/ro.txt"
        " && head -c 4096 /dev/urandom > /zone/out/model.bin && "
        f"printf 'row\\ncontact {PLANTED}\\n' > /zone/out/samples.txt"
    )
    done = cli(
        home, "sandbox", "run", ZONE, "--code", str(code), "--out", str(out),
        "--allow-binary", "--", "sh", "-c", script,
    )  # fmt: skip
    return base, home, code, out, done


def _held(home: Path) -> list[dict]:
    return json.loads(cli(home, "airlock", "list", "--json").stdout)


def test_run_registers_released_files_with_their_lineage(session) -> None:
    base, home, code, out, done = session
    assert done.returncode == 1, done.stderr  # an output was quarantined
    assert (out / "ro.txt").read_text() == "read-only\n"  # --code is mounted read-only
    assert (out / "log.txt").read_text() == "training\n"
    artifacts = json.loads(cli(home, "artifacts", "list", "--json").stdout)
    by_name = {a["name"]: a for a in artifacts}
    assert set(by_name) == {"log.txt", "ro.txt", "model.bin"}
    model = by_name["model.bin"]
    manifest = ZoneStore(home).manifest(ZONE)
    assert model["verdict"] == "released" and model["bytes"] == 4096
    assert model["zone_version"] == manifest.version and model["zone_id"] == manifest.id
    assert model["policy_sha256"] == manifest.policy.sha256
    assert model["code_sha256"] == code_digest(code) and model["command"] == "sh"
    assert model["user"] == "root" and model["uid"] == 0
    said = " ".join(done.stderr.split())  # the report wraps at 80 columns when piped
    assert f"artifact {model['id']}" in said  # printed with the released file
    assert len(records(home, "artifacts.register")) == 3


def test_author_cannot_decide_a_second_user_approves(session) -> None:
    base, home, code, out, done = session
    [request] = _held(home)
    assert request["status"] == "pending"
    assert f"airlock {request['id']}" in " ".join(done.stderr.split())
    held = home / "zones" / ".quarantine" / request["provenance"]["session"] / "00000.piiz"
    assert held.is_file() and PLANTED.encode() not in held.read_bytes()

    shown = cli(home, "airlock", "show", request["id"][:8])
    assert shown.returncode == 0 and "EMAIL_ADDRESS" in shown.stdout
    assert "line 2" in shown.stdout and PLANTED not in shown.stdout + shown.stderr
    assert records(home, "airlock.show")[-1]["details"]["request"] == request["id"]

    for verb in ("reject", "approve"):  # root is the session's user and the zone's owner
        denied = cli(home, "airlock", verb, request["id"], "--reason", "looks fine")
        assert denied.returncode == 1, denied.stderr
        assert "author of the session" in denied.stderr and "Traceback" not in denied.stderr
    assert held.is_file() and _held(home)[0]["status"] == "pending"
    denials = [r for r in records(home, "access.denied") if r["details"].get("request")]
    assert [r["details"]["operation"] for r in denials] == ["airlock.reject", "airlock.approve"]

    approved = cli(home, "airlock", "approve", request["id"], "--reason", "synthetic sample",
                   uid=NOBODY.pw_uid)  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    # --out was populated by the clean release: a fresh DIR/<id>/, nothing overwritten.
    released = out / request["id"] / "samples.txt"
    assert released.read_text() == f"row\ncontact {PLANTED}\n"
    assert stat.S_IMODE(released.stat().st_mode) == 0o644
    assert not held.exists()
    [record] = _held(home)
    assert record["status"] == "approved" and record["decided_by"] == "nobody"

    artifacts = json.loads(cli(home, "artifacts", "list", "--json").stdout)
    [artifact] = [a for a in artifacts if a["verdict"] == "approved"]
    assert artifact["id"] == record["artifact"] and artifact["approved_by"] == "nobody"
    assert artifact["reason"] == "synthetic sample" and artifact["user"] == "root"
    assert artifact["sha256"] == request["sha256"]

    [entry] = records(home, "airlock.approve")
    assert entry["actor"]["user"] == "nobody" and entry["details"]["artifact"] == artifact["id"]
    assert "synthetic sample" not in json.dumps(entry)  # free text stays out of the log

    # Decided once: approve twice, reject after approve, unknown id: exit 2, nothing changed.
    for args in (("approve", request["id"]), ("reject", request["id"]), ("approve", "q0000")):
        again = cli(home, "airlock", *args, "--reason", "again", uid=NOBODY.pw_uid)
        assert again.returncode == 2, again.stderr
        assert again.stderr.startswith("error: ") and "Traceback" not in again.stderr
    assert len(records(home, "airlock.approve")) == 1
    assert sorted(p.name for p in (out / request["id"]).iterdir()) == ["samples.txt"]

    events = json.loads(cli(home, "artifacts", "export", "--format", "openlineage").stdout)
    outputs = {o["name"] for e in events for o in e["outputs"]}
    assert f"artifact/{artifact['id']}/samples.txt" in outputs
    ropa = cli(home, "audit", "ropa", ZONE)
    assert ropa.returncode == 0 and "4 file(s) left this zone" in ropa.stdout
    assert artifact["id"] in ropa.stdout and PLANTED not in ropa.stdout


def test_reject_deletes_and_self_review_is_a_config_option(session, tmp_path) -> None:
    base, home, code, out, done = session
    script = f"printf '{PLANTED}\\n' > /zone/out/a.txt; printf '{PLANTED}\\n' > /zone/out/b.txt"
    run = cli(home, "sandbox", "run", ZONE, "--out", str(tmp_path / "o"), "--",
              "sh", "-c", script)  # fmt: skip
    assert run.returncode == 1, run.stderr
    pending = {r["name"]: r for r in _held(home) if r["status"] == "pending"}
    assert sorted(pending) == ["a.txt", "b.txt"]
    first, second = pending["a.txt"], pending["b.txt"]
    qdir = home / "zones" / ".quarantine" / first["provenance"]["session"]
    rejected = cli(home, "airlock", "reject", first["id"], "--reason", "row-level",
                   uid=NOBODY.pw_uid)  # fmt: skip
    assert rejected.returncode == 0, rejected.stderr
    assert not (qdir / f"{first['index']:05d}.piiz").exists()
    assert cli(home, "airlock", "approve", first["id"], "--reason", "x",
               uid=NOBODY.pw_uid).returncode == 2  # fmt: skip
    assert len(records(home, "airlock.reject")) == 1

    config = home / "config.toml"
    config.write_text(config.read_text() + "\n[airlock]\nallow_self_review = true\n")
    own = cli(home, "airlock", "approve", second["id"], "--reason", "team of one")
    assert own.returncode == 0, own.stderr
    assert (tmp_path / "o" / "b.txt").read_text() == f"{PLANTED}\n"
    assert not qdir.exists()  # nothing held any more: the quarantine is gone


def test_small_counts_in_a_table_are_held_when_the_check_is_on(session, tmp_path) -> None:
    base, home, code, out, done = session
    config = home / "config.toml"
    text = config.read_text()
    assert "allow_self_review = true" in text  # set by the test above; k defaults to 5
    config.write_text(text.replace("allow_self_review = true", "small_counts = true"))
    script = (
        "printf 'group,n,share\\ng1,3,0.5\\ng2,12,0.5\\n' > /zone/out/counts.csv; "
        "printf 'group,n\\ng1,0\\ng2,40\\n' > /zone/out/ok.csv"
    )
    run = cli(home, "sandbox", "run", ZONE, "--out", str(tmp_path / "o"), "--",
              "sh", "-c", script)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["ok.csv"]
    [request] = [r for r in _held(home) if r["name"] == "counts.csv"]
    [finding] = request["findings"]
    assert (finding["entity"], finding["line"], finding["reason"]) == (
        "SMALL_COUNT",
        2,
        "small_count",
    )
    shown = cli(home, "airlock", "show", request["id"]).stdout
    assert "line 2: SMALL_COUNT (small_count): column 2: a count under 5" in shown


def test_code_dir_exposing_the_home_is_refused_before_a_session(session) -> None:
    base, home, code, out, done = session
    starts = len(records(home, "session.start"))
    for bad in (home, home / "keys", base / "missing"):
        refused = cli(home, "sandbox", "run", ZONE, "--code", str(bad), "--", "true")
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith("error: --code ") and "Traceback" not in refused.stderr
    assert len(records(home, "session.start")) == starts


def test_code_changed_during_the_run_records_no_digest(session, tmp_path) -> None:
    base, home, code, out, done = session
    code2 = tmp_path / "code"
    code2.mkdir()
    (code2 / "train.py").write_text("print(1)\n")
    # The bind mount is live: the command waits until the host adds a file, then writes out.
    script = (
        "n=0; while [ ! -e /zone/code/late.py ] && [ $n -lt 600 ]; do n=$((n+1)); sleep 0.1; "
        "done; echo done > /zone/out/result.txt"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOTSTRAP.format(uid=0), "sandbox", "run", ZONE, "--code",
         str(code2), "--out", str(tmp_path / "o"), "--", "sh", "-c", script],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO),
             "PIIZONE_HOME": str(home), "HOME": str(base), "LANG": "C.UTF-8"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not list((home / "zones" / ".sessions").glob("*/out")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    (code2 / "late.py").write_text("print(2)\n")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "the directory changed during the session" in " ".join(err.split())
    artifacts = json.loads(cli(home, "artifacts", "list", "--json").stdout)
    [result] = [a for a in artifacts if a["name"] == "result.txt"]
    assert result["code_sha256"] is None
