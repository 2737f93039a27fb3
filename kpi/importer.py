"""Imports of schools' files (XLSX, CSV): validate everything, then apply all or nothing, audited.

Every problem is collected (not just the first) as a Vietnamese message naming the file, sheet,
row (as Excel numbers it), column and the value found. A file with any problem changes nothing.
A good file is applied in one transaction on a private copy of the database that is swapped in
under the writers' lock (kpi.db.writing), so the app keeps serving and a killed import leaves the
database as it was. Each import is recorded (who, when, file, SHA-256, rows, values changed) with
the values it replaced, so it can be inspected and reverted; the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field

import openpyxl
import pandas as pd
import pyarrow as pa
from openpyxl.utils import get_column_letter

from kpi import db, derived
from kpi.catalog import LEVEL_LABELS, Catalog, default_catalog
from kpi.templates import (DATA_SHEET, META_SHEET, fold, header_map, score_header_map,
                           version)

YES_WORDS = {"có", "co", "x", "1", "yes", "y", "đã", "da", "true", "c"}
NO_WORDS = {"không", "khong", "0", "no", "n", "chưa", "chua", "false", "k"}


@dataclass(frozen=True)
class Problem:
    """One problem in a file, located as Excel shows it."""

    file: str
    sheet: str
    row: int | None
    column: str
    value: object
    message: str

    def __str__(self) -> str:
        where = [self.file, f"trang '{self.sheet}'"]
        if self.row is not None:
            where.append(f"dòng {self.row}")
        if self.column:
            where.append(f"cột {self.column}")
        found = "" if self.value is None or self.value == "" else f" (giá trị: '{self.value}')"
        return f"{', '.join(where)}: {self.message}{found}"


@dataclass
class Parsed:
    """What a file holds once read: observation rows, criterion rows, the problems found."""

    file: str
    observations: list[tuple] = field(default_factory=list)  # school, year, round, field, value
    scores: list[tuple] = field(default_factory=list)  # school, year, criterion, self_p, self_m, ev, ver_p, ver_m
    submitted: set = field(default_factory=set)  # (school, year, round)
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)


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
    preview: pd.DataFrame
    message: str


# ---- reading files -----------------------------------------------------------------------

@dataclass
class _Sheet:
    name: str
    rows: list[list]
    formulas: set  # (row index, column index) holding a formula
    merged: list[str]  # merged ranges, e.g. "E5:F5"


def _decode_csv(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp1258"):  # Excel on Vietnamese Windows saves CSV as Windows-1258
        try:
            text = data.decode(enc)
            return text
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_sheets(name: str, data: bytes) -> list[_Sheet]:
    """The sheets of an XLSX (values, formulas, merged ranges) or the one table of a CSV."""
    if name.lower().endswith(".csv"):
        text = _decode_csv(data)
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
        rows = [list(r) for r in csv.reader(io.StringIO(text), dialect)]
        return [_Sheet("CSV", rows, set(), [])]
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    sheets = []
    for ws in wb.worksheets:
        rows, formulas = [], set()
        for i, row in enumerate(ws.iter_rows()):
            values = []
            for j, cell in enumerate(row):
                if cell.data_type == "f":
                    formulas.add((i, j))
                values.append(cell.value)
            rows.append(values)
        sheets.append(_Sheet(ws.title, rows, formulas, [str(r) for r in ws.merged_cells.ranges]))
    return sheets


def _header_index(rows: list[list], wanted: str) -> int | None:
    for i, row in enumerate(rows[:6]):
        if any(fold(v) == wanted for v in row if v is not None):
            return i
    return None


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _number(v) -> float | None:
    """A number from a cell: 12, 12.5, '12', '12,5', '1.234' (Vietnamese thousands); else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip().replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+", s):
        s = s.replace(".", "")
    elif re.fullmatch(r"-?\d+,\d+", s):
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


def _yes_no(v) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)) and v in (0, 1):
        return float(v)
    s = fold(v)
    return 1.0 if s in YES_WORDS else 0.0 if s in NO_WORDS else None


