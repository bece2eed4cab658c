"""Issue 13, finding 2: `--out DIR` releases only into a fresh directory.

A session wrote `.git/config` (with an fsmonitor hook) and an executable `run.sh` into the
project directory given as `--out`, and both ran on the host; `--out $PIIZONE_HOME/audit`
could overwrite the log. Now: outputs go to DIR when it does not exist or is empty, else to a
new `DIR/<session>/`; nothing existing is overwritten, no symlink is followed, no exec bit is
carried, dotfiles stay behind unless `--allow-dotfiles`, and an --out inside $PIIZONE_HOME is
refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from piizone.zones.leakcheck import egress
from piizone.zones.sandbox import session as sandbox
from tests.zones.test_sandbox import require_isolation

HOOK = "[core]\n\tfsmonitor = touch /tmp/pwned\n"


@pytest.fixture(scope="module")
def zone(make_zone):
    made = make_zone("oz", {"t.txt": "redacted training text\n"})
    return made.store, made.manifest, made.dek()


def _release(zone, host_out: Path, out: Path, session: str, **kw):
    store, manifest, dek = zone
    return egress.release_outputs(
        host_out, out, store=store, name="oz", manifest=manifest, dek=dek, session=session, **kw
    )


def _project(tmp_path: Path) -> Path:
    """A project dir with a git config and an executable script, as a user's cwd has."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (project / "run.sh").write_text("echo mine\n")
    (project / "run.sh").chmod(0o755)
    return project


def _hostile_outputs(host_out: Path) -> None:
    (host_out / ".git").mkdir(parents=True)
    (host_out / ".git" / "config").write_text(HOOK)
    (host_out / "run.sh").write_text("touch /tmp/pwned\n")
    (host_out / "run.sh").chmod(0o755)
    (host_out / "model").mkdir()
    (host_out / "model" / "w.bin").write_bytes(b"\x00\x01weights")


def test_existing_files_are_never_overwritten(zone, tmp_path):
    project, host_out = _project(tmp_path), tmp_path / "host"
    _hostile_outputs(host_out)
    report = _release(zone, host_out, project, "s-proj", allow_binary=True)
    assert (project / ".git" / "config").read_text() == "[core]\n\tbare = false\n"
    assert (project / "run.sh").read_text() == "echo mine\n"
    # A non-empty --out gets a new subdirectory named after the session.
    assert Path(report.out_dir) == project / "s-proj"
    released = project / "s-proj"
    assert sorted(p.relative_to(released).as_posix() for p in released.rglob("*")) == [
        "model",
        "model/w.bin",
        "run.sh",
    ]
    assert {s["file"] for s in report.skipped} == {".git/config"}


def test_no_exec_bits_are_carried(zone, tmp_path):
    host_out, out = tmp_path / "host", tmp_path / "fresh"
    _hostile_outputs(host_out)
    _release(zone, host_out, out, "s-exec", allow_binary=True)
    for path in (out / "run.sh", out / "model" / "w.bin"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o111 == 0, path


def test_dotfiles_need_allow_dotfiles(zone, tmp_path):
    host_out = tmp_path / "host"
    host_out.mkdir()
    (host_out / ".env").write_text("x=1\n")
    (host_out / "a.txt").write_text("fine\n")
    report = _release(zone, host_out, tmp_path / "o1", "s-dot1")
    assert [f.file for f in report.released] == ["a.txt"]
    assert not (tmp_path / "o1" / ".env").exists()
    (host_out / ".env").write_text("x=1\n")
    (host_out / "a.txt").write_text("fine\n")
    report = _release(zone, host_out, tmp_path / "o2", "s-dot2", allow_dotfiles=True)
    assert sorted(f.file for f in report.released) == [".env", "a.txt"]


def test_empty_or_missing_out_dir_is_used_as_is(zone, tmp_path):
    host_out = tmp_path / "host"
    host_out.mkdir()
    (host_out / "a.txt").write_text("fine\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    report = _release(zone, host_out, empty, "s-empty")
    assert Path(report.out_dir) == empty and (empty / "a.txt").read_text() == "fine\n"
    (host_out / "a.txt").write_text("fine\n")
    missing = tmp_path / "new" / "deeper"
    report = _release(zone, host_out, missing, "s-missing")
    assert (missing / "a.txt").read_text() == "fine\n"


def test_a_symlink_in_the_out_dir_is_not_followed(zone, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "model").symlink_to(victim)
    host_out = tmp_path / "host"
    (host_out / "model").mkdir(parents=True)
    (host_out / "model" / "w.txt").write_text("fine\n")
    report = _release(zone, host_out, out, "s-link")
    assert list(victim.iterdir()) == []
    assert (Path(report.out_dir) / "model" / "w.txt").read_text() == "fine\n"


@pytest.mark.parametrize("where", ["audit", "zones", "."])
def test_out_inside_piizone_home_is_refused(zone, tmp_path, where):
    store = zone[0]
    host_out = tmp_path / "host"
    host_out.mkdir()
    (host_out / "a.txt").write_text("fine\n")
    before = sorted(p.name for p in (store.home / "audit").iterdir())
    with pytest.raises(egress.EgressError, match="PIIZONE_HOME"):
        egress.check_release_dir(store.home / where, store.home)
    with pytest.raises(egress.EgressError, match="PIIZONE_HOME"):
        _release(zone, host_out, store.home / where, "s-home")
    assert sorted(p.name for p in (store.home / "audit").iterdir()) == before


def test_a_session_writing_into_the_project_dir_changes_nothing_there(zone, tmp_path):
    """End to end: the reported attack, through a real sandbox."""
    require_isolation()
    store = zone[0]
    project = _project(tmp_path)
    script = (
        "mkdir -p /zone/out/.git && printf '[core]\\n\\tfsmonitor = x\\n' > /zone/out/.git/config"
        " && echo 'touch /tmp/pwned' > /zone/out/run.sh && chmod +x /zone/out/run.sh"
    )
    result = sandbox.run_session("oz", ["sh", "-c", script], out_dir=project, home=store.home)
    assert result.command_status == 0
    assert (project / ".git" / "config").read_text() == "[core]\n\tbare = false\n"
    assert (project / "run.sh").read_text() == "echo mine\n"
    released = Path(result.egress.out_dir)
    assert released.parent == project
    assert (released / "run.sh").read_text() == "touch /tmp/pwned\n"
    assert not os.access(released / "run.sh", os.X_OK)
    assert not (released / ".git").exists()
    with pytest.raises(sandbox.SandboxError, match="PIIZONE_HOME"):
        sandbox.run_session("oz", ["true"], out_dir=store.home / "audit", home=store.home)
