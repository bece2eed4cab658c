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

Modules: this one sorts the outputs (`release_outputs`, `check_file`, `check_work_dir`);
`output_tree` lists and removes the staging tree within the limits; `matching` finds the zone's
fingerprints, canaries and decoded values in text; `release` writes the release directory and
the quarantine; `streams` masks what the command prints while it runs.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from piizone.fs import file_sha256
from piizone.scrubbers.findings import resolve_overlaps
from piizone.scrubbers.masking import mask_value
from piizone.zones import audit
from piizone.zones.home import ensure_private_dir
from piizone.zones.leakcheck.matching import (
    NAME_UNCHECKED_ENTITIES,
    Finding,
    engine_for_zone,
    hit_span,
    line_view_findings,
    match_text_output,
    remask_policy_findings,
    zone_matcher,
)
from piizone.zones.leakcheck.output_formats import MAX_DECODED_BYTES, UnreadableOutput, text_lines
from piizone.zones.leakcheck.output_tree import (
    DIR_FLAGS,
    EgressError,
    OutputLimitExceeded,
    is_text_output,
    iter_outputs,
)
from piizone.zones.leakcheck.path_names import PeopleInNames, known_spans, matcher_finder
from piizone.zones.leakcheck.release import (
    check_release_dir,
    claim_release_dir,
    is_dotfile,
    quarantine_file,
    write_quarantine_index,
    write_released,
)
from piizone.zones.leakcheck.small_counts import min_count, small_counts
from piizone.zones.storage.manifest import ZoneManifest
from piizone.zones.storage.store import ZoneStore

MAX_FINDINGS_PER_FILE = 20


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


def scan_text_output(path: Path, engine) -> tuple[dict[str, int], list[Finding]]:
    """Scan a file as text whatever its extension (line numbers for every format)."""
    # Imported here, not at the top: scrubbers.scan loads pandas (a second), which only a
    # session with outputs needs.
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


def release_outputs(
    host_out: Path,
    out_dir: Path,
    *,
    store: ZoneStore,
    name: str,
    manifest: ZoneManifest,
    dek: bytes,
    session: str,
    allow_dotfiles: bool = False,
    allow_binary: bool = False,
) -> EgressReport:
    """Scan the session's outputs; quarantine flagged files (encrypted), copy clean ones out
    into a fresh directory (see `claim_release_dir`). Audited (egress.scan) like any check: on
    a failure what was not released stays in the staging dir, which the session removes."""
    check_release_dir(out_dir, store.home)  # before any scan: a refused --out wastes nothing
    report = EgressReport(session=session, out_dir=str(out_dir))
    started = {"session": session}
    with audit.audited("egress.scan", zone=name, home=store.home, details=started) as details:
        try:
            _sort_outputs(
                report, host_out, out_dir, store=store, name=name, manifest=manifest, dek=dek,
                allow_dotfiles=allow_dotfiles, allow_binary=allow_binary,
            )  # fmt: skip
        except BaseException:
            details.update(
                files_released=len(report.released), files_quarantined=len(report.quarantined)
            )
            raise
        details.update(_scan_details(report))
        details.outcome = "success" if not (report.quarantined or report.withheld) else "denied"
    return report


def _sort_outputs(
    report: EgressReport,
    host_out: Path,
    out_dir: Path,
    *,
    store: ZoneStore,
    name: str,
    manifest: ZoneManifest,
    dek: bytes,
    allow_dotfiles: bool,
    allow_binary: bool,
) -> None:
    try:
        outputs = iter_outputs(host_out)
    except OutputLimitExceeded as e:
        # Fail closed: release nothing, say why, and leave the staging dir to the caller's
        # clean-up (nothing was scanned, so nothing of it may leave).
        report.withheld = str(e)
        return
    except (OSError, RecursionError) as e:
        report.withheld = f"the outputs could not be listed ({type(e).__name__})"
        return
    sorting = _Sorting(
        report, host_out, store, name, manifest, dek,
        allow_dotfiles=allow_dotfiles, allow_binary=allow_binary,
        min_count=min_count(store.home),
    )  # fmt: skip
    try:
        for number, (rel, path, st) in enumerate(outputs):
            sorting.sort(number, rel, path, st)
        sorting.finish(out_dir)
    except OSError as e:
        # Fail closed: what was not released stays in the staging dir, which the session removes.
        raise EgressError(f"cannot release the session's outputs ({e.strerror})") from e
    report.entities = dict(sorting.entities)
    report.reasons = dict(sorting.reasons)