# ---- validation --------------------------------------------------------------------------

def validate(name: str, data: bytes, con, catalog: Catalog | None = None) -> Parsed:
    """Read and check a file against the catalog and the database (schools, periods)."""
    cat = catalog or default_catalog()
    out = Parsed(name)
    schools = dict(con.execute("SELECT school_id, level FROM schools").fetchall())
    periods = {(y, r) for y, r in con.execute("SELECT school_year, round FROM periods").fetchall()}
    try:
        sheets = read_sheets(name, data)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one clear problem
        out.problems.append(Problem(name, "—", None, "", None,
                                    f"không đọc được tệp (cần XLSX hoặc CSV): {type(e).__name__}"))
        return out
    meta = next((s for s in sheets if s.name == META_SHEET), None)
    if meta is not None:
        kv = {str(r[0]): str(r[1]) for r in meta.rows if len(r) >= 2 and r[0] is not None}
        if kv.get("template_version") and kv["template_version"] != version(cat):
            out.problems.append(Problem(name, META_SHEET, None, "", kv["template_version"],
                                        f"biểu mẫu đã cũ (phiên bản hiện tại {version(cat)}); tải biểu mẫu "
                                        "mới trên trang Dữ liệu và chép số liệu sang"))
            return out
    found = False
    for sh in sheets:
        if sh.name == META_SHEET:
            continue
        if (h := _header_index(sh.rows, fold("Mã tiêu chí"))) is not None:
            found = True
            _validate_scores(sh, h, out, cat, schools, {y for y, _ in periods})
        elif (h := _header_index(sh.rows, fold("Mã trường"))) is not None:
            found = True
            _validate_data(sh, h, out, cat, schools, periods)
    if not found:
        out.problems.append(Problem(name, sheets[0].name if sheets else "—", None, "", None,
                                    f"không tìm thấy dòng tiêu đề có cột 'Mã trường' (trang '{DATA_SHEET}' "
                                    "của biểu mẫu)"))
    return out


def _merged_problems(sh: _Sheet, h: int, out: Parsed) -> None:
    for rng in sh.merged:
        first_row = int(re.search(r"\d+", rng.split(":")[0]).group())
        if first_row > h:  # the title rows above the header may be merged
            out.problems.append(Problem(out.file, sh.name, first_row, rng, None,
                                        "ô gộp che giá trị; bỏ gộp ô và điền từng ô"))


