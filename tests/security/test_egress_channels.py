"""Issue 13, finding 8: the egress check reads encodings, binary formats and names.

Before: binary outputs (Parquet, gzip, zip, pickle, .npy, any file with a NUL byte) were
released unscanned; encoded forms (base64, hex, URL-encoding, `\\u` escapes, zero-width and
full-width characters, split or spelled-out digits) passed; a file named after a person's
e-mail and SSN was released and its name printed raw. Now known formats are read as data
(a pickle is never unpickled), unknown binaries are held unless `--allow-binary`, decoded
views of every line are checked against the detectors, fingerprints and canaries, and a
flagged name holds its file and is shown masked.
"""

from __future__ import annotations

import base64
import gzip
import io
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from piizone.zones.leakcheck import egress, streams

NAME, SSN, DIGITS = "Maria Gonzalez", "219-09-9999", "219099999"


@pytest.fixture(scope="module")
def zone(make_zone):
    made = make_zone("ch", {"a.csv": f"name,ssn,note\n{NAME},{SSN},likes tea\n"})
    return made.store, made.manifest, made.dek()


def _release(zone, files: dict[str, bytes], tmp_path: Path, **kw):
    store, manifest, dek = zone
    host_out = tmp_path / "session" / "out"
    host_out.mkdir(parents=True)
    for rel, data in files.items():
        (host_out / rel).parent.mkdir(parents=True, exist_ok=True)
        (host_out / rel).write_bytes(data)
    return egress.release_outputs(
        host_out, tmp_path / "rel", store=store, name="ch", manifest=manifest, dek=dek,
        session=f"s{time.monotonic_ns()}", **kw,
    )  # fmt: skip


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ENCODED = [
    ("base64", f"id {_b64('maria_gonzalez ' + DIGITS)}"),
    ("base64-url", f"id {base64.urlsafe_b64encode(SSN.encode()).decode()}"),
    ("hex", f"blob {SSN.encode().hex()}"),
    ("url", "who=maria%20gonzalez&x=1"),
    ("json-u", "".join(f"\\u{ord(c):04x}" for c in DIGITS)),
    ("zero-width", "id " + "\u200b".join(DIGITS)),
    ("zero-width-name", "ma\u200bria gon\u200bzalez wrote"),
    ("full-width", "id ２１９０９９９９９"),
    ("split-digits", "id 2 1 9 - 0 9 - 9 9 9 9"),
    ("spelled", "two one nine zero nine nine nine nine nine"),
]


@pytest.mark.parametrize("kind, line", ENCODED, ids=[k for k, _ in ENCODED])
def test_encoded_original_values_are_held(zone, tmp_path, kind, line):
    report = _release(zone, {"out.txt": f"header\n{line}\n".encode()}, tmp_path)
    assert [f.file for f in report.quarantined] == ["out.txt"], kind
    assert report.released == []
    shown = str(report.to_dict())
    assert DIGITS not in shown and "gonzalez" not in shown.lower()


CLEAN = [
    ("metrics", "accuracy,0.9134\nloss,0.0021\n"),
    ("predictions", "0.91, 0.87, 0.55, 0.12, 0.33\n"),
    ("base64-clean", f"token {_b64('hello world training run')}\n"),
    ("dates", "2024-01-05 12:30:01 epoch 3 step 1200\n"),
]


@pytest.mark.parametrize("kind, text", CLEAN, ids=[k for k, _ in CLEAN])
def test_clean_text_is_still_released(zone, tmp_path, kind, text):
    report = _release(zone, {"out.txt": text.encode()}, tmp_path)
    assert [f.file for f in report.released] == ["out.txt"], report.findings


def _parquet(rows: dict) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table(rows), buf)
    return buf.getvalue()


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def _npy(values) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array(values))
    return buf.getvalue()


class Record:  # pickled by reference: the test never needs it unpickled
    def __init__(self):
        self.who, self.ssn = NAME, int(DIGITS)


LEAKY_FORMATS = {
    "people.parquet": _parquet({"name": [NAME], "score": [0.5]}),
    "export.csv.gz": gzip.compress(f"name,ssn\n{NAME},{SSN}\n".encode()),
    "bundle.zip": _zip({"notes.txt": f"call {NAME}\n"}),
    "ids.npy": _npy([int(DIGITS), 5]),
    "model.pkl": pickle.dumps({"rows": [Record()]}),
}


@pytest.mark.parametrize("name", sorted(LEAKY_FORMATS))
def test_binary_formats_are_read_as_data(zone, tmp_path, name):
    report = _release(zone, {name: LEAKY_FORMATS[name]}, tmp_path)
    assert [f.file for f in report.quarantined] == [name], report.findings
    assert {f.reason for f in report.findings} != {"binary"}  # found by reading, not by kind


