"""`-o` targets that are not regular files are written in place, never replaced (finding 7).

The atomic write (temp file + rename) replaced whatever `-o` named by a regular file: `-o
/dev/null` as root turned /dev/null into a file and broke the machine. Character devices and
FIFOs are now streamed into in place; a symlink is followed only to one of those, and refused
otherwise; block devices, sockets and directories are refused.

The tests use a private character device (mknod of /dev/null's numbers in tmp_path) first: on
code without the fix it is the replica that gets replaced, never the machine's /dev/null.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from piizone.cli.main import app

runner = CliRunner()
CSV = "id,email\n1,jane.doe@example.com\n"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def null_device(directory: Path) -> Path:
    """A character device with /dev/null's numbers, private to the test."""
    path = directory / "null"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def is_char_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    return path


class FifoReader:
    """Reads a FIFO to EOF in a thread (a writer's open blocks until a reader is there)."""

    def __init__(self, path: Path):
        self.path = path
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with open(self.path, "rb") as f:
            self.data = f.read()

    def join(self) -> bytes:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the FIFO was never closed by the writer"
        return self.data


def unblock(path: Path) -> None:
    """If the writer never opened the FIFO, open its write end so the reader thread ends."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


@needs_root
def test_redact_into_a_character_device_leaves_it_a_device(tmp_path, src, piizone_home):
    dev = null_device(tmp_path)
    result = runner.invoke(app, ["redact", str(src), "-o", str(dev)])
    assert result.exit_code == 0, result.stderr
    assert is_char_device(dev)
    assert not list(tmp_path.glob(".null.*"))  # no temp file left beside it


@needs_root
def test_redact_to_dev_null_leaves_dev_null_a_device(tmp_path, src, piizone_home):
    # The same on a private replica first: if that one gets replaced, stop before /dev/null.
    replica = null_device(tmp_path)
    assert runner.invoke(app, ["redact", str(src), "-o", str(replica)]).exit_code == 0
    assert is_char_device(replica), "would have replaced /dev/null: not running it"
    result = runner.invoke(app, ["redact", str(src), "-o", "/dev/null"])
    assert result.exit_code == 0, result.stderr
    assert is_char_device(Path("/dev/null"))


def test_redact_into_a_fifo_streams_into_it(tmp_path, src, piizone_home):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    try:
        result = runner.invoke(app, ["redact", str(src), "-o", str(fifo)])
    finally:
        unblock(fifo)
    data = reader.join()
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert data.startswith(b"id,email\n") and b"jane.doe" not in data


def test_scan_report_into_a_fifo(tmp_path, src):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    try:
        result = runner.invoke(app, ["scan", str(src), "--json", "-o", str(fifo)])
    finally:
        unblock(fifo)
    data = reader.join()
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(data)["totals"].get("EMAIL_ADDRESS") == 1


@needs_root
def test_scan_and_audit_export_into_a_character_device(tmp_path, src, piizone_home):
    dev = null_device(tmp_path)
    assert runner.invoke(app, ["scan", str(src), "--json", "-o", str(dev)]).exit_code == 0
    assert is_char_device(dev)
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["audit", "export", "-o", str(dev)])
    assert result.exit_code == 0, result.stderr
    assert is_char_device(dev)


def test_symlink_to_a_regular_file_is_refused(tmp_path, src, piizone_home):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    result = runner.invoke(app, ["redact", str(src), "-o", str(link)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert link.is_symlink() and victim.read_text() == "keep me\n"


@needs_root
def test_symlink_to_a_character_device_is_written_through(tmp_path, src, piizone_home):
    dev = null_device(tmp_path)
    link = tmp_path / "stdout-like"
    link.symlink_to(dev)
    result = runner.invoke(app, ["redact", str(src), "-o", str(link)])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and is_char_device(dev)


def test_a_directory_or_socket_target_is_refused(tmp_path, src, piizone_home):
    import socket

    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        for target in (tmp_path, sock_path):
            result = runner.invoke(app, ["redact", str(src), "-o", str(target)])
            assert result.exit_code == 2, (target, result.stderr)
            assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


@needs_root
def test_export_policy_into_a_directory_whose_policy_yaml_is_a_device_or_link(
    tmp_path, piizone_home
):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_text(CSV)
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["zone", "create", "z", "--from", str(src)]).exit_code == 0
    out = tmp_path / "deploy"
    out.mkdir()
    os.mknod(out / "policy.yaml", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = runner.invoke(app, ["zone", "export-policy", "z", "-o", str(out)])
    assert result.exit_code == 2 and "not a regular file" in result.stderr
    assert is_char_device(out / "policy.yaml")

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (out / "policy.yaml").unlink()
    (out / "policy.yaml").symlink_to(victim)
    result = runner.invoke(app, ["zone", "export-policy", "z", "-o", str(out)])
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert victim.read_text() == "keep me\n"