@dataclass
class _Sorting:
    """One session's outputs being sorted (`release_outputs`): each one checked, then either
    quarantined at once or kept for release; `finish` writes the index and releases."""

    report: EgressReport
    host_out: Path
    store: ZoneStore
    name: str
    manifest: ZoneManifest
    dek: bytes
    allow_dotfiles: bool = False
    allow_binary: bool = False
    min_count: int | None = None  # k of the small-count check when it is on (small_counts)
    engine: Any = None  # loaded with the matcher on the first output
    matcher: Any = None
    entities: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    clean: list[tuple[str, Path, OutputFile]] = field(default_factory=list)
    qdir: Path | None = None
    qnames: list[str] = field(default_factory=list)
    scratch: Path | None = None

    def sort(self, number: int, rel: str, path: Path, st: os.stat_result) -> None:
        report = self.report
        if self.engine is None:
            self.engine = engine_for_zone(self.store, self.name)
            self.matcher = zone_matcher(self.store.current_dir(self.name), self.manifest, self.dek)
        # A name is output too (a file named after a person's e-mail and SSN): a flagged
        # one holds the file and is shown masked everywhere, quarantine included.
        name_findings = name_check(rel, self.matcher, self.engine)
        shown = mask_value(rel, "") if name_findings else rel
        if not stat.S_ISREG(st.st_mode):
            report.skipped.append({"file": shown, "reason": "not a regular file"})
            return
        if is_dotfile(rel) and not self.allow_dotfiles:
            report.skipped.append({"file": shown, "reason": "dotfile (see --allow-dotfiles)"})
            return
        item = OutputFile(file=shown, bytes=st.st_size, kind="binary", sha256=file_sha256(path))
        if st.st_size and self.scratch is None:
            self.scratch = ensure_private_dir(self.host_out.parent / "extracted")
        item.kind, found, findings = check_file(
            path, st.st_size, self.engine, self.matcher,
            self.scratch / f"{number}.txt" if self.scratch else None,
            allow_binary=self.allow_binary,
        )  # fmt: skip
        findings = name_findings + findings
        if self.min_count and item.kind == "text" and st.st_size:
            findings += [
                Finding("", "SMALL_COUNT", f"column {c.column}: a count under {self.min_count}",
                        c.line, "small_count")
                for c in small_counts(path, rel, self.min_count)[:MAX_FINDINGS_PER_FILE]
            ]  # fmt: skip
        if findings:
            self.hold(rel, path, item, found, findings)
        else:
            self.clean.append((rel, path, item))

    def hold(
        self, rel: str, path: Path, item: OutputFile, found: dict[str, int], findings: list
    ) -> None:
        """Count and report the findings of one output and encrypt it into the quarantine."""
        report = self.report
        self.entities.update(found)
        self.reasons.update({"policy": sum(found.values())} if found else {})
        self.reasons.update(f.reason for f in findings if f.reason != "policy")
        report.findings += [
            Finding(item.file, f.entity, f.context, f.line, f.reason)
            for f in findings[:MAX_FINDINGS_PER_FILE]
        ]
        if self.qdir is None:
            parent = ensure_private_dir(self.store.root / ".quarantine")
            self.qdir = ensure_private_dir(parent / report.session)
            report.quarantine_dir = str(self.qdir)
        zone_id, index = self.manifest.id, len(report.quarantined)
        quarantine_file(path, self.qdir, index, self.dek, zone_id, report.session)
        report.quarantined.append(item)
        self.qnames.append(rel)

    def finish(self, out_dir: Path) -> None:
        """The quarantine's (encrypted) index, then the clean outputs into a fresh dir."""
        report = self.report
        if self.qnames and self.qdir is not None:
            write_quarantine_index(
                self.qdir, self.qnames, self.dek, self.manifest.id, report.session
            )
        if self.clean:
            release_dir = claim_release_dir(out_dir, report.session, self.store.home)
            report.out_dir = str(release_dir)
            root_fd = os.open(release_dir, DIR_FLAGS)
            try:
                for rel, path, item in self.clean:
                    write_released(root_fd, rel, path)
                    report.released.append(item)
            finally:
                os.close(root_fd)


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
    work_dir: Path, *, store: ZoneStore, name: str, manifest: ZoneManifest, dek: bytes,
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
        hits = [hit_span(h) for h in matcher.scan_line(rel.replace("/", " ").replace("_", " "))]
        finder = matcher_finder(matcher)  # not None: the matcher has entries
        hits += known_spans(rel, [finder] if finder else [])  # `JohnSmith`: camelCase too
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


def _scan_details(report: EgressReport) -> dict[str, Any]:
    details = {
        "session": report.session,
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
    return details


def name_check(rel: str, matcher, engine) -> list[Finding]:
    """Findings in an output's path: pattern detectors, fingerprints/canaries and decoded
    views, on the path as written and with its separators (`/`, `_`) read as spaces; person
    names (zones.leakcheck.path_names: the zone's fingerprints in any layout, camelCase too,
    and "First Last" pairs of the name lists). Contexts are withheld: the name is the value."""
    found: list[Finding] = []
    texts = list(dict.fromkeys([rel, rel.replace("/", " ").replace("_", " ")]))
    for text in texts:
        spans = [
            s
            for s in (engine.analyze(text) if engine is not None else [])
            if s.entity_type not in NAME_UNCHECKED_ENTITIES
        ]
        spans += [hit_span(h) for h in (matcher.scan_line(text) if matcher else [])]
        if text is texts[-1]:  # as long as `rel`: its spans line up, and overlaps merge
            spans += PeopleInNames.of(matcher_finder(matcher)).spans(rel)
        for span in resolve_overlaps(spans):
            found.append(Finding("", span.entity_type, "(in the file name)", None, "name"))
        for f in line_view_findings(text, None, matcher, engine, NAME_UNCHECKED_ENTITIES):
            found.append(Finding("", f.entity, "(in the file name, decoded)", None, "name"))
    return found


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
