"""Where a session's outputs go: clean files into a fresh release directory, flagged ones
encrypted into the zone's quarantine.

Release goes into a fresh directory only (`claim_release_dir`): `--out DIR` itself when it does
not exist or is empty, else a new `DIR/<session>/`. Nothing there is overwritten (O_EXCL), no
symlink is followed (each directory opened relative to its parent), no exec bit is carried
(files 0644), and a DIR inside $PIIZONE_HOME is refused. Quarantined files are encrypted with
the zone's data key under numbers, not names (a name can itself be PII).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from piizone.fs import is_within
from piizone.zones.home import fsync_dir
from piizone.zones.leakcheck.output_tree import DIR_FLAGS, EgressError
from piizone.zones.storage.crypto import EncryptingWriter

RELEASED_FILE_MODE = 0o644  # never an exec bit: a released `run.sh` must not become runnable
RELEASED_DIR_MODE = 0o755


def check_release_dir(out_dir: Path, home: Path) -> Path:
    """The real path of `--out DIR`, refused when it is inside $PIIZONE_HOME or not a dir."""
    real = Path(os.path.realpath(out_dir))
    if is_within(str(real), os.path.realpath(home)):
        raise EgressError(
            f"--out {out_dir} is inside $PIIZONE_HOME",
            hint="release outputs to a directory outside $PIIZONE_HOME (keys, audit log, zones)",
        )
    if os.path.lexists(real) and not real.is_dir():
        raise EgressError(f"--out {out_dir} exists and is not a directory")
    return real


def claim_release_dir(out_dir: Path, session: str, home: Path) -> Path:
    """A directory nobody else has written to: DIR if new or empty, else a new DIR/<session>.

    Releasing into a populated directory let a session overwrite files there (a project's
    `.git/config`, a script that the caller later runs); a fresh one has nothing to clobber.
    """
    real = check_release_dir(out_dir, home)
    real.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(real, RELEASED_DIR_MODE)
        return real
    except FileExistsError:
        pass
    with os.scandir(real) as entries:
        if next(entries, None) is None:
            return real
    fresh = real / session
    os.mkdir(fresh, RELEASED_DIR_MODE)  # FileExistsError: never reuse one
    return fresh


def is_dotfile(rel: str) -> bool:
    """Any part of the path hidden (`.git/config`, `.bashrc`, `a/.env`)."""
    return any(part.startswith(".") for part in rel.split("/"))


def write_released(root_fd: int, rel: str, src: Path) -> None:
    """Copy `src` to `rel` under the dir `root_fd`: every directory opened relative to its
    parent without following symlinks, the file created exclusively, mode 0644."""
    parts = rel.split("/")
    fd = os.dup(root_fd)
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):  # made by an earlier file of this release
                os.mkdir(part, RELEASED_DIR_MODE, dir_fd=fd)
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        out = os.open(parts[-1], flags, RELEASED_FILE_MODE, dir_fd=fd)
        with (
            os.fdopen(out, "wb") as dst,
            open(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f,
        ):
            shutil.copyfileobj(f, dst, 1 << 20)
            # The umask may only take bits away; make sure none was added (no exec bit).
            os.fchmod(dst.fileno(), RELEASED_FILE_MODE & ~_umask())
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def quarantine_file(
    path: Path, qdir: Path, index: int, dek: bytes, zone_id: str, session: str
) -> None:
    """Encrypt `path` into the quarantine with the zone's DEK, then remove the plaintext.

    Named by number, not by the output's name: a name can itself be PII (the index, encrypted,
    maps numbers to names)."""
    target = qdir / f"{index:05d}.piiz"
    _encrypt_into(target, None, path, dek, zone_id, f"quarantine/{session}/{index:05d}")
    path.unlink()


def write_quarantine_index(
    qdir: Path, names: list[str], dek: bytes, zone_id: str, session: str
) -> None:
    data = json.dumps({"version": 1, "files": names}).encode()
    _encrypt_into(qdir / "index.piiz", data, None, dek, zone_id, f"quarantine/{session}/index")


def _encrypt_into(
    target: Path, data: bytes | None, src: Path | None, dek: bytes, zone_id: str, bound: str
) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as dst:
        # Bound to the zone id and a quarantine path: it cannot be swapped in as zone data.
        writer = EncryptingWriter(dst, dek, zone_id=zone_id, path=bound)
        if src is not None:
            with open(src, "rb") as f:
                shutil.copyfileobj(f, writer, 1 << 20)
        else:
            writer.write(data or b"")
        writer.close()
        dst.flush()
        os.fsync(dst.fileno())
    fsync_dir(target.parent)
