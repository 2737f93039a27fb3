"""Read a spreadsheet file back and list every cell a spreadsheet program would run.

Used by the injection tests of every writer (and by anyone who writes a new one): the checks read
the file the way a reader's program does (openpyxl for XLSX, the csv module for CSV) instead of
searching the bytes, which for XLSX are zipped. The rule is written out here, not imported from
kpi.common.cells, so a mistake in the app's rule cannot hide itself.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import openpyxl
from openpyxl.utils.escape import unescape

# Text a spreadsheet runs (or may run) as a formula: = + - @ first, or a tab / carriage return
# first (OWASP, "CSV injection"), or = + - @ after leading blanks (LibreOffice can trim them).
RISKY_FIRST = ("=", "+", "-", "@", "\t", "\r")
RISKY_AFTER_BLANKS = ("=", "+", "-", "@")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")  # a CSV number: -0.05 is data, not a formula


@dataclass(frozen=True)
class BadCell:
    """A cell that a spreadsheet would run, where it is, and why it is flagged."""

    sheet: str
    cell: str
    value: object
    why: str


def risky_text(text: str) -> bool:
    """True when a spreadsheet would take this text for a formula."""
    return text.startswith(RISKY_FIRST) or text.lstrip().startswith(RISKY_AFTER_BLANKS)


def _text(value):
    # XLSX stores control characters escaped (a CR is "_x000D_"); openpyxl does not undo that, Excel does.
    return unescape(value) if isinstance(value, str) else value


def formula_cells(xlsx: bytes) -> list[BadCell]:
    """Every formula cell, hyperlink, or text cell starting like a formula, in every sheet."""
    wb = openpyxl.load_workbook(io.BytesIO(xlsx), data_only=False)
    bad = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                value = _text(c.value)
                if c.data_type == "f":
                    text = value if isinstance(value, str) else "{" + value.text + "}"  # an array formula
                    bad.append(BadCell(ws.title, c.coordinate, text, "công thức"))
                elif isinstance(value, str) and risky_text(value):
                    bad.append(BadCell(ws.title, c.coordinate, value, "chữ mở đầu như công thức"))
                if c.hyperlink is not None:
                    bad.append(BadCell(ws.title, c.coordinate, c.value, "đường liên kết"))
    return bad


def csv_bad_cells(data: bytes | str) -> list[BadCell]:
    """Every CSV field (UTF-8, with or without BOM) that starts like a formula; numbers are data."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    bad = []
    for r, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        for j, value in enumerate(row, start=1):
            if not NUMBER.fullmatch(value) and risky_text(value):
                bad.append(BadCell("csv", f"R{r}C{j}", value, "chữ mở đầu như công thức"))
    return bad


def xlsx_texts(xlsx: bytes) -> list[str]:
    """Every non-empty cell of every sheet, as text (what a reader of the file sees)."""
    wb = openpyxl.load_workbook(io.BytesIO(xlsx), data_only=False)
    return [str(_text(v)) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
            if v is not None and v != ""]


def csv_texts(data: bytes) -> list[str]:
    """Every field of a CSV file (UTF-8, with or without BOM)."""
    return [v for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")) for v in row]
