"""A worksheet's rows read straight from its XML with expat: what openpyxl's streaming parser gives
(`WorkSheetParser.parse`), without building an element per tag.

openpyxl's parser builds an ElementTree element for every row, cell and value and then reads them
back: 15-16 s for the largest sheet the limits let in (20.000 rows × 46 columns) on this project's
2-core machine; this reader gives the same rows and values in 5-7 s (tests/test_import_corpus.py
compares the two on every workbook of the import corpus and on one holding every kind of cell).
Cells are read as openpyxl reads them (kpi.imports.import_read takes `column`, `value`, `data_type`):

- the type from `t` (n, s, b, str, inlineStr, d, e), the value from the first <v>; numbers whose style
  is a date format become dates (`from_excel`), out of range as the error "#VALUE!";
- a cell with an <f> is a formula ('f'): "=" and its text; shared formulas translated to the cell,
  array and data-table formulas as openpyxl's objects;
- inline text is the <is>'s own <t> and its runs' <t> (phonetic runs left out);
- a cell's column from its reference, else the one after the previous cell; a row's number from its
  `r`, else the one after the previous row.

A sheet with a DOCTYPE is refused (no workbook has one; entities are where XML bombs live).
"""

from __future__ import annotations

from typing import IO, Iterator
from xml.parsers import expat

from openpyxl.formula.translate import Translator
from openpyxl.utils import coordinate_to_tuple
from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel, from_ISO8601
from openpyxl.worksheet._reader import _cast_number  # openpyxl's own number reading, unchanged
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_ROW, _C, _V, _F, _IS, _T, _R, _RPH = (f"{MAIN} {t}" for t in ("row", "c", "v", "f", "is", "t", "r", "rPh"))
CHUNK = 1 << 16


class DoctypeRefused(ValueError):
    """The sheet declares a DOCTYPE."""