def _validate_data(sh, h, out: Parsed, cat: Catalog, schools, periods) -> None:
    hmap = header_map(cat)
    header = sh.rows[h]
    cols: dict[int, str] = {}
    for j, v in enumerate(header):
        if _blank(v):
            continue
        key = hmap.get(fold(v))
        if key is None:
            out.problems.append(Problem(out.file, sh.name, h + 1, get_column_letter(j + 1), v,
                                        "không nhận ra tên cột (so với biểu mẫu)"))
        elif key in cols.values():
            out.problems.append(Problem(out.file, sh.name, h + 1, get_column_letter(j + 1), v, "cột bị lặp"))
        else:
            cols[j] = key
    keys = set(cols.values())
    for key, label in (("school_id", "Mã trường"), ("school_year", "Năm học"), ("round", "Kỳ")):
        if key not in keys:
            out.problems.append(Problem(out.file, sh.name, h + 1, "", None, f"thiếu cột bắt buộc '{label}'"))
    if not {"school_id", "school_year", "round"} <= keys:
        return
    _merged_problems(sh, h, out)
    pos = {k: j for j, k in cols.items()}
    seen: dict[tuple, int] = {}
    ratio_pairs = [(i.numerator, i.denominator) for i in cat.indicators.values() if i.kind == "ratio"]
    for i in range(h + 1, len(sh.rows)):
        row = sh.rows[i] + [None] * (len(header) - len(sh.rows[i]))
        if all(_blank(v) for v in row):
            continue
        excel_row = i + 1
        out.rows += 1
        problems_before = len(out.problems)
        bad_columns: set[int] = set()

        def problem(j, value, message):
            bad_columns.add(j)
            out.problems.append(Problem(out.file, sh.name, excel_row,
                                        f"{get_column_letter(j + 1)} ({header[j]})", value, message))

        sid = str(row[pos["school_id"]]).strip() if not _blank(row[pos["school_id"]]) else ""
        year = str(row[pos["school_year"]]).strip() if not _blank(row[pos["school_year"]]) else ""
        rnd = str(row[pos["round"]]).strip().upper() if not _blank(row[pos["round"]]) else ""
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
        for j, code in cols.items():
            if code in ("school_id", "name", "school_year", "round"):
                continue
            v = row[j]
            if (i, j) in sh.formulas:
                problem(j, v, "ô chứa công thức; hãy nhập giá trị (dán giá trị thay cho công thức)")
                continue
            if _blank(v):
                continue
            f = cat.fields[code]
            if level is not None and level not in f.levels:
                problem(j, v, f"trường {LEVEL_LABELS[level]} không báo cáo chỉ tiêu này; để trống ô")
                continue
            if f.kind == "bool":
                x = _yes_no(v)
                if x is None:
                    problem(j, v, "không nhận ra có/không (ghi Có hoặc Không)")
                    continue
            else:
                x = _number(v)
                if x is None:
                    problem(j, v, "không phải là số")
                    continue
                if f.kind == "count" and x != int(x):
                    problem(j, v, "cần số nguyên")
                    continue
                if (f.min is not None and x < f.min) or (f.max is not None and x > f.max):
                    problem(j, v, f"ngoài giới hạn cho phép ({f.min:g} đến {f.max:g})")
                    continue
            values[code] = (x, j)
        rejected = {cols[j] for j in bad_columns}
        if not values and len(out.problems) == problems_before:
            out.rows -= 1  # a prefilled row the school left empty: not a submission
            continue
        for num, den in ratio_pairs:
            if num in values and den in values and values[num][0] > values[den][0]:
                problem(values[num][1], row[values[num][1]],
                        f"lớn hơn mẫu số '{cat.fields[den].label_vi}' ({values[den][0]:g})")
                values.pop(num)
        if level is not None:
            for f in cat.fields.values():
                if f.code in rejected:
                    continue  # already reported for what the cell holds
                if f.required and level in f.levels and f.code not in values and f.code in keys:
                    problem(pos[f.code], None, "thiếu số liệu bắt buộc")
                elif f.required and level in f.levels and f.code not in keys:
                    problem(pos["school_id"], sid, f"thiếu cột bắt buộc '{f.label_vi}'")
        out.observations += [(sid, year, rnd, code, x) for code, (x, _) in values.items()]
        out.submitted.add(key)


