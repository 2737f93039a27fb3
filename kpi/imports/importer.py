"""Imports of schools' files (XLSX, CSV): validate everything, then apply all or nothing, audited.

A file is first read within limits (kpi.imports.import_read: size, unpacked size, rows and cells that hold
a value, time), outside the writers' lock. Then the importer finds its tables: the data sheet and
the self-assessment sheet, each recognised by its header row wherever a person put it (below a
letterhead, merged title rows, blank rows). Exactly one sheet may hold each table: a copied sheet
("Số liệu (2)") or a hidden one holding the same table is refused, naming both, and a sheet that
looks like the data sheet but whose headers are not recognised is refused with the headers expected.

Every problem is collected (not just the first, up to `MAX_PROBLEMS`) as a Vietnamese message
naming the file, sheet, row (as Excel numbers it), column and the value found (shortened, control
characters escaped). The same cell rules hold on every sheet: no formulas, no merged cells in the
table, numbers where numbers are expected. A file with any problem changes nothing; a file that
holds no value, or only values already stored, says so.

A good file is applied in one transaction on a private copy of the database that is swapped in
under the writers' lock (kpi.store.db.writing), so the app keeps serving and a killed import leaves the
database as it was. Each import is recorded (who, when, file, SHA-256, rows, values changed) with
the values it replaced, so it can be inspected and reverted; the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field

import duckdb

from kpi.catalog.model import LEVEL_LABELS, Catalog, default_catalog
from kpi.common import cells
from kpi.common.formatting import fmt_date, fmt_int
from kpi.domain import checks, workflow
from kpi.imports.import_read import LIMITS, Limits, Refused, Sheet, read_book, size_text
from kpi.imports.templates import (
    DATA_KEYS,
    DATA_SHEET,
    META_SHEET,
    SCORE_KEYS,
    SCORE_SHEET,
    fold,
    header_map,
    score_header_map,
    version,
)
from kpi.store import db, derived, recovery, state

YES_WORDS, NO_WORDS = checks.YES_WORDS, checks.NO_WORDS
ROUND_WORDS = {
    "HK1": {"hk1", "hki", "hk 1", "hk i", "học kỳ 1", "học kỳ i", "học kì 1", "học kì i", "sơ kết học kỳ i",
            "sơ kết học kì i", "sơ kết hk1", "sơ kết hki"},
    "CN": {"cn", "cả năm", "ca nam", "cuối năm", "cuoi nam", "tổng kết", "tổng kết cả năm", "tổng kết năm học"},
}
# Columns offices add to official forms that carry no figure: ignored wherever they are.
IGNORED_HEADERS = {fold(h) for h in ("STT", "TT", "Số TT", "Số thứ tự", "Ghi chú")}
HEADER_ROWS = 30  # a header row is looked for among the first rows holding a value of each sheet
MAX_PROBLEMS = 1000  # problems listed per file; the rest are counted
_SHARED_KEYS = {"school_id", "name", "school_year"}  # columns both tables have
_KIND_LABEL = {"data": "số liệu", "scores": "tự đánh giá"}


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


# ---- reading files -----------------------------------------------------------------------

def _col(j: int) -> str:
    """0-based column index → Excel letters."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _header_keys(row: list, hmap: dict, smap: dict) -> tuple[set, set]:
    d, s = set(), set()
    for v in row:
        if v is None or isinstance(v, (int, float)):
            continue
        f = fold(v)
        if f in hmap:
            d.add(hmap[f])
        if f in smap:
            s.add(smap[f])
    return d, s


def _table_kind(d: set, s: set) -> tuple[int, str] | None:
    """(strength, kind) when a row's headers make it a table header, else None."""
    if len(s) >= 2 and s - _SHARED_KEYS:
        return len(s), "scores"
    if len(d) >= 2 and d - {"school_id", "name"}:
        return len(d), "data"
    return None


def header_score(cat: Catalog):
    """How many known headers a row holds (either table): what CSV decoding is chosen by."""
    hmap, smap = header_map(cat), score_header_map()

    def score(row: list) -> int:
        d, s = _header_keys(row, hmap, smap)
        return max(len(d), len(s))

    return score


def limits_text(limits: Limits = LIMITS) -> str:
    """The limits as the upload widget says them, before anything is uploaded."""
    return (f"Tối đa {size_text(limits.file_bytes)} mỗi tệp; mỗi trang tối đa {fmt_int(limits.rows)} dòng và "
            f"{fmt_int(limits.columns)} cột có nội dung. Nhận XLSX (biểu mẫu) và CSV: UTF-8, Windows-1258 hoặc "
            "UTF-16 (Unicode Text), phân tách bằng dấu phẩy, chấm phẩy hoặc tab.")


def read(name: str, data: bytes, cat: Catalog, limits: Limits = LIMITS) -> list[Sheet]:
    """The file's sheets, read within `limits`; raise Refused."""
    return read_book(name, data, header_score(cat), limits)


@dataclass
class _Table:
    sheet: Sheet
    kind: str  # "data" | "scores"
    at: int  # index of the header row in sheet.rows


def _find_table(sh: Sheet, hmap: dict, smap: dict) -> _Table | None:
    best = None
    for k, (_, row) in enumerate(sh.rows[:HEADER_ROWS]):
        cand = _table_kind(*_header_keys(row, hmap, smap))
        if cand and (best is None or cand[0] > best[0]):
            best = (cand[0], cand[1], k)
    return _Table(sh, best[1], best[2]) if best else None


def _q(name: str) -> str:
    return f"'{shown(name, 60)}'"


_number = checks.number  # the value checks are shared with the entry form (kpi.domain.checks)
_yes_no = checks.yes_no


def _code(v) -> str:
    """A school or criterion code as typed: '79000123' for a number cell, NFC, trimmed."""
    if _blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return unicodedata.normalize("NFC", str(v)).strip()


