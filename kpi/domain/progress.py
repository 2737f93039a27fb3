"""Pure maths of progress against targets: status, gap, and the overview's rows."""

from __future__ import annotations

import math

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_int, fmt_number, fmt_percent

STATUS_LABELS = {
    "dat": "Đạt",
    "gan_dat": "Gần đạt",
    "chua_dat": "Chưa đạt",
    "khong_chi_tieu": "Chưa có chỉ tiêu",
    "thieu_so_lieu": "Chưa có số liệu",
}
ALL_LEVELS = "Tất cả"


def status(value, target, near) -> str:
    """đạt (≥ target), gần đạt (≥ near), chưa đạt; or why there is no status."""
    if target is None or (isinstance(target, float) and math.isnan(target)):
        return "khong_chi_tieu"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "thieu_so_lieu"
    if value >= target - 1e-9:
        return "dat"
    if value >= near - 1e-9:
        return "gan_dat"
    return "chua_dat"


def gap(numerator, denominator, target) -> int | None:
    """Units missing to reach the target: ⌈target × Σ mẫu số − Σ tử số⌉, never negative.

    For a yes/no indicator the numerator is the schools answering "có" and the denominator the
    schools that reported, so the gap is a number of schools.
    """
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (numerator, denominator, target)):
        return None
    return max(0, math.ceil(target * denominator - numerator - 1e-9))