def test_clean_data_formats_are_released_scanned(zone, tmp_path):
    files = {
        "metrics.parquet": _parquet({"step": [1, 2], "auc": [0.81, 0.9]}),
        "curve.npy": _npy([0.1, 0.2, 0.3]),
        "log.csv.gz": gzip.compress(b"step,auc\n1,0.8\n"),
    }
    report = _release(zone, files, tmp_path)
    assert sorted(f.file for f in report.released) == sorted(files), report.findings
    assert {f.kind for f in report.released} == {"data"}


def test_unknown_binaries_are_held_unless_allowed(zone, tmp_path):
    weights = bytes(range(256)) * 16
    report = _release(zone, {"model/weights.bin": weights}, tmp_path / "a")
    assert [f.file for f in report.quarantined] == ["model/weights.bin"]
    assert report.findings[0].reason == "binary"
    report = _release(zone, {"model/weights.bin": weights}, tmp_path / "b", allow_binary=True)
    assert [(f.file, f.kind) for f in report.released] == [("model/weights.bin", "binary")]
    # A pickle is read, never loaded, even when binaries are allowed: no code runs.
    evil = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    report = _release(zone, {"evil.pkl": evil}, tmp_path / "c", allow_binary=True)
    assert not (tmp_path / "pwned").exists()


def test_a_flagged_name_holds_the_file_and_is_masked(zone, tmp_path):
    name = "bob.jones@gmail.com_219-09-9999.txt"
    report = _release(zone, {name: b"nothing to see\n", "ok.txt": b"fine\n"}, tmp_path)
    assert [f.file for f in report.released] == ["ok.txt"]
    assert len(report.quarantined) == 1
    shown = str(report.to_dict())
    assert "bob.jones" not in shown and "219-09-9999" not in shown
    assert report.quarantined[0].file == "***.*****@*****.***_***-**-****.***"
    qdir = Path(report.quarantine_dir)
    assert all("bob" not in p.name for p in qdir.iterdir())
    assert b"bob.jones" not in b"".join(p.read_bytes() for p in qdir.iterdir())


def test_decoding_is_bounded(zone):
    from piizone.zones.leakcheck.decoded_views import decoded_views

    line = "QUFB" * (4 << 20)  # one 16 MiB base64 line
    start = time.monotonic()
    decoded_views(line)
    assert time.monotonic() - start < 5


def test_stdout_and_stderr_are_scanned_as_they_stream(zone, tmp_path, capfd):
    from piizone.zones.sandbox import session as sandbox
    from tests.zones.test_sandbox import require_isolation

    require_isolation()
    store = zone[0]
    script = (
        "echo 'accuracy 0.91'; echo 'contact bob.jones@gmail.com now'; "
        f"echo 'id {_b64('maria_gonzalez ' + DIGITS)}' >&2; echo 'done' >&2"
    )
    capfd.readouterr()
    result = sandbox.run_session(
        "ch", ["sh", "-c", script], out_dir=tmp_path / "out", home=store.home
    )
    out, err = capfd.readouterr()
    assert "accuracy 0.91" in out and "done" in err
    assert "bob.jones@gmail.com" not in out and "***.*****@*****.***" in out
    assert _b64("maria_gonzalez " + DIGITS) not in err and "line withheld" in err
    assert result.command_status == result.exit_code == 0  # no output file was held
    assert result.egress.stream_lines_masked == 2


def test_the_stream_check_fails_closed_and_keeps_draining():
    class Broken(streams.StreamScanner):
        def _load(self):
            raise RuntimeError("policy unreadable")

    scanner = Broken(None, "x", {}, b"")
    shown = io.StringIO()
    scanner.pump(io.BytesIO(b"contact bob.jones@gmail.com\nsecond line\n"), shown)
    assert shown.getvalue().count("line withheld") == 2
    assert "bob.jones" not in shown.getvalue() and scanner.lines_masked == 2


def test_a_fast_stream_is_masked_line_for_line(zone):
    store, manifest, dek = zone
    scanner = streams.StreamScanner(store, "ch", manifest, dek)
    lines = [
        f"step {i} contact bob.jones@gmail.com\n" if i % 50 == 7 else f"step {i} loss 0.{i}\n"
        for i in range(300)
    ]
    shown = io.StringIO()
    scanner.pump(io.BytesIO("".join(lines).encode()), shown)
    out = shown.getvalue().splitlines(keepends=True)
    assert len(out) == len(lines) and scanner.lines_masked == 6
    assert "bob.jones" not in shown.getvalue()
    assert [o for o, line in zip(out, lines, strict=True) if o != line] == [
        f"step {i} contact ***.*****@*****.***\n" for i in range(7, 300, 50)
    ]
