"""piizone.fs: the one atomic write, the one flock and file digests."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from piizone.fs import TargetNotRegular, atomic_write, file_sha256, flocked


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_with_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    assert atomic_write(path, b"new content") == len(b"new content")
    assert path.read_bytes() == b"new content"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    atomic_write(path, b"public", mode=0o644)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_a_writer_returns_its_result_and_a_failing_writer_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    assert atomic_write(path, lambda f: f.write(b"abc") and 42) == 42
    assert path.read_bytes() == b"abc"

    def half_then_fail(f) -> None:
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"abc"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_target_that_is_not_a_regular_file_is_not_replaced(tmp_path: Path, kind: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / "target"
    if kind == "symlink":
        path.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    with pytest.raises(TargetNotRegular) as e:
        atomic_write(path, b"x")
    assert (
        e.value.kind
        == {
            "symlink": "a symbolic link",
            "fifo": "not a regular file",
            "directory": "a directory",
        }[kind]
    )
    assert victim.read_text() == "keep me"
    assert (kind == "symlink") == path.is_symlink()
    assert (kind == "fifo") == stat.S_ISFIFO(os.lstat(path).st_mode)
    assert leftovers(tmp_path) == []


def test_a_target_that_appears_while_writing_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    with pytest.raises(TargetNotRegular):
        atomic_write(path, lambda f: path.symlink_to(victim))
    assert path.is_symlink() and victim.read_text() == "keep me"
    assert leftovers(tmp_path) == []


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    atomic_write(path, b"first", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write(path, b"second", overwrite=False)
    assert path.read_bytes() == b"first"
    assert leftovers(tmp_path) == []


def test_flocked_excludes_a_second_holder(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    with flocked(lock) as held:
        assert held
        assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
        # flock belongs to the open file description: a second open conflicts even here.
        with flocked(lock, wait=False) as second:
            assert second is False
        with flocked(lock, shared=True, wait=False) as reader:
            assert reader is False
    with flocked(lock, wait=False) as again:
        assert again is True


def test_flocked_shared_readers_coexist_and_a_missing_lock_file(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    with pytest.raises(FileNotFoundError), flocked(lock, shared=True):
        pass
    with flocked(lock, shared=True, missing_ok=True) as held:
        assert held and not lock.exists()  # a reader never creates it
    lock.touch()
    with flocked(lock, shared=True) as a, flocked(lock, shared=True, wait=False) as b:
        assert a and b


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "data"
    data = os.urandom(3 << 20)
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
