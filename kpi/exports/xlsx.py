"""The meeting pack as a workbook: information, summary, definitions, one sheet per target, every
school × target, the furthest schools and the submissions; numbers as numbers with their formats,
dates as dates, Vietnamese headers frozen with filters, text cells neutralised (kpi.common.cells)."""

from __future__ import annotations

import io

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common import cells
from kpi.display import figures, tables
from kpi.exports.text import definitions_table
from kpi.views.pack import SAMPLE_LABEL, Pack, unit_order

# column kinds → number formats (Excel shows them in the reader's locale: 17,5% and 1.234 in Vietnamese)
XLSX_FORMATS = {"pct": "0.0%", "int": "#,##0", "pts": "+0.0;-0.0;0.0", "num": "#,##0.0", "date": "dd/mm/yyyy",
                "datetime": "dd/mm/yyyy hh:mm"}


def _xlsx_summary(pack: Pack) -> tuple[pd.DataFrame, dict]:
    L = pack.lines
    df = pd.DataFrame({
        "Nhóm": [ln.theme for ln in L], "Mục": [ln.row["clause"] for ln in L],
        "Chỉ tiêu": [ln.row["label"] for ln in L],
        "Cấp học": [ln.row["level"] for ln in L],
        "Giá trị": [ln.row["value"] for ln in L], "Chỉ tiêu đặt ra": [ln.row["target"] for ln in L],
        "Tình trạng": [ln.tile.status_text for ln in L],
        "Còn thiếu": [None if ln.row["status"] == "dat" or pd.isna(ln.row["gap"]) else ln.row["gap"] for ln in L],
        "Đơn vị tính của phần còn thiếu": [ln.row["gap_unit"] for ln in L],
        "Thay đổi so với kỳ trước (điểm %)": [None if pd.isna(ln.row["change"]) else ln.row["change"] * 100
                                              for ln in L],
        "Trường đạt": [ln.row["schools_meeting"] for ln in L],
        "Trường đã báo cáo": [ln.row["schools_reporting"] for ln in L],
        "Trường phải báo cáo": [ln.row["schools_expected"] for ln in L],
    })
    kinds = {"Giá trị": "pct", "Chỉ tiêu đặt ra": "pct", "Còn thiếu": "int", "Thay đổi so với kỳ trước (điểm %)": "pts",
             "Trường đạt": "int", "Trường đã báo cáo": "int", "Trường phải báo cáo": "int"}
    return df, kinds


