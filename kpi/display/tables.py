"""Tables for people: Vietnamese headers and formats, and their CSV / XLSX downloads.

On screen, numbers stay numbers (so sorting works) and a pandas Styler shows them the
Vietnamese way (17,5%, 1.234). In XLSX they are numbers with a number format, so Excel shows
them in the reader's locale; CSV is UTF-8 with BOM so Excel opens Vietnamese text correctly.
Text that a spreadsheet would run as a formula is neutralised in both (kpi.common.cells).
"""

from __future__ import annotations

import io
import threading
import weakref
from collections import OrderedDict

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from kpi.common import cells
from kpi.common.formatting import fmt_dates, fmt_datetime, fmt_int, fmt_number, fmt_percent
from kpi.display.figures import status_text
from kpi.domain import checks
from kpi.workflows.entry import local


def column_width(values: pd.Series) -> int:
    """Characters of the longest cell (+2), 0 for an empty column."""
    longest = values.astype(str).str.len().max() if len(values) else 0
    return 0 if pd.isna(longest) else int(longest) + 2


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV, UTF-8 with BOM (Excel shows Vietnamese), formulas neutralised."""
    return cells.csv_bytes(df)


def to_xlsx_bytes(df: pd.DataFrame, sheet: str = "Số liệu", percent_columns=(), int_columns=(),
                  title: str | None = None) -> bytes:
    """One-sheet XLSX with numeric cells formatted (0,0% / #.##0), formulas neutralised."""
    buf = io.BytesIO()
    with cells.excel_writer(buf) as xw:
        start = 2 if title else 0
        data = cells.write_frame(xw, df, sheet[:31], startrow=start)
        ws = xw.sheets[sheet[:31]]
        wb = xw.book
        if title:
            cells.write_cell(ws, 0, 0, title, wb.add_format({"bold": True, "font_size": 13}))
        pct, whole = wb.add_format({"num_format": "0.0%"}), wb.add_format({"num_format": "#,##0"})
        for i, col in enumerate(df.columns):
            fmt = pct if col in percent_columns else whole if col in int_columns else None
            width = min(60, max(10, len(str(col)) + 2, column_width(data.iloc[:, i])))
            ws.set_column(i, i, width, fmt)
        ws.freeze_panes(start + 1, 0)
    return buf.getvalue()


def school_table(values: pd.DataFrame) -> pd.DataFrame:
    """kpi.store.queries.school_values' rows as the schools table (numeric columns, Vietnamese headers)."""
    return pd.DataFrame({
        "Mã trường": values["school_id"].fillna(""),
        "Trường": values["name"],
        "Cấp học": values["level"],
        "Tử số": values["numerator"],
        "Mẫu số": values["denominator"],
        "Giá trị": values["value"],
        "Chỉ tiêu": values["target"],
        "Tình trạng": [status_text(s) for s in values["status"]],
        "Thay đổi (điểm %)": values["change"] * 100,
    })


SCHOOL_TABLE_PERCENT = ("Giá trị", "Chỉ tiêu")
MAX_TABLE_ROWS = 500  # on screen (a styled table costs ~0,2 ms a row); downloads carry every row
SCHOOL_TABLE_INT = ("Tử số", "Mẫu số")


def _signed(x) -> str:
    if x is None or pd.isna(x):
        return "—"
    return ("+" if x > 0 else "") + fmt_number(x)


SCHOOL_TABLE_FORMAT = {
    "Tử số": fmt_int, "Mẫu số": fmt_int, "Giá trị": fmt_percent, "Chỉ tiêu": fmt_percent,
    "Thay đổi (điểm %)": _signed,
}


def styled(df: pd.DataFrame, formats: dict):
    """A Styler showing the frame's numbers the Vietnamese way (sorting still uses the numbers)."""
    return df.style.format({k: v for k, v in formats.items() if k in df.columns})


def _missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v))


def _number_format(values: pd.Series):
    """fmt_int for whole numbers, else fmt_number with as many decimals as needed (at most 2)."""
    v = values.dropna().astype("float64")
    if v.empty or (v == v.round()).all():
        return fmt_int
    decimals = 1 if (v * 10 == (v * 10).round()).all() else 2
    return lambda x: fmt_number(x, decimals)


