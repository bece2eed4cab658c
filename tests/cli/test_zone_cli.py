"""`piizone init|zone …|keys …` through the real app: failure cases, crashes, exit codes, stderr.

Every failure must be one `error:` line (plus an optional `hint:`) on stderr, never a traceback,
exit non-zero, leave the previous version of the zone intact (verify still ok) and leave an audit
record with outcome `failure` (or `denied`). Sources are tiny, so each test builds its own home.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.storage.store import ZoneStore
from tests.conftest import REPO, SAMPLE_DATA

runner = CliRunner()

PEOPLE_CSV = (
    "name,email,phone,ssn\n"
    "Devin Sparks,devin.sparks@yahoo.com,+1 706 696 5590,780-64-0935\n"
    "Trevor Fritz,fritz.trevor@james.com,801-894-2964,350-37-4071\n"
    "Michelle Hall,michelle.hall@yahoo.com,804.992.6098,463-62-4546\n"
)
NOTE_TXT = (
    "Agent: Thanks for calling, how can I help?\n"
    "Customer: This is Christopher Chapman, my email is christopher89@kim-hughes.com.\n"
    "Customer: My social is 867-58-7481 and my phone is (310) 945-9553.\n"
)
PLANTED = [
    "Devin Sparks", "devin.sparks@yahoo.com", "+1 706 696 5590", "780-64-0935",
    "Trevor Fritz", "fritz.trevor@james.com", "801-894-2964", "350-37-4071",
    "Michelle Hall", "michelle.hall@yahoo.com", "804.992.6098", "463-62-4546",
    "Christopher Chapman", "christopher89@kim-hughes.com", "867-58-7481", "(310) 945-9553",
]  # fmt: skip


def piizone_cmd() -> list[str]:
    script = REPO / ".venv" / "bin" / "piizone"
    if not script.exists():
        script = Path(sys.executable).parent / "piizone"
    return [str(script)] if script.exists() else [sys.executable, "-m", "piizone.cli.main"]


def run(*args: str):
    return runner.invoke(app, list(args))


def records(home: Path) -> list[dict]:
    return list(audit.open_audit_log(home).records())


def last(home: Path, action: str) -> dict:
    found = [r for r in records(home) if r["action"] == action]
    assert found, f"no {action} audit record"
    return found[-1]


def assert_one_line_error(result, code: int, *needles: str) -> str:
    """exit `code`; stderr is `error: …` (+ `hint: …`); returns the error line."""
    stderr = result.stderr
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code == code, (exit_code, stderr)
    lines = stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), stderr
    assert len(lines) <= 2 and all(x.startswith(("error: ", "hint: ")) for x in lines), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def tree_bytes(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def assert_intact(home: Path, name: str, snapshot: dict[str, str], versions=(1,)) -> None:
    store = ZoneStore(home)
    assert store.versions(name) == list(versions)
    assert tree_bytes(store.current_dir(name)) == snapshot
    result = run("zone", "verify", name)
    assert result.exit_code == 0, result.stderr
    assert "verified" in result.stdout


def no_plaintext(home: Path, values=PLANTED) -> list[tuple[str, str]]:
    hits = []
    for p in home.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            hits += [(str(p), v) for v in values if v.encode() in data]
    return hits


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "people.csv").write_text(PEOPLE_CSV)
    (d / "note.txt").write_text(NOTE_TXT)
    return d


@pytest.fixture
def home(piizone_home: Path, src: Path) -> Path:
    """An initialised home with zone `base` (v1) from the tiny source."""
    assert run("init").exit_code == 0
    result = run("zone", "create", "base", "--from", str(src), "--purpose", "tests")
    assert result.exit_code == 0, result.stderr
    return piizone_home


def snapshot(home: Path, name: str = "base") -> dict[str, str]:
    return tree_bytes(ZoneStore(home).current_dir(name))


def staging_entries(home: Path) -> list[Path]:
    staging = home / "zones" / ".staging"
    return list(staging.iterdir()) if staging.is_dir() else []


# -- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ["init"],
        *[
            ["zone", c]
            for c in (
                [
                    "create",
                    "list",
                    "show",
                    "verify",
                    "refresh",
                    "destroy",
                    "hold",
                    "grant",
                    "revoke",
                    "gc",
                    "export-policy",
                ]
            )
        ],
        ["keys", "status"],
        ["keys", "rotate"],
    ],
    ids=lambda p: " ".join(p),
)
def test_every_zone_command_has_help_with_an_example(path: list[str]) -> None:
    result = run(*path, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and f"piizone {' '.join(path)}" in result.output


# -- the happy path through the CLI, small -------------------------------------------------------


def test_create_prints_a_summary_and_the_zone_has_no_plaintext(home: Path) -> None:
    m = ZoneStore(home).manifest("base")
    assert m.version == 1 and m.parent is None and m.purpose == "tests"
    assert {f.path for f in m.files} == {"data/src/people.csv", "data/src/note.txt"}
    assert m.scan.totals["EMAIL_ADDRESS"] >= 4
    assert last(home, "zone.create")["outcome"] == "success"
    assert no_plaintext(home) == []


def test_a_zone_that_exists_is_not_created_again(home: Path, src: Path) -> None:
    before = snapshot(home)
    result = run("zone", "create", "base", "--from", str(src))
    assert_one_line_error(result, 2, "zone 'base' already exists")
    assert last(home, "zone.create")["outcome"] == "failure"
    assert_intact(home, "base", before)


def test_create_before_init_says_so(piizone_home: Path, src: Path) -> None:
    result = run("zone", "create", "z", "--from", str(src))
    assert_one_line_error(result, 2, "not initialised")
    assert "piizone init" in result.stderr


# -- tampering and truncation ------------------------------------------------------------------


def test_a_flipped_byte_fails_verify_naming_the_file(home: Path) -> None:
    target = ZoneStore(home).current_dir("base") / "data" / "src" / "people.csv"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    result = run("zone", "verify", "base")
    line = assert_one_line_error(result, 1, "data/src/people.csv")
    assert "note.txt" not in result.stderr  # only the bad file is named
    assert line.startswith("error: data/src/people.csv: ")
    rec = last(home, "zone.verify")
    assert rec["outcome"] == "failure" and rec["details"]["problems"] == 1
    assert json.loads(run("zone", "verify", "base", "--json").stdout)["problems"] == [
        {"path": "data/src/people.csv", "problem": line.split(": ", 2)[2]}
    ]


def test_a_truncated_file_fails_verify_naming_the_file(home: Path) -> None:
    target = ZoneStore(home).current_dir("base") / "data" / "src" / "note.txt"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) - 17])
    result = run("zone", "verify", "base")
    assert_one_line_error(result, 1, "data/src/note.txt")
    assert "people.csv" not in result.stderr
    assert last(home, "zone.verify")["outcome"] == "failure"


def test_a_data_file_not_in_the_manifest_fails_verify(home: Path) -> None:
    directory = ZoneStore(home).current_dir("base")
    shutil.copyfile(directory / "data/src/note.txt", directory / "data/src/extra.txt")
    result = run("zone", "verify", "base")
    assert_one_line_error(result, 1, "data/src/extra.txt", "not in the manifest")


# -- keys: wrong passphrase, missing key file ------------------------------------------------

PASSPHRASE_CONFIG = """
[piizone]
config_version = 1

