"""Egress check: what a sandboxed command wrote to /zone/out is scanned before it leaves.

Rules (docs/sandbox.md, "Egress"):

* Regular files only. Symlinks, fifos, devices and sockets are never followed nor released: a
  symlink to /etc/shadow written inside must not make us copy the host's file out.
* A file is *text* when its extension says so (csv, tsv, json, jsonl, txt, md, ipynb, log) or
  when its content looks like text (no NUL, few control bytes in the first 64 KiB): renaming
  `leak.csv` to `leak.bin` does not skip the scan. Text is scanned line by line with the
  zone's own policy detectors, and token-wise against the zone's keyed fingerprints of the
  original PII values seen at provisioning and its canaries (piizone.zones.leakcheck.fingerprints,
  piizone.zones.leakcheck.canaries); any finding or hit quarantines the whole file.
* Anything else is *binary* (model weights, pickles, images): released, and listed in the report
  with its size and sha256, because weights are the point of training and detectors cannot read
  them. That is a known gap, stated in the docs: a model can memorise records (canaries catch
  that when it writes them out, e.g. as generated samples).
* Release goes into a fresh directory only (`claim_release_dir`): `--out DIR` itself when it
  does not exist or is empty, else a new `DIR/<session>/`. Nothing there is overwritten
  (O_EXCL), no symlink is followed (O_NOFOLLOW, each directory opened relative to its parent),
  no exec bit is carried (files 0644), dotfiles stay behind unless asked for, and a DIR inside
  $PIIZONE_HOME is refused: a session once wrote `.git/config` and `run.sh` into a project.
* The tree is walked iteratively within limits (depth, entries, path length, bytes): over a
  limit nothing is released (`withheld`, an audited denial) — a 1,200-deep tree once crashed
  the recursive walk, left the raw files on disk and broke every later session.
* Quarantined files are encrypted with the zone's data key into
  $PIIZONE_HOME/zones/.quarantine/<session>/ and the plaintext is removed; the report names file,
  line and entity type with masked context, never the value.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piizone.fs import is_within
from piizone.scrubbers.masking import mask_value
from piizone.zones.audit import log as audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.home import ensure_private_dir, fsync_dir
from piizone.zones.leakcheck.canaries import zone_matcher
from piizone.zones.leakcheck.decoded_views import decoded_views, digit_views
from piizone.zones.leakcheck.output_formats import MAX_DECODED_BYTES, UnreadableOutput, text_lines
from piizone.zones.storage.crypto import EncryptingWriter
from piizone.zones.storage.store import ZoneStore

if TYPE_CHECKING:  # the engine loads Presidio and spaCy: imported when first needed
    from piizone.scrubbers.engine import Engine
    from piizone.zones.leakcheck.fingerprints import Matcher

TEXT_EXTENSIONS = frozenset({".csv", ".tsv", ".json", ".jsonl", ".txt", ".md", ".ipynb", ".log"})
_SNIFF_BYTES = 64 * 1024
MAX_FINDINGS_PER_FILE = 20
RELEASED_FILE_MODE = 0o644  # never an exec bit: a released `run.sh` must not become runnable
RELEASED_DIR_MODE = 0o755
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# Limits of what one session may hand to the egress check; over any, nothing is released.
# Generous for training outputs (checkpoints, a results tree), far below what breaks a walk.
MAX_OUTPUT_DEPTH = 32
MAX_OUTPUT_ENTRIES = 10_000
MAX_OUTPUT_PATH = 1024  # characters of a relative path
MAX_OUTPUT_BYTES = 64 << 30


class EgressError(ZoneError):
    """The outputs of a session could not be checked or released."""


class OutputLimitExceeded(EgressError):
    """The outputs exceed a limit of the egress check (depth, entries, path length, bytes)."""


@dataclass
class Finding:
    file: str
    entity: str
    context: str  # masked: the value itself never appears
    line: int | None = None
    # "policy" (detectors) | "fingerprint" | "canary" | "decoded" (in a decoded view of the
    # line) | "name" (in the file's path) | "binary" (unreadable, held unless --allow-binary)
    reason: str = "policy"


@dataclass
class OutputFile:
    file: str
    bytes: int
    kind: str  # "text" | "data" (a known binary format, scanned) | "binary" (not scanned)
    sha256: str = ""


@dataclass
class EgressReport:
    session: str
    released: list[OutputFile] = field(default_factory=list)
    quarantined: list[OutputFile] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # not regular files
    findings: list[Finding] = field(default_factory=list)
    entities: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # hits per reason
    out_dir: str = ""
    quarantine_dir: str = ""
    withheld: str = ""  # why nothing was released (a limit), empty otherwise
    stream_lines_masked: int = 0  # lines of the command's stdout/stderr masked or withheld
    stream_entities: dict[str, int] = field(default_factory=dict)

    @property
    def bytes_released(self) -> int:
        return sum(f.bytes for f in self.released)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bytes_released"] = self.bytes_released
        return data


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
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
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


def is_text_output(path: Path) -> bool:
    """By extension, else by content: no NUL byte and few control bytes in the first 64 KiB.

    Deliberately loose (latin-1 or broken UTF-8 counts as text): a file wrongly taken for text
    costs a scan, a file wrongly taken for binary would leave unscanned.
    """
    if path.suffix.lower() in TEXT_EXTENSIONS:
        return True
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if b"\x00" in head:
        return False
    control = sum(1 for b in head if b < 32 and b not in b"\t\n\r\f\b\x1b")
    return control <= len(head) // 10


def iter_outputs(root: Path):
    """(relpath, path, lstat) for everything under root, without following symlinks.

    Iterative, and within the limits above: the whole listing is checked before anything is
    scanned, so a tree over a limit fails before any file is looked at. Raises
    OutputLimitExceeded.
    """
    found: list[tuple[str, Path, os.stat_result]] = []
    total = 0
    stack = [("", 0)]
    while stack:
        rel_dir, depth = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as it:
            entries = sorted(it, key=lambda e: e.name)
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if len(found) >= MAX_OUTPUT_ENTRIES:
                raise OutputLimitExceeded(f"more than {MAX_OUTPUT_ENTRIES} entries")
            if len(rel) > MAX_OUTPUT_PATH:
                raise OutputLimitExceeded(f"a path longer than {MAX_OUTPUT_PATH} characters")
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if depth + 1 > MAX_OUTPUT_DEPTH:
                    raise OutputLimitExceeded(
                        f"directories nested deeper than {MAX_OUTPUT_DEPTH} (depth limit)"
                    )
                subdirs.append(rel)
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
            if total > MAX_OUTPUT_BYTES:
                raise OutputLimitExceeded(f"more than {MAX_OUTPUT_BYTES} bytes")
            found.append((rel, root / rel, st))
        stack += [(d, depth + 1) for d in reversed(subdirs)]
    return found


def remove_tree(root: Path) -> None:
    """Remove `root` and everything below it, however deep, never following a symlink.

    shutil.rmtree recurses (RecursionError near 1,000 levels, which a session can create) and
    uses full paths (ENAMETOOLONG). This walks down with one fd, each directory opened relative
    to its parent, and climbs back with "..": safe because nothing writes there any more (the
    sandbox is gone). Directories the command made unreadable are opened up first.
    """
    root = Path(root)
    try:
        fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(root)
        return
    names: list[str] = []
    try:
        while True:
            child = None
            with os.scandir(fd) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:
                try:
                    sub = os.open(child, _DIR_FLAGS, dir_fd=fd)
                except PermissionError:
                    os.chmod(child, 0o700, dir_fd=fd)
                    sub = os.open(child, _DIR_FLAGS, dir_fd=fd)
                os.fchmod(sub, 0o700)  # listable and writable, whatever the command set
                os.close(fd)
                fd = sub
                names.append(child)
                continue
            if not names:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(root)


def scan_text_output(path: Path, engine) -> tuple[dict[str, int], list[Finding]]:
    """Scan a file as text whatever its extension (line numbers for every format)."""
    from piizone.scrubbers.scan import scan_file

    with tempfile.TemporaryDirectory(prefix="piizone-egress-") as tmp:
        # scan_file picks the reader by extension; a .txt link makes it read any file as text.
        alias = Path(tmp) / "output.txt"
        os.symlink(path, alias)
        source = scan_file(alias, engine)
    findings = [
        Finding(file="", entity=s.entity, context=s.context, line=s.line)
        for s in source.samples[:MAX_FINDINGS_PER_FILE]
    ]
    return dict(source.entities), findings


def match_text_output(path: Path, matcher, engine=None) -> list[Finding]:
    """Fingerprint and canary hits in a text file, line by line, masked; and what the decoded
    views of each line hold (`line_view_findings`).

    The context around a hit masks the other hits *and* what the policy's detectors find on
    that line (`engine`), so the report never shows a neighbouring value raw.
    """
    from piizone.scrubbers.findings import Finding as Span
    from piizone.scrubbers.findings import resolve_overlaps
    from piizone.scrubbers.masking import masked_context

    findings: list[Finding] = []
    with open(path, "rb") as f:
        for number, line in enumerate(_text_lines(f), 1):
            hits = matcher.scan_line(line) if matcher else []
            if hits:
                spans = [Span(h.start, h.end, h.entity_type, 1.0) for h in hits]
                detected = list(engine.analyze(line)) if engine is not None else []
                masked = resolve_overlaps(spans + detected)
                for hit, span in zip(hits, spans, strict=True):
                    context = masked_context(line, span, masked)
                    findings.append(Finding("", hit.entity_type, context, number, hit.reason))
            findings += line_view_findings(line, number, matcher, engine)
    return findings


def line_view_findings(
    line: str, number: int | None, matcher, engine, skip: frozenset[str] = frozenset()
) -> list[Finding]:
    """Findings in the decoded views of `line` (zones.leakcheck.decoded_views): base64, hex, URL and
    `\\u` escapes decoded, NFKC without zero-width characters, digits joined and spelled
    digits written. Reason "decoded"; the context is the view, masked."""
    from piizone.scrubbers.findings import resolve_overlaps
    from piizone.scrubbers.masking import masked_context

    views = decoded_views(line)
    digits = digit_views(line, views) if matcher else []
    if not views and not digits:
        return []
    # What the line shows as written is reported by the other checks; a view repeats it.
    seen = {(h.entity_type, _alnum(line[h.start : h.end])) for h in _hits(matcher, line)}
    if views and engine is not None:
        seen |= {(d.entity_type, _alnum(line[d.start : d.end])) for d in engine.analyze(line)}
    found: list[Finding] = []
    for view, use_engine in [(v, True) for v in views] + [(v, False) for v in digits]:
        hits = [_span(h) for h in _hits(matcher, view)]
        if use_engine and engine is not None:
            hits += [d for d in engine.analyze(view) if d.entity_type not in skip]
        spans = resolve_overlaps(hits)
        for span in spans:
            if (span.entity_type, _alnum(view[span.start : span.end])) in seen:
                continue
            context = masked_context(view, span, spans)
            found.append(Finding("", span.entity_type, context, number, "decoded"))
    return found


def _hits(matcher, text: str) -> list:
    return matcher.scan_line(text) if matcher else []


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _text_lines(f):
    # Lines end at "\n" only, as in scrubbers.scan: line numbers agree between the two checks.
    for raw in f:
        yield raw.decode("utf-8", errors="replace")


def remask_policy_findings(path: Path, findings: list[Finding], matcher, engine) -> None:
    """Rebuild the detectors' contexts of a file that also has fingerprint or canary hits.

    A detector's context masks only what the detectors found, so a fingerprinted value next
    to it (the very thing they missed) would show raw. Each context is rebuilt from its own
    line with both kinds of span masked; one that cannot be placed is withheld.
    """
    from piizone.scrubbers.findings import Finding as Span
    from piizone.scrubbers.findings import resolve_overlaps
    from piizone.scrubbers.masking import masked_context

    wanted = {f.line for f in findings if f.line}
    lines: dict[int, str] = {}
    with open(path, "rb") as fh:
        for number, line in enumerate(_text_lines(fh), 1):
            if number in wanted:
                lines[number] = line
    for f in findings:
        line = lines.get(f.line or 0)
        f.context = "(context withheld)"
        if line is None:
            continue
        hits = [Span(h.start, h.end, h.entity_type, 1.0) for h in matcher.scan_line(line)]
        spans = resolve_overlaps(hits + list(engine.analyze(line)))
        focus = next((s for s in spans if s.entity_type == f.entity), None)
        if focus is not None:
            f.context = masked_context(line, focus, spans)


def release_outputs(
    host_out: Path,
    out_dir: Path,
    *,
    store: ZoneStore,
    name: str,
    manifest: dict[str, Any],
    dek: bytes,
    session: str,
    allow_dotfiles: bool = False,
    allow_binary: bool = False,
) -> EgressReport:
    """Scan the session's outputs; quarantine flagged files (encrypted), copy clean ones out
    into a fresh directory (see `claim_release_dir`)."""
    check_release_dir(out_dir, store.home)  # before any scan: a refused --out wastes nothing
    report = EgressReport(session=session, out_dir=str(out_dir))
    engine = None
    matcher = None
    entities: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    clean: list[tuple[str, Path, OutputFile]] = []
    qdir = None
    qnames: list[str] = []
    try:
        outputs = iter_outputs(host_out)
    except OutputLimitExceeded as e:
        # Fail closed: release nothing, say why, and leave the staging dir to the caller's
        # clean-up (nothing was scanned, so nothing of it may leave).
        report.withheld = str(e)
        _record_scan(report, name, session, store)
        return report
    except (OSError, RecursionError) as e:
        report.withheld = f"the outputs could not be listed ({type(e).__name__})"
        _record_scan(report, name, session, store)
        return report
    scratch = None
    try:
        for number, (rel, path, st) in enumerate(outputs):
            if engine is None:
                engine = _engine_for_zone(store, name)
                matcher = zone_matcher(store.current_dir(name), manifest, dek)
            # A name is output too (a file named after a person's e-mail and SSN): a flagged
            # one holds the file and is shown masked everywhere, quarantine included.
            name_findings = name_check(rel, matcher, engine)
            shown = mask_value(rel, "") if name_findings else rel
            if not stat.S_ISREG(st.st_mode):
                report.skipped.append({"file": shown, "reason": "not a regular file"})
                continue
            if is_dotfile(rel) and not allow_dotfiles:
                report.skipped.append({"file": shown, "reason": "dotfile (see --allow-dotfiles)"})
                continue
            item = OutputFile(file=shown, bytes=st.st_size, kind="binary", sha256=_sha256(path))
            if st.st_size and scratch is None:
                scratch = ensure_private_dir(host_out.parent / "extracted")
            item.kind, found, findings = check_file(
                path, st.st_size, engine, matcher, scratch / f"{number}.txt" if scratch else None,
                allow_binary=allow_binary,
            )  # fmt: skip
            findings = name_findings + findings
            if findings:
                entities.update(found)
                reasons.update({"policy": sum(found.values())} if found else {})
                reasons.update(f.reason for f in findings if f.reason != "policy")
                report.findings += [
                    Finding(shown, f.entity, f.context, f.line, f.reason)
                    for f in findings[:MAX_FINDINGS_PER_FILE]
                ]
                if qdir is None:
                    parent = ensure_private_dir(store.root / ".quarantine")
                    qdir = ensure_private_dir(parent / session)
                    report.quarantine_dir = str(qdir)
                _quarantine(path, qdir, len(report.quarantined), dek, manifest["id"], session)
                report.quarantined.append(item)
                qnames.append(rel)
                continue
            clean.append((rel, path, item))
        if qnames and qdir is not None:  # qdir is made with the first quarantined file
            _write_quarantine_index(qdir, qnames, dek, manifest["id"], session)
        if clean:
            release_dir = claim_release_dir(out_dir, session, store.home)
            report.out_dir = str(release_dir)
            root_fd = os.open(release_dir, _DIR_FLAGS)
            try:
                for rel, path, item in clean:
                    write_released(root_fd, rel, path)
                    report.released.append(item)
            finally:
                os.close(root_fd)
    except (OSError, EgressError) as e:
        # Audited like any check (fail closed: what was not released stays in the staging dir,
        # which the session removes).
        audit.record(
            "egress.scan",
            zone=name,
            outcome="failure",
            details={
                "session": session,
                "error": type(e).__name__,
                "files_released": len(report.released),
                "files_quarantined": len(report.quarantined),
            },
            home=store.home,
        )
        if isinstance(e, EgressError):
            raise
        raise EgressError(f"cannot release the session's outputs ({e.strerror})") from e
    report.entities = dict(entities)
    report.reasons = dict(reasons)
    _record_scan(report, name, session, store)
    return report


def check_file(
    path: Path, size: int, engine, matcher, scratch: Path | None, *, allow_binary: bool
) -> tuple[str, dict[str, int], list[Finding]]:
    """(kind, entity counts, findings) for one regular file: text scanned as text, a known
    binary format read as data (its text extracted to `scratch`, a private path), an unknown
    binary flagged as such unless `allow_binary`."""
    findings: list[Finding] = []
    if not size:
        return "text", {}, []
    scanned, kind = path, "text"
    if not is_text_output(path):
        kind = "binary"
        try:
            lines = text_lines(path)
            if lines is not None and scratch is not None:
                scanned, kind = _extract(lines, scratch), "data"
        except UnreadableOutput as e:
            if not allow_binary:
                findings.append(Finding("", "BINARY", str(e), None, "binary"))
        if kind == "binary" and not allow_binary and not findings:
            why = "not content-scanned (see --allow-binary)"
            findings.append(Finding("", "BINARY", why, None, "binary"))
        if kind == "binary":
            return kind, {}, findings
    found, policy = scan_text_output(scanned, engine)
    hits = match_text_output(scanned, matcher, engine)
    if hits and policy:
        remask_policy_findings(scanned, policy, matcher, engine)
    encoded = {h.line for h in hits if h.reason == "decoded"}
    for f in policy:
        if f.line in encoded:  # the line's context would show the encoded value
            f.context = "(context withheld: an encoded value on this line)"
    # Canaries first: the most telling finding must survive the cap.
    return kind, found, sorted(hits, key=lambda h: h.reason != "canary") + policy


def check_work_dir(
    work_dir: Path, *, store: ZoneStore, name: str, manifest: dict[str, Any], dek: bytes,
    scratch: Path,
) -> list[tuple[str, list[str]]]:  # fmt: skip
    """(masked path, entity types) of every file under `work_dir` holding an original value
    of the zone (its fingerprints) or a canary, as written, decoded or in its name.

    `--work DIR` is shown to the sandbox read-only; a raw export left there could be read and
    written out encoded. Only the zone's own values are looked for, not the detectors'
    findings: a code dir is full of addresses, example e-mails and words NER takes for names,
    while a raw export of the zone's sources holds exactly what the fingerprints know. Within
    the output limits (OutputLimitExceeded otherwise)."""
    matcher = zone_matcher(store.current_dir(name), manifest, dek)
    flagged: list[tuple[str, list[str]]] = []
    if not matcher:
        return flagged
    for number, (rel, path, st) in enumerate(iter_outputs(work_dir)):
        hits = [_span(h) for h in matcher.scan_line(rel.replace("/", " ").replace("_", " "))]
        findings = [Finding("", h.entity_type, "", None, "name") for h in hits]
        findings += line_view_findings(rel, None, matcher, None)
        shown = mask_value(rel, "") if findings else rel
        if stat.S_ISREG(st.st_mode) and st.st_size:
            scanned = path
            if not is_text_output(path):
                try:
                    lines = text_lines(path)
                except UnreadableOutput:
                    lines = None
                if lines is None:
                    continue  # unknown binaries cannot be read either way
                try:
                    scanned = _extract(lines, scratch / f"work-{number}.txt")
                except UnreadableOutput:
                    continue
            findings += match_text_output(scanned, matcher, None)
        if findings:
            flagged.append((shown, sorted({f.entity for f in findings})))
    return flagged


def _record_scan(report: EgressReport, name: str, session: str, store: ZoneStore) -> None:
    details = {
        "session": session,
        "files_released": len(report.released),
        "files_quarantined": len(report.quarantined),
        "files_skipped": len(report.skipped),
        "bytes_released": report.bytes_released,
        "binary_released": sum(1 for f in report.released if f.kind == "binary"),
        "entities": report.entities,
        "reasons": report.reasons,
    }
    if report.withheld:
        details["withheld"] = report.withheld
    audit.record(
        "egress.scan",
        zone=name,
        outcome="success" if not (report.quarantined or report.withheld) else "denied",
        details=details,
        home=store.home,
    )


def _engine_for_zone(store: ZoneStore, name: str) -> Engine:
    from piizone.scrubbers.engine import engine_for
    from piizone.scrubbers.policy import parse_policy

    policy_path = store.current_dir(name) / "policy.yaml"
    policy = parse_policy(policy_path.read_text("utf-8"), source=f"zone {name} policy")
    return engine_for(policy)


def _quarantine(path: Path, qdir: Path, index: int, dek: bytes, zone_id: str, session: str) -> None:
    """Encrypt `path` into the quarantine with the zone's DEK, then remove the plaintext.

    Named by number, not by the output's name: a name can itself be PII (the index, encrypted,
    maps numbers to names)."""
    target = qdir / f"{index:05d}.piiz"
    _encrypt_into(target, None, path, dek, zone_id, f"quarantine/{session}/{index:05d}")
    path.unlink()


def _write_quarantine_index(
    qdir: Path, names: list[str], dek: bytes, zone_id: str, session: str
) -> None:
    import json

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


# Entity types that only the NER model finds: on a bare file name it has no context and reads
# "ok.txt" as a place and "curve.npy" as a person. Names are checked with the pattern
# detectors (e-mail, SSN, phone, card, …) and the zone's fingerprints and canaries (which do
# know the people of the zone: `maria_gonzalez.csv`).
NAME_UNCHECKED_ENTITIES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", "DATE_TIME"})


def name_check(rel: str, matcher, engine) -> list[Finding]:
    """Findings in an output's path: pattern detectors, fingerprints/canaries and decoded
    views, on the path as written and with its separators (`/`, `_`) read as spaces.
    Contexts are withheld: the name is the value."""
    from piizone.scrubbers.findings import resolve_overlaps

    found: list[Finding] = []
    for text in dict.fromkeys([rel, rel.replace("/", " ").replace("_", " ")]):
        spans = [
            s
            for s in (engine.analyze(text) if engine is not None else [])
            if s.entity_type not in NAME_UNCHECKED_ENTITIES
        ]
        spans += [_span(h) for h in (matcher.scan_line(text) if matcher else [])]
        for span in resolve_overlaps(spans):
            found.append(Finding("", span.entity_type, "(in the file name)", None, "name"))
        for f in line_view_findings(text, None, matcher, engine, NAME_UNCHECKED_ENTITIES):
            found.append(Finding("", f.entity, "(in the file name, decoded)", None, "name"))
    return found


def _span(hit):
    from piizone.scrubbers.findings import Finding as Span

    return Span(hit.start, hit.end, hit.entity_type, 1.0)


def _extract(lines, target: Path) -> Path:
    """Write the text read out of a binary format to `target` (the session's private dir,
    removed with it), bounded like a decompression."""
    written = 0
    with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        for line in lines:
            line = line.replace("\n", " ") + "\n"
            written += len(line)
            if written > MAX_DECODED_BYTES:
                raise UnreadableOutput(f"more than {MAX_DECODED_BYTES} bytes of text")
            f.write(line)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StreamScanner:
    """Scans what a session's command prints (stdout/stderr of `sandbox run`) line by line as
    it streams, and masks what it finds before it reaches the caller's terminal or logs.

    The pattern detectors (not the NER types: see NAME_UNCHECKED_ENTITIES) and the zone's
    fingerprints and canaries, on each line and its decoded views; they load on the first
    line (a silent command pays nothing). A line with a finding is printed with each value
    masked; a line whose finding is only in a decoded view (base64, hex, …) cannot be masked
    in place and is withheld whole.
    Both streams share one lock: the engine is not made for concurrent use.
    """

    MAX_LINE = 64 * 1024  # longer lines are scanned (and printed) in pieces
    BATCH = 64

    def __init__(self, store: ZoneStore, name: str, manifest: dict[str, Any], dek: bytes):
        import threading

        self._store, self._name, self._manifest, self._dek = store, name, manifest, dek
        self._engine: Engine | None = None
        self._matcher: Matcher | None = None
        self._lock = threading.Lock()
        self.lines_masked = 0
        self.entities: Counter[str] = Counter()

    def _load(self) -> tuple[Engine, Matcher]:
        if self._engine is None or self._matcher is None:  # set together
            self._engine = _engine_for_zone(self._store, self._name)
            self._matcher = zone_matcher(
                self._store.current_dir(self._name), self._manifest, self._dek
            )
        return self._engine, self._matcher

    def mask_line(self, line: str) -> str:
        """`line` as it may be shown: unchanged, values masked, or withheld."""
        return self.mask_lines([line])[0]

    def mask_lines(self, lines: list[str]) -> list[str]:
        """`mask_line` for a batch: the detectors run once over all of them (nlp.pipe), which
        is what keeps a chatty training loop from being throttled by the check."""
        from piizone.scrubbers.findings import resolve_overlaps

        todo = [i for i, line in enumerate(lines) if line.strip()]
        shown = list(lines)
        if not todo:
            return shown
        with self._lock:
            engine, matcher = self._load()
            detected = engine.analyze_many([lines[i] for i in todo])
            for i, found in zip(todo, detected, strict=True):
                line = lines[i]
                # No NER types, as for names: on progress lines and JSON dumps without context
                # the model tags words as people and places; the zone's people are
                # fingerprinted.
                spans = [d for d in found if d.entity_type not in NAME_UNCHECKED_ENTITIES]
                spans = resolve_overlaps(spans + [_span(h) for h in _hits(matcher, line)])
                decoded = line_view_findings(line, None, matcher, engine, NAME_UNCHECKED_ENTITIES)
                if not spans and not decoded:
                    continue
                self.lines_masked += 1
                self.entities.update(s.entity_type for s in spans)
                self.entities.update(f.entity for f in decoded)
                shown[i] = _masked_line(line, spans, decoded)
        return shown

    def pump(self, src, dst) -> None:
        """Copy `src` (a pipe, bytes) to `dst` (a text or binary stream) line by line, masked.

        A reader thread queues lines as they come; this thread masks whatever has queued up
        in one batch (at most BATCH lines): a slow producer sees no added latency, a fast one
        is checked at the batched rate."""
        import queue
        import threading

        pending: queue.Queue[bytes | None] = queue.Queue(maxsize=4 * self.BATCH)

        def read() -> None:
            try:
                while raw := src.readline(self.MAX_LINE):
                    pending.put(raw)
            finally:
                pending.put(None)
                src.close()

        threading.Thread(target=read, name="piizone-stream", daemon=True).start()
        sink = getattr(dst, "buffer", None)
        done = False
        while not done:
            batch = [pending.get()]
            while batch[-1] is not None and len(batch) < self.BATCH:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is None:
                done = True
                batch.pop()
            if not batch:
                continue
            texts = [raw.decode("utf-8", errors="replace") for raw in batch if raw is not None]
            try:
                shown = "".join(self.mask_lines(texts))
            except Exception as e:  # noqa: BLE001 - fail closed, and keep draining the pipe
                self.lines_masked += len(texts)
                why = f"[piizone: line withheld: the output check failed ({type(e).__name__})]\n"
                shown = why * len(texts)
            try:
                if sink is not None:
                    sink.write(shown.encode("utf-8", errors="replace"))
                else:
                    dst.write(shown)
                dst.flush()
            except (OSError, ValueError):
                continue  # the reader went away: keep draining so the command is not blocked


def _masked_line(line: str, spans, decoded: list[Finding]) -> str:
    """The line with each span masked; withheld whole when a finding is only in a decoded
    view (it cannot be masked in place)."""
    end = "\n" if line.endswith("\n") else ""
    if decoded:
        kinds = ", ".join(sorted({f.entity for f in decoded}))
        return f"[piizone: line withheld: {kinds} in an encoded form]{end}"
    out, pos = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out += [line[pos : span.start], mask_value(line[span.start : span.end], "")]
        pos = span.end
    out.append(line[pos:])
    return "".join(out)