def _year(v) -> str:
    """'2023-2024' from '2023-2024', '2023 - 2024', '2023–2024', '2023/2024'."""
    s = _code(v)
    m = re.fullmatch(r"(\d{4})\s*[-\u2010-\u2015/]\s*(\d{4})", s)
    return f"{m[1]}-{m[2]}" if m else s


def _round(v) -> str:
    """'HK1' or 'CN' from the codes or their Vietnamese names ('Học kỳ I', 'Cả năm')."""
    s = fold(_code(v))
    for code, words in ROUND_WORDS.items():
        if s in words:
            return code
    return _code(v).upper()


# ---- validation --------------------------------------------------------------------------

def _facts(con) -> tuple[dict, set]:
    """What a file is checked against: the schools (code → level) and the periods."""
    schools = dict(con.execute("SELECT school_id, level FROM schools").fetchall())
    periods = {(y, r) for y, r in con.execute("SELECT school_year, round FROM periods").fetchall()}
    return schools, periods


def locked_keys(path, keys) -> list[tuple]:
    """The (school, year, round) among `keys` that the Phòng locked and has not reopened (kpi.workflows.entry):
    an import may not change them either."""

    keys = sorted(keys)
    if not keys or not state.state_path(path).exists():
        return []
    store = state.store_for(path)
    periods = sorted({(y, r) for _, y, r in keys})
    locked = set()
    for y, r in periods:
        stored = dict(store.read("SELECT school_id, state FROM entries WHERE school_year = ? AND round = ?", (y, r)))
        for (sid,) in store.read("SELECT school_id FROM period_locks WHERE school_year = ? AND round = ?", (y, r)):
            if workflow.effective_state(stored.get(sid), True, True) == "da_khoa":
                locked.add((sid, y, r))
    return [k for k in keys if k in locked]


def published_keys(con, scores) -> list[tuple]:
    """The (school, school year, publication) among a file's criterion rows whose results the Phòng
    published (kpi.workflows.publication): published results are frozen, an import may not change them."""
    keys = sorted({(r[0], r[1]) for r in scores})
    if not keys:
        return []
    try:
        rows = con.execute("SELECT DISTINCT school_id, school_year, publication_id FROM publication_scores "
                           "WHERE list_contains(?, school_year)", [sorted({y for _, y in keys})]).fetchall()
    except duckdb.CatalogException:  # a file older than the publications table
        return []
    wanted = set(keys)
    return sorted((sid, y, pid) for sid, y, pid in rows if (sid, y) in wanted)


def facts(con) -> tuple[dict, set]:
    """What a file is checked against: the schools (code → level) and the periods."""
    return _facts(con)


def validate(name: str, data: bytes, con, catalog: Catalog | None = None, limits: Limits = LIMITS) -> Parsed:
    """Read and check a file against the catalog and the database (schools, periods)."""
    cat = catalog or default_catalog()
    try:
        sheets = read(name, data, cat, limits)
    except Refused as e:
        out = Parsed(name)
        out.problem(e.sheet, None, "", None, e.message)
        return out
    return check(name, sheets, _facts(con), cat)


def check(name: str, sheets: list[Sheet], facts: tuple[dict, set], catalog: Catalog | None = None) -> Parsed:
    """Find the tables of a file that has been read and check every row (no database access)."""
    cat = catalog or default_catalog()
    schools, periods = facts
    out = Parsed(name)
    meta = next((s for s in sheets if s.name == META_SHEET), None)
    if meta is not None:
        kv = {str(r[0]): str(r[1]) for _, r in meta.rows if len(r) >= 2 and r[0] is not None}
        if kv.get("template_version") and kv["template_version"] != version(cat):
            out.problem(META_SHEET, None, "", kv["template_version"],
                        f"biểu mẫu đã cũ (phiên bản hiện tại {version(cat)}); tải biểu mẫu mới trên trang Dữ liệu và "
                        "chép số liệu sang")
            return out
    hmap, smap = header_map(cat), score_header_map()
    tables = [t for sh in sheets if sh.name != META_SHEET and (t := _find_table(sh, hmap, smap))]
    if not _tables_ok(sheets, tables, out):
        out.close()
        return out
    for t in tables:
        if t.kind == "data":
            _validate_data(t, out, cat, schools, periods)
        else:
            _validate_scores(t, out, cat, schools, {y for y, _ in periods})
    if not out.problems and not out.more_problems and not out.observations and not out.scores:
        where = ", ".join(_q(t.sheet.name) for t in tables)
        out.problem(tables[0].sheet.name, None, "", None,
                    f"tệp không có số liệu nào để nhập: trang {where} không có dòng nào có số liệu chỉ tiêu hay điểm "
                    "tự đánh giá (các dòng để trống, hoặc chỉ có mã và tên trường); điền số liệu rồi gửi lại")
    out.close()
    return out