def _validate_scores(sh, h, out: Parsed, cat: Catalog, schools, years) -> None:
    smap = score_header_map()
    header = sh.rows[h]
    cols = {}
    for j, v in enumerate(header):
        if not _blank(v):
            key = smap.get(fold(v))
            if key is None:
                out.problems.append(Problem(out.file, sh.name, h + 1, get_column_letter(j + 1), v,
                                            "không nhận ra tên cột (so với biểu mẫu)"))
            else:
                cols[key] = j
    for key in ("school_id", "school_year", "criterion_code"):
        if key not in cols:
            out.problems.append(Problem(out.file, sh.name, h + 1, "", None, f"thiếu cột bắt buộc '{key}'"))
    if not {"school_id", "school_year", "criterion_code"} <= set(cols):
        return
    _merged_problems(sh, h, out)
    seen = {}
    for i in range(h + 1, len(sh.rows)):
        row = sh.rows[i] + [None] * (len(header) - len(sh.rows[i]))
        if all(_blank(v) for v in row):
            continue
        excel_row = i + 1

        def problem(key, value, message):
            j = cols[key]
            out.problems.append(Problem(out.file, sh.name, excel_row,
                                        f"{get_column_letter(j + 1)} ({header[j]})", value, message))

        get = {k: row[j] for k, j in cols.items()}
        sid, year = str(get["school_id"] or "").strip(), str(get["school_year"] or "").strip()
        code = str(get["criterion_code"] or "").strip()
        entered = [k for k in ("self_points", "self_met", "evidence_url", "verified_points", "verified_met")
                   if k in get and not _blank(get[k])]
        if not entered:
            continue  # a criterion left blank: nothing to import
        out.rows += 1
        if sid not in schools:
            problem("school_id", sid, "mã trường không có trong danh sách trường của đơn vị")
        if year not in years:
            problem("school_year", year, "năm học không có trong các kỳ báo cáo")
        c = cat.criteria.get(code)
        if c is None or c.rule not in ("entered", "condition"):
            problem("criterion_code", code, "mã tiêu chí không có trong bộ chỉ số (hoặc không được chấm điểm)")
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
                    problem(key, get[key], "không phải là số")
                elif x < 0 or x > c.max_points:
                    problem(key, get[key], f"vượt điểm tối đa của tiêu chí ({c.max_points:g})" if x > 0
                            else "điểm không được âm")
                else:
                    vals[key] = x
        for key in ("self_met", "verified_met"):
            if key in get and not _blank(get[key]):
                x = _yes_no(get[key])
                if x is None:
                    problem(key, get[key], "không nhận ra có/không (ghi Có hoặc Không)")
                else:
                    vals[key] = bool(x)
        evidence = str(get["evidence_url"]).strip() if "evidence_url" in get and not _blank(get["evidence_url"]) else None
        out.scores.append((sid, year, code, vals.get("self_points"), vals.get("self_met"), evidence,
                           vals.get("verified_points"), vals.get("verified_met")))


# ---- preview and apply -------------------------------------------------------------------

_OBS_SCHEMA = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string()),
                         ("field_code", pa.string()), ("value", pa.float64())])
_SCORE_SCHEMA = pa.schema([("school_id", pa.string()), ("school_year", pa.string()),
                           ("criterion_code", pa.string()), ("self_points", pa.float64()),
                           ("self_met", pa.bool_()), ("evidence_url", pa.string()),
                           ("verified_points", pa.float64()), ("verified_met", pa.bool_())])


def _register(con, parsed: Parsed) -> None:
    con.register("in_obs", pa.Table.from_pylist(
        [dict(zip(_OBS_SCHEMA.names, r)) for r in parsed.observations], schema=_OBS_SCHEMA))
    con.register("in_scores", pa.Table.from_pylist(
        [dict(zip(_SCORE_SCHEMA.names, r)) for r in parsed.scores], schema=_SCORE_SCHEMA))


_DIFF = """
SELECT i.school_id, i.school_year, i.round, i.field_code, i.value, o.value AS old_value, o.import_id AS old_import
FROM in_obs i LEFT JOIN observations o USING (school_id, school_year, round, field_code)
"""
_SCORE_DIFF = """
SELECT i.*, c.self_points AS o_sp, c.self_met AS o_sm, c.evidence_url AS o_ev, c.verified_points AS o_vp,
       c.verified_met AS o_vm, c.import_id AS o_imp, c.school_id IS NOT NULL AS existed
FROM in_scores i LEFT JOIN criterion_scores c USING (school_id, school_year, criterion_code)
"""


def _score_changed(d: pd.DataFrame) -> pd.Series:
    """An imported criterion row changes something when a filled cell differs from what is stored."""
    changed = ~d["existed"]
    for new, old in (("self_points", "o_sp"), ("self_met", "o_sm"), ("evidence_url", "o_ev"),
                     ("verified_points", "o_vp"), ("verified_met", "o_vm")):
        changed |= d[new].notna() & (d[new].astype(object) != d[old].astype(object))
    return changed


def preview(con, parsed: Parsed) -> pd.DataFrame:
    """Per school and period: values that would be new, changed, unchanged."""
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


class _Discard(Exception):
    """Leave db.writing without swapping the copy in (nothing to write)."""

    def __init__(self, result: ImportResult):
        self.result = result


