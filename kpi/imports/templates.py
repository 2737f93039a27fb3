"""Excel templates generated from the catalog, and the header names the importer recognises.

Every cell is written through kpi.common.cells: a school or unit name that starts like a formula is
written as neutralised text, never as a formula."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import unicodedata

from kpi.catalog.model import LEVEL_LABELS, ROUND_LABELS, Catalog
from kpi.common import cells

DATA_SHEET = "Số liệu"
SCORE_SHEET = "Tự đánh giá"
HELP_SHEET = "Hướng dẫn"
META_SHEET = "_mau"
YES, NO = "Có", "Không"

# Fixed columns (key → header); field columns follow: "<label> (<unit>)".
DATA_KEYS = {"school_id": "Mã trường", "name": "Tên trường", "school_year": "Năm học", "round": "Kỳ"}
SCORE_KEYS = {"school_id": "Mã trường", "name": "Tên trường", "school_year": "Năm học",
              "criterion_code": "Mã tiêu chí", "criterion_name": "Tiêu chí", "max_points": "Điểm tối đa",
              "self_points": "Điểm tự đánh giá", "self_met": "Đáp ứng (có/không)",
              "evidence_url": "Minh chứng (đường dẫn)", "verified_points": "Điểm thẩm định (Phòng)",
              "verified_met": "Thẩm định đáp ứng (Phòng)"}


def fold(text) -> str:
    """Header key: Unicode NFC, case-folded, spaces collapsed ('Mã  Trường' == 'mã trường')."""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def field_header(field) -> str:
    """The template's header for a field: 'Số học sinh khối lớp 3, 4, 5 (học sinh)'."""
    return f"{field.label_vi} ({field.unit})"


def header_map(catalog: Catalog) -> dict[str, str]:
    """Folded header → key: fixed columns, and each field by its header, label or code."""
    out = {fold(v): k for k, v in DATA_KEYS.items()}
    for f in catalog.fields.values():
        for name in (field_header(f), f.label_vi, f.code):
            out[fold(name)] = f.code
    return out


def score_header_map() -> dict[str, str]:
    """Folded header → key for the self-assessment sheet."""
    return {fold(v): k for k, v in SCORE_KEYS.items()}


def version(catalog: Catalog) -> str:
    """The template version: changes whenever the fields or criteria a template carries change."""
    h = hashlib.sha256()
    for f in catalog.fields.values():
        h.update(f"{f.code}|{f.label_vi}|{f.unit}|{f.kind}|{','.join(f.levels)}|{f.min}|{f.max}\n".encode())
    for c in catalog.criteria.values():
        h.update(f"{c.code}|{c.rule}|{c.max_points}\n".encode())
    return h.hexdigest()[:10]