def _tables_ok(sheets: list[Sheet], tables: list[_Table], out: Parsed) -> bool:
    """Exactly the tables the importer knows, each on one visible sheet; else say which sheets."""
    ok = True
    for kind in ("data", "scores"):
        visible = [t for t in tables if t.kind == kind and not t.sheet.hidden]
        hidden = [t for t in tables if t.kind == kind and t.sheet.hidden]
        label = _KIND_LABEL[kind]
        for h in hidden:
            ok = False
            if visible:
                out.problem(h.sheet.name, h.sheet.rows[h.at][0], "", None,
                            f"trang ẩn {_q(h.sheet.name)} cũng có bảng {label} như trang {_q(visible[0].sheet.name)}; "
                            "chỉ được có một trang: xóa trang ẩn (hoặc bỏ ẩn và gộp số liệu vào một trang) rồi gửi lại")
            else:
                out.problem(h.sheet.name, h.sheet.rows[h.at][0], "", None,
                            f"bảng {label} nằm trong trang ẩn {_q(h.sheet.name)}: bỏ ẩn trang (chuột phải vào tên "
                            "trang › Bỏ ẩn) rồi gửi lại")
        if len(visible) > 1:
            ok = False
            names = ", ".join(_q(t.sheet.name) for t in visible)
            out.problem(visible[1].sheet.name, visible[1].sheet.rows[visible[1].at][0], "", None,
                        f"bảng {label} có ở {len(visible)} trang: {names}; mỗi tệp chỉ được có một trang {label}: xóa "
                        f"trang thừa (trang sao chép {_q(visible[1].sheet.name)}) rồi gửi lại")
    if not ok:
        return False
    found = {t.kind for t in tables}
    named = {"data": fold(DATA_SHEET), "scores": fold(SCORE_SHEET)}
    for kind, expected in (("data", [DATA_KEYS[k] for k in ("school_id", "school_year", "round")]),
                           ("scores", [SCORE_KEYS[k] for k in ("school_id", "school_year", "criterion_code")])):
        if kind in found:
            continue
        lost = [s for s in sheets if fold(s.name).startswith(named[kind]) and s.rows]
        if kind == "data" and not lost and not found:
            lost = [s for s in sheets if s.name != META_SHEET and s.rows and not s.hidden][:1]
            if not lost:
                out.problem("—", None, "", None, "tệp không có nội dung: mọi trang tính, mọi dòng đều trống")
                return False
        for sh in lost:
            ok = False
            heads = ", ".join(f"'{h}'" for h in expected)
            more = " và các cột chỉ tiêu như biểu mẫu" if kind == "data" else " và các cột điểm như biểu mẫu"
            out.problem(sh.name, None, "", None,
                        f"không nhận ra bảng {_KIND_LABEL[kind]} của trang {_q(sh.name)}: không tìm thấy dòng tiêu đề có "
                        f"các cột {heads}{more} trong {HEADER_ROWS} dòng đầu có nội dung"
                        + (f" (đọc bằng {sh.note})" if sh.note else "")
                        + "; giữ nguyên dòng tiêu đề của biểu mẫu (không xóa, không đổi tên cột) rồi gửi lại")
    return ok


def _merged_problems(sh: Sheet, header_row: int, out: Parsed) -> None:
    for rng in sh.merged:
        first_row = int(re.search(r"\d+", rng.split(":")[0]).group())
        if first_row > header_row:  # the title rows above the header may be merged
            out.problem(sh.name, first_row, rng, None, "ô gộp che giá trị; bỏ gộp ô và điền từng ô")


def _unheaded(sh: Sheet, number: int, raw: list, header: list, out: Parsed, ignored: set) -> None:
    for j in range(len(raw)):
        if (j >= len(header) or _blank(header[j])) and j not in ignored and not _blank(raw[j]):
            out.problem(sh.name, number, _col(j), raw[j],
                        "ô có giá trị nhưng cột không có tên cột (ngoài bảng); xóa giá trị hoặc đặt tên cột như "
                        "biểu mẫu")


def _validate_data(t: _Table, out: Parsed, cat: Catalog, schools, periods) -> None:
    sh = t.sheet
    hmap = header_map(cat)
    hnum, header = sh.rows[t.at]
    cols: dict[int, str] = {}
    ignored: set[int] = set()
    for j, v in enumerate(header):
        if _blank(v):
            continue
        if fold(v) in IGNORED_HEADERS:
            ignored.add(j)
            continue
        key = hmap.get(fold(v))
        if key is None:
            out.problem(sh.name, hnum, _col(j), v, "không nhận ra tên cột (so với biểu mẫu)")
        elif key in cols.values():
            out.problem(sh.name, hnum, _col(j), v, "cột bị lặp")
        else:
            cols[j] = key
    keys = set(cols.values())
    for key, label in (("school_id", "Mã trường"), ("school_year", "Năm học"), ("round", "Kỳ")):
        if key not in keys:
            out.problem(sh.name, hnum, "", None, f"thiếu cột bắt buộc '{label}'")
    if not {"school_id", "school_year", "round"} <= keys:
        return
    _merged_problems(sh, hnum, out)
    pos = {k: j for j, k in cols.items()}
    field_cols = [j for j, k in cols.items() if k not in DATA_KEYS]
    seen: dict[tuple, int] = {}
    for excel_row, raw in sh.rows[t.at + 1:]:
        row = raw + [None] * (len(header) - len(raw))
        if all(_blank(row[pos[k]]) for k in ("school_id", "school_year", "round")) and not any(
                _number(row[j]) is not None or _yes_no(row[j]) is not None for j in field_cols):
            continue  # a note or a signature block below the table: no school, no figure
        out.rows += 1
        problems_before = len(out.problems) + out.more_problems
        bad_columns: set[int] = set()

        def problem(j, value, message):
            bad_columns.add(j)
            out.problem(sh.name, excel_row, f"{_col(j)} ({shown(header[j], 60)})", value, message)

        _unheaded(sh, excel_row, raw, header, out, ignored)
        formula_keys = [pos[k] for k in ("school_id", "school_year", "round") if (excel_row, pos[k]) in sh.formulas]
        for j in formula_keys:
            problem(j, row[j], "ô chứa công thức; hãy nhập giá trị (dán giá trị thay cho công thức)")
        if formula_keys:
            continue
        sid = _code(row[pos["school_id"]])
        if sid not in schools and sid.upper() in schools:
            sid = sid.upper()
        year, rnd = _year(row[pos["school_year"]]), _round(row[pos["round"]])
        level = schools.get(sid)
        if level is None:
            problem(pos["school_id"], row[pos["school_id"]], "mã trường không có trong danh sách trường của đơn vị")
        if (year, rnd) not in periods:
            problem(pos["round"], f"{year} {rnd}".strip(),
                    "kỳ báo cáo không có (cần năm học dạng 2023-2024 và kỳ HK1 hoặc CN đã khai báo)")
        key = (sid, year, rnd)
        if key in seen:
            problem(pos["school_id"], sid, f"trùng trường và kỳ với dòng {seen[key]}")
            continue
        seen[key] = excel_row
        values: dict[str, tuple[float, int]] = {}
        for j in field_cols:
            code = cols[j]
            v = row[j]
            if (excel_row, j) in sh.formulas:
                problem(j, v, "ô chứa công thức; hãy nhập giá trị (dán giá trị thay cho công thức)")
                continue
            if _blank(v):
                continue
            f = cat.fields[code]
            if level is not None and level not in f.levels:
                problem(j, v, f"trường {LEVEL_LABELS[level]} không báo cáo chỉ tiêu này; để trống ô")
                continue
            x, why = checks.parse(f, v, cat)
            if why:
                problem(j, v, why)
                continue
            values[code] = (x, j)
        rejected = {cols[j] for j in bad_columns if j in cols}
        if not values and len(out.problems) + out.more_problems == problems_before:
            out.rows -= 1  # a prefilled row the school left empty: not a submission
            continue
        for code, why in checks.pair_problems({k: x for k, (x, _) in values.items()}, cat):
            problem(values[code][1], row[values[code][1]], why)
            values.pop(code)
            rejected.add(code)  # reported for what the cell holds, not as missing
        if level is not None:
            for f in cat.fields.values():
                if f.code in rejected:
                    continue  # already reported for what the cell holds
                if f.required and level in f.levels and f.code not in values and f.code in keys:
                    problem(pos[f.code], None, cat.checks.builtin["required"])
                elif f.required and level in f.levels and f.code not in keys:
                    problem(pos["school_id"], sid, f"thiếu cột bắt buộc '{f.label_vi}'")
        if not out.problems:  # a file with problems is refused whole: keep no values for it
            out.observations += [(sid, year, rnd, code, x) for code, (x, _) in values.items()]
            out.submitted.add(key)


