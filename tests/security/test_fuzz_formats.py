"""Property-based fuzzing of piizone's own formats: only domain errors, and damage is reported.

The encrypted zone file format (zones/crypto.py), the audit log lines (zones/audit.py) and zone
names (zones/store.py) are read from disk or from the command line, so they see hostile bytes.
Whatever they are given, the reader either succeeds or raises the project's own error
(CryptoError/ZoneError/AuditError, all ScrubberError), which the CLI turns into one `error:`
line; a damaged audit log is a reported problem, never an exception; a zone name that passes
validation never leaves the zones directory.

`make test` runs ~100 examples per property; `make soak` sets PIIZONE_FUZZ_EXAMPLES higher.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.scrubbers.exceptions import ScrubberError
from piizone.zones import audit
from piizone.zones.exceptions import ZoneError
from piizone.zones.storage import crypto
from piizone.zones.storage.store import ZoneStore, validate_zone_name

EXAMPLES = int(os.environ.get("PIIZONE_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WORK = Path(tempfile.mkdtemp(prefix="piizone-fuzz-formats-"))

# --- the encrypted file format -----------------------------------------------------------------

DEK = bytes(range(32))
ZONE_ID = "zone-0001"
FILE_PATH = "data/people.csv"
SEGMENT = 64  # small segments: a few hundred bytes of plaintext make several of them
PLAINTEXT = b"".join(b"row %03d,plaintext-canary\n" % i for i in range(12))


def _sealed(plaintext: bytes = PLAINTEXT) -> bytes:
    out = io.BytesIO()
    crypto.encrypt_stream(
        io.BytesIO(plaintext), out, DEK, zone_id=ZONE_ID, path=FILE_PATH, segment_size=SEGMENT
    )
    return out.getvalue()


SEALED = _sealed()


def decrypt_all(data: bytes, *, dek: bytes = DEK, zone_id: str = ZONE_ID, path: str = FILE_PATH):
    """(plaintext yielded, error or None); anything but a CryptoError propagates and fails."""
    got = bytearray()
    try:
        for chunk in crypto.iter_decrypt(io.BytesIO(data), dek, zone_id=zone_id, path=path):
            got += chunk
    except crypto.CryptoError as e:
        return bytes(got), e
    return bytes(got), None


@st.composite
def mutated_file(draw) -> bytes:
    """The sealed file with one kind of damage an attacker or a bad disk could do."""
    data = bytearray(SEALED)
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "splice", "header", "append"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif kind == "insert":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=40))
    elif kind == "splice":  # move a whole sealed segment elsewhere (reorder/replay)
        seg = SEGMENT + crypto.TAG_SIZE
        count = (len(data) - crypto.HEADER_SIZE) // seg
        a, b = draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))
        assume(a != b)
        body = [
            bytes(data[crypto.HEADER_SIZE + k * seg : crypto.HEADER_SIZE + (k + 1) * seg])
            for k in range(count)
        ]
        tail = bytes(data[crypto.HEADER_SIZE + count * seg :])
        body[a], body[b] = body[b], body[a]
        data = bytearray(data[: crypto.HEADER_SIZE] + b"".join(body) + tail)
    elif kind == "header":  # a forged header: any version and segment size
        version = draw(st.integers(0, 255))
        size = draw(st.integers(0, 2**32 - 1))
        data[4:9] = bytes([version]) + size.to_bytes(4, "big")
    else:
        data += draw(st.binary(min_size=1, max_size=100))
    return bytes(data)


@FUZZ
@given(mutated_file())
def test_a_damaged_file_raises_crypto_error_and_yields_only_authentic_plaintext(data) -> None:
    got, error = decrypt_all(data)
    if data == SEALED:
        assert (got, error) == (PLAINTEXT, None)
        return
    # Whatever was yielded before the damage is a true prefix; the damage itself is an error.
    assert error is not None, "a modified file decrypted without an error"
    assert PLAINTEXT.startswith(got)
    assert len(got) % SEGMENT == 0


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_are_never_a_valid_file(data) -> None:
    got, error = decrypt_all(data)
    assert error is not None and got == b""


@FUZZ
@given(
    magic_ok=st.booleans(),
    rest=st.binary(min_size=0, max_size=200),
)
def test_random_bytes_after_the_magic_raise_crypto_error(magic_ok, rest) -> None:
    data = (crypto.MAGIC if magic_ok else b"PIIX") + rest
    got, error = decrypt_all(data)
    assert error is not None and got == b""


@FUZZ
@given(
    dek=st.one_of(st.binary(min_size=0, max_size=40), st.just(DEK)),
    zone_id=st.one_of(st.text(max_size=20), st.just(ZONE_ID)),
    path=st.one_of(st.text(max_size=30), st.just(FILE_PATH)),
)
def test_the_wrong_key_zone_or_path_is_a_crypto_error(dek, zone_id, path) -> None:
    got, error = decrypt_all(SEALED, dek=dek, zone_id=zone_id, path=path)
    if (dek, zone_id, path) == (DEK, ZONE_ID, FILE_PATH):
        assert (got, error) == (PLAINTEXT, None)
    else:
        assert error is not None and got == b""


@FUZZ
@given(st.binary(max_size=300))
def test_any_plaintext_round_trips(plaintext) -> None:
    assert decrypt_all(_sealed(plaintext)) == (plaintext, None)


# --- audit log lines ---------------------------------------------------------------------------

AUDIT_KEY = b"k" * 32
PRISTINE = WORK / "audit-pristine"


def _build_pristine_log() -> list[bytes]:
    log = audit.AuditLog(PRISTINE, AUDIT_KEY, fsync=False)
    log.append("init")
    for i in range(5):
        log.append("zone.create", zone=f"z{i}", details={"rows": i})
    log.append("zone.destroy", zone="z0", outcome="failure", details={"error": "busy"})
    assert log.verify().ok
    return (PRISTINE / audit.segment_name(1)).read_bytes().splitlines(keepends=True)


PRISTINE_LINES = _build_pristine_log()


def _verify_lines(lines: list[bytes]) -> audit.VerifyResult:
    """Verify a copy of the pristine log whose segment holds `lines` instead."""
    work = Path(tempfile.mkdtemp(dir=WORK))
    try:
        directory = work / "audit"
        shutil.copytree(PRISTINE, directory)
        (directory / audit.segment_name(1)).write_bytes(b"".join(lines))
        return audit.AuditLog(directory, AUDIT_KEY, fsync=False).verify()
    finally:
        shutil.rmtree(work, ignore_errors=True)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


# Numbers json.loads reads but canonical JSON cannot write: a line holding one has no canonical
# form. A flipped digit makes one: pid 11663 with its second digit turned into "e" is 1e663,
# infinity. Whether a pid has such a flip changes from run to run, which is how this property
# failed once at 2,000 examples and not again in 6,000 (the verifier raised ValueError).
NON_FINITE = [b"1e999", b"-1E400", b"NaN", b"Infinity", b"-Infinity"]
_NUMBER = re.compile(rb"(?<=:)-?\d+(?=[,}])")


def _with_number(lines: list[bytes], i: int, k: int, number: bytes) -> list[bytes]:
    """`lines` with the k-th number of line i (pid, uid, seq, ...; modulo their count) replaced."""
    found = list(_NUMBER.finditer(lines[i]))
    m = found[k % len(found)]
    out = list(lines)
    out[i] = lines[i][: m.start()] + number + lines[i][m.end() :]
    return out


@st.composite
def damaged_lines(draw) -> list[bytes]:
    lines = list(PRISTINE_LINES)
    kind = draw(
        st.sampled_from(
            ["flip", "replace", "delete", "swap", "insert", "field", "truncate", "number"]
        )
    )
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "number":
        return _with_number(lines, i, draw(st.integers(0, 9)), draw(st.sampled_from(NON_FINITE)))
    if kind == "flip":
        line = bytearray(lines[i])
        j = draw(st.integers(0, len(line) - 1))
        line[j] ^= draw(st.integers(1, 255))
        lines[i] = bytes(line)
    elif kind == "replace":
        lines[i] = draw(st.binary(max_size=200)) + b"\n"
    elif kind == "delete":
        del lines[i]
    elif kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "insert":
        lines.insert(i, draw(st.sampled_from(PRISTINE_LINES + [b"{}\n", b"\n", b"null\n"])))
    elif kind == "field":  # a well-formed JSON record with one field changed
        record = json.loads(lines[i])
        record[draw(st.sampled_from(sorted(audit.RECORD_FIELDS) + ["extra"]))] = draw(json_values)
        lines[i] = audit.canonical_json(record) + b"\n"
    else:
        lines[i] = lines[i][: draw(st.integers(0, len(lines[i]) - 1))]
    return lines


@FUZZ
@given(damaged_lines())
@example(_with_number(PRISTINE_LINES, 2, 0, b"1e999"))  # the pid of record 3: infinity
@example(_with_number(PRISTINE_LINES, len(PRISTINE_LINES) - 1, 0, b"NaN"))  # the last record
@example(_with_number(PRISTINE_LINES, 1, 3, b"-1E400"))
def test_a_damaged_audit_log_is_a_reported_problem_not_an_exception(lines) -> None:
    result = _verify_lines(lines)  # anything raised here fails the test
    if lines == PRISTINE_LINES:
        assert result.ok
        return
    assert not result.ok, "a modified audit log verified as intact"
    assert result.problem is not None and result.problem.kind in audit.PROBLEM_KINDS
    assert result.problem.describe()


@FUZZ
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=6))
def test_random_lines_never_verify(lines) -> None:
    result = _verify_lines([line.replace(b"\n", b"") + b"\n" for line in lines])
    assert not result.ok and result.problem is not None


# --- zone names --------------------------------------------------------------------------------

NAME_PIECES = st.sampled_from(
    ["..", ".", "/", "\\", "\x00", "\n", "~", "-", "_", "a", "Z9", "%2e", "\u2024", "é", " "]
)
names = st.one_of(
    st.text(max_size=140),
    st.lists(NAME_PIECES, max_size=12).map("".join),
    st.text(alphabet="abc.-_/", max_size=20),
)
STORE = ZoneStore(WORK / "home")


@FUZZ
@given(names)
def test_a_zone_name_is_valid_and_stays_in_the_zones_dir_or_a_zone_error(name) -> None:
    try:
        validate_zone_name(name)
    except ZoneError:
        return
    # A valid name is one plain path component under zones/: no traversal, no separators.
    assert "/" not in name and "\x00" not in name and name not in (".", "..")
    assert len(name) <= 128 and name.isascii()
    root = STORE.root.resolve()
    for path in (STORE.link(name), STORE.versions_dir(name)):
        resolved = path.resolve()
        assert resolved.parent in (root, root / ".versions")
        assert resolved.name == name


runner = CliRunner()


@settings(FUZZ, max_examples=max(20, EXAMPLES // 5))
@given(names.filter(lambda n: not n.startswith("-") and "\x00" not in n))
def test_the_cli_answers_any_zone_name_with_one_error_line(piizone_home, name) -> None:
    result = runner.invoke(app, ["zone", "show", name])
    assert result.exit_code != 0  # the home holds no zone, valid name or not
    assert result.exception is None or isinstance(result.exception, SystemExit | ScrubberError)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:"), result.stderr


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    shutil.rmtree(WORK, ignore_errors=True)