def _xlsx_schools(v: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    df = pd.DataFrame({
        "Mã trường": v["school_id"].fillna(""), "Trường": v["name"].fillna("Trường khác"),
        "Cấp học": v["level"], "Tử số": v["numerator"], "Mẫu số": v["denominator"], "Giá trị": v["value"],
        "Chỉ tiêu": v["target"], "Tình trạng": [figures.status_text(s) for s in v["status"]],
        "Thay đổi so với kỳ trước (điểm %)": v["change"] * 100,
    })
    return df, {"Tử số": "int", "Mẫu số": "int", "Giá trị": "pct", "Chỉ tiêu": "pct",
                "Thay đổi so với kỳ trước (điểm %)": "pts"}


_UNIT_KINDS = {"Trường phải báo cáo": "int", "Trường đã báo cáo": "int", "Trường đạt": "int", "Tử số": "int",
               "Mẫu số": "int", "Giá trị": "pct", "Chỉ tiêu": "pct"}


def _xlsx_units(u: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """A target per unit × cấp học (kpi.views.pack.unit_values): a pack over LIST_MAX_SCHOOLS schools."""
    df = pd.DataFrame({"Đơn vị": u["unit"], "Cấp học": u["level"], "Trường phải báo cáo": u["expected"],
                       "Trường đã báo cáo": u["reporting"], "Trường đạt": u["meeting"], "Tử số": u["numerator"],
                       "Mẫu số": u["denominator"], "Giá trị": u["value"], "Chỉ tiêu": u["target"]})
    return df, _UNIT_KINDS


def _wide_columns(pack: Pack, catalog: Catalog, column) -> tuple[dict, dict]:
    """The wide sheet's columns: each target of the pack with school rows, `column(code, values)` its values by
    row key, in the summary's order; and each one's header."""
    cols, names = {}, {}
    for ln in pack.lines:
        code = ln.row["indicator_code"]
        v = pack.values.get(code)
        if v is None or v.empty or code in cols:
            continue
        ind = catalog.indicators[code]
        cols[code] = column(code, v)
        names[code] = f"{ind.clause} · {ind.label_vi}"
    return cols, names


def _xlsx_wide_units(pack: Pack, catalog: Catalog) -> tuple[pd.DataFrame, dict]:
    """Each unit × cấp học's pooled value of every target (a pack over LIST_MAX_SCHOOLS schools)."""
    keyed = ["unit_id", "unit", "level"]
    cols, names = _wide_columns(pack, catalog, lambda code, v: pack.unit_rows(code).set_index(keyed)["value"])
    if not cols:
        return pd.DataFrame(), {}
    order = unit_order(pack.units)
    keys = sorted(dict.fromkeys(k for s in cols.values() for k in s.index),
                  key=lambda k: (order.get(k[0], len(order)), k[2]))
    df = pd.DataFrame({"Đơn vị": [k[1] for k in keys], "Cấp học": [k[2] for k in keys]})
    for code, s in cols.items():
        df[names[code]] = s.reindex(keys).to_numpy()
    return df, {names[c]: "pct" for c in cols}


def _xlsx_wide(pack: Pack, catalog: Catalog) -> tuple[pd.DataFrame, dict]:
    cols, names = _wide_columns(
        pack, catalog, lambda code, v: v.set_index(v["school_id"].fillna("") + "|" + v["name"].fillna(""))["value"])
    if not cols:
        return pd.DataFrame(), {}
    idx = list(dict.fromkeys(k for s in cols.values() for k in s.index))
    levels = {}
    for v in pack.values.values():
        for sid, nm, lv in zip(v["school_id"].fillna(""), v["name"].fillna(""), v["level"]):
            levels.setdefault(f"{sid}|{nm}", lv)
    idx.sort()
    df = pd.DataFrame({"Mã trường": [k.split("|", 1)[0] for k in idx],
                       "Trường": [k.split("|", 1)[1] or "Trường khác" for k in idx],
                       "Cấp học": [levels.get(k, "") for k in idx]})
    for code, s in cols.items():
        s = s[~s.index.duplicated()]
        df[names[code]] = s.reindex(idx).to_numpy()
    return df, {names[c]: "pct" for c in cols}


def _xlsx_submissions(status: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    t = tables.submission_table(status)
    received = pd.to_datetime(status["received_at"])
    df = pd.DataFrame({
        "Mã trường": t["Mã trường"], "Trường": t["Trường"], "Cấp học": t["Cấp học"], "Tình trạng": t["Tình trạng"],
        "Ngày nộp": [None if pd.isna(r) else r.date() for r in received],
        "Trễ (ngày)": [None if pd.isna(v) else int(v) for v in t["Trễ (ngày)"]],
        "Tệp": t["Tệp"],
    })
    return df, {"Ngày nộp": "date", "Trễ (ngày)": "int"}


def _sheet_name(title: str, used: set[str]) -> str:
    bad = '[]:*?/\\'
    base = "".join("-" if ch in bad else ch for ch in title).strip()
    name = base[:31]
    if len(base) > 31:
        name = base[:30].rstrip() + "…"
    i = 2
    while name in used:
        suffix = f" ({i})"
        name = base[:31 - len(suffix) - 1].rstrip() + "…" + suffix
        i += 1
    used.add(name)
    return name


def _xlsx_sheet(xw, df: pd.DataFrame, name: str, title: str, stamp: str, kinds: dict, freeze_cols: int = 0,
                wrap_header: bool = False) -> None:
    """A sheet: title (row 1), stamp (row 2), the table's header on row 4 (frozen, filtered,
    wrapped when long), numbers with their formats, widths to fit."""
    header_row = 3
    data = cells.write_frame(xw, df, name, startrow=header_row)
    ws, wb = xw.sheets[name], xw.book
    fmts = _formats(wb)
    cells.write_cell(ws, 0, 0, title, fmts["title"])
    cells.write_cell(ws, 1, 0, stamp, fmts["stamp"])
    lines = 1
    for i, c in enumerate(df.columns):
        kind = kinds.get(c, "text")
        col = data.iloc[:, i]
        if kind == "text":
            longest = tables.column_width(col.fillna(""))
        elif kind in ("date", "datetime"):
            longest = 12 if kind == "date" else 18
        else:
            longest = 12
        header_words = max((len(w) for w in str(c).split()), default=4) + 2
        if wrap_header:
            width = min(60, max(12, header_words, longest))
        else:
            width = min(60, max(8, len(str(c)) + 3, longest))
        lines = max(lines, -(-(len(str(c)) + 2) // max(1, int(width))))
        ws.set_column(i, i, width, fmts.get(kind))
        cells.write_cell(ws, header_row, i, str(c), fmts["header"])
    if lines > 1:
        ws.set_row(header_row, 15 * lines + 3)
    ws.freeze_panes(header_row + 1, freeze_cols)
    ws.autofilter(header_row, 0, header_row + max(len(df), 1), len(df.columns) - 1)


def _formats(wb) -> dict:
    cache = getattr(wb, "_kpi_formats", None)
    if cache is None:
        cache = {k: wb.add_format({"num_format": v}) for k, v in XLSX_FORMATS.items()}
        cache["title"] = wb.add_format({"bold": True, "font_size": 13})
        cache["stamp"] = wb.add_format({"italic": True, "font_color": "#555555"})
        cache["header"] = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1,
                                         "bg_color": "#F3F4F6"})
        wb._kpi_formats = cache
    return cache


def to_xlsx(pack: Pack, catalog: Catalog) -> bytes:
    """Information, summary, definitions, one sheet per target, every school × target, furthest
    schools and submissions: numbers as numbers with their formats, dates as dates, Vietnamese
    headers frozen with filters; text cells neutralised (kpi.common.cells)."""
    buf = io.BytesIO()
    used: set[str] = set()
    with cells.excel_writer(buf) as xw:
        snap = pack.snapshot
        info = pd.DataFrame({"Mục": ["Đơn vị", "Kỳ báo cáo", "Nguồn số liệu", "Mã bản chốt", "Mã băm (SHA-256)",
                                     "Tạo lúc", "Ghi chú"],
                             "Nội dung": [pack.unit, pack.period, pack.source,
                                          snap["snapshot_id"] if snap else "chưa chốt (số liệu trực tiếp)",
                                          snap["content_hash"] if snap else "không có (chưa chốt)",
                                          pack.generated_at.replace(microsecond=0),
                                          " ".join(filter(None, [
                                              SAMPLE_LABEL if pack.is_sample else "Số liệu các trường đã báo cáo",
                                              pack.units_note]))]})
        _xlsx_sheet(xw, info, _sheet_name("Thông tin", used), "Bộ báo cáo họp · thông tin", pack.stamp, {})
        df, kinds = _xlsx_summary(pack)
        _xlsx_sheet(xw, df, _sheet_name("Tổng hợp", used), f"Tổng hợp các chỉ tiêu · {pack.period}", pack.stamp, kinds,
                    freeze_cols=3)
        _xlsx_sheet(xw, definitions_table(catalog, pack.school_year), _sheet_name("Định nghĩa", used),
                    "Định nghĩa các chỉ tiêu", pack.stamp, {"Chỉ tiêu đặt ra": "pct", "Gần đạt từ": "pct"})
        seen = set()
        for ln in pack.lines:
            code = ln.row["indicator_code"]
            v = pack.values.get(code)
            if code in seen or v is None or v.empty:
                continue
            seen.add(code)
            ind = catalog.indicators[code]
            by_unit = pack.units is not None
            df, kinds = _xlsx_units(pack.unit_rows(code)) if by_unit else _xlsx_schools(v)
            _xlsx_sheet(xw, df, _sheet_name(f"{ind.clause} {ind.label_vi}", used),
                        f"{ind.clause} · {ind.label_vi}" + (" · theo đơn vị" if by_unit else ""),
                        pack.stamp, kinds, freeze_cols=2)
        if pack.units is None:
            wide, kinds = _xlsx_wide(pack, catalog)
            sheet, title = "Theo trường", "Giá trị của từng trường theo từng chỉ tiêu"
        else:
            wide, kinds = _xlsx_wide_units(pack, catalog)
            sheet, title = "Theo đơn vị", "Giá trị của từng đơn vị theo từng chỉ tiêu (Σ tử số / Σ mẫu số)"
        if not wide.empty:
            _xlsx_sheet(xw, wide, _sheet_name(sheet, used), title, pack.stamp, kinds, freeze_cols=2, wrap_header=True)
        if pack.furthest is not None and len(pack.furthest):
            far = pack.furthest.assign(**{"Thiếu bình quân": pack.furthest["Thiếu bình quân"] * 100}).rename(
                columns={"Thiếu bình quân": "Thiếu bình quân (điểm %)"})
            _xlsx_sheet(xw, far, _sheet_name("Trường còn xa chỉ tiêu", used), "Các trường còn xa chỉ tiêu nhất",
                        pack.stamp, {"Số chỉ tiêu chưa đạt": "int", "Thiếu bình quân (điểm %)": "num"})
        if pack.submissions is not None and pack.units is not None:
            df = pack.unit_submissions
            _xlsx_sheet(xw, df, _sheet_name("Nộp báo cáo", used), f"Tình hình nộp báo cáo theo đơn vị · {pack.period}",
                        pack.stamp, {c: "int" for c in df.columns[1:]}, freeze_cols=1)
        elif pack.submissions is not None:
            df, kinds = _xlsx_submissions(pack.submissions)
            _xlsx_sheet(xw, df, _sheet_name("Nộp báo cáo", used), f"Tình hình nộp báo cáo · {pack.period}",
                        pack.stamp, kinds, freeze_cols=2)
    return buf.getvalue()