_SCORE_READ = ("school_id", "school_year", "criterion_code", "self_points", "self_met", "evidence_url",
               "verified_points", "verified_met")
_ENTERED = ("self_points", "self_met", "evidence_url", "verified_points", "verified_met")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _evidence_problem(text: str) -> str | None:
    """Why an evidence link cannot be stored (None: it can)."""
    if len(text) > 2000:
        return "đường dẫn minh chứng quá dài (tối đa 2.000 ký tự)"
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        return "đường dẫn minh chứng có ký tự điều khiển; gõ lại đường dẫn"
    if _URL_SCHEME.match(text) and not text.lower().startswith(("http://", "https://")):
        return "đường dẫn minh chứng phải bắt đầu bằng http:// hoặc https://"
    return None


def _validate_scores(t: _Table, out: Parsed, cat: Catalog, schools, years) -> None:
    sh = t.sheet
    smap = score_header_map()
    hnum, header = sh.rows[t.at]
    cols: dict[str, int] = {}
    ignored: set[int] = set()
    for j, v in enumerate(header):
        if _blank(v):
            continue
        if fold(v) in IGNORED_HEADERS:
            ignored.add(j)
            continue
        key = smap.get(fold(v))
        if key is None:
            out.problem(sh.name, hnum, _col(j), v, "không nhận ra tên cột (so với biểu mẫu)")
        elif key in cols:
            out.problem(sh.name, hnum, _col(j), v, "cột bị lặp")
        else:
            cols[key] = j
    for key in ("school_id", "school_year", "criterion_code"):
        if key not in cols:
            out.problem(sh.name, hnum, "", None, f"thiếu cột bắt buộc '{SCORE_KEYS[key]}'")
    if not {"school_id", "school_year", "criterion_code"} <= set(cols):
        return
    _merged_problems(sh, hnum, out)
    seen = {}
    for excel_row, raw in sh.rows[t.at + 1:]:
        row = raw + [None] * (len(header) - len(raw))

        def problem(key, value, message, j=None):
            j = cols[key] if j is None else j
            out.problem(sh.name, excel_row, f"{_col(j)} ({shown(header[j], 60)})", value, message)

        get = {k: row[j] for k, j in cols.items()}
        entered = [k for k in _ENTERED if k in get and not _blank(get[k])]
        if not entered:
            continue  # a criterion left blank (or a note below the table): nothing to import
        out.rows += 1
        _unheaded(sh, excel_row, raw, header, out, ignored)
        formulas = [k for k in _SCORE_READ if k in cols and (excel_row, cols[k]) in sh.formulas]
        for k in formulas:
            problem(k, get[k], "ô chứa công thức; hãy nhập giá trị (dán giá trị thay cho công thức)")
        if formulas:
            continue
        sid, year, code = _code(get["school_id"]), _year(get["school_year"]), _code(get["criterion_code"])
        if sid not in schools and sid.upper() in schools:
            sid = sid.upper()
        if sid not in schools:
            problem("school_id", get["school_id"], "mã trường không có trong danh sách trường của đơn vị")
        if year not in years:
            problem("school_year", get["school_year"], "năm học không có trong các kỳ báo cáo")
        c = cat.criteria.get(code)
        if c is None or c.rule not in ("entered", "condition"):
            problem("criterion_code", get["criterion_code"],
                    "mã tiêu chí không có trong bộ chỉ số (hoặc không được chấm điểm)")
            continue
        if (sid, year, code) in seen:
            problem("criterion_code", code, f"trùng trường và tiêu chí với dòng {seen[(sid, year, code)]}")
            continue
        seen[(sid, year, code)] = excel_row
        vals = {}
        for key in ("self_points", "verified_points"):
            if key in get and not _blank(get[key]) and c.rule == "entered":
                x = _number(get[key])
                if x is None:
                    problem(key, get[key], checks.not_a_number(get[key], cat))
                elif x < 0 or x > c.max_points:
                    problem(key, get[key], f"vượt điểm tối đa của tiêu chí ({c.max_points:g})" if x > 0
                            else "điểm không được âm")
                else:
                    vals[key] = x
        for key in ("self_met", "verified_met"):
            if key in get and not _blank(get[key]):
                x = _yes_no(get[key])
                if x is None:
                    problem(key, get[key], cat.checks.builtin["yes_no"])
                else:
                    vals[key] = bool(x)
        evidence = None
        if "evidence_url" in get and not _blank(get["evidence_url"]):
            evidence = unicodedata.normalize("NFC", str(get["evidence_url"])).strip()
            if why := _evidence_problem(evidence):
                problem("evidence_url", get["evidence_url"], why)
                evidence = None
        if not out.problems:
            out.scores.append((sid, year, code, vals.get("self_points"), vals.get("self_met"), evidence,
                               vals.get("verified_points"), vals.get("verified_met")))