MISSING = float("-inf")  # a missing number on screen: drawn as "—", sorted after every number (descending)


KEEP_ROWS = 100  # a table this long is drawn for the screen once per frame (`kept_screen_table`)
KEPT_TABLES = 64
_kept_tables: OrderedDict = OrderedDict()
_kept_lock = threading.Lock()
_kept_dead: list = []  # keys whose frame is gone (appended by the frames' weak references; list.append is atomic)


def kept_screen_table(df: pd.DataFrame, formats: dict | None = None, rows: int = MAX_TABLE_ROWS) -> tuple[object, dict]:
    """`screen_table` of the first `rows` rows, kept for a frame of KEEP_ROWS rows or more that is shown
    unchanged run after run (a view model's table: the same frame object) with the same `formats`
    object: a 500-row table's screen form and its rendered cells (`keep_cells`) cost ~35 ms a run.

    The frame is held weakly: its screen form lives as long as the frame does (in the view cache, or on a
    page a session still shows) and goes with it, so a national 53.000-row table the view cache dropped is
    not kept alive here (holding them, 64 kept tables held ~120 MB of frames and ~2 MB of rendered cells
    each in a worker under the national load, beyond the view cache's bound). At most KEPT_TABLES (the least
    recently shown dropped first). A kept entry answers only for the very frame it was made from (the weak
    reference must still point at it), so a new frame at a dead one's address is drawn for itself."""
    if len(df) < KEEP_ROWS:
        return screen_table(df.head(rows), formats)
    key = (id(df), id(formats), rows)
    with _kept_lock:
        _forget_dead()
        hit = _kept_tables.get(key)
        if hit is not None and hit[0]() is df:
            _kept_tables.move_to_end(key)
            return hit[2]
    made = screen_table(df.head(rows), formats)
    with _kept_lock:
        _kept_tables[key] = (weakref.ref(df, lambda _ref, key=key: _kept_dead.append(key)), formats, made)
        while len(_kept_tables) > KEPT_TABLES:
            _kept_tables.popitem(last=False)
    return made


def _forget_dead() -> None:
    """Drop the kept tables whose frame is gone (under _kept_lock). A key noted dead may since hold a new
    frame's entry: only an entry whose frame is gone is dropped."""
    while _kept_dead:
        key = _kept_dead.pop()
        hit = _kept_tables.get(key)
        if hit is not None and hit[0]() is None:
            del _kept_tables[key]


def screen_table(df: pd.DataFrame, formats: dict | None = None) -> tuple[object, dict]:
    """(data, column_config) for st.dataframe: every cell as a person should read it.

    Streamlit draws a missing value as "None" whatever a Styler says, and a number it was not
    told how to show in English ("5.55"). So every number column is shown through a Vietnamese
    format (`formats`, else whole numbers 1.234 and decimals 5,55) and stays numbers, so sorting
    works; a missing number is stored as MISSING (-inf: sorted last when sorting from the
    largest) and shown "—"; dates become dd/mm/yyyy, missing text empty. `column_config` holds
    plain settings (no streamlit here)."""
    formats = {k: v for k, v in (formats or {}).items() if k in df.columns}
    out, shown = {}, {}
    for col in df.columns:
        s = df[col]
        fmt = formats.get(col)
        if pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.fillna(False).astype(bool) if s.isna().any() else s
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[col] = fmt_dates(s).where(s.notna(), "—").to_numpy()
        elif pd.api.types.is_numeric_dtype(s.dtype):
            fmt = fmt or _number_format(s)
            out[col] = s.astype("float64").fillna(MISSING) if s.isna().any() else s
            shown[col] = (lambda f: lambda v: "—" if _missing(v) or v == MISSING else f(v))(fmt)
        else:
            out[col] = ["" if _missing(v) else (fmt(v) if fmt else str(v)) for v in s]
    frame = pd.DataFrame(out, index=df.index)
    return (keep_cells(frame.style.format(shown)) if shown else frame), {}