[kek]
provider = "passphrase"
kdf = "argon2id"
id = "team"

[kek.params]
memory_kib = 1024
iterations = 1
lanes = 1

[zones]
default_ttl = "30d"
"""


def test_wrong_passphrase(piizone_home: Path, src: Path, monkeypatch) -> None:
    piizone_home.mkdir(mode=0o700)
    (piizone_home / "config.toml").write_text(PASSPHRASE_CONFIG)
    assert run("init").exit_code == 0
    assert not list((piizone_home / "keys").glob("kek-*.key"))  # no keyfile KEK was made
    monkeypatch.setenv("PIIZONE_PASSPHRASE", "correct horse battery staple")
    assert run("zone", "create", "p", "--from", str(src)).exit_code == 0
    m = ZoneStore(piizone_home).manifest("p")
    assert m.key.provider == "passphrase:team"
    before = snapshot(piizone_home, "p")

    monkeypatch.setenv("PIIZONE_PASSPHRASE", "tr0ub4dor&3")
    result = run("zone", "verify", "p")
    assert_one_line_error(result, 2, "wrong passphrase")
    assert "PIIZONE_PASSPHRASE" in result.stderr  # the hint says where it came from
    assert last(piizone_home, "zone.verify")["outcome"] == "failure"
    (src / "note.txt").write_text(NOTE_TXT + "Customer: one more thing.\n")
    assert_one_line_error(run("zone", "refresh", "p"), 2, "wrong passphrase")
    assert last(piizone_home, "zone.refresh")["outcome"] == "failure"

    monkeypatch.delenv("PIIZONE_PASSPHRASE")
    assert_one_line_error(run("zone", "verify", "p"), 2, "no passphrase")

    monkeypatch.setenv("PIIZONE_PASSPHRASE", "correct horse battery staple")
    assert_intact(piizone_home, "p", before)
    assert "correct horse" not in json.dumps(records(piizone_home))


def test_missing_key_file(home: Path, src: Path) -> None:
    before = snapshot(home)
    (kek,) = (home / "keys").glob("kek-*.key")
    saved = kek.read_bytes()
    kek.unlink()
    result = run("zone", "verify", "base")
    assert_one_line_error(result, 2, kek.name.removesuffix(".key").removeprefix("kek-"))
    assert last(home, "zone.verify")["outcome"] == "failure"
    (src / "note.txt").write_text(NOTE_TXT + "Customer: bye.\n")
    assert_one_line_error(run("zone", "refresh", "base"), 2)
    assert last(home, "zone.refresh")["outcome"] == "failure"
    assert_one_line_error(run("zone", "create", "other", "--from", str(src)), 2)
    assert last(home, "zone.create")["outcome"] == "failure"
    assert not ZoneStore(home).exists("other") and staging_entries(home) == []
    kek.write_bytes(saved)
    kek.chmod(0o600)
    assert_intact(home, "base", before)


# -- sources: unreadable, vanishing ------------------------------------------------------------


def test_an_unreadable_source_file(home: Path, src: Path) -> None:
    before = snapshot(home)
    secret = src / "note.txt"
    secret.write_text(NOTE_TXT + "Customer: changed.\n")
    secret.chmod(0)
    cmd = [*piizone_cmd(), "zone", "refresh", "base"]
    if os.geteuid() == 0:
        # root reads anything; without these capabilities it is bound by the mode bits.
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO)
    line = assert_one_line_error(proc, 2, str(src), "note.txt")
    assert "permission denied" in line.lower()
    rec = last(home, "zone.refresh")
    assert rec["outcome"] == "failure" and "permission denied" in rec["details"]["error"].lower()
    secret.chmod(0o600)
    assert staging_entries(home) == []
    assert_intact(home, "base", before)


def test_a_source_file_that_vanishes_mid_run(home: Path, src: Path, monkeypatch) -> None:
    """The directory is resolved (note.txt listed), then note.txt is deleted before it is read."""
    import piizone.zones.provision.staging as provision

    before = snapshot(home)
    (src / "people.csv").write_text(PEOPLE_CSV + "Amy Li,amy.li@example.org,555-0100,123-45-6789\n")
    real = provision.resolve_sources

    def resolve_then_delete(specs):
        resolved = real(specs)
        (src / "note.txt").unlink()
        return resolved

    with monkeypatch.context() as patched:
        patched.setattr(provision, "resolve_sources", resolve_then_delete)
        result = run("zone", "refresh", "base")
    assert_one_line_error(result, 2, "note.txt", "vanished")
    rec = last(home, "zone.refresh")
    assert rec["outcome"] == "failure" and "vanished" in rec["details"]["error"]
    assert staging_entries(home) == []
    assert_intact(home, "base", before)
    assert no_plaintext(home, [*PLANTED, "amy.li@example.org", "123-45-6789"]) == []


# -- full disk, concurrency, names, audit failures ---------------------------------------------


@pytest.fixture
def tiny_zones_fs(piizone_home: Path):
    """$PIIZONE_HOME/zones on a 2 MiB tmpfs (root only); unmounted afterwards."""
    zones = piizone_home / "zones"
    zones.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(zones)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield zones
    finally:
        subprocess.run(["umount", "-l", str(zones)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full."""
    filler = directory / ".filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk(tiny_zones_fs: Path, piizone_home: Path, src: Path) -> None:
    assert run("init").exit_code == 0
    assert run("zone", "create", "base", "--from", str(src)).exit_code == 0
    before = snapshot(piizone_home)
    filler = fill(tiny_zones_fs)
    try:
        (src / "note.txt").write_text(NOTE_TXT + "Customer: thanks!\n")
        result = run("zone", "refresh", "base")
        assert_one_line_error(result, 2, "zone 'base' not written", "No space left on device")
        rec = last(piizone_home, "zone.refresh")
        assert rec["outcome"] == "failure" and "No space left" in rec["details"]["error"]

        result = run("zone", "create", "second", "--from", str(src))
        assert_one_line_error(result, 2, "No space left on device")
        assert last(piizone_home, "zone.create")["outcome"] == "failure"
        assert not ZoneStore(piizone_home).exists("second")
        assert staging_entries(piizone_home) == []
    finally:
        filler.unlink()
    assert_intact(piizone_home, "base", before)


