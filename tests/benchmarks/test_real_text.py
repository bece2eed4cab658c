"""The real-text section of the benchmarks: loader, alphanumeric scoring, masking, skipping.

Runs on tiny corpora written here, never on the licensed dev sets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run as bench_run
from benchmarks.quality import real_text
from benchmarks.quality.score import score_samples

# PERSON 0-15, PHONE_NUMBER 22-36 (with its parentheses), LOC 40-46 (an ignored type).
RECORD = {
    "id": "r1",
    "text": "Jakob Lauritsen, call (415) 555-0132 in Boston today.",
    "spans": [
        {"start": 0, "end": 15, "type": "PERSON"},
        {"start": 22, "end": 36, "type": "PHONE_NUMBER"},
        {"start": 40, "end": 46, "type": "LOC"},
    ],
}
OTHER = {
    "id": "r2",
    "text": "duygu schakelaar said hi",
    "spans": [{"start": 0, "end": 16, "type": "PERSON"}],
}


def write_set(folder: Path, name: str, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_loader_reads_records_and_keeps_only_the_two_direct_types_direct(tmp_path: Path) -> None:
    street = dict(OTHER, id="r3", spans=[{"start": 0, "end": 5, "type": "STREET_ADDRESS"}])
    path = write_set(tmp_path, "dev_x.jsonl", [RECORD, OTHER, street])
    samples = real_text.load_set(path)
    assert [s.id for s in samples] == ["r1", "r2", "r3"]
    assert [s.entity_type for s in samples[0].spans] == ["PERSON", "PHONE_NUMBER", "LOC"]
    # a direct type elsewhere, not here: kept out of the direct recall
    assert samples[2].spans[0].entity_type == "STREET_ADDRESS (not direct here)"
    assert len(real_text.load_set(path, limit=2)) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "dev_bad.jsonl:2: not a dev record"),
        ('{"id": "x", "text": "ab"}', "dev_bad.jsonl:2: not a dev record"),
        ('{"text": "ab", "spans": [{"start": 1, "end": 9, "type": "PERSON"}]}', "outside"),
    ],
)
def test_loader_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "dev_bad.jsonl"
    path.write_text(json.dumps(RECORD) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(real_text.DevDataError, match=message):
        real_text.load_set(path)


def test_scoring_counts_alphanumerics_and_ignores_other_types(tmp_path: Path) -> None:
    samples = real_text.load_set(write_set(tmp_path, "dev_x.jsonl", [RECORD, OTHER]))
    redactions = [
        # the name; the phone without its parentheses; Boston (ignored type: no penalty);
        # "call" (4 alphanumerics of non-PII destroyed)
        [(0, 15, "PERSON"), (23, 26, "PHONE_NUMBER"), (28, 36, "PHONE_NUMBER"),
         (40, 46, "LOCATION"), (17, 21, "ORGANIZATION")],
        [(0, 5, "PERSON")],  # half the second name
    ]  # fmt: skip
    score = score_samples(samples, redactions, counts=str.isalnum)
    assert score.per_type["PERSON"].entities == 2 and score.per_type["PERSON"].removed == 1
    # punctuation left in "(415) 555-0132" does not make a miss: only alphanumerics count
    assert score.per_type["PHONE_NUMBER"].recall == 1.0
    assert score.direct.recall == 2 / 3
    non_pii = sum(c.isalnum() for c in "  , call   in   today.") + sum(map(str.isalnum, " said hi"))
    assert score.non_pii_chars == non_pii
    assert score.over_redacted_chars == 4
    assert dict(score.spurious_by_type) == {"ORGANIZATION": 1}
    # the default (non-blank characters) would count the parentheses as leaked
    assert score_samples(samples, redactions).per_type["PHONE_NUMBER"].recall == 0.0


def test_examples_are_masked(tmp_path: Path) -> None:
    samples = real_text.load_set(write_set(tmp_path, "dev_x.jsonl", [RECORD, OTHER]))
    redactions = [[(17, 21, "ORGANIZATION")], [(0, 5, "PERSON")]]
    score = score_samples(samples, redactions, counts=str.isalnum)
    examples = real_text.masked_examples(samples, redactions, score)
    flat = json.dumps(examples)
    for secret in ("Jakob", "Lauritsen", "415", "0132", "duygu", "schakelaar", "call", "said"):
        assert secret not in flat
    # shapes (runs cut to 4); what was redacted as # (the spurious "call")
    assert [m["context"] for m in examples["misses"]] == [
        "[[Xxxxx Xxxxx]], #### (ddd) ddd-dddd",
        "Xxxxx Xxxxx, #### [[(ddd) ddd-dddd]] xx Xxxxx xxxx.",
        "[[#### xxxx]] xxxx xx",
    ]
    assert examples["misses_by_kind"] == {
        "PERSON Title missed": 1,
        "PHONE_NUMBER no letters missed": 1,
        "PERSON lower partly redacted": 1,
    }
    assert examples["spurious"][0] == {
        "id": "r1",
        "predicted": "ORGANIZATION",
        "context": "Xxxxx Xxxxx, [[xxxx]] (ddd) ddd-dddd xx",
    }


def test_shape_hides_the_value() -> None:
    assert real_text.shape("Jakob Lauritsen") == "Xxxxx Xxxxx"
    assert real_text.shape("(415) 555-0132") == "(ddd) ddd-dddd"
    assert real_text.shape("Line\none") == "Xxxx | xxx"


def test_the_folder_comes_from_the_environment_or_beside_the_repo(monkeypatch) -> None:
    monkeypatch.delenv(real_text.ENV_DIR, raising=False)
    assert real_text.data_dir(Path("/x/main")) == Path("/x/shared/data/quality-dev")
    monkeypatch.setenv(real_text.ENV_DIR, "/elsewhere/dev")
    assert real_text.data_dir(Path("/x/main")) == Path("/elsewhere/dev")


def test_section_skips_cleanly_without_the_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    absent = tmp_path / "no-such-folder"
    monkeypatch.setenv(real_text.ENV_DIR, str(absent))
    results = tmp_path / "results.json"
    assert real_text.main(["--json", str(results)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(real_text.TITLE) and "Skipped: no dev corpora" in out.out
    assert str(absent) in out.err
    assert not results.exists()  # nothing written
    # and through `make bench`'s runner: the section is there, the run succeeds
    report = tmp_path / "RESULTS.md"
    assert bench_run.main(["--only", "realtext", "-o", str(report)]) == 0
    assert "Skipped: no dev corpora" in report.read_text(encoding="utf-8")


def test_unknown_set_is_one_error_line(capsys) -> None:
    assert real_text.main(["--sets", "nope"]) == 2
    assert capsys.readouterr().err == "error: unknown set(s): nope\n"


@pytest.mark.slow
def test_run_scores_both_systems_on_a_tiny_corpus(tmp_path: Path) -> None:
    folder = tmp_path / "dev"
    write_set(folder, "dev_conll.jsonl", [RECORD, OTHER])
    results = real_text.run(folder, limit=None)
    assert list(results["sets"]) == ["conll"]
    assert sorted(results["missing"]) == sorted(
        d.file for d in real_text.DEV_SETS if d.name != "conll"
    )
    entry = results["sets"]["conll"]
    assert entry["records"] == 2 and set(entry["systems"]) == {"piizone", "vanilla Presidio"}
    for system in entry["systems"].values():
        assert system["records_per_s"] > 0
        assert system["score"]["direct"]["entities"] == 3
    real_text.write_results(results, tmp_path / "results.json")
    markdown = real_text.render_markdown(results)
    assert "news (CoNLL-2003 dev)" in markdown and "Lauritsen" not in markdown
    stored = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert "Lauritsen" not in stored and "schakelaar" not in stored