# ---- preview and apply -------------------------------------------------------------------

def _register(con, parsed: Parsed) -> None:
    import pyarrow as pa

    obs = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string()),
                     ("field_code", pa.string()), ("value", pa.float64())])
    scores = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("criterion_code", pa.string()),
                        ("self_points", pa.float64()), ("self_met", pa.bool_()), ("evidence_url", pa.string()),
                        ("verified_points", pa.float64()), ("verified_met", pa.bool_())])
    for name, schema, rows in (("in_obs", obs, parsed.observations), ("in_scores", scores, parsed.scores)):
        columns = list(zip(*rows)) if rows else [()] * len(schema)
        con.register(name, pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema)],
                                                schema=schema))


_DIFF = """
SELECT i.school_id, i.school_year, i.round, i.field_code, i.value, o.value AS old_value, o.import_id AS old_import
FROM in_obs i LEFT JOIN observations o USING (school_id, school_year, round, field_code)
"""
_SCORE_DIFF = """
SELECT i.*, c.self_points AS o_sp, c.self_met AS o_sm, c.evidence_url AS o_ev, c.verified_points AS o_vp,
       c.verified_met AS o_vm, c.import_id AS o_imp, c.school_id IS NOT NULL AS existed
FROM in_scores i LEFT JOIN criterion_scores c USING (school_id, school_year, criterion_code)
"""


def _score_changed(d):
    """An imported criterion row changes something when a filled cell differs from what is stored."""
    changed = ~d["existed"]
    for new, old in (("self_points", "o_sp"), ("self_met", "o_sm"), ("evidence_url", "o_ev"),
                     ("verified_points", "o_vp"), ("verified_met", "o_vm")):
        changed |= d[new].notna() & (d[new].astype(object) != d[old].astype(object))
    return changed


def preview(con, parsed: Parsed):
    """Per school and period: values that would be new, changed, unchanged (a DataFrame)."""
    import pandas as pd

    _register(con, parsed)
    try:
        d = con.execute(_DIFF).df()
        s = con.execute(_SCORE_DIFF).df()
        names = dict(con.execute("SELECT school_id, name FROM schools").fetchall())
    finally:
        con.unregister("in_obs")
        con.unregister("in_scores")
    d["kind"] = ["mới" if pd.isna(o) else "thay đổi" if o != v else "không đổi"
                 for v, o in zip(d["value"], d["old_value"])]
    d["period"] = d["school_year"] + " " + d["round"]
    if len(s):
        ch = _score_changed(s)
        s = s.assign(kind=["mới" if not e else "thay đổi" if c else "không đổi" for e, c in zip(s["existed"], ch)],
                     period=s["school_year"] + " (tự đánh giá)")
        d = pd.concat([d[["school_id", "period", "kind"]], s[["school_id", "period", "kind"]]])
    if d.empty:
        return pd.DataFrame(columns=["Mã trường", "Trường", "Kỳ", "Mới", "Thay đổi", "Không đổi"])
    t = d.groupby(["school_id", "period", "kind"]).size().unstack(fill_value=0)
    for k in ("mới", "thay đổi", "không đổi"):
        if k not in t.columns:
            t[k] = 0
    t = t.reset_index()
    return pd.DataFrame({"Mã trường": t["school_id"], "Trường": t["school_id"].map(names), "Kỳ": t["period"],
                         "Mới": t["mới"], "Thay đổi": t["thay đổi"], "Không đổi": t["không đổi"]})


def _changes(pv) -> int:
    return int(pv["Mới"].sum() + pv["Thay đổi"].sum()) if len(pv) else 0


def _imported_before(con, sha: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM imports WHERE sha256 = ? AND source = 'import'",
                            [sha]).fetchall()[0][0])


def _unchanged_message(con, name: str, sha: str, parsed: Parsed) -> str:
    """Why a file changes nothing, in the school's words."""
    n = len(parsed.observations) + len(parsed.scores)
    prior = con.execute("""SELECT import_id, started_at FROM imports WHERE sha256 = ? AND source = 'import'
                           AND status = 'applied' ORDER BY import_id DESC LIMIT 1""", [sha]).fetchall()
    why = (f"tệp này đã được nhập ở lần nhập #{prior[0][0]} ngày {fmt_date(prior[0][1])}" if prior
           else "số liệu trong tệp giống hệt số liệu đã nhập trước đó")
    return (f"{name}: không có giá trị nào thay đổi: cả {fmt_int(n)} giá trị trong tệp đã có sẵn với đúng giá trị "
            f"đó ({why}); không ghi gì.")


class _Discard(Exception):
    """Leave db.writing without swapping the copy in (nothing to write)."""

    def __init__(self, result: ImportResult):
        self.result = result