def test_a_concurrent_create_or_refresh_is_refused_by_the_lock(home: Path, src: Path) -> None:
    store = ZoneStore(home)
    before = snapshot(home)
    with store.lock("new"):
        result = run("zone", "create", "new", "--from", str(src))
        assert_one_line_error(result, 2, "zone 'new' is being changed by another piizone process")
        assert last(home, "zone.create")["outcome"] == "failure"
    assert not store.exists("new")
    with store.lock("base"):
        (src / "note.txt").write_text(NOTE_TXT + "Customer: again.\n")
        assert_one_line_error(run("zone", "refresh", "base"), 2, "another piizone process")
        assert last(home, "zone.refresh")["outcome"] == "failure"
        assert_one_line_error(run("zone", "destroy", "base", "--yes"), 2, "another piizone")
        assert last(home, "zone.destroy")["outcome"] == "failure"
    assert staging_entries(home) == []
    assert_intact(home, "base", before)
    # once the lock is free the same create works
    assert run("zone", "create", "new", "--from", str(src)).exit_code == 0


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "..", "_x", "x" * 129, "ü"])
def test_an_invalid_zone_name_is_refused_and_audited(home: Path, src: Path, name: str) -> None:
    result = run("zone", "create", name, "--from", str(src))
    assert_one_line_error(result, 2, "invalid zone name")
    rec = last(home, "zone.create")
    assert rec["outcome"] == "failure" and rec["zone"] is None
    assert sorted(p.name for p in (home / "zones").iterdir()) == [
        ".locks",
        ".staging",
        ".versions",
        "base",
    ]
    assert not (home / "x").exists() and not (home / "zones" / "a").exists()
    assert_one_line_error(run("zone", "show", name), 2, "invalid zone name")


