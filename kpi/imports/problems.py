"""What an import says back: the problems found in a school's file, located as Excel shows them, and
the error report (XLSX) the office sends back to the school.

Every problem is collected (not just the first, up to `MAX_PROBLEMS`) as a Vietnamese message
naming the file, sheet, row (as Excel numbers it), column and the value found (shortened, control
characters escaped).
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from dataclasses import dataclass, field

from kpi.common import cells
from kpi.common.formatting import fmt_date, fmt_int

MAX_PROBLEMS = 1000  # problems listed per file; the rest are counted


def shown(value, limit: int = 80) -> str:
    """A value as a message shows it: invisible and control characters escaped (\\n, \\x07, \\u202e),
    cut to `limit` characters with the full length said ('… (32.942 ký tự)')."""
    if isinstance(value, bool):
        s = "TRUE" if value else "FALSE"
    elif isinstance(value, float):
        s = str(int(value)) if value.is_integer() else repr(value).replace(".", ",")
    elif isinstance(value, dt.datetime):
        s = value.strftime("%d/%m/%Y %H:%M") if (value.hour, value.minute) != (0, 0) else fmt_date(value)
    elif isinstance(value, dt.date):
        s = fmt_date(value)
    else:
        s = str(value)
    n = len(s)
    out = []
    for ch in s[:limit]:
        if ch in "\n\r\t":
            out.append(repr(ch)[1:-1])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    text = "".join(out)[:limit]
    if n > limit or len("".join(out)) > limit:
        text = f"{text.rstrip()}… ({fmt_int(n)} ký tự)"
    return text


@dataclass(frozen=True)
class Problem:
    """One problem in a file, located as Excel shows it. Text from the file (file and sheet names,
    headers, the value) is kept shortened and with control characters escaped."""

    file: str
    sheet: str
    row: int | None
    column: str
    value: object
    message: str

    def __post_init__(self):
        object.__setattr__(self, "file", shown(self.file, 120))
        object.__setattr__(self, "sheet", shown(self.sheet, 60))
        object.__setattr__(self, "column", shown(self.column, 80))
        if self.value is not None and self.value != "":
            object.__setattr__(self, "value", shown(self.value, 80))

    def __str__(self) -> str:
        where = [self.file] + ([f"trang '{self.sheet}'"] if self.sheet != "—" else [])
        if self.row is not None:
            where.append(f"dòng {self.row}")
        if self.column:
            where.append(f"cột {self.column}")
        found = "" if self.value is None or self.value == "" else f" (giá trị: '{self.value}')"
        return f"{', '.join(where)}: {self.message}{found}"[:1000]


@dataclass
class Parsed:
    """What a file holds once read: observation rows, criterion rows, the problems found."""

    file: str
    observations: list[tuple] = field(default_factory=list)  # school, year, round, field, value
    scores: list[tuple] = field(default_factory=list)  # school, year, criterion, self_p, self_m, ev, ver_p, ver_m
    submitted: set = field(default_factory=set)  # (school, year, round)
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0  # beyond MAX_PROBLEMS, counted only

    def problem(self, sheet: str, row: int | None, column: str, value, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.file, sheet, row, column, value, message))
        else:
            self.more_problems += 1

    def close(self) -> None:
        """Add the count of problems not listed."""
        if self.more_problems:
            self.problems.append(Problem(self.file, "—", None, "", None,
                                         f"còn {fmt_int(self.more_problems)} lỗi khác không liệt kê; sửa các lỗi "
                                         "trên rồi kiểm tra lại tệp"))
            self.more_problems = 0


class ImportRejected(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} lỗi")


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, dry run, would do)."""

    import_id: int | None
    file: str
    sha256: str
    rows: int
    values_changed: int
    preview: object  # pd.DataFrame: per school and period, values new / changed / unchanged
    message: str



def error_report(problems: list[Problem]) -> bytes:
    """The problems as an XLSX the office can send back to the school: every text cell written as
    text, formulas neutralised."""
    buf = io.BytesIO()
    wb = cells.workbook(buf)
    ws = wb.add_worksheet("Lỗi")
    head = wb.add_format({"bold": True, "bg_color": "#DCE9F5", "border": 1})
    cells.write_cell(ws, 0, 0, "Các lỗi cần sửa trước khi nhập", wb.add_format({"bold": True, "font_size": 13}))
    cells.write_cells(ws, 2, 0, ["Tệp", "Trang tính", "Dòng", "Cột", "Giá trị", "Lỗi"], head)
    for i, p in enumerate(problems, start=3):
        row = [p.file, p.sheet, p.row, p.column, "" if p.value is None else str(p.value), p.message]
        cells.write_cells(ws, i, 0, [v if isinstance(v, int) or v else None for v in row])
    for j, width in enumerate((24, 16, 8, 28, 30, 80)):
        ws.set_column(j, j, width)
    ws.freeze_panes(3, 0)
    wb.close()
    return buf.getvalue()