def import_file(path, name: str, data: bytes, user: str, dry_run: bool = False,
                catalog: Catalog | None = None, now: dt.datetime | None = None,
                limits: Limits = LIMITS) -> ImportResult:
    """Validate a file and, unless `dry_run`, apply it whole; raise ImportRejected with every
    problem when it has any (nothing is written).

    The file is read and checked before the writers' lock is taken, so a refused file (or one that
    changes nothing) never copies the database; the checks against schools and periods are redone
    under the lock only if those changed meanwhile."""
    cat = catalog or default_catalog()
    sha = hashlib.sha256(data).hexdigest()
    try:
        sheets = read(name, data, cat, limits)
    except Refused as e:
        raise ImportRejected([Problem(name, e.sheet, None, "", None, e.message)]) from None
    con = db.connect(path)
    try:
        facts = _facts(con)
        parsed = check(name, sheets, facts, cat)
        if parsed.problems:
            raise ImportRejected(parsed.problems)
        if locked := locked_keys(path, parsed.submitted):
            raise ImportRejected([Problem(name, "—", None, "", None, f"kỳ {y} {r} của trường {sid} đã khóa (Phòng đã "
                                          "duyệt và khóa kỳ); mở lại trường trên trang Duyệt số liệu trước khi nhập")
                                  for sid, y, r in locked[:MAX_PROBLEMS]])
        if published := published_keys(con, parsed.scores):
            raise ImportRejected([Problem(name, "—", None, "", None, f"kết quả đánh giá năm học {y} của trường {sid} "
                                          f"đã công bố (lần công bố {pid}) và không thay đổi nữa; xóa các dòng đó rồi "
                                          "gửi lại") for sid, y, pid in published[:MAX_PROBLEMS]])
        if dry_run:
            pv = preview(con, parsed)
            changes = _changes(pv)
            extra = "" if changes else f" {_unchanged_message(con, name, sha, parsed)}"
            return ImportResult(None, name, sha, parsed.rows, changes, pv,
                                f"Kiểm tra xong {name}: {parsed.rows} dòng hợp lệ, {changes} giá trị sẽ thay đổi."
                                + extra)
        if _imported_before(con, sha):  # the same bytes again: usually nothing to write, so no copy
            pv = preview(con, parsed)
            if _changes(pv) == 0 and not _new_submissions(con, parsed):
                return ImportResult(None, name, sha, parsed.rows, 0, pv, _unchanged_message(con, name, sha, parsed))
    finally:
        con.close()
    now = now or dt.datetime.now()
    try:
        with db.writing(path) as con:
            if (current := _facts(con)) != facts:
                parsed = check(name, sheets, current, cat)
                if parsed.problems:
                    raise ImportRejected(parsed.problems)
            pv = preview(con, parsed)
            changes = _changes(pv)
            new_subs = _new_submissions(con, parsed)
            if changes == 0 and not new_subs:
                raise _Discard(ImportResult(None, name, sha, parsed.rows, 0, pv,
                                            _unchanged_message(con, name, sha, parsed)))
            import_id = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchall()[0][0]
            _apply(con, parsed, import_id, name, now, new_subs)
            derived.refresh_index(con, cat, *_touched(parsed))
            con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, 'import', ?, ?, 'applied')",
                        [import_id, user, now, dt.datetime.now(), name, sha, parsed.rows, changes])
    except _Discard as d:
        return d.result
    return ImportResult(import_id, name, sha, parsed.rows, changes, pv,
                        f"Đã nhập {name} (lần nhập #{import_id}): {parsed.rows} dòng, {changes} giá trị mới hoặc "
                        "thay đổi.")


_WRITTEN_TWICE = """
SELECT school_id, school_year, round, field_code FROM observations o
WHERE EXISTS (SELECT 1 FROM in_obs i WHERE i.school_id = o.school_id AND i.school_year = o.school_year
              AND i.round = o.round AND i.field_code = o.field_code)
GROUP BY ALL HAVING count(*) > 1
UNION ALL
SELECT school_id, school_year, NULL, criterion_code FROM criterion_scores c
WHERE EXISTS (SELECT 1 FROM in_scores i WHERE i.school_id = c.school_id AND i.school_year = c.school_year
              AND i.criterion_code = c.criterion_code)
GROUP BY ALL HAVING count(*) > 1
LIMIT 3
"""


def _check_unique(con, name: str) -> None:
    """The schema's uniqueness rules (kpi/sql/schema.sql, duplicate_keys) on the keys this import
    wrote, before it commits; a breach rolls the whole write back. Costs what the import costs,
    not what the database holds."""
    dups = con.execute(_WRITTEN_TWICE).fetchall()
    if dups:
        keys = "; ".join(" ".join(str(x) for x in d if x) for d in dups)
        raise ImportRejected([Problem(name, "—", None, "", None,
                                      f"cơ sở dữ liệu sẽ có hai giá trị cho cùng một trường, kỳ và chỉ tiêu ({keys}); "
                                      "không ghi gì. Báo cho người quản trị hệ thống.")])


def _touched(parsed: Parsed) -> tuple[list[str], list[str]]:
    """The school years and schools an import writes (what the stored index must rescore)."""
    keys = {(r[0], r[1]) for r in parsed.observations} | {(r[0], r[1]) for r in parsed.scores}
    keys |= {(k[0], k[1]) for k in parsed.submitted}
    return sorted({y for _, y in keys}), sorted({s for s, _ in keys})


def _new_submissions(con, parsed: Parsed) -> list[tuple]:
    have = {tuple(r) for r in con.execute("SELECT school_id, school_year, round FROM submissions").fetchall()}
    return sorted(k for k in parsed.submitted if k not in have)