def test_destroy_under_legal_hold_is_denied(home: Path) -> None:
    before = snapshot(home)
    assert run("zone", "hold", "base", "--on").exit_code == 0
    before["manifest.json"] = snapshot(home)["manifest.json"]  # the hold is in the manifest
    result = run("zone", "destroy", "base", "--yes")
    assert_one_line_error(result, 1, "zone 'base' is under legal hold")
    assert "zone hold base --off" in result.stderr
    assert last(home, "zone.destroy")["outcome"] == "denied"
    assert_intact(home, "base", before)


def test_destroy_without_yes_and_no_terminal_is_refused(home: Path) -> None:
    before = snapshot(home)
    result = run("zone", "destroy", "base")
    assert_one_line_error(result, 2, "refusing without confirmation")
    assert "--yes" in result.stderr
    assert_intact(home, "base", before)
    result = run("zone", "gc")
    assert_one_line_error(result, 2, "refusing without confirmation")
    result = run("keys", "rotate")
    assert_one_line_error(result, 2, "refusing without confirmation")
    # Each refused attempt is on the record, as denied, with nothing done.
    for action, zone in (("zone.destroy", "base"), ("zone.gc", None), ("key.rotate", None)):
        rec = last(home, action)
        assert (rec["outcome"], rec["zone"], rec["details"]) == (
            "denied",
            zone,
            {"error": "not confirmed"},
        )


def test_an_unwritable_audit_log_means_no_zone(home: Path, src: Path) -> None:
    head = home / "audit" / "head.json"
    head.unlink()
    head.mkdir()
    result = run("zone", "create", "unaccounted", "--from", str(src))
    assert_one_line_error(result, 2)
    assert not ZoneStore(home).exists("unaccounted")
    assert not (home / "zones" / ".versions" / "unaccounted").exists()
    assert staging_entries(home) == []
    (src / "note.txt").write_text(NOTE_TXT + "Customer: later.\n")
    assert_one_line_error(run("zone", "refresh", "base"), 2)
    assert ZoneStore(home).versions("base") == [1]
    assert_one_line_error(run("zone", "destroy", "base", "--yes"), 2)
    assert ZoneStore(home).exists("base")


def test_a_zone_that_does_not_exist(home: Path) -> None:
    for argv in (["show", "ghost"], ["verify", "ghost"], ["refresh", "ghost"]):
        assert_one_line_error(run("zone", *argv), 2, "zone 'ghost' does not exist")
    assert_one_line_error(run("zone", "destroy", "ghost", "--yes"), 2, "does not exist")
    assert last(home, "zone.destroy")["outcome"] == "failure"


