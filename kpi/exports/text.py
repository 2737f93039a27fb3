"""The pack's tables as text, shared by the writers: the summary of the targets, the definitions,
the furthest schools and the submissions, with the page's own sentences (kpi.views.pack)."""

from __future__ import annotations

import pandas as pd

from kpi.catalog.model import LEVEL_LABELS, TARGET_BASES, Catalog
from kpi.common.formatting import fmt_date, fmt_int, fmt_number, fmt_percent
from kpi.display import tables
from kpi.domain import progress
from kpi.views.pack import Pack

NO_DATA = "Chưa có số liệu của kỳ này trong phạm vi được xem."


def _change_short(sentence: str) -> str:
    return sentence.replace(" so với kỳ trước", "").replace(" để so", "")


def summary_table(pack: Pack, catalog: Catalog | None = None) -> pd.DataFrame:
    """The summary of all targets for the PDF and the slides (text, the page's sentences)."""
    return pd.DataFrame({
        "Mục": [ln.row["clause"] for ln in pack.lines],
        "Chỉ tiêu": [ln.label for ln in pack.lines],
        "Giá trị": [ln.tile.value for ln in pack.lines],
        "Chỉ tiêu đặt ra": [fmt_percent(ln.row["target"]) for ln in pack.lines],
        "Tình trạng": [ln.tile.status_text for ln in pack.lines],
        "Khoảng cách": [ln.tile.gap or "—" for ln in pack.lines],
        "So với kỳ trước": [_change_short(ln.tile.change) for ln in pack.lines],
        "Trường báo cáo": [f"{fmt_int(ln.row['schools_reporting'])}/{fmt_int(ln.row['schools_expected'])}"
                           for ln in pack.lines],
    }, columns=["Mục", "Chỉ tiêu", "Giá trị", "Chỉ tiêu đặt ra", "Tình trạng", "Khoảng cách", "So với kỳ trước",
                "Trường báo cáo"])


def status_of(text: str) -> str | None:
    """The status code a status text ends with ('✖ Chưa đạt' → 'chua_dat'), else None."""
    for code, label in progress.STATUS_LABELS.items():
        if text.endswith(label):
            return code
    return None


def tint(hex_colour: str, strength: float) -> str:
    """The colour mixed with white (a background behind dark text)."""
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * strength):02X}" for c in rgb)


def definitions_table(catalog: Catalog, school_year: str) -> pd.DataFrame:
    """Labels, clauses, targets of every indicator (the XLSX's definitions sheet; targets as shares)."""
    rows = []
    for ind in catalog.indicators.values():
        for lv in ind.levels:
            t = catalog.target_for(ind.code, lv, school_year)
            rows.append({"Mục": ind.clause, "Chỉ tiêu": ind.label_vi, "Nhóm": catalog.themes[ind.theme].label_vi,
                         "Cấp học": LEVEL_LABELS.get(lv, lv),
                         "Loại": "tỉ lệ" if ind.kind == "ratio" else "có/không (tỉ lệ trường có)",
                         "Tử số": catalog.fields[ind.numerator].label_vi,
                         "Mẫu số": catalog.fields[ind.denominator].label_vi if ind.denominator else "số trường báo cáo",
                         "Chỉ tiêu đặt ra": None if t is None else t.value,
                         "Gần đạt từ": None if t is None else t.near,
                         "Năm học của chỉ tiêu": "" if t is None else t.school_year,
                         "Căn cứ": "chưa có chỉ tiêu" if t is None else TARGET_BASES[t.basis]})
    return pd.DataFrame(rows)


def completeness_summary(pack: Pack) -> pd.DataFrame:
    """How many schools submitted on time, late, not at all, of how many."""
    s = pack.submissions
    counts = s["status"].value_counts()
    return pd.DataFrame({"Tình trạng": ["Đúng hạn", "Trễ hạn", "Chưa nộp", "Tổng số trường"],
                         "Số trường": [int(counts.get("dung_han", 0)), int(counts.get("tre", 0)),
                                       int(counts.get("chua_nop", 0)), len(s)]})


def completeness_text(pack: Pack) -> pd.DataFrame:
    """`completeness_summary` as the documents print it: 40.953, never 40953."""
    df = completeness_summary(pack)
    return df.assign(**{"Số trường": [fmt_int(v) for v in df["Số trường"]]})


def furthest_text(df: pd.DataFrame) -> pd.DataFrame:
    """The furthest schools as text (the slides and the PDF)."""
    out = df.copy()
    out["Số chỉ tiêu chưa đạt"] = [fmt_int(v) for v in out["Số chỉ tiêu chưa đạt"]]
    out["Thiếu bình quân"] = [fmt_number(v * 100) + " điểm %" for v in out["Thiếu bình quân"]]
    return out


def submissions_list(pack: Pack) -> pd.DataFrame:
    """The pack's list of submissions as text: every school's (`submission_text`), or over
    LIST_MAX_SCHOOLS schools each unit's counts (kpi.views.pack.unit_submissions)."""
    if pack.units is None:
        return submission_text(pack.submissions)
    counts = pack.unit_submissions
    return counts.assign(**{c: [fmt_int(int(x)) for x in counts[c]] for c in counts.columns[1:]})


def submission_text(status: pd.DataFrame) -> pd.DataFrame:
    """The submissions as text (the PDF): dates dd/mm/yyyy, nothing where nothing happened."""
    t = tables.submission_table(status)
    return pd.DataFrame({
        "Mã trường": t["Mã trường"], "Trường": t["Trường"], "Cấp học": t["Cấp học"], "Tình trạng": t["Tình trạng"],
        "Ngày nộp": [fmt_date(v) if pd.notna(v) else "" for v in status["received_at"]],
        "Trễ (ngày)": ["" if pd.isna(v) else fmt_int(int(v)) for v in t["Trễ (ngày)"]],
        "Tệp": t["Tệp"],
    })