def overview_rows(summary: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """One row per indicator, or per indicator × level where levels have different targets.

    `summary` is kpi.store.queries.district_summary's frame. Levels that share a target are pooled
    (Σ tử số / Σ mẫu số); levels with no school in scope are left out.
    """
    rows = []
    present = summary[summary["schools_expected"] > 0]
    parts = dict(tuple(present.groupby("indicator_code", sort=False)))
    for code, ind in catalog.indicators.items():  # the plan's order, as in indicators.toml
        part = parts.get(code)
        if part is None:
            continue
        targets = {None if pd.isna(t) else round(float(t), 9) for t in part["target"]}
        groups = [part] if len(targets) == 1 else [part[part["level"] == lv] for lv in part["level"]]
        for g in groups:
            num = g["numerator"].sum(min_count=1)
            den = g["denominator"].sum(min_count=1)
            num = None if pd.isna(num) else float(num)
            den = None if pd.isna(den) else float(den)
            value = num / den if num is not None and den else None
            first = g.iloc[0]
            target = None if pd.isna(first["target"]) else float(first["target"])
            near = None if pd.isna(first["near"]) else float(first["near"])
            t = catalog.target_for(code, first["level"], first["target_year"]) if target is not None else None
            rows.append({
                "indicator_code": code,
                "label": ind.label_vi,
                "theme": ind.theme,
                "clause": ind.clause,
                "kind": ind.kind,
                "level": first["level"] if len(groups) > 1 or len(g) == 1 else ALL_LEVELS,
                "levels": tuple(g["level"]),
                "numerator": num,
                "denominator": den,
                "value": value,
                "target": target,
                "near": near,
                "target_year": first["target_year"],
                "basis": None if t is None else t.basis,
                "status": status(value, target, near),
                "gap": gap(num, den, target),
                "gap_unit": ind.gap_unit,
                "schools_reporting": int(g["schools_reporting"].sum()),
                "schools_expected": int(g["schools_expected"].sum()),
                "schools_meeting": int(g["schools_meeting"].sum()),
            })
    return pd.DataFrame(rows)


def previous_period(periods: pd.DataFrame, school_year: str, round: str) -> tuple[str, str] | None:
    """The period reported just before (school_year, round), or None for the first one."""
    order = sorted(zip(periods["school_year"], periods["round"]), key=lambda p: (p[0], p[1] != "HK1"))
    i = order.index((school_year, round)) if (school_year, round) in order else 0
    return order[i - 1] if i > 0 else None


def with_change(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """`current` overview rows plus `change`: value minus the same row's value one period earlier."""
    out = current.copy()
    if previous is None or previous.empty or out.empty:
        out["change"] = None
        return out
    prev = previous.set_index(["indicator_code", "level"])["value"]
    keys = list(zip(out["indicator_code"], out["level"]))
    out["change"] = [None if k not in prev.index or pd.isna(prev[k]) or pd.isna(v) else v - prev[k]
                     for k, v in zip(keys, out["value"])]
    return out


def gap_sentence(row) -> str:
    """'còn thiếu 37 học sinh', 'còn 3 trường', 'đã đạt' for an overview row."""
    if row["status"] == "dat":
        return "đã đạt chỉ tiêu"
    if row["gap"] is None or pd.isna(row["gap"]):
        return ""
    n = fmt_int(row["gap"])
    if row["kind"] == "bool":
        return f"còn {n} {row['gap_unit']}"
    return f"còn thiếu {n} {row['gap_unit']}"


def change_sentence(change) -> str:
    """'tăng 2,5 điểm % so với kỳ trước', 'không đổi so với kỳ trước', 'chưa có kỳ trước để so'."""
    if change is None or pd.isna(change):
        return "chưa có kỳ trước để so"
    points = change * 100
    if abs(points) < 0.05:
        return "không đổi so với kỳ trước"
    return f"{'tăng' if points > 0 else 'giảm'} {fmt_number(abs(points))} điểm % so với kỳ trước"


def overview_table(rows: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """The overview rows as a Vietnamese table (formatted text, for the table view and exports)."""
    return pd.DataFrame({
        "Mục": rows["clause"],
        "Chỉ tiêu": rows["label"],
        "Nhóm": [catalog.themes[t].label_vi for t in rows["theme"]],
        "Cấp học": rows["level"],
        "Giá trị": [fmt_percent(v) for v in rows["value"]],
        "Chỉ tiêu đặt ra": [fmt_percent(v) for v in rows["target"]],
        "Tình trạng": [STATUS_LABELS[s] for s in rows["status"]],
        "Khoảng cách": [gap_sentence(r) for _, r in rows.iterrows()],
        "Thay đổi": [change_sentence(v) for v in rows.get("change", [None] * len(rows))],
        "Trường đạt": [fmt_int(v) for v in rows["schools_meeting"]],
        "Trường báo cáo": [f"{fmt_int(r)}/{fmt_int(e)}" for r, e in
                           zip(rows["schools_reporting"], rows["schools_expected"])],
    })


def period_label(school_year: str, round: str) -> str:
    """'2023-2024 · HK1'."""
    return f"{school_year} · {round}"


def trend_rows(trend: pd.DataFrame) -> pd.DataFrame:
    """kpi.store.queries.indicator_trend's rows, with levels pooled unless their targets differ.

    One series per level where the levels' targets differ in some school year (TH 15% vs THCS
    17,5%), else one series "Tất cả" pooled Σ tử số / Σ mẫu số per period.
    """
    t = trend[trend["schools_expected"] > 0]
    if t.empty:
        return t.assign(series=[], period=[])
    split = bool(t["target"].round(9).groupby(t["school_year"]).nunique(dropna=False).gt(1).any())
    if split:
        out = t.assign(series=t["level"])
    else:  # whole-frame group sums (a lambda per group cost ~10 ms a trend)
        g = t.groupby(["school_year", "round"], sort=False)
        out = g[["numerator", "denominator"]].sum(min_count=1)
        out[["schools_reporting", "schools_expected"]] = g[["schools_reporting", "schools_expected"]].sum()
        out[["target", "near"]] = g[["target", "near"]].first()
        out = out.reset_index()
        out["value"] = (out["numerator"] / out["denominator"]).where(out["denominator"] > 0)
        out["series"] = ALL_LEVELS
    out = out.copy()
    out["period"] = [period_label(y, r) for y, r in zip(out["school_year"], out["round"])]
    return out.reset_index(drop=True)


def compare_rows(compare: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """kpi.store.queries.compare_periods' rows per indicator (levels summed), in the plan's order."""
    c = compare[(compare["reporting_a"] > 0) | (compare["reporting_b"] > 0)]
    sums = c.groupby("indicator_code")[["reporting_a", "reporting_b", "meeting_a", "meeting_b",
                                        "moved_up", "fell_back"]].sum()
    rows = []
    for code, ind in catalog.indicators.items():
        if code not in sums.index:
            continue
        s = sums.loc[code]
        rows.append({"indicator_code": code, "clause": ind.clause, "label": ind.label_vi,
                     **{k: int(v) for k, v in s.items()}})
    return pd.DataFrame(rows)
