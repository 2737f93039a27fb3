"""Spreadsheet cells that never run: the one rule every XLSX and CSV writer of the app follows.

A spreadsheet program runs text that starts with = + - or @ as a formula (`=HYPERLINK(...)` sends
whoever clicks to a web address, `=WEBSERVICE(...)` sends data out), and a leading tab or carriage
return can do the same ("CSV injection", OWASP). The app writes text that comes from outside: school
names, the unit's name, imported file names, snapshot names, account display names. So:

- `neutralise` puts an apostrophe in front of text whose first character is = + - @, tab or CR,
  or whose first non-blank character is = + - @ (LibreOffice's CSV import has an option to trim
  leading blanks, which would bring `  =1+1` back to life). The reader sees the text with an apostrophe in
  front, never a formula's result. Numbers are never touched, so -5 in a number column stays a
  number; text that merely starts with a minus ("-5" stored as text) gets the apostrophe too.
- In XLSX, text is also written as a string cell: xlsxwriter's `write()` would otherwise turn
  "=..." (and "{=...}") into a formula and "http://..." into a link (`XLSX_OPTIONS`). A string
  cell is never evaluated; the apostrophe is kept there as well, so that editing the cell or
  saving the sheet as CSV does not revive the formula (the apostrophe is then visible in the cell).
- In CSV, rows end in CR LF, so a field holding a CR or LF anywhere is quoted and cannot start a
  new row with a formula of its own (`CSV_LINE_END`).

Writers get their XLSX workbook from `excel_writer` (pandas) or `workbook` (xlsxwriter), write
frames with `write_frame`, single cells with `write_cell` / `write_cells`, and CSV with
`csv_bytes` / `csv_text`; a convention test keeps every other module of kpi/ and pages/ from
writing cells itself (tests/test_cells.py).
"""

from __future__ import annotations

import pandas as pd

FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")
FORMULA_AFTER_BLANKS = ("=", "+", "-", "@")

# CSV rows end in CR LF (RFC 4180). Python's csv module quotes only fields holding a character of the
# line ending, so with pandas' "\n" a field "An Hòa\r=1+1" went out unquoted and its CR started a new
# row whose first cell was a live "=1+1"; with CR LF every field holding a CR or LF is quoted.
CSV_LINE_END = "\r\n"

# xlsxwriter writes every str as a string cell: never a formula, a link or a number.
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def neutralise(value):
    """Text a spreadsheet would run as a formula, with an apostrophe in front; anything else as is."""
    if isinstance(value, str) and (value.startswith(FORMULA_FIRST)
                                   or value.lstrip().startswith(FORMULA_AFTER_BLANKS)):
        return "'" + value
    return value


def _is_text(series: pd.Series) -> bool:
    # object covers mixed columns (is_string_dtype is false for them); str columns have the
    # string dtype under pandas 3, where `dtype == object` is never true.
    return (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)
            or isinstance(series.dtype, pd.CategoricalDtype))


def neutral_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text cell and every column header neutralised.

    Text columns are found whatever their dtype (object, string, category); a category column
    comes back as plain values. Numbers, dates and booleans are left as they are."""
    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if _is_text(col):
            out.isetitem(i, col.astype(object).map(neutralise))
    out.columns = [neutralise(c) for c in out.columns]
    return out


def csv_text(df: pd.DataFrame) -> str:
    """The frame as CSV text (no index, CR LF line ends), every text cell neutralised."""
    return neutral_frame(df).to_csv(index=False, lineterminator=CSV_LINE_END)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The frame as CSV, UTF-8 with BOM (so Excel shows Vietnamese), every text cell neutralised."""
    return csv_text(df).encode("utf-8-sig")


DATE_FORMAT, DATETIME_FORMAT = "dd/mm/yyyy", "dd/mm/yyyy hh:mm"  # dates as dates, shown the Vietnamese way


def excel_writer(buf) -> pd.ExcelWriter:
    """A pandas ExcelWriter (xlsxwriter) that writes every str as a string cell and every date as a
    date cell shown dd/mm/yyyy."""
    return pd.ExcelWriter(buf, engine="xlsxwriter", date_format=DATE_FORMAT, datetime_format=DATETIME_FORMAT,
                          engine_kwargs={"options": dict(XLSX_OPTIONS)})


def workbook(buf):
    """An in-memory xlsxwriter Workbook that writes every str as a string cell."""
    import xlsxwriter

    return xlsxwriter.Workbook(buf, {"in_memory": True, **XLSX_OPTIONS})


def write_frame(xw: pd.ExcelWriter, df: pd.DataFrame, sheet: str, startrow: int = 0) -> pd.DataFrame:
    """Write the frame (headers and text neutralised, no index) to a sheet of an `excel_writer`;
    return the frame as written (its columns in the same order as df's)."""
    data = neutral_frame(df)
    data.to_excel(xw, sheet_name=sheet, index=False, startrow=startrow)
    return data


def write_cell(ws, row: int, col: int, value, fmt=None) -> None:
    """One cell: text neutralised and written as a string, anything else by xlsxwriter's rules."""
    if isinstance(value, str):
        ws.write_string(row, col, neutralise(value), fmt)
    else:
        ws.write(row, col, value, fmt)


def write_cells(ws, row: int, col: int, values, fmt=None) -> None:
    """A row of cells from (row, col) rightwards, each through `write_cell`."""
    for j, value in enumerate(values):
        write_cell(ws, row, col + j, value, fmt)