class _Reader:
    def __init__(self, shared_strings, epoch, date_formats, timedelta_formats):
        self.shared, self.epoch = shared_strings, epoch
        self.dates, self.deltas = date_formats, timedelta_formats
        self.formulae: dict[str, Translator] = {}
        self.columns: dict[str, int] = {}  # a reference's letters → its column (few: read once each)
        self.done: list[tuple[int, list[dict]]] = []
        self.row_number = self.col = 0
        self.depth = 0            # elements open
        self.row_depth = -1       # depth of the open <row>, -1 none
        self.cells: list[dict] = []
        self.cell: dict | None = None
        self.text: list[str] | None = None  # characters being collected (<v>, <f>, a <t>)
        self.child = None         # the open child of the cell (<v>, <f>, <is>) and, inside <is>, where a <t> is
        self.inline: dict | None = None  # the inline string: its own <t>, then its runs' (openpyxl's Text.content)
        self.inline_part: str | None = None

    # expat's three callbacks -----------------------------------------------------------------

    def start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        d = self.depth - self.row_depth
        if name == _ROW and self.row_depth < 0:
            self.row_depth = self.depth
            r = attrs.get("r")
            if r is None:
                self.row_number += 1
            else:
                try:
                    self.row_number = int(r)
                except ValueError:
                    value = float(r)
                    if not value.is_integer():
                        raise ValueError(f"{r} is not a valid row number") from None
                    self.row_number = int(value)
            self.col, self.cells = 0, []
        elif self.row_depth >= 0 and d == 1:  # every child of a row is a cell (as openpyxl reads it)
            self.cell = {"attrs": attrs, "v": None, "f": None, "fattrs": None, "is": None}
        elif self.cell is not None and d == 2:
            if name == _V and self.cell["v"] is None:
                self.child, self.text = "v", []
            elif name == _F and self.cell["fattrs"] is None:
                self.child, self.text = "f", []
                self.cell["fattrs"] = attrs
            elif name == _IS and self.cell["is"] is None:
                self.child, self.inline = "is", {"plain": None, "runs": []}
            else:
                self.child = None
        elif self.child == "is" and d == 3:  # the inline string's own <t>, a run <r>, a phonetic run <rPh>
            self.inline_part = name
            if name == _T:
                self.text = []
        elif self.child == "is" and d == 4 and self.inline_part == _R and name == _T:
            self.text = []

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def end(self, name: str) -> None:
        d = self.depth - self.row_depth
        self.depth -= 1
        if self.row_depth < 0:
            return
        if d == 0:  # the row
            self.done.append((self.row_number, self.cells))
            self.row_depth = -1
        elif d == 1 and self.cell is not None:
            self.cells.append(self._cell(self.cell))
            self.cell = None
        elif d == 2 and self.cell is not None:
            if self.child == "v":
                self.cell["v"] = "".join(self.text)
            elif self.child == "f":
                self.cell["f"] = "".join(self.text)
            elif self.child == "is":
                self.cell["is"] = self.inline
            self.child, self.text = None, None
        elif self.child == "is" and self.text is not None and name == _T and d in (3, 4):
            if d == 3:
                self.inline["plain"] = "".join(self.text)
            else:
                self.inline["runs"].append("".join(self.text))
            self.text = None

    # one cell, as WorkSheetParser.parse_cell -------------------------------------------------

    def _cell(self, c: dict) -> dict:
        a = c["attrs"]
        data_type = a.get("t", "n")
        ref = a.get("r")
        style = a.get("s", 0)
        if style:
            style = int(style)
        value = None if data_type == "inlineStr" else (c["v"] or None)
        if ref:
            letters = ref.rstrip("0123456789")
            column = self.columns.get(letters) if len(letters) < len(ref) else None
            if column is None:  # a new column's letters (or a malformed reference: raises as openpyxl does)
                column = self.columns[letters] = coordinate_to_tuple(ref)[1]
            self.col = column
        else:
            self.col += 1
            column = self.col
        if c["fattrs"] is not None:
            data_type, value = "f", self._formula(c["f"], c["fattrs"], ref)
        elif value is not None:
            if data_type == "n":
                value = _cast_number(value)
                if style in self.dates:
                    data_type = "d"
                    try:
                        value = from_excel(value, self.epoch, timedelta=style in self.deltas)
                    except (OverflowError, ValueError):
                        data_type, value = "e", "#VALUE!"
            elif data_type == "s":
                value = self.shared[int(value)]
            elif data_type == "b":
                value = bool(int(value))
            elif data_type == "str":
                data_type = "s"
            elif data_type == "d":
                value = from_ISO8601(value)
        elif data_type == "inlineStr" and c["is"] is not None:
            plain = c["is"]["plain"]
            data_type, value = "s", "".join(([plain] if plain is not None else []) + c["is"]["runs"])
        return {"row": self.row_number, "column": column, "value": value, "data_type": data_type}

    def _formula(self, text: str, attrs: dict, ref: str | None):
        value = "=" + (text or "")
        kind = attrs.get("t")
        if kind == "array":
            return ArrayFormula(ref=attrs.get("ref"), text=value)
        if kind == "shared":
            idx = attrs.get("si")
            if idx in self.formulae:
                return self.formulae[idx].translate_formula(ref)
            if value != "=":
                self.formulae[idx] = Translator(value, ref)
            return value
        if kind == "dataTable":
            return DataTableFormula(**attrs)
        return value


def _no_doctype(*_args) -> None:
    raise DoctypeRefused("DOCTYPE")


def rows(src: IO[bytes], shared_strings, epoch=WINDOWS_EPOCH, date_formats=frozenset(),
         timedelta_formats=frozenset()) -> Iterator[tuple[int, list[dict]]]:
    """(row number, cells) for every <row> of the sheet, in order, read as the file streams in."""
    reader = _Reader(shared_strings, epoch, date_formats, timedelta_formats)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.chars
    parser.StartDoctypeDeclHandler = _no_doctype
    parser.EntityDeclHandler = _no_doctype
    while chunk := src.read(CHUNK):
        parser.Parse(chunk, False)
        if reader.done:
            yield from reader.done
            reader.done = []
    parser.Parse(b"", True)
    yield from reader.done
