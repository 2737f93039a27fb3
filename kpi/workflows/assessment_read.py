"""What the pages read of the maturity assessment besides its records (kpi.workflows.assessment).

The criteria a school assesses, the running total and level as the school fills the form in (by
kpi.domain.scoring itself), the cycle's progress in one sentence, how a criterion's points are
earned, and the assessment's audit in words.
"""

from __future__ import annotations

import json

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_date, fmt_int, fmt_points
from kpi.domain import scoring
from kpi.store import state
from kpi.workflows import record
from kpi.workflows.record import when


def scored_criteria(catalog: Catalog) -> list:
    """The criteria a school assesses: the leaves with points and the mandatory conditions, in file order."""
    return [c for c in catalog.criteria.values() if c.rule in ("entered", "condition")]


# ---- the running result -----------------------------------------------------------------------------

def running_result(values: dict[str, dict], computed: dict[str, float], school_id: str, year: str,
                   catalog: Catalog) -> dict:
    """The total and level as the school fills the form in, by kpi.domain.scoring itself: the school's
    points where typed, else the computed suggestion. Returns {'groups': [(code, label, points,
    level, unmet)], 'level': school level, 'answered': n, 'total': n}."""
    rows = []
    answered = 0
    crit = scored_criteria(catalog)
    for c in crit:
        v = values.get(c.code) or {}
        pts, met = v.get("points"), v.get("met")
        try:
            pts = None if pts in (None, "") else float(str(pts).replace(",", "."))
        except ValueError:
            pts = None
        answered += (pts is not None) or (met is not None)
        rows.append({"school_id": school_id, "school_year": year, "criterion_code": c.code,
                     "self_points": pts, "self_met": met, "verified_points": None, "verified_met": None})
    entries = pd.DataFrame(rows, columns=scoring.ENTRY_COLUMNS).astype({"self_points": "float64",
                                                                         "verified_points": "float64"})
    comp = pd.DataFrame({"school_id": school_id, "school_year": year, "criterion_code": list(computed),
                         "computed": [float(x) for x in computed.values()]},
                        columns=["school_id", "school_year", "criterion_code", "computed"])
    _, schools = scoring.score(entries, comp, catalog)
    r = schools.iloc[0]
    groups = [(g, label, float(r[f"{g.lower()}_points"]), int(r[f"{g.lower()}_level"]), str(r[f"{g.lower()}_unmet"]))
              for g, label in catalog.index.groups.items()]
    return {"groups": groups, "level": int(r["school_level"]), "answered": answered, "total": len(crit)}


def progress_sentence(p: dict) -> str:
    """'Còn 12 ngày đến hạn 31/05/2024' / 'Đã quá hạn 31/05/2024 3 ngày'."""
    d = p["days_left"]
    if d > 0:
        return f"Còn {fmt_int(d)} ngày đến hạn nộp {fmt_date(p['deadline'])}."
    if d == 0:
        return f"Hôm nay là hạn nộp ({fmt_date(p['deadline'])})."
    return f"Đã quá hạn nộp {fmt_date(p['deadline'])} {fmt_int(-d)} ngày."


AUDIT_LABELS = {
    "danh_gia_luu": "Lưu nháp tự đánh giá", "danh_gia_nop": "Nộp bản tự đánh giá",
    "danh_gia_minh_chung": "Đính kèm minh chứng", "danh_gia_xoa_minh_chung": "Gỡ minh chứng",
    "tai_minh_chung": "Tải minh chứng", "danh_gia_xac_nhan": "Xác nhận điểm", "danh_gia_tra_lai": "Trả lại",
    "danh_gia_duyet": "Duyệt", "danh_gia_mo_lai": "Mở lại", "danh_gia_cong_bo": "Công bố kết quả",
    "danh_gia_han": "Đặt hạn nộp và ngưỡng", "tu_choi": "Từ chối (ngoài phạm vi)",
}


def audit_table(store: state.Store, limit: int = 200) -> pd.DataFrame:
    """The assessment's audit, newest first, in words: when, who, what, school, year, criterion, detail."""
    rows = record.audit_of(store, [a for a in AUDIT_LABELS if a != "tu_choi"], limit, "audit.of_assessment")
    out = []
    for at, who, action, detail in rows:
        d = json.loads(detail) if detail else {}
        extra = [str(d[k]) for k in ("ly_do", "nhan_xet", "tep", "lan_cong_bo", "han") if d.get(k)]
        if d.get("du_lieu_mau"):
            extra.append("dữ liệu mẫu")
        crit = d.get("tieu_chi")
        out.append({"Thời điểm": when(at), "Người": who or "", "Việc": AUDIT_LABELS.get(action, action),
                    "Trường": str(d.get("truong", "")) if not isinstance(d.get("truong"), int) else
                    f"{fmt_int(d['truong'])} trường", "Năm học": d.get("nam_hoc", ""),
                    "Tiêu chí": ", ".join(crit) if isinstance(crit, list) else (crit if isinstance(crit, str) else ""),
                    "Chi tiết": "; ".join(extra)})
    return pd.DataFrame(out, columns=["Thời điểm", "Người", "Việc", "Trường", "Năm học", "Tiêu chí", "Chi tiết"])


def how_scored(c, catalog: Catalog) -> str:
    """What earns a criterion's points, in Vietnamese (criteria.csv's scoring notes are the
    reference's English; this sentence is built from the criterion's rule and fields)."""
    parent = catalog.criteria.get(c.parent_code)
    where = f"Thuộc {parent.code} · {parent.short_vi or parent.name_vi}. " if parent and parent.rule == "sum" else ""
    if c.rule == "condition":
        return where + "Điều kiện bắt buộc, không có điểm: chưa đạt thì nhóm bị giới hạn ở Mức 1."
    f = catalog.fields
    num = f[c.numerator_field].label_vi if c.numerator_field in f else c.numerator_field
    if c.compute == "ratio":
        den = f[c.denominator_field].label_vi if c.denominator_field in f else c.denominator_field
        return (where + f"Tính từ số liệu: {fmt_points(c.max_points)} × {num} / {den}, làm tròn đến 0,5 điểm.")
    if c.compute:
        return where + f"Tính từ số liệu: {fmt_points(c.max_points)} điểm khi '{num}' là Có, ngược lại 0."
    return where + f"Trường tự chấm từ 0 đến {fmt_points(c.max_points)} điểm (bước 0,5) theo minh chứng."
