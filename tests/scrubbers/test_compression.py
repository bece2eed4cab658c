"""Compressed inputs stream as the format inside them; damage is one InputError."""

from __future__ import annotations

import bz2
import gzip

import pytest
import zstandard

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import detect_scan_format, iter_table_chunks, iter_text_chunks

TEXT = "Mail jane.roe@example.com\n" * 1000
COMPRESS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "zst": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_text_and_tables_read_through_decompression(tmp_path, suffix):
    text = tmp_path / f"a.txt.{suffix}"
    text.write_bytes(COMPRESS[suffix](TEXT.encode()))
    assert detect_scan_format(text) == "txt"
    assert "".join(c.text[c.overlap :] for c in iter_text_chunks(text, chunk_chars=5000)) == TEXT
    table = tmp_path / f"a.csv.{suffix}"
    table.write_bytes(COMPRESS[suffix](b"name,email\nJane Roe,jane.roe@example.com\n"))
    (frame,) = iter_table_chunks(table, "csv")
    assert frame.to_dict("records") == [{"name": "Jane Roe", "email": "jane.roe@example.com"}]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv.gz", "csv"), ("a.JSONL.ZST", "jsonl"), ("a.md.bz2", "txt"), ("a.parquet.gz", None),
     ("a.xlsx.gz", None), ("a.gz", None), ("a.exe.gz", None), ("a.xlsx", "xlsx")],
)  # fmt: skip
def test_what_scan_reads(name, fmt):
    assert detect_scan_format(name) == fmt


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_a_truncated_stream_is_one_input_error(tmp_path, suffix):
    path = tmp_path / f"a.txt.{suffix}"
    path.write_bytes(COMPRESS[suffix](TEXT.encode())[:40])
    with pytest.raises(InputError, match=rf"a\.txt\.{suffix}: corrupt or truncated"):
        list(iter_text_chunks(path))


def test_a_compressed_json_document_is_bounded_by_what_it_expands_to(tmp_path, monkeypatch):
    import piizone.scrubbers.formats as formats

    doc = b'[{"note": "' + b"x" * 5000 + b'"}]'
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(doc))
    assert path.stat().st_size < 1000
    monkeypatch.setattr(formats, "MAX_JSON_BYTES", 1000)
    with pytest.raises(InputError, match="JSON document too large to load whole"):
        list(iter_table_chunks(path, "json"))
    monkeypatch.setattr(formats, "MAX_JSON_BYTES", 10_000)
    (frame,) = iter_table_chunks(path, "json")
    assert len(frame["note"][0]) == 5000
