"""Readers: bounded chunks, counted invalid UTF-8, clear errors for malformed input."""

from __future__ import annotations

import pytest

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import (
    DecodeCounter,
    detect_format,
    iter_table_chunks,
    iter_text_chunks,
)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.TSV", "tsv"),
        ("a.parquet", "parquet"),
        ("a.jsonl", "jsonl"),
        ("a.json", "json"),
        ("a.txt", "txt"),
        ("a.md", "txt"),
        ("a.exe", None),
        ("noext", None),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_text_chunks_overlap_and_reassemble(tmp_path):
    text = "".join(f"line {i} with some words\n" for i in range(5000))
    path = tmp_path / "t.txt"
    path.write_text(text)
    chunks = list(iter_text_chunks(path, chunk_chars=10_000, overlap=100))
    assert len(chunks) > 5
    rebuilt = "".join(c.text[c.overlap :] for c in chunks)
    assert rebuilt == text
    for c in chunks:
        assert text[c.offset : c.offset + len(c.text)] == c.text
        assert c.line == text.count("\n", 0, c.offset) + 1


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello \xff\xfe world \xc3")
    with DecodeCounter() as counter:
        text = "".join(c.text for c in iter_text_chunks(path))
    assert counter.invalid_bytes == 3
    assert text.startswith("hello \ufffd")


def test_malformed_csv_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match=r"malformed CSV: Expected 2 fields in line 3, saw 3"):
        list(iter_table_chunks(path, "csv"))


def test_csv_cells_stay_exact_strings(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("zip,amount,flag\n02134,1.50,\n,007,true\n")
    (df,) = list(iter_table_chunks(path, "csv"))
    assert df.to_dict("records") == [
        {"zip": "02134", "amount": "1.50", "flag": ""},
        {"zip": "", "amount": "007", "flag": "true"},
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.jsonl", '{"a": 1}\n{"a": \n', r"x\.jsonl:2: invalid JSON"),
        ("x.jsonl", "[1, 2]\n", r"expected a JSON object per line"),
        ("x.json", '{"a": [1, 2', r"invalid JSON"),
        ("x.json", "[1, 2]", r"expected a JSON array of objects"),
        ("x.parquet", "not parquet", r"not a readable Parquet file"),
    ],
)
def test_malformed_inputs(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        list(iter_table_chunks(path, name.split(".")[1]))
