"""Chất lượng số liệu: per field, how many schools reported, how many values set off a soft check
(and were explained), and which values stand far from the district's distribution (pure).

An outlier is judged among the schools of the same cấp học that reported the field: a ratio's
numerator by its share of the denominator (students learning Tin học out of all students), any
other number by itself; a value outside [Q1 − k·s, Q3 + k·s], s = the interquartile range (at
least a tenth of the median, so that a field every school reports alike does not make every
small difference an outlier), with at least `min_n` schools reporting. Yes/no fields have no
outliers.
"""

from __future__ import annotations

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_int, fmt_number, fmt_percent

K = 3.0
MIN_N = 5


def measured(values: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """values (school_id, name, level, field_code, value) with `x`, what an outlier is judged by,
    and `is_share` (x is a share of the field's denominator). Yes/no fields are left out."""
    if values.empty:
        return values.assign(x=[], is_share=[])
    dens = dict(catalog.ratio_pairs())
    wide = values.pivot_table(index="school_id", columns="field_code", values="value", aggfunc="first")
    rows = values[values["field_code"].map(lambda c: catalog.fields[c].kind != "bool" if c in catalog.fields
                                           else False)].copy()
    xs, shares = [], []
    for sid, code, v in zip(rows["school_id"], rows["field_code"], rows["value"]):
        den = dens.get(code)
        d = wide.at[sid, den] if den in wide.columns and sid in wide.index else None
        if den is not None and d is not None and not pd.isna(d) and d > 0:
            xs.append(v / d)
            shares.append(True)
        else:
            xs.append(v)
            shares.append(False)
    return rows.assign(x=xs, is_share=shares)


def outliers(values: pd.DataFrame, catalog: Catalog, k: float = K, min_n: int = MIN_N) -> pd.DataFrame:
    """One row per value far from its field's distribution: school_id, name, level, field_code,
    value, x, is_share, median, low, high."""
    m = measured(values, catalog)
    cols = ["school_id", "name", "level", "field_code", "value", "x", "is_share", "median", "low", "high"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for (code, level, share), g in m.groupby(["field_code", "level", "is_share"], sort=False):
        if len(g) < min_n:
            continue
        q1, med, q3 = g["x"].quantile([0.25, 0.5, 0.75])
        spread = max(q3 - q1, 0.1 * abs(med))
        if spread == 0:
            continue
        low, high = q1 - k * spread, q3 + k * spread
        far = g[(g["x"] < low) | (g["x"] > high)]
        if len(far):
            out.append(far.assign(median=med, low=low, high=high))
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out)[cols].reset_index(drop=True)


def field_table(values: pd.DataFrame, flagged: pd.DataFrame, expected: dict[str, int], catalog: Catalog,
                far: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per field (in the catalog's order): schools that must report it, that did, values flagged by
    a soft check, of them explained, and outliers. `expected`: cấp học → schools in scope."""
    far = outliers(values, catalog) if far is None else far
    reported = values.groupby("field_code")["school_id"].nunique() if len(values) else pd.Series(dtype=int)
    n_flag = flagged.groupby("field_code").size() if len(flagged) else pd.Series(dtype=int)
    n_expl = (flagged[flagged["explanation"].fillna("").str.len() > 0].groupby("field_code").size()
              if len(flagged) else pd.Series(dtype=int))
    n_far = far.groupby("field_code").size() if len(far) else pd.Series(dtype=int)
    rows = []
    for code, f in catalog.fields.items():
        must = sum(expected.get(lv, 0) for lv in f.levels)
        if not must:
            continue
        rows.append({"Chỉ tiêu thống kê": f.label_vi, "Nhóm": f.group, "Cấp học": ", ".join(f.levels),
                     "Phải báo cáo": must, "Đã báo cáo": int(reported.get(code, 0)),
                     "Tỉ lệ": int(reported.get(code, 0)) / must,
                     "Bị cảnh báo": int(n_flag.get(code, 0)), "Đã giải thích": int(n_expl.get(code, 0)),
                     "Bất thường": int(n_far.get(code, 0))})
    return pd.DataFrame(rows)


def outlier_table(far: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """The outliers as a Vietnamese table: school, field, value, what it is judged by, the median."""
    def judged(x, share):
        return fmt_percent(x) if share else fmt_number(x, 1)
    return pd.DataFrame({
        "Mã trường": far["school_id"], "Trường": far["name"], "Cấp học": far["level"],
        "Chỉ tiêu thống kê": [catalog.fields[c].label_vi for c in far["field_code"]],
        "Giá trị": [fmt_int(v) for v in far["value"]],
        "So sánh theo": ["tỉ lệ trên mẫu số" if s else "giá trị" for s in far["is_share"]],
        "Của trường": [judged(x, s) for x, s in zip(far["x"], far["is_share"])],
        "Trung vị các trường cùng cấp": [judged(x, s) for x, s in zip(far["median"], far["is_share"])],
    })
