"""Writing command output: to stdout or to a file (never a half-written -o, never a replaced
device: see scrubbers/output_files.py)."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from piizone.scrubbers.output_files import write_output_bytes


def write_output(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` (atomically for a file, in place for a device)."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_output_bytes(output, text.encode("utf-8"))


# Wide enough that no table row is ever cut or folded when the output is a pipe or a file.
PIPE_WIDTH = 10_000


def table_console() -> Console:
    """A console for listings: the terminal's width on a terminal; when stdout is a pipe or a
    file, never cut (rich would otherwise assume 80 columns and truncate ids and times)."""
    return Console() if sys.stdout.isatty() else Console(width=PIPE_WIDTH)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A listing as a table on stdout: one unwrapped row per item, never cut (table_console);
    values are shown as they are (no rich markup: ids and names come from data)."""
    table = Table(header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(str(value) for value in row))
    table_console().print(table, markup=False, highlight=False)


def echo_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A listing as CSV on stdout, header first; a list in a cell is joined with ';'."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([_cell(value) for value in row] for row in rows)
    sys.stdout.write(buffer.getvalue())


def _cell(value: object) -> object:
    """One flat CSV cell: lists and tuples joined with ';' (None is already written empty)."""
    if isinstance(value, list | tuple):
        return ";".join("" if v is None else str(v) for v in value)
    return value


class ListFormat(StrEnum):
    """How a listing command prints: a table for people, JSON or CSV for programs."""

    table = "table"
    json = "json"
    csv = "csv"


# The two options every listing command takes (`--json` stays as the short form).
LIST_FORMAT = typer.Option(ListFormat.table, "--format", help="table, json or csv.")
LIST_JSON = typer.Option(False, "--json", help="Same as --format json.")


def list_format(fmt: ListFormat, json_out: bool) -> ListFormat:
    """The format asked for: `--json` is `--format json`."""
    return ListFormat.json if json_out else fmt