def _apply(con, parsed: Parsed, import_id: int, name: str, now: dt.datetime, new_subs,
           received: dict | None = None) -> None:
    """Write a checked file's values (and its new submissions, received `now` or, per school and
    period, at `received[key]`) in the open transaction, keeping what they replace."""
    _register(con, parsed)
    con.execute(f"""
        INSERT INTO observation_history
        SELECT {import_id}, school_id, school_year, round, field_code, old_value, old_import, value
        FROM ({_DIFF}) WHERE old_value IS DISTINCT FROM value""")
    con.execute("""
        DELETE FROM observations o USING in_obs i
        WHERE o.school_id = i.school_id AND o.school_year = i.school_year AND o.round = i.round
          AND o.field_code = i.field_code AND o.value IS DISTINCT FROM i.value""")
    con.execute(f"""
        INSERT INTO observations
        SELECT i.school_id, i.school_year, i.round, i.field_code, i.value, {import_id} FROM in_obs i
        WHERE NOT EXISTS (SELECT 1 FROM observations o WHERE o.school_id = i.school_id
              AND o.school_year = i.school_year AND o.round = i.round AND o.field_code = i.field_code)""")
    for sid, year, rnd in new_subs:
        at = (received or {}).get((sid, year, rnd), now)
        con.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?)", [sid, year, rnd, at, name, import_id])
    s = con.execute(_SCORE_DIFF).df()
    if len(s):
        s = s[_score_changed(s)]
        for r in s.itertuples():
            con.execute("INSERT INTO criterion_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [import_id, r.school_id, r.school_year, r.criterion_code, _nn(r.o_sp), _nn(r.o_sm),
                         _nn(r.o_vp), _nn(r.o_vm), _nn(r.o_ev), _nn(r.o_imp), bool(r.existed)])
            merged = [_pick(r.self_points, r.o_sp), _pick(r.self_met, r.o_sm), _pick(r.verified_points, r.o_vp),
                      _pick(r.verified_met, r.o_vm), _pick(r.evidence_url, r.o_ev)]
            con.execute("DELETE FROM criterion_scores WHERE school_id = ? AND school_year = ? AND criterion_code = ?",
                        [r.school_id, r.school_year, r.criterion_code])
            con.execute("INSERT INTO criterion_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [r.school_id, r.school_year, r.criterion_code, *merged, import_id])
    _check_unique(con, name)
    con.unregister("in_obs")
    con.unregister("in_scores")


_NOT_IN_ENTRY = """
SELECT o.school_id, o.school_year, o.round, o.field_code, o.value, o.import_id FROM observations o
JOIN in_keys k USING (school_id, school_year, round)
WHERE NOT EXISTS (SELECT 1 FROM in_obs i WHERE i.school_id = o.school_id AND i.school_year = o.school_year
                  AND i.round = o.round AND i.field_code = o.field_code)
"""


def write_entries(con, rows: list[tuple], keys: list[tuple], received: dict, user: str, name: str,
                  now: dt.datetime | None = None, catalog: Catalog | None = None) -> tuple[int, int]:
    """Write schools' approved entries (kpi.workflows.entry) in the open `db.writing` transaction as an import
    writes a file: values replaced kept for inspection, the stored index rescored, one imports row
    (source 'nhap_lieu') for the batch. `rows`: (school, year, round, field, value) of every value of
    the entries; `keys`: their (school, year, round): an entry is a school's whole report for the
    period, so a stored value of these keys that the entry leaves blank is removed (kept in the
    history). A submission not yet stored is recorded as received at `received[key]` (the moment
    the school submitted). Returns (import id, values changed)."""
    cat = catalog or default_catalog()
    now = now or dt.datetime.now()
    parsed = Parsed(name)
    parsed.observations, parsed.submitted, parsed.rows = list(rows), set(keys), len(keys)
    changes = _changes(preview(con, parsed))
    new_subs = _new_submissions(con, parsed)
    import_id = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM imports").fetchall()[0][0]
    import pyarrow as pa

    key_schema = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string())])
    columns = list(zip(*keys)) if keys else [()] * 3
    con.register("in_keys", pa.Table.from_arrays([pa.array(c, type=pa.string()) for c in columns], schema=key_schema))
    _register(con, parsed)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE entry_gone AS {_NOT_IN_ENTRY}")
        removed = con.execute("SELECT count(*) FROM entry_gone").fetchall()[0][0]
        con.execute(f"""INSERT INTO observation_history SELECT {import_id}, school_id, school_year, round, field_code,
                        value, import_id, NULL FROM entry_gone""")
        con.execute("""DELETE FROM observations o USING entry_gone x
                       WHERE o.school_id = x.school_id AND o.school_year = x.school_year AND o.round = x.round
                         AND o.field_code = x.field_code""")
        con.execute("DROP TABLE entry_gone")
    finally:
        con.unregister("in_keys")
    _apply(con, parsed, import_id, "nhap_lieu", now, new_subs, received)
    derived.refresh_index(con, cat, *_touched(parsed))
    sha = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()
    con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, 'nhap_lieu', ?, ?, 'applied')",
                [import_id, user, now, dt.datetime.now(), name, sha, len(keys), changes + removed])
    return import_id, changes + removed


def _nn(v):
    import pandas as pd

    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else (v.item() if hasattr(v, "item") else v)


def _pick(new, old):
    return _nn(new) if _nn(new) is not None else _nn(old)


def revert_refusal(path, con, import_id: int) -> str | None:
    """Why an import may not be undone although it is applied (None: it may): it was written by an
    approval of the schools' entries or by a publication, or it touches a school × period whose entry
    is approved or locked (kpi.workflows.entry) or a school-year whose maturity results are published."""
    source = con.execute("SELECT source FROM imports WHERE import_id = ?", [import_id]).fetchall()[0][0]
    try:
        pub = con.execute("SELECT publication_id FROM publications WHERE import_id = ?", [import_id]).fetchall()
    except duckdb.CatalogException:  # a file older than the publications table
        pub = []
    if pub:
        return (f"lần nhập #{import_id} là kết quả công bố {pub[0][0]}; kết quả đã công bố không còn thay đổi")
    if source == "nhap_lieu":
        return (f"lần nhập #{import_id} ghi số liệu Phòng đã duyệt trên ứng dụng; muốn sửa, Phòng mở lại trường "
                "trên trang Duyệt số liệu")
    keys = sorted(set(con.execute("SELECT DISTINCT school_id, school_year, round FROM observation_history "
                                  "WHERE import_id = ?", [import_id]).fetchall()))
    held = set(locked_keys(path, keys))
    if keys and state.state_path(path).exists():
        store = state.store_for(path)
        for y, r in sorted({(y, r) for _, y, r in keys}):
            for (sid,) in store.read("SELECT school_id FROM entries WHERE school_year = ? AND round = ? AND state IN "
                                     "('da_duyet', 'da_khoa')", (y, r)):
                if (sid, y, r) in keys:
                    held.add((sid, y, r))
    if held:
        shown = ", ".join(f"{s} {y} {r}" for s, y, r in sorted(held)[:5]) + ("…" if len(held) > 5 else "")
        return (f"lần nhập #{import_id} chạm {len(held)} trường × kỳ đã duyệt hoặc đã khóa ({shown}); cần Phòng mở "
                "lại các trường đó trước")
    scores = con.execute("SELECT DISTINCT school_id, school_year FROM criterion_history WHERE import_id = ?",
                         [import_id]).fetchall()
    done = published_keys(con, scores)
    if done:
        shown = ", ".join(f"{s} {y} ({p})" for s, y, p in done[:5]) + ("…" if len(done) > 5 else "")
        return f"lần nhập #{import_id} chạm kết quả đánh giá đã công bố: {shown}"
    return None


