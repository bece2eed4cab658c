"""File and directory sources: one item per supported file, hidden entries skipped, symlinks
that leave the directory refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from piizone.scrubbers.formats import detect_format, is_table_format
from piizone.zones.provision.sources.items import Source, SourceError, SourceItem


def expand_user(spec: str) -> Path:
    """`~` and `~user` expanded; an unknown user is a SourceError (pathlib raises RuntimeError)."""
    try:
        return Path(spec).expanduser()
    except RuntimeError:
        raise SourceError(f"{spec.split('/', 1)[0]}: no such user's home directory") from None


def resolve_path(spec: str) -> Source:
    if "\0" in spec:
        raise SourceError("a source path cannot contain a NUL character")
    given = expand_user(spec)
    shown = str(given.absolute())
    try:
        st = given.stat()
    except FileNotFoundError:
        raise SourceError(f"{shown}: no such file or directory") from None
    except OSError as e:
        raise SourceError(f"{shown}: cannot access ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        return _resolve_dir(given, shown)
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{shown}: not a regular file or directory")
    fmt = detect_format(given)
    if fmt is None:
        raise SourceError(
            f"{shown}: unsupported file type {given.suffix or '(no extension)'!r}",
            hint="supported: csv, tsv, jsonl, json, parquet, txt/md",
        )
    # A single file named explicitly may be a symlink: the user chose its target.
    real = Path(os.path.realpath(given))
    item = _file_item(real, given.name, fmt, shown, st.st_size)
    return Source(uri=shown, kind="files", _items=[item])


def _resolve_dir(given: Path, shown: str) -> Source:
    root = Path(os.path.realpath(given))
    if not os.access(root, os.R_OK | os.X_OK):
        raise SourceError(f"{shown}: permission denied")
    top = given.absolute().name or root.name  # "." or "/data/" still name the directory
    if not top:
        raise SourceError(f"{shown}: refusing to read the whole filesystem root")
    items: list[SourceItem] = []
    skipped: list[tuple[str, str]] = []

    def walk_error(err: OSError) -> None:
        rel = _rel(root, Path(err.filename)) if err.filename else "."
        raise SourceError(f"{shown}: cannot read {rel} ({err.strerror})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error, followlinks=False):
        here = Path(dirpath)
        dirnames.sort()
        for d in list(dirnames):
            full = here / d
            rel = f"{top}/{_rel(root, full)}"
            if d.startswith("."):
                dirnames.remove(d)
                skipped.append((rel, "hidden directory"))
            elif full.is_symlink():
                _refuse_escape(root, full, shown)
                # Its target is inside the source and read there; following it too would read
                # the same files twice and could loop.
                dirnames.remove(d)
                skipped.append((rel, "symlink to a directory inside the source"))
        for name in sorted(filenames):
            full = here / name
            rel = f"{top}/{_rel(root, full)}"
            if name.startswith("."):
                skipped.append((rel, "hidden file"))
                continue
            if full.is_symlink():
                _refuse_escape(root, full, shown)
            try:
                st = full.stat()
            except FileNotFoundError:
                skipped.append((rel, "broken symlink" if full.is_symlink() else "vanished"))
                continue
            except OSError as e:
                raise SourceError(f"{shown}: cannot access {rel} ({e.strerror})") from None
            if not stat.S_ISREG(st.st_mode):
                skipped.append((rel, "not a regular file"))
                continue
            fmt = detect_format(name)
            if fmt is None:
                skipped.append((rel, f"unsupported file type {full.suffix or '(no extension)'}"))
                continue
            real = Path(os.path.realpath(full))
            items.append(_file_item(real, rel, fmt, shown, st.st_size))
    return Source(uri=shown, kind="files", skipped=skipped, _items=items)


def _file_item(real: Path, relpath: str, fmt: str, shown: str, size: int) -> SourceItem:
    if not os.access(real, os.R_OK):
        raise SourceError(f"{shown}: {relpath}: permission denied")
    kind = "table" if is_table_format(fmt) else "text"
    return SourceItem(relpath=relpath, kind=kind, fmt=fmt, source_uri=shown, path=real, size=size)


def _refuse_escape(root: Path, link: Path, shown: str) -> None:
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(root):
        raise SourceError(
            f"{shown}: symlink {_rel(root, link)} points outside the source directory; refused",
            hint="copy the file into the directory, or pass its target as a separate --from",
        )


def _rel(root: Path, p: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.name
