"""Reading a school's file and checking every row (kpi.imports.importer writes what passes).

A file is first read within limits (kpi.imports.import_read: size, unpacked size, rows and cells that hold
a value, time), outside the writers' lock. Then the tables are found: the data sheet and the
self-assessment sheet, each recognised by its header row wherever a person put it (below a
letterhead, merged title rows, blank rows). Exactly one sheet may hold each table: a copied sheet
("Số liệu (2)") or a hidden one holding the same table is refused, naming both, and a sheet that
looks like the data sheet but whose headers are not recognised is refused with the headers expected.
The same cell rules hold on every sheet: no formulas, no merged cells in the table, numbers where
numbers are expected. Every problem is collected (kpi.imports.problems).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kpi.catalog.model import LEVEL_LABELS, Catalog, default_catalog
from kpi.common.formatting import fmt_int
from kpi.domain import checks
from kpi.imports.import_read import LIMITS, Limits, Refused, Sheet, read_book, size_text
from kpi.imports.problems import Parsed, shown
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
from kpi.store import db

ROUND_WORDS = {
    "HK1": {"hk1", "hki", "hk 1", "hk i", "học kỳ 1", "học kỳ i", "học kì 1", "học kì i", "sơ kết học kỳ i",
            "sơ kết học kì i", "sơ kết hk1", "sơ kết hki"},
    "CN": {"cn", "cả năm", "ca nam", "cuối năm", "cuoi nam", "tổng kết", "tổng kết cả năm", "tổng kết năm học"},
}
# Columns offices add to official forms that carry no figure: ignored wherever they are.
IGNORED_HEADERS = {fold(h) for h in ("STT", "TT", "Số TT", "Số thứ tự", "Ghi chú")}
HEADER_ROWS = 30  # a header row is looked for among the first rows holding a value of each sheet
_SHARED_KEYS = {"school_id", "name", "school_year"}  # columns both tables have
_KIND_LABEL = {"data": "số liệu", "scores": "tự đánh giá"}


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

def facts(con) -> tuple[dict, set]:
    """What a file is checked against: the schools (code → level) and the periods."""
    schools = dict(con.execute(db.statement("import_check.schools")).fetchall())
    periods = {(y, r) for y, r in con.execute(db.statement("import_check.periods")).fetchall()}
    return schools, periods


def validate(name: str, data: bytes, con, catalog: Catalog | None = None, limits: Limits = LIMITS) -> Parsed:
    """Read and check a file against the catalog and the database (schools, periods)."""
    cat = catalog or default_catalog()
    try:
        sheets = read(name, data, cat, limits)
    except Refused as e:
        out = Parsed(name)
        out.problem(e.sheet, None, "", None, e.message)
        return out
    return check(name, sheets, facts(con), cat)


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
                        f"không nhận ra bảng {_KIND_LABEL[kind]} của trang {_q(sh.name)}: "
                        f"không tìm thấy dòng tiêu đề có các cột {heads}{more} trong {HEADER_ROWS} dòng đầu có nội dung"
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
