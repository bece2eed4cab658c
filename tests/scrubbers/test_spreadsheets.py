"""Workbooks read for scan: every sheet, every cell, names that stay apart."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from openpyxl import Workbook

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.formats import detect_scan_format, iter_table_chunks


def frames(path, rows=2) -> pd.DataFrame:
    return pd.concat(list(iter_table_chunks(path, "xlsx", chunk_rows=rows)), ignore_index=True)


def test_one_sheet_reads_as_a_table_of_strings(tmp_path):
    book = Workbook()
    book.active.append(["name", "born", "n"])
    book.active.append(["Jane Roe", dt.date(1985, 3, 14), 7])
    book.active.append(["John Carter", None, 8])
    book.active.append(["Ann Lee", dt.date(1990, 1, 2), 9])
    path = tmp_path / "one.xlsx"
    book.save(path)
    assert detect_scan_format(path) == "xlsx"
    table = frames(path)
    assert list(table.columns) == ["name", "born", "n"]
    assert table["name"].tolist() == ["Jane Roe", "John Carter", "Ann Lee"]
    assert table["born"].tolist()[:2] == ["1985-03-14T00:00:00", ""]
    assert table["n"].tolist() == ["7", "8", "9"]


def test_several_sheets_repeated_headers_and_cells_beyond_the_header(tmp_path):
    book = Workbook()
    book.active.title = "crm"
    book.active.append(["email", "email", None])
    book.active.append(["a@example.com", "b@example.com", "c@example.com", "extra@example.com"])
    other = book.create_sheet("hr")
    other.append(["email"])
    other.append(["d@example.com"])
    path = tmp_path / "two.xlsx"
    book.save(path)
    chunks = list(iter_table_chunks(path, "xlsx", chunk_rows=10))
    cells = {c: v for chunk in chunks for c in chunk.columns for v in chunk[c] if v}
    assert cells == {
        "crm!email": "a@example.com",
        "crm!email.2": "b@example.com",
        "crm!column_3": "c@example.com",
        "crm!column_4": "extra@example.com",
        "hr!email": "d@example.com",
    }


def test_a_file_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("name,email\n")
    with pytest.raises(InputError, match=r"fake\.xlsx: not a readable \.xlsx workbook"):
        list(iter_table_chunks(path, "xlsx"))