def keep_cells(styler: Styler) -> Styler:
    """`styler`, its cells rendered once: Streamlit renders a Styler's every cell on every run
    (`_translate`: 15 ms for 500 rows), and a view model's table is shown again and again unchanged.
    (Streamlit knows a Styler by its exact type, so this is the instance's method, not a subclass.)
    Its formats are set before it is first drawn and never after."""
    render, kept = styler._translate, {}

    def translate(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in kept:
            kept[key] = render(*args, **kwargs)
        return kept[key]

    styler._translate = translate
    return styler


def screen_values(df: pd.DataFrame) -> pd.DataFrame:
    """A table read back from the screen (AppTest): missing numbers as NaN again."""
    return df.replace(MISSING, np.nan)


def trend_table(trend: pd.DataFrame) -> pd.DataFrame:
    """kpi.domain.progress.trend_rows as a table."""
    return pd.DataFrame({
        "Kỳ": trend["period"], "Cấp học": trend["series"], "Tử số": trend["numerator"],
        "Mẫu số": trend["denominator"], "Giá trị": trend["value"], "Chỉ tiêu": trend["target"],
        "Trường báo cáo": trend["schools_reporting"], "Trường phải báo cáo": trend["schools_expected"],
    })


TREND_TABLE_FORMAT = {"Tử số": fmt_int, "Mẫu số": fmt_int, "Giá trị": fmt_percent, "Chỉ tiêu": fmt_percent,
                      "Trường báo cáo": fmt_int, "Trường phải báo cáo": fmt_int}


def compare_table(rows: pd.DataFrame) -> pd.DataFrame:
    """kpi.domain.progress.compare_rows as a table (counts of schools)."""
    return pd.DataFrame({
        "Mục": rows["clause"], "Chỉ tiêu": rows["label"],
        "Trường đạt kỳ A": rows["meeting_a"], "Trường đạt kỳ B": rows["meeting_b"],
        "Lên đạt": rows["moved_up"], "Tụt khỏi đạt": rows["fell_back"],
        "Trường báo cáo kỳ A": rows["reporting_a"], "Trường báo cáo kỳ B": rows["reporting_b"],
    })


MOVES_FORMAT = {"Kỳ A": fmt_percent, "Kỳ B": fmt_percent, "Chỉ tiêu": fmt_percent}


def school_moves(values: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """School rows (school_values with A = earlier) split into moved up to đạt / fell back."""
    def frame(mask):
        v = values[mask]
        return pd.DataFrame({"Trường": v["name"], "Cấp học": v["level"], "Kỳ A": v["value_a"],
                             "Kỳ B": v["value"], "Chỉ tiêu": v["target"]})
    both = values["value"].notna() & values["value_a"].notna()
    up = both & (values["status"] == "dat") & (values["status_a"] != "dat")
    down = both & (values["status"] != "dat") & (values["status_a"] == "dat")
    return {"up": frame(up), "down": frame(down)}


def level_table(dist: pd.DataFrame) -> pd.DataFrame:
    """kpi.domain.maturity.distribution as a table: one row per group × cấp học, schools per level."""
    w = dist.pivot_table(index=["group", "level"], columns="maturity", values="schools", aggfunc="sum",
                         sort=False).reset_index()
    return pd.DataFrame({"Nhóm": w["group"], "Cấp học": w["level"], "Mức 1": w[1], "Mức 2": w[2], "Mức 3": w[3]})


def lost_table(lost: pd.DataFrame) -> pd.DataFrame:
    """kpi.store.queries.maturity_lost as a table."""
    return pd.DataFrame({
        "Tiêu chí": lost["criterion_code"], "Nội dung": lost["name"], "Điểm tối đa": lost["max_points"],
        "Điểm mất bình quân mỗi trường": lost["lost_per_school"].round(2), "Tổng điểm mất": lost["lost"],
        "Tạm tính": ["tạm tính" if p else "" for p in lost["provisional"]],
    })


def heatmap_table(matrix: pd.DataFrame, catalog) -> tuple[pd.DataFrame, dict]:
    """kpi.store.queries.maturity_heatmap as a table: schools × criteria (number and short name), each
    cell the percent of the criterion's maximum earned; with its formats."""
    labels = [catalog.criteria[c].short_label if c in catalog.criteria else c for c in matrix.columns]
    out = (matrix * 100).round()
    out.columns = labels
    out = out.reset_index(names="Trường")
    return out, {label: (lambda v: f"{fmt_int(v)}%") for label in labels}


REVIEW_FORMAT = {"Điểm tối đa": fmt_number, "Tự đánh giá": fmt_number, "Thẩm định": fmt_number,
                 "Tính từ số liệu": fmt_number, "Điểm dùng để chấm": fmt_number}
SOURCE_LABELS = {"verified": "thẩm định", "self": "tự đánh giá", "computed": "tính từ số liệu"}


def review_table(review: pd.DataFrame, catalog=None) -> pd.DataFrame:
    """kpi.store.queries.maturity_review as a table (with the catalog: each criterion by number and short name)."""
    crit = catalog.criteria if catalog is not None else {}
    return pd.DataFrame({
        "Trường": review["name"],
        "Tiêu chí": [crit[c].short_label if c in crit else c for c in review["criterion_code"]],
        "Cần xem lại": review["flag"],
        "Tự đánh giá": review["self_points"], "Thẩm định": review["verified_points"],
        "Tính từ số liệu": review["computed"], "Điểm dùng để chấm": review["points"],
        "Điểm tối đa": review["max_points"], "Nguồn": [SOURCE_LABELS.get(s, "") for s in review["source"]],
        "Nội dung": review["criterion_name"],
    })


SUBMISSION_LABELS = {"dung_han": "Đúng hạn", "tre": "Trễ hạn", "chua_nop": "Chưa nộp"}
SOURCE_LABELS_SUBMISSION = {"nhap_lieu": "Nhập trên ứng dụng"}
ENTRY_STATE_LABELS = {"chua_nhap": "Chưa nhập", "nhap": "Đang nhập (nháp)", "da_nop": "Chờ duyệt",
                      "tra_lai": "Đã trả lại", "da_duyet": "Đã duyệt", "da_khoa": "Đã khóa"}


def submission_table(status: pd.DataFrame) -> pd.DataFrame:
    """kpi.store.queries.submission_status as a table (dates dd/mm/yyyy): when each school's data arrived
    (a file, or the school's own submission in the app) and where its entry stands."""
    late = pd.to_numeric(status["days_late"], errors="coerce")
    out = pd.DataFrame({
        "Mã trường": status["school_id"], "Trường": status["name"], "Cấp học": status["level"],
        "Tình trạng": status["status"].map(SUBMISSION_LABELS),
        "Ngày nộp": fmt_dates(status["received_at"]),
        "Trễ (ngày)": np.ceil(late.where(late > 0)).astype("Int64"),  # part of a day late counts as a day
        "Tệp": status["source"].map(lambda s: SOURCE_LABELS_SUBMISSION.get(s, s)).fillna(""),
    })
    if "state" in status.columns:
        out["Xét duyệt"] = entry_state_labels(status)
    return out


def entry_state_labels(status: pd.DataFrame) -> pd.Series:
    """Where each school's entry stands; a school with no entry whose figures the Phòng imported from
    its file: 'Phòng đã nhập tệp' (those figures count as approved)."""
    imported = status["state"].isin(["chua_nhap", "da_khoa"]) & (status["status"] != "chua_nop") & (
        status["source"] != "nhap_lieu") & (status["version"] == 0)
    labels = status["state"].map(ENTRY_STATE_LABELS).fillna("")
    return labels.where(~imported, "Phòng đã nhập tệp" + status["state"].map({"da_khoa": " (đã khóa)"}).fillna(""))


def queue_table(status: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The review queue: every school of the period, its entry's state, when it submitted (on time
    or how many days late), its soft-check flags and how many are explained, the last decision.
    `limit`: only the first rows of that order (what a screen shows: the whole national queue took
    300 ms to write out on every run)."""
    order = {"da_nop": 0, "tra_lai": 1, "nhap": 2, "chua_nhap": 3, "da_duyet": 4, "da_khoa": 5}
    status = status.sort_values("state", key=lambda s: s.map(order), kind="stable")
    if limit is not None:
        status = status.head(limit)
    late = pd.to_numeric(status["days_late"], errors="coerce")
    timing = [("—" if s == "chua_nop" else "Đúng hạn" if s == "dung_han" else f"Trễ {int(np.ceil(d))} ngày")
              for s, d in zip(status["status"], late.fillna(0))]
    return pd.DataFrame({
        "Mã trường": status["school_id"], "Trường": status["name"], "Cấp học": status["level"],
        "Xét duyệt": entry_state_labels(status),
        "Nộp lúc": [fmt_datetime(v) if not pd.isna(v) else "—" for v in status["received_at"]],
        # the first arrival decides timeliness; a later submission in the app is named as what it is
        "Nộp lại lúc": [fmt_datetime(b) if not pd.isna(b) and (pd.isna(a) or fmt_datetime(b) != fmt_datetime(a)) else ""
                        for a, b in zip(status["received_at"], status["submitted_at"])],
        "Hạn": timing,
        "Cảnh báo": [f"{int(f)} ({int(x)} đã giải thích)" if f else ""
                     for f, x in zip(status["flags"], status["explained"])],
        "Người quyết định": status["decided_by"].fillna(""),
        "Lý do trả lại": status["reason"].fillna(""),
    })


def entry_table(entry, form, catalog) -> pd.DataFrame:
    """A school's entry field by field, for the Phòng's review: the value entered, the approved
    value of the previous period and of this one, the soft checks it set off and the explanation."""
    result = checks.check_form(entry.raw, entry.explanations, form.level, catalog, form.previous, form.previous_label)
    rows = []
    for group, fields in form.groups:
        for f in fields:
            field = catalog.fields[f.code]
            rows.append({
                "Nhóm": group, "Chỉ tiêu thống kê": f.label, "Đơn vị": f.unit,
                "Trường nhập": entry.raw.get(f.code, ""), form.previous_heading: f.previous,
                "Đang dùng (đã duyệt)": checks.shown_value(field, form.approved.get(f.code)),
                "Cảnh báo": "; ".join([m for m in result.problems.get(f.code, [])] +
                                      [fl.message for fl in result.flags.get(f.code, [])]),
                "Giải thích": entry.explanations.get(f.code, ""),
            })
    return pd.DataFrame(rows)


ENTRY_ACTION_LABELS = {"luu_nhap": "Lưu nháp", "nop_so_lieu": "Nộp", "tra_lai": "Trả lại", "duyet": "Duyệt",
                       "khoa_ky": "Khóa kỳ", "mo_lai": "Mở lại", "tu_choi": "Bị từ chối (ngoài phạm vi)",
                       "nop_tep": "Tải tệp"}


AUDIT_DETAIL_LABELS = {"phien_ban": "phiên bản", "gia_tri": "giá trị", "canh_bao": "cảnh báo", "nguon": "nguồn",
                       "lan_nhap": "lần nhập", "nhap_chua_nop": "bản nháp chưa nộp"}
AUDIT_VALUE_LABELS = {"form": "nhập trên trang", "file": "tải tệp", "tep": "tải tệp",
                      "ngoai_pham_vi": "mở trường ngoài phạm vi của tài khoản"}


def _audit_detail(d: dict) -> str:
    """The rest of an audit row's detail, in words ("phiên bản 3, giá trị 41, dữ liệu mẫu")."""
    parts = []
    for k, v in d.items():
        if k in ("truong", "ky", "ly_do"):
            continue
        if k == "du_lieu_mau":
            parts.append("dữ liệu mẫu")
        elif isinstance(v, bool):
            parts.append(AUDIT_DETAIL_LABELS.get(k, "") if v else "")
        elif isinstance(v, (int, float)):
            parts.append(f"{AUDIT_DETAIL_LABELS.get(k, 'số')} {fmt_int(v) if float(v).is_integer() else fmt_number(v)}")
        elif v:
            parts.append(f"{AUDIT_DETAIL_LABELS.get(k, 'ghi chú')}: {AUDIT_VALUE_LABELS.get(str(v), str(v))}")
    return ", ".join(p for p in parts if p)


def entry_audit_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The workflow's audit as a table: when (dd/mm/yyyy hh:mm), who, what, school, period, detail."""
    import json


    details = [json.loads(d) if d else {} for d in rows["detail"]]
    return pd.DataFrame({
        "Thời điểm": [fmt_datetime(local(a)) for a in rows["at"]],
        "Người": [SYSTEM_USERS.get(u, u) for u in rows["user_name"]],
        "Việc": rows["action"].map(lambda a: ENTRY_ACTION_LABELS.get(a, a)),
        "Trường": [f"{fmt_int(d['truong'])} trường" if isinstance(d.get("truong"), int) else str(d.get("truong", ""))
                   for d in details], "Kỳ": [d.get("ky", "") for d in details],
        "Lý do": [AUDIT_VALUE_LABELS.get(str(d.get("ly_do")), d.get("ly_do") or "") for d in details],
        "Chi tiết": [_audit_detail(d) for d in details],
    })


def completeness_table(comp: pd.DataFrame, catalog) -> pd.DataFrame:
    """Field completeness per field (levels summed): share of expected schools that reported it."""
    g = comp.groupby("field_code", sort=False)[["expected", "reported"]].sum().reset_index()
    return pd.DataFrame({
        "Chỉ tiêu thống kê": [catalog.fields[c].label_vi for c in g["field_code"]],
        "Cấp học": [", ".join(catalog.fields[c].levels) for c in g["field_code"]],
        "Trường đã báo cáo": g["reported"], "Trường phải báo cáo": g["expected"],
        "Tỉ lệ": (g["reported"] / g["expected"]).where(g["expected"] > 0),
    }).sort_values("Tỉ lệ")


def problems_table(problems) -> pd.DataFrame:
    """Import problems as a table."""
    return pd.DataFrame({"Tệp": [p.file for p in problems], "Trang tính": [p.sheet for p in problems],
                         "Dòng": [p.row for p in problems], "Cột": [p.column for p in problems],
                         "Giá trị": ["" if p.value is None else str(p.value) for p in problems],
                         "Lỗi": [p.message for p in problems]})


SYSTEM_USERS = {"du_lieu_mau": "(dữ liệu mẫu)", "dong_lenh": "(dòng lệnh)"}  # writers that are not people


def imports_table(log: pd.DataFrame) -> pd.DataFrame:
    """The import audit as a table."""
    return pd.DataFrame({
        "Lần nhập": log["import_id"], "Người nhập": log["user_name"].map(lambda u: SYSTEM_USERS.get(u, u)),
        "Thời điểm": [fmt_datetime(v) for v in log["started_at"]], "Tệp": log["file_name"],
        "Số dòng": log["rows"], "Giá trị thay đổi": log["values_changed"],
        "Trạng thái": log["status"].map({"applied": "đã nhập", "reverted": "đã hoàn tác"}),
        "Mã băm (SHA-256)": [hash_text(v) for v in log["sha256"]],
    })


def hash_text(value) -> str:
    """A SHA-256 as its first 12 hex digits; anything else (the sample's made-up import) as "—"."""
    text = "" if _missing(value) else str(value).strip().lower()
    return text[:12] if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else "—"


def snapshot_table(snaps: pd.DataFrame) -> pd.DataFrame:
    """kpi.queries.snapshots as a table."""
    return pd.DataFrame({
        "Mã bản chốt": snaps["snapshot_id"], "Tên": snaps["name"],
        "Kỳ": snaps["school_year"] + " · " + snaps["round"], "Người chốt": snaps["created_by"],
        "Thời điểm": [fmt_datetime(v) for v in snaps["created_at"]], "Mã băm (SHA-256)": snaps["content_hash"],
        "Số liệu": snaps["observations"],
    })
