"""Excel workbooks (`.xlsx`, via openpyxl) as DataFrame chunks, for `scan`.

Every worksheet is read (read-only mode streams rows; cached formula results, not formulas).
The first row of a sheet is its header; in a workbook of several sheets a column is named
`Sheet!header`, so the same header on two sheets stays two columns in the report.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from piizone.scrubbers.exceptions import InputError
from piizone.scrubbers.progress import ReadMeter


def _cell(value: Any) -> str:
    # Cells are scanned as written text, as CSV cells are (dates in ISO form).
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def iter_xlsx_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The workbook's sheets as chunks of string cells; InputError when it cannot be read."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise InputError(f"{path}: not a readable .xlsx workbook ({type(e).__name__})") from None
    try:
        several = len(book.worksheets) > 1
        ReadMeter.expect_rows(_data_rows(book.worksheets))
        for sheet in book.worksheets:
            yield from _sheet_chunks(sheet, chunk_rows, several)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise InputError(f"{path}: corrupt .xlsx data ({type(e).__name__})") from None
    finally:
        book.close()


def _data_rows(sheets: list[Any]) -> int | None:
    """The rows under the sheets' headers, by the dimensions each sheet records (None when
    one records none): for progress only, it is never trusted as the data's end."""
    last = [sheet.max_row for sheet in sheets]
    if any(n is None for n in last):
        return None
    return sum(max(n - 1, 0) for n in last)


def _sheet_chunks(sheet: Any, chunk_rows: int, several: bool) -> Iterator[pd.DataFrame]:
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return
    names: list[str] = []
    prefix = f"{sheet.title}!" if several else ""

    def widen(width: int) -> None:
        # A header cell left empty, a repeated header, a row wider than the header: every
        # cell still gets a column of its own (a cell left out would be PII left unscanned).
        while len(names) < width:
            i = len(names)
            name = _cell(header[i]) if i < len(header) else ""
            name = f"{prefix}{name or f'column_{i + 1}'}"
            names.append(name if name not in names else f"{name}.{i + 1}")

    widen(len(header))
    batch: list[list[str]] = []
    for row in rows:
        widen(len(row))
        batch.append([_cell(v) for v in row] + [""] * (len(names) - len(row)))
        if len(batch) >= chunk_rows:
            yield _frame(batch, names)
            batch = []
    if batch:
        yield _frame(batch, names)


def _frame(batch: list[list[str]], names: list[str]) -> pd.DataFrame:
    width = len(names)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in batch], columns=names, dtype=str)
