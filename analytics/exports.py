"""Tables out of the platform as CSV and XLSX: what every analytics view and the emailed
report hand to people who will open them in a spreadsheet.

A `Table` is a title, a header and rows of plain values; amounts stay `Decimal` so the
spreadsheet gets numbers, not text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import xlsxwriter
from django.http import HttpResponse
from django.utils.text import slugify

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Cells a spreadsheet would run as formulas; prefixed with ' so they stay text (CSV injection).
# Checked after leading spaces too: some spreadsheets trim them before reading a formula.
# The full-width forms of = + - @ too: some spreadsheets read them as the ASCII ones.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

Cell = str | int | float | Decimal | dt.date | None


@dataclass
class Table:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]] = field(default_factory=list)
    # Figures shown above the table in the workbook ("Total", "Share of top 10", ...).
    notes: Sequence[tuple[str, Cell]] = ()


def _text_cell(value: Cell) -> Cell:
    if isinstance(value, str) and value.lstrip(" \u00a0").startswith(_FORMULA_START):
        # A negative number written as text is still a number, not a formula.
        try:
            Decimal(value)
        except ArithmeticError:
            return "'" + value
    return value


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    # Headers too: a split chart's columns are named after imported categories and vendors.
    writer.writerow([_text_cell(cell) for cell in table.header])
    for row in table.rows:
        writer.writerow(["" if cell is None else _text_cell(cell) for cell in row])
    return out.getvalue()


def tables_xlsx(tables: Sequence[Table]) -> bytes:
    """One worksheet per table, header bold and frozen, money as numbers with two decimals."""
    out = io.BytesIO()
    # constant_memory streams rows to disk as they are written: a long export stays small.
    # No string is ever read as a formula, a URL or a number: cells are data from files.
    book = xlsxwriter.Workbook(
        out,
        {
            "in_memory": False,
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    used: set[str] = set()
    for table in tables:
        name = _sheet_name(table.title, used)
        sheet = book.add_worksheet(name)
        row_index = 0
        for label, value in table.notes:
            sheet.write_string(row_index, 0, str(label), bold)
            _write(sheet, row_index, 1, value, money, date)
            row_index += 1
        if table.notes:
            row_index += 1
        for column, title in enumerate(table.header):
            # write_string, like every text cell: a header named after an imported category
            # or vendor must not become a formula.
            sheet.write_string(row_index, column, str(title), bold)
        sheet.freeze_panes(row_index + 1, 0)
        for row in table.rows:
            row_index += 1
            for column, value in enumerate(row):
                _write(sheet, row_index, column, value, money, date)
        sheet.set_column(0, max(len(table.header) - 1, 0), 18)
    book.close()
    return out.getvalue()


def _write(sheet: Any, row: int, column: int, value: Cell, money: Any, date: Any) -> None:
    if value is None:
        return
    if isinstance(value, Decimal):
        sheet.write_number(row, column, float(value), money)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column, dt.datetime(value.year, value.month, value.day), date)
    else:
        # write_string: never interpreted as a formula or a URL, whatever it starts with.
        sheet.write_string(row, column, str(value))


def _sheet_name(title: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ and unique in the workbook.
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "Sheet"
    name, n = base, 2
    while name.casefold() in used:
        name, n = f"{base[:26]} {n}", n + 1
    used.add(name.casefold())
    return name


def table_response(tables: Sequence[Table], *, file_format: str, filename: str) -> HttpResponse:
    """A download of `tables` as "csv" (the first table) or "xlsx" (all of them)."""
    stem = slugify(filename) or "export"
    if file_format == "xlsx":
        response = HttpResponse(tables_xlsx(tables), content_type=XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
    else:
        response = HttpResponse(table_csv(tables[0]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    return response
