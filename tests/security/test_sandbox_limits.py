"""Issue 13, finding 3: deep or huge output trees fail closed and leave nothing behind.

A `/zone/out` nested 1,200 directories deep raised RecursionError in the egress walk: no
egress record, the unscanned files stayed on disk, and every later session (any zone) failed
in the stale-session cleanup until someone removed them by hand. Now the walk is iterative
with depth, count and byte limits; over a limit nothing is released (an audited `egress.scan`
denial says why), and the staging area is removed in every case, stale ones included.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from piizone.zones import audit
from piizone.zones.leakcheck import egress, output_tree
from piizone.zones.sandbox import session as sandbox
from tests.zones.test_sandbox import require_isolation

DEPTH = 1200
LEAK = "contact bob.jones@gmail.com ssn 219-09-9999\n"


def _rm_deep(path: Path) -> None:
    """rm -rf (fts, not recursive): pytest's tmp clean-up recurses and would fail every later
    pytest run of this user on a deep tree left by a failing test."""
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture(autouse=True)
def _deep_trees_removed(tmp_path):
    yield
    _rm_deep(tmp_path)


@pytest.fixture(scope="module")
def zone(make_zone):
    made = make_zone("lz", {"t.txt": "redacted training text\n"})
    yield made.store, made.manifest, made.dek()
    _rm_deep(made.base)


def _nest(root: Path, depth: int) -> Path:
    """root/d/d/…/d (depth dirs), built relative to each parent: no long paths needed."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("leak.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, LEAK.encode())
        os.close(leaf)
    finally:
        os.close(fd)
    return root


def _egress_records(store) -> list[dict]:
    key = (store.home / "keys" / audit.KEY_FILE).read_bytes()
    log = audit.AuditLog(store.home / "audit", key)
    return [r for r in log.records() if r["action"] == "egress.scan"]


def _release(zone, host_out, out, session):
    store, manifest, dek = zone
    return egress.release_outputs(
        host_out, out, store=store, name="lz", manifest=manifest, dek=dek, session=session
    )


def test_a_deep_tree_is_withheld_and_audited(zone, tmp_path):
    host_out = tmp_path / "host"
    host_out.mkdir()
    (host_out / "metrics.csv").write_text("auc,0.9\n")
    _nest(host_out, DEPTH)
    report = _release(zone, host_out, tmp_path / "out", "s-deep")
    assert report.released == [] and "depth" in report.withheld
    assert not (tmp_path / "out").exists()
    last = _egress_records(zone[0])[-1]
    assert last["outcome"] == "denied" and last["details"]["session"] == "s-deep"
    assert "depth" in last["details"]["withheld"]


@pytest.mark.parametrize(
    "limit, value, files",
    [("MAX_OUTPUT_ENTRIES", 5, 10), ("MAX_OUTPUT_BYTES", 100, 3)],
)
def test_count_and_byte_limits_withhold_everything(
    zone, tmp_path, monkeypatch, limit, value, files
):
    monkeypatch.setattr(output_tree, limit, value)
    host_out = tmp_path / "host"
    host_out.mkdir()
    for i in range(files):
        (host_out / f"f{i}.csv").write_text("auc,0.9\n" * 10)
    report = _release(zone, host_out, tmp_path / "out", f"s-{limit}")
    assert report.released == [] and report.withheld


def test_remove_tree_removes_a_deep_tree(tmp_path):
    root = tmp_path / "deep"
    root.mkdir()
    _nest(root, DEPTH)
    os.chmod(root / "d", 0o000)  # an unreadable dir the command left behind
    output_tree.remove_tree(root)
    assert not root.exists()


def test_a_stale_deep_session_does_not_break_the_next_one(zone, tmp_path):
    store = zone[0]
    stale = sandbox.sessions_dir(store.home) / "deadbeefdeadbeef"
    (stale / "out").mkdir(parents=True)
    (stale / "pid").write_text("999999999")  # no such process: piizone died
    _nest(stale / "out", DEPTH)
    assert sandbox.clean_stale_sessions(store.home) == 1
    assert not stale.exists()


def test_a_session_writing_a_deep_tree_fails_closed_and_cleans_up(zone, tmp_path):
    require_isolation()
    store = zone[0]
    script = (
        "import os; open('/zone/out/m.csv', 'w').write('auc,0.9\\n'); "
        "os.chdir('/zone/out')\n"
        f"for _ in range({DEPTH}): os.mkdir('d'); os.chdir('d')\n"
        f"open('leak.txt', 'w').write({LEAK!r})"
    )
    out = tmp_path / "out"
    result = sandbox.run_session("lz", ["python", "-c", script], out_dir=out, home=store.home)
    assert result.command_status == 0
    assert result.exit_code == 1 and result.egress.withheld
    assert not out.exists()
    assert list(sandbox.sessions_dir(store.home).iterdir()) == []
    # The next session runs normally.
    again = sandbox.run_session(
        "lz", ["sh", "-c", "echo ok > /zone/out/ok.txt"], out_dir=out, home=store.home
    )
    assert again.exit_code == 0 and (out / "ok.txt").read_text() == "ok\n"


def test_a_release_that_fails_is_audited(zone, tmp_path):
    host_out = tmp_path / "host"
    host_out.mkdir()
    (host_out / "m.csv").write_text("auc,0.9\n")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(egress.EgressError):
        _release(zone, host_out, tmp_path / "a-file" / "out", "s-fail")
    last = _egress_records(zone[0])[-1]
    assert last["outcome"] == "failure" and last["details"]["session"] == "s-fail"