def import_file(path, name: str, data: bytes, user: str, dry_run: bool = False,
                catalog: Catalog | None = None, now: dt.datetime | None = None) -> ImportResult:
    """Validate a file and, unless `dry_run`, apply it whole; raise ImportRejected with every
    problem when it has any (nothing is written)."""
    cat = catalog or default_catalog()
    sha = hashlib.sha256(data).hexdigest()
    if dry_run:
        con = db.connect(path)
        try:
            parsed = validate(name, data, con, cat)
            if parsed.problems:
                raise ImportRejected(parsed.problems)
            pv = preview(con, parsed)
        finally:
            con.close()
        changes = int(pv["Mới"].sum() + pv["Thay đổi"].sum()) if len(pv) else 0
        return ImportResult(None, name, sha, parsed.rows, changes, pv,
                            f"Kiểm tra xong {name}: {parsed.rows} dòng hợp lệ, {changes} giá trị sẽ thay đổi.")
    now = now or dt.datetime.now()
    try:
        with db.writing(path) as con:
            parsed = validate(name, data, con, cat)
            if parsed.problems:
                raise ImportRejected(parsed.problems)
            pv = preview(con, parsed)
            changes = int(pv["Mới"].sum() + pv["Thay đổi"].sum()) if len(pv) else 0
            new_subs = _new_submissions(con, parsed)
            if changes == 0 and not new_subs:
                raise _Discard(ImportResult(None, name, sha, parsed.rows, 0, pv,
                                            f"{name}: không có giá trị nào thay đổi; không ghi gì."))
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


def _touched(parsed: Parsed) -> tuple[list[str], list[str]]:
    """The school years and schools an import writes (what the stored index must rescore)."""
    keys = {(r[0], r[1]) for r in parsed.observations} | {(r[0], r[1]) for r in parsed.scores}
    return sorted({y for _, y in keys}), sorted({s for s, _ in keys})


def _new_submissions(con, parsed: Parsed) -> list[tuple]:
    have = {tuple(r) for r in con.execute("SELECT school_id, school_year, round FROM submissions").fetchall()}
    return sorted(k for k in parsed.submitted if k not in have)


def _apply(con, parsed: Parsed, import_id: int, name: str, now: dt.datetime, new_subs) -> None:
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
        con.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?)", [sid, year, rnd, now, name, import_id])
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
    con.unregister("in_obs")
    con.unregister("in_scores")


def _nn(v):
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else (v.item() if hasattr(v, "item") else v)


def _pick(new, old):
    return _nn(new) if _nn(new) is not None else _nn(old)


def revert(path, import_id: int, user: str, now: dt.datetime | None = None) -> str:
    """Undo an import: put back the values it replaced. Refused when a later import has since
    changed some of those values (revert that one first)."""
    now = now or dt.datetime.now()
    with db.writing(path) as con:
        row = con.execute("SELECT file_name, status FROM imports WHERE import_id = ?", [import_id]).fetchall()
        if not row:
            raise ValueError(f"Không có lần nhập #{import_id}.")
        if row[0][1] != "applied":
            raise ValueError(f"Lần nhập #{import_id} đã được hoàn tác trước đó.")
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
        if touched:
            derived.refresh_index(con, default_catalog(), sorted({y for _, y in touched}),
                                  sorted({s for s, _ in touched}))
        con.execute("UPDATE imports SET status = 'reverted' WHERE import_id = ?", [import_id])
        rid = con.execute("SELECT max(import_id) + 1 FROM imports").fetchall()[0][0]
        con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, '', 'revert', 0, 0, 'applied')",
                    [rid, user, now, dt.datetime.now(), f"hoàn tác lần nhập #{import_id} ({row[0][0]})"])
    return f"Đã hoàn tác lần nhập #{import_id}."


def error_report(problems: list[Problem]) -> bytes:
    """The problems as an XLSX the office can send back to the school."""
    from kpi.tables import problems_table, to_xlsx_bytes

    return to_xlsx_bytes(problems_table(problems), sheet="Lỗi", title="Các lỗi cần sửa trước khi nhập")
