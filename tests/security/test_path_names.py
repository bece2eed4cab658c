"""Person names in file and directory names (issue 13, findings 8 and 13, leftover).

An e-mail or an SSN in a name was caught, a person's name was not: a sandbox released
`Maria-Gonzalez.txt` and `JohnSmith_notes.csv` under their names, and `zone create` wrote
`john_smith_notes.csv` into manifest.json, report.json and the zone's own paths. Names are now
split into words (separators, digits, camelCase) and checked against the zone's own values (its
fingerprints; in a build, the values learned from its tables) and the name lists' "First Last"
pairs (zones.leakcheck.path_names), with ordinary names left alone.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones.leakcheck import egress
from piizone.zones.leakcheck.fingerprints import (
    FingerprintSet,
    fingerprint_key,
    fingerprint_matcher,
)
from piizone.zones.leakcheck.path_names import (
    PeopleInNames,
    lexicon_spans,
    matcher_finder,
    path_words,
)
from piizone.zones.provision.metadata_names import NameMasker

runner = CliRunner()
DEK = bytes(range(32))
ORDINARY = [
    "train_data.csv", "model_v2.pkl", "report-2026.html", "summary.txt", "test_set.csv",
    "final_report.pdf", "sales_data.parquet", "user_list.json", "max_len.txt", "grid_search.log",
    "dev_split.csv", "best_model.pt", "random_forest.pkl", "sample_submission.csv",
    "confusion_matrix.png", "log_reg.pkl", "holdout_set.csv", "batch_norm.py", "max_power.csv",
    "dev_sample.csv", "bert_base_uncased.bin", "roberta_large.pt", "loss_curve.png",
    "eval_results.json", "predictions.csv", "checkpoint_best.pt", "README.md", "CSVReader.py",
    "data_loader.py", "customer_churn.csv", "mnist_train.npy", "word_embeddings.npy",
    "label_encoder.pkl", "xgb_model.json", "hyper_params.yaml", "early_stopping.py",
    "rose_garden.png", "will_power.txt", "mark_down.md", "jordan_river.csv", "lincoln_park.csv",
    "washington_post.txt", "new_york_sales.csv", "paris_hotels.csv", "london_weather.csv",
]  # fmt: skip


@pytest.mark.parametrize(
    "name, person",
    [
        ("Maria-Gonzalez.txt", "Maria-Gonzalez"),
        ("MariaGonzalez.txt", "MariaGonzalez"),
        ("maria_gonzalez.csv", "maria_gonzalez"),  # a surname that is no English word
        ("John_Smith_notes.csv", "John_Smith"),  # "Smith" is a word: written as a name
        ("JohnSmith.csv", "JohnSmith"),
        ("notes-for-Mark.Taylor.md", "Mark.Taylor"),
        ("ÁlvaroNúñez_2024.csv", "ÁlvaroNúñez"),
        ("olga_petrov_cv.pdf", "olga_petrov"),
        # Lower case with an English surname: only the zone's own values can tell (below).
        ("john_smith_notes.csv", None),
        *[(name, None) for name in ORDINARY],
    ],
)
def test_first_last_pairs_of_the_name_lists(name, person):
    stem = name.rsplit(".", 1)[0]
    found = [stem[s.start : s.end] for s in lexicon_spans(stem)]
    assert found == ([person] if person else [])


def test_words_split_at_separators_digits_and_camel_case():
    assert [w.text for w in path_words("MariaGonzalez_v2-CSVReader.final")] == [
        "Maria", "Gonzalez", "v", "2", "CSV", "Reader", "final",
    ]  # fmt: skip


def _site_packages_names() -> set[str]:
    names: set[str] = set()
    for root in {p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)}:
        for _, dirs, files in os.walk(root):
            names.update(dirs)
            names.update(files)
    return names


def test_few_false_positives_on_the_names_of_installed_files():
    """The installed packages' ~24,000 file and directory names hold almost no person names:
    at most 1 in 1,000 may read as one (7 do: time-zone places such as `Hong_Kong`)."""
    names = _site_packages_names()
    assert len(names) > 5000
    flagged = [n for n in names if lexicon_spans(n)]
    assert len(flagged) <= len(names) // 1000, sorted(flagged)[:20]


def _matcher_knowing(*people: str):
    fingerprints = FingerprintSet()
    for person in people:
        fingerprints.add(fingerprint_key(DEK), "PERSON", person)
    return fingerprint_matcher(DEK, fingerprints)


PEOPLE_FUZZ = PeopleInNames.of(matcher_finder(_matcher_knowing("John Smith", "Ana Lima")))


def test_the_zones_own_people_are_found_in_any_layout():
    people = PeopleInNames.of(matcher_finder(_matcher_knowing("John Smith", "Rose Hill")))
    for name, span in [
        ("john_smith_notes", (0, 10)),
        ("JohnSmith", (0, 9)),
        ("JOHN-SMITH", (0, 10)),
        ("notes.john.smith", (6, 16)),
        ("rose_hill", (0, 9)),  # two English words: no pair of the lists, but a known person
    ]:
        assert {(s.start, s.end, s.entity_type) for s in people.spans(name)} == {
            (*span, "PERSON")
        }, name
    assert people.spans("train_data") == []


@settings(max_examples=int(os.environ.get("PIIZONE_FUZZ_EXAMPLES", "100")), deadline=None)
@given(st.text(max_size=60) | st.from_regex(r"[A-Za-z]{1,8}([_.-]?[A-Z][a-z]{1,8}){1,3}"))
def test_any_name_gives_spans_inside_it(name):
    for span in PEOPLE_FUZZ.spans(name):
        assert 0 <= span.start < span.end <= len(name)
        assert name[span.start].isalnum() and name[span.end - 1].isalnum()


def test_name_check_flags_person_names_in_output_paths():
    matcher = _matcher_knowing("John Smith")
    for rel in ("JohnSmith_notes.csv", "john_smith_notes.csv", "Maria-Gonzalez.txt",
                "runs/ÁlvaroNúñez/out.txt"):  # fmt: skip
        assert {f.entity for f in egress.name_check(rel, matcher, None)} == {"PERSON"}, rel
    for rel in ORDINARY:
        assert egress.name_check(rel, matcher, None) == [], rel


def test_name_masker_masks_person_names_and_keeps_ordinary_ones():
    people = PeopleInNames.of(matcher_finder(_matcher_knowing("John Smith")))
    names = NameMasker(DEK, people=people)
    for raw in ("john_smith_notes.csv", "Maria-Gonzalez.txt", "MariaGonzalez.txt"):
        masked = names.component(raw)
        assert "smith" not in masked.lower() and "gonzalez" not in masked.lower(), masked
        assert masked.endswith((".csv", ".txt")) and "~" in masked
    for raw in ("train_data.csv", "model_v2.pkl", "report-2026.html", "summary.txt"):
        assert names.component(raw) == raw
    # Without the zone's values, the lower-case English surname is not a name by the lists.
    assert NameMasker(DEK).component("john_smith_notes.csv") == "john_smith_notes.csv"


@pytest.fixture(scope="module")
def zone(make_zone):
    made = make_zone("pn", {"notes.txt": "Call notes: John Smith asked about his plan.\n"})
    return made.store, made.manifest, made.dek()


def test_egress_holds_outputs_named_after_people(zone, tmp_path):
    store, manifest, dek = zone
    host_out, out = tmp_path / "host", tmp_path / "out"
    (host_out / "runs").mkdir(parents=True)
    person_named = ["Maria-Gonzalez.txt", "JohnSmith_notes.csv", "runs/john_smith_notes.csv"]
    ordinary = ["train_data.csv", "report-2026.html", "summary.txt", "runs/model_v2.pkl"]
    for rel in person_named + ordinary:
        (host_out / rel).write_text("metric,value\naccuracy,0.93\n")
    report = egress.release_outputs(
        host_out, out, store=store, name="pn", manifest=manifest, dek=dek, session="s-names",
        allow_binary=True,
    )  # fmt: skip
    assert sorted(f.file for f in report.released) == sorted(ordinary)
    assert len(report.quarantined) == len(person_named)
    assert {f.reason for f in report.findings} == {"name"}
    assert {f.entity for f in report.findings} == {"PERSON"}
    shown = json.dumps(report.to_dict()).lower()
    assert "smith" not in shown and "gonzalez" not in shown
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted(
        Path(rel).name for rel in ordinary
    )


PEOPLE = "customer_id,full_name,plan\n1,John Smith,plus\n2,Ana Lima,basic\n"


def test_zone_create_masks_person_names_in_metadata_and_status_agrees(
    tmp_path: Path, piizone_home: Path
) -> None:
    src = tmp_path / "exports"
    (src / "Maria-Gonzalez").mkdir(parents=True)
    (src / "customers.csv").write_text(PEOPLE)
    # The customers table names John Smith: his notes file is his (known values); Maria
    # Gonzalez is a "First Last" pair of the name lists.
    (src / "john_smith_notes.csv").write_text("id,plan\n1,plus\n")
    (src / "Maria-Gonzalez" / "summary.txt").write_text("renewal due\n")
    for name in ("train_data.csv", "report-2026.csv"):
        (src / name).write_text("id,plan\n1,plus\n")

    assert runner.invoke(app, ["init"]).exit_code == 0
    created = runner.invoke(app, ["zone", "create", "pz", "--from", str(src)])
    assert created.exit_code == 0, created.stderr
    leaked = ("smith", "gonzalez")
    assert not [w for w in leaked if w in (created.stdout + created.stderr).lower()]
    for path in piizone_home.rglob("*"):
        assert not [w for w in leaked if w in str(path.relative_to(piizone_home)).lower()], path
        if path.is_file() and path.suffix in (".json", ".jsonl", ".log", ""):
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            assert not [w for w in leaked if w in text], path
    shown = runner.invoke(app, ["zone", "show", "pz", "--json"])
    assert shown.exit_code == 0, shown.stderr
    paths = {f["path"] for f in json.loads(shown.stdout)["files"]}
    assert {
        f"data/exports/{n}" for n in ("train_data.csv", "report-2026.csv", "customers.csv")
    } <= paths
    assert len(paths) == 5

    # `zone status` masks paths as the build did: nothing added or removed.
    status = runner.invoke(app, ["zone", "status", "pz", "--json"])
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["verdict"] == "fresh", status.stdout
