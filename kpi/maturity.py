"""District views of the maturity index, from kpi.scoring's frames (pure)."""

from __future__ import annotations

import math

import pandas as pd

from kpi.catalog import Catalog
from kpi.progress import status

LEVELS = (1, 2, 3)
INDEX_CODE = "muc_do_cds"


def distribution(schools: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Schools per group (DH, QT, and the school level) × cấp học × level, for one year."""
    rows = []
    for key, label in (*((g, f"Nhóm {lbl}") for g, lbl in catalog.index.groups.items()), ("school", "Cả trường")):
        col = "school_level" if key == "school" else f"{key.lower()}_level"
        for lv, part in schools.groupby("level"):
            counts = part[col].value_counts()
            for m in LEVELS:
                rows.append({"group": label, "level": lv, "maturity": m, "schools": int(counts.get(m, 0)),
                             "total": len(part)})
    return pd.DataFrame(rows, columns=["group", "level", "maturity", "schools", "total"])


def trend(schools: pd.DataFrame) -> pd.DataFrame:
    """Schools per school year × school level (Mức 1/2/3), oldest first."""
    t = schools.groupby(["school_year", "school_level"]).size().rename("schools").reset_index()
    full = pd.MultiIndex.from_product([sorted(schools["school_year"].unique()), LEVELS],
                                      names=["school_year", "school_level"])
    return t.set_index(["school_year", "school_level"]).reindex(full, fill_value=0).reset_index()


def heatmap(crit: pd.DataFrame, schools: pd.DataFrame, order: str = "total") -> pd.DataFrame:
    """Schools × leaf criteria: share of the criterion's maximum earned (0-1), placeholder left out.

    order: "total" (DH + QT points, best first), "name", "dh", "qt".
    """
    c = crit[~crit["placeholder"] & (crit["max_points"] > 0)]
    m = c.assign(share=c["points"] / c["max_points"]).pivot_table(
        index="school_id", columns="criterion_code", values="share", aggfunc="first")
    m = m[[code for code in c["criterion_code"].drop_duplicates()]]
    s = schools.set_index("school_id")
    key = {"total": s["dh_points"] + s["qt_points"], "dh": s["dh_points"], "qt": s["qt_points"]}.get(order)
    if key is None:
        ids = s.sort_values("name", key=lambda x: x.str.normalize("NFD")).index
    else:
        ids = key.sort_values(ascending=False).index
    m = m.reindex([i for i in ids if i in m.index])
    m.index = [s.loc[i, "name"] for i in m.index]
    return m


def points_lost(crit: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Per leaf criterion: points lost over all schools (Σ max − points), average per school,
    provisional flag; largest loss first. Where support pays most."""
    c = crit[~crit["placeholder"]]
    g = c.assign(lost=c["max_points"] - c["points"]).groupby("criterion_code").agg(
        lost=("lost", "sum"), schools=("school_id", "nunique"), max_points=("max_points", "first"))
    g["lost_per_school"] = g["lost"] / g["schools"]
    g["name"] = [catalog.criteria[k].name_vi for k in g.index]
    g["group"] = [catalog.criteria[k].group_code for k in g.index]
    g["provisional"] = [catalog.criteria[k].provisional for k in g.index]
    return g.sort_values("lost", ascending=False).reset_index()


def review(crit: pd.DataFrame, schools: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Self-assessed, verified and computed points side by side, one row per school × criterion
    with any of them, and the differences the Phòng should look at flagged.

    Flagged: verified ≠ self-assessed, or self-assessed differs from the computed points by more
    than 1 point and 20% of the criterion's maximum, or the self-assessment exceeded the maximum.
    """
    c = crit[~crit["placeholder"]].merge(schools[["school_id", "name"]], on="school_id", how="left")
    c = c[c[["self_points", "verified_points", "computed"]].notna().any(axis=1)].copy()
    tol = (c["max_points"] * 0.2).clip(lower=1.0)
    reasons = []
    for r in c.itertuples():
        why = []
        if pd.notna(r.verified_points) and pd.notna(r.self_points) and abs(r.verified_points - r.self_points) > 1e-9:
            why.append("thẩm định khác tự đánh giá")
        if pd.notna(r.computed) and pd.notna(r.self_points) and abs(r.self_points - r.computed) > tol[r.Index]:
            why.append("tự đánh giá lệch số liệu báo cáo")
        if r.capped:
            why.append("vượt điểm tối đa")
        reasons.append("; ".join(why))
    c["flag"] = reasons
    c["criterion_name"] = [catalog.criteria[k].name_vi for k in c["criterion_code"]]
    return c[["name", "school_id", "criterion_code", "criterion_name", "max_points", "self_points",
              "verified_points", "computed", "points", "source", "flag", "provisional"]]


def index_row(schools: pd.DataFrame, catalog: Catalog, school_year: str, expected: int) -> dict:
    """The district target for the index as an overview row (share of schools at min_level or above).

    `schools`: kpi.scoring rows for the school year (the schools that were scored = reporting);
    `expected`: the schools of the index's cấp học in scope.
    """
    t = catalog.index.district_target
    reporting = len(schools)
    meeting = int((schools["school_level"] >= t["min_level"]).sum()) if reporting else 0
    value = meeting / reporting if reporting else None
    target, near = float(t["share"]), float(t["near"])
    gap = max(0, math.ceil(target * reporting - meeting - 1e-9)) if reporting else None
    return {
        "indicator_code": INDEX_CODE, "label": t["label_vi"], "theme": INDEX_CODE, "clause": t["clause"],
        "kind": "bool", "level": "Tất cả", "levels": tuple(catalog.index.levels_apply),
        "numerator": float(meeting) if reporting else None, "denominator": float(reporting) if reporting else None,
        "value": value, "target": target, "near": near, "target_year": school_year, "basis": t["basis"],
        "status": status(value, target, near), "gap": gap, "gap_unit": "trường",
        "schools_reporting": reporting, "schools_expected": expected, "schools_meeting": meeting,
        "provisional": bool(schools["provisional"].any()) if reporting else False,
    }


def index_year_for(school_year: str, round: str) -> str:
    """The index year shown with a period: the year itself at year end (CN); at the HK1 review the
    latest published index is the previous year's (self-assessment closes 31/05, published 20/06)."""
    if round == "CN":
        return school_year
    start = int(school_year[:4])
    return f"{start - 1}-{start}"


def expected_schools(summary: pd.DataFrame, catalog: Catalog) -> int:
    """Schools of the index's cấp học in scope, from kpi.queries.district_summary's counts."""
    s = summary[summary["level"].isin(catalog.index.levels_apply)]
    return int(s.groupby("level")["schools_expected"].max().sum()) if len(s) else 0


def with_index_row(rows: pd.DataFrame, schools: pd.DataFrame, summary: pd.DataFrame, catalog: Catalog,
                   index_year: str) -> pd.DataFrame:
    """Overview rows plus the index's district-target row (when the year has scored schools)."""
    year_schools = schools[schools["school_year"] == index_year]
    if year_schools.empty:
        return rows
    row = index_row(year_schools, catalog, index_year, expected_schools(summary, catalog))
    row["label"] = f"{row['label']} (năm học {index_year})"
    return pd.concat([rows, pd.DataFrame([row])], ignore_index=True)