def test_bad_ttl_and_missing_source_are_usage_errors(home: Path, tmp_path: Path) -> None:
    src = str(tmp_path / "src")
    assert_one_line_error(run("zone", "create", "t", "--from", src, "--ttl", "soon"), 2, "TTL")
    result = run("zone", "create", "t", "--from", str(tmp_path / "nowhere"))
    assert_one_line_error(result, 2, "nowhere")
    assert last(home, "zone.create")["outcome"] == "failure"
    assert run("zone", "create", "t").exit_code == 2  # --from is required
    assert not ZoneStore(home).exists("t")


# -- Ctrl-C and SIGKILL in a real process --------------------------------------------------------


@pytest.fixture
def slow_src(tmp_path: Path) -> Path:
    """a tiny note first, then the 500-row customers table and a long call log of distinct
    lines (nothing in it repeats, so no memo shortens it): seconds of work after the note."""
    d = tmp_path / "slow"
    d.mkdir()
    (d / "a_note.txt").write_text(NOTE_TXT)
    shutil.copyfile(SAMPLE_DATA / "customers.csv", d / "b_customers.csv")
    (d / "c_calls.txt").write_text(
        "".join(
            f"Call {i}: Mr. Aldous Fenwick-{i} asked us to ring 212-555-{i % 10000:04d} "
            f"about order {i * 7919} before the {i % 28 + 1}th.\n"
            for i in range(1500)
        )
    )
    return d


def customer_values() -> list[str]:
    import csv

    with open(SAMPLE_DATA / "customers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r[k] for r in rows[:100] for k in ("full_name", "email", "phone", "ssn")]


def start_create_and_wait_for_ciphertext(home: Path, slow_src: Path) -> subprocess.Popen:
    env = dict(os.environ, PIIZONE_HOME=str(home))
    proc = subprocess.Popen(
        [*piizone_cmd(), "zone", "create", "crash", "--from", str(slow_src)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`cmd &`, nohup) ignores SIGINT, and children
        # inherit that: the Ctrl-C test needs the default disposition, as at a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        notes = (home / "zones").glob(".staging/crash.*/data/slow/a_note.txt")
        # Its ciphertext written, not only the file created: on a loaded machine the two can be
        # far apart, and the test looks at what the kill leaves behind.
        if any(p.is_file() and p.stat().st_size > 0 for p in notes):
            time.sleep(0.2)  # into the customers table
            break
        if proc.poll() is not None:
            pytest.fail(f"create ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("no ciphertext appeared in staging")
    assert proc.poll() is None, "create finished too fast to interrupt"
    return proc


def test_ctrl_c_mid_create_leaves_nothing(home: Path, slow_src: Path) -> None:
    proc = start_create_and_wait_for_ciphertext(home, slow_src)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[0] == "error: interrupted" and "Traceback" not in err
    assert not ZoneStore(home).exists("crash")
    assert staging_entries(home) == []
    assert not (home / "zones" / ".versions" / "crash").exists()
    rec = last(home, "zone.create")
    assert rec["zone"] == "crash" and rec["outcome"] == "failure"
    assert rec["details"]["error"] == "interrupted"
    assert [z["name"] for z in json.loads(run("zone", "list", "--json").stdout)] == ["base"]
    assert no_plaintext(home, PLANTED + customer_values()) == []


def test_sigkill_mid_create_leaves_only_ciphertext_that_gc_removes(
    home: Path, slow_src: Path
) -> None:
    proc = start_create_and_wait_for_ciphertext(home, slow_src)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    leftovers = staging_entries(home)
    assert [p.name.rsplit(".", 1)[0] for p in leftovers] == ["crash"]
    assert (leftovers[0] / "data" / "slow" / "a_note.txt").stat().st_size > 0
    assert not ZoneStore(home).exists("crash")
    listed = json.loads(run("zone", "list", "--json").stdout)
    assert [z["name"] for z in listed] == ["base"]
    assert no_plaintext(home, PLANTED + customer_values()) == []

    result = run("zone", "gc", "--yes")
    assert result.exit_code == 0, result.stderr
    assert staging_entries(home) == []
    rec = last(home, "zone.gc")
    assert rec["details"]["stale_staging"] == 1 and rec["details"]["destroyed"] == 0
    assert ZoneStore(home).exists("base")
    # the name is free again
    with ZoneStore(home).lock("crash"):
        pass