def _revert_allowed(path, con, import_id: int) -> list[tuple]:
    """The imports row (file name, status) of an import that may be undone; ValueError (Vietnamese)
    naming why not."""
    row = con.execute("SELECT file_name, status FROM imports WHERE import_id = ?", [import_id]).fetchall()
    if not row:
        raise ValueError(f"Không có lần nhập #{import_id}.")
    if row[0][1] != "applied":
        raise ValueError(f"Lần nhập #{import_id} đã được hoàn tác trước đó.")
    why = revert_refusal(path, con, import_id)
    if why:
        raise ValueError(f"Không thể hoàn tác: {why}.")
    return row


def revert(path, import_id: int, user: str, now: dt.datetime | None = None) -> str:
    """Undo an import: put back the values it replaced. Refused when a later import has since
    changed some of those values (revert that one first), and when it would change approved, locked
    or published figures (`revert_refusal`)."""
    now = now or dt.datetime.now()
    # refused before any intent is recorded (a refusal writes nothing); checked again inside the write
    con = db.connect(path)
    try:
        _revert_allowed(path, con, import_id)
    finally:
        con.close()
    keys = {"import_id": import_id, "now": now.timestamp()}
    # intent first (kpi.store.recovery), then the analytics file, then the audit row in the store
    with recovery.crossing(state.store_for(path), path, "hoan_tac", user, keys) as crossing, \
            db.writing(path) as con:
        row = _revert_allowed(path, con, import_id)
        later = con.execute("""
            SELECT count(*) FROM observation_history h JOIN observations o USING (school_id, school_year, round, field_code)
            WHERE h.import_id = ? AND o.import_id <> ?""", [import_id, import_id]).fetchall()[0][0]
        later += con.execute("""
            SELECT count(*) FROM criterion_history h JOIN criterion_scores c USING (school_id, school_year, criterion_code)
            WHERE h.import_id = ? AND c.import_id <> ?""", [import_id, import_id]).fetchall()[0][0]
        if later:
            raise ValueError(f"Không thể hoàn tác lần nhập #{import_id}: {later} giá trị đã được các lần nhập sau "
                             "thay đổi; hãy hoàn tác các lần nhập đó trước.")
        con.execute("""DELETE FROM observations o USING observation_history h
                       WHERE h.import_id = ? AND o.import_id = ? AND o.school_id = h.school_id
                         AND o.school_year = h.school_year AND o.round = h.round AND o.field_code = h.field_code""",
                    [import_id, import_id])
        con.execute("""INSERT INTO observations SELECT school_id, school_year, round, field_code, old_value, old_import
                       FROM observation_history WHERE import_id = ? AND old_value IS NOT NULL""", [import_id])
        con.execute("""DELETE FROM criterion_scores c USING criterion_history h
                       WHERE h.import_id = ? AND c.import_id = ? AND c.school_id = h.school_id
                         AND c.school_year = h.school_year AND c.criterion_code = h.criterion_code""",
                    [import_id, import_id])
        con.execute("""INSERT INTO criterion_scores SELECT school_id, school_year, criterion_code, old_self_points,
                       old_self_met, old_verified_points, old_verified_met, old_evidence_url, old_import
                       FROM criterion_history WHERE import_id = ? AND existed""", [import_id])
        con.execute("DELETE FROM submissions WHERE import_id = ?", [import_id])
        touched = con.execute("""SELECT DISTINCT school_id, school_year FROM observation_history WHERE import_id = ?
                                 UNION SELECT DISTINCT school_id, school_year FROM criterion_history
                                 WHERE import_id = ?""", [import_id, import_id]).fetchall()
        doubled = con.execute("""
            SELECT count(*) FROM (SELECT 1 FROM observations o WHERE EXISTS (
                SELECT 1 FROM observation_history h WHERE h.import_id = ? AND h.school_id = o.school_id
                  AND h.school_year = o.school_year AND h.round = o.round AND h.field_code = o.field_code)
            GROUP BY school_id, school_year, round, field_code HAVING count(*) > 1)""", [import_id]).fetchall()[0][0]
        if doubled:  # the schema's uniqueness rule (duplicate_keys), on the keys this revert wrote
            raise ValueError(f"Không thể hoàn tác lần nhập #{import_id}: cơ sở dữ liệu sẽ có hai giá trị cho cùng "
                             "một trường, kỳ và chỉ tiêu; báo cho người quản trị hệ thống.")
        if touched:
            derived.refresh_index(con, default_catalog(), sorted({y for _, y in touched}),
                                  sorted({s for s, _ in touched}))
        con.execute("UPDATE imports SET status = 'reverted' WHERE import_id = ?", [import_id])
        rid = con.execute("SELECT max(import_id) + 1 FROM imports").fetchall()[0][0]
        con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, '', 'revert', 0, 0, 'applied')",
                    [rid, user, now, dt.datetime.now(), f"hoàn tác lần nhập #{import_id} ({row[0][0]})"])
        crossing.landed(con, {"revert_id": rid})
    return f"Đã hoàn tác lần nhập #{import_id}."


# ---- the error report --------------------------------------------------------------------

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