def build_template(catalog: Catalog, schools, school_year: str, round: str, level: str | None = None,
                   unit_name: str = "") -> bytes:
    """The XLSX a school fills: instructions, one data row per school (codes and names prefilled),
    the fields of its level with Vietnamese headers and units, yes/no dropdowns, number checks,
    and the maturity self-assessment; a hidden sheet records the template version."""
    sch = schools if level is None else schools[schools["level"] == level]
    fields = [f for f in catalog.fields.values() if level is None or level in f.levels]
    buf = io.BytesIO()
    wb = cells.workbook(buf)
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#DCE9F5", "text_wrap": True, "valign": "top", "border": 1})
    locked = wb.add_format({"bg_color": "#F3F4F6"})
    title = wb.add_format({"bold": True, "font_size": 13})
    ver = version(catalog)
    period = f"Năm học {school_year} · {round} ({ROUND_LABELS[round]})"

    ws = wb.add_worksheet(HELP_SHEET)
    ws.set_column(0, 0, 110)
    lines = [
        ("Biểu mẫu số liệu chuyển đổi số", title), (unit_name, None), (period, None),
        (f"Phiên bản biểu mẫu: {ver}" + (f" · cấp {LEVEL_LABELS[level]}" if level else ""), None), ("", None),
        ("Cách điền", bold),
        ("1. Trang 'Số liệu': mỗi trường một dòng. Không sửa Mã trường, Năm học, Kỳ và dòng tiêu đề.", None),
        ("2. Nhập số nguyên (không nhập %, không dùng công thức); ô có/không chọn trong danh sách: Có / Không.", None),
        ("3. Để trống nếu chỉ tiêu không áp dụng cho cấp học của trường hoặc chưa có số liệu (để trống không"
         " được tính là 0).", None),
        ("4. Tử số không được lớn hơn mẫu số (ví dụ số học sinh đạt chứng chỉ ≤ tổng số học sinh).", None),
        ("5. Trang 'Tự đánh giá': điểm từng tiêu chí (không vượt điểm tối đa), điều kiện bắt buộc ghi Có/Không,"
         " kèm đường dẫn minh chứng. Cột thẩm định do Phòng GDĐT điền.", None),
        ("6. Không gộp ô, không thêm cột. Gửi lại tệp cho Phòng GDĐT trước hạn.", None),
    ]
    for i, (text, fmt) in enumerate(lines):
        cells.write_cell(ws, i, 0, text, fmt)

    ws = wb.add_worksheet(DATA_SHEET)
    headers = list(DATA_KEYS.values()) + [field_header(f) for f in fields]
    cells.write_cell(ws, 0, 0, f"Số liệu · {period} · biểu mẫu {ver}", title)
    cells.write_cells(ws, 1, 0, headers, head)
    ws.set_row(1, 60)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 36)
    ws.set_column(2, 3, 10)
    ws.set_column(4, 3 + len(fields), 18)
    ws.freeze_panes(2, 2)
    last = 1 + max(1, len(sch))
    for r, s in enumerate(sch.itertuples(), start=2):
        cells.write_cells(ws, r, 0, [s.school_id, s.name, school_year, round], locked)
    for j, f in enumerate(fields, start=4):
        if f.kind == "bool":
            ws.data_validation(2, j, last, j, {"validate": "list", "source": [YES, NO],
                                                "error_message": "Chọn Có hoặc Không."})
        else:
            lo = 0 if f.min is None else f.min
            hi = 10**9 if f.max is None else f.max
            ws.data_validation(2, j, last, j, {
                "validate": "integer" if f.kind == "count" else "decimal", "criteria": "between",
                "minimum": lo, "maximum": hi,
                "error_message": f"Nhập số từ {lo} đến {hi}."})

    ws = wb.add_worksheet(SCORE_SHEET)
    cells.write_cell(ws, 0, 0, f"Tự đánh giá mức độ chuyển đổi số · Năm học {school_year} · biểu mẫu {ver}",
                     title)
    cells.write_cells(ws, 1, 0, list(SCORE_KEYS.values()), head)
    ws.set_row(1, 45)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 30)
    ws.set_column(4, 4, 60)
    ws.set_column(5, 10, 14)
    ws.freeze_panes(2, 4)
    crits = [c for c in catalog.criteria.values() if c.rule in ("entered", "condition")]
    r = 2
    for s in sch[sch["level"].isin(catalog.index.levels_apply)].itertuples():
        for c in crits:
            cells.write_cells(ws, r, 0, [s.school_id, s.name, school_year, c.code, c.name_vi,
                                         "điều kiện" if c.rule == "condition" else c.max_points], locked)
            r += 1
    if r > 2:
        ws.data_validation(2, 7, r - 1, 7, {"validate": "list", "source": [YES, NO]})
        ws.data_validation(2, 10, r - 1, 10, {"validate": "list", "source": [YES, NO]})
        ws.data_validation(2, 6, r - 1, 6, {"validate": "decimal", "criteria": "between", "minimum": 0,
                                            "maximum": 100, "error_message": "Điểm từ 0 đến điểm tối đa."})

    ws = wb.add_worksheet(META_SHEET)
    for i, (k, v) in enumerate((("template_version", ver), ("school_year", school_year), ("round", round),
                                ("level", level or ""), ("generated_at", dt.datetime.now().isoformat()))):
        cells.write_cells(ws, i, 0, [k, v])
    ws.hide()
    wb.close()
    return buf.getvalue()
