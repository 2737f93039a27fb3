"""District views of the maturity index (pure).

The counting views take either one row per school (kpi.store.queries.maturity_schools) or the cube of
kpi.store.queries.maturity_counts, whose `schools` column says how many schools each row stands for."""

from __future__ import annotations

import math

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_points
from kpi.domain.progress import status

LEVELS = (1, 2, 3)
INDEX_CODE = "muc_do_cds"


def rules_sentence(catalog: Catalog) -> str:
    """The "tạm tính" warning: which parts of the index are unsettled, and how the settings in
    index.toml currently decide them (so the label follows the settings)."""
    rules = catalog.index
    scored = [c for c in catalog.criteria.values() if c.rule == "entered"]
    unsure = sum(c.provisional for c in scored)
    parts = [f"{unsure} trong {len(scored)} tiêu chí có điểm và cách chấm chỉ biết từ nguồn không chính thức"]
    for c in catalog.criteria.values():
        if c.rule != "placeholder":
            continue
        label = rules.groups.get(c.group_code, c.group_code)
        known = rules.group_max.get(c.group_code, 100.0) - c.max_points
        parts.append(f"{fmt_points(c.max_points)} điểm nhóm {label} chưa có tiêu chí công khai và "
                     + ("không được chấm" if rules.placeholder == "zero"
                        else f"điểm của nhóm được quy đổi từ {fmt_points(known)} lên "
                        f"{fmt_points(rules.group_max.get(c.group_code, 100.0))}"))
    parts.append("trường chưa đáp ứng điều kiện bắt buộc bị giới hạn ở Mức 1" if rules.mandatory_unmet == "cap_level_1"
                 else "điều kiện bắt buộc chưa đáp ứng không làm thay đổi mức")
    if rules.combine_groups == "min":
        parts.append("mức của trường là mức thấp hơn của các nhóm")
    else:
        parts.append(f"mức của trường là mức của nhóm {rules.groups.get(rules.combine_groups.upper(), '')}")
    return ("**Tạm tính**: " + "; ".join(parts) + ". Đây là các quy tắc Phòng đang áp dụng; kết quả sẽ được "
            "chấm lại khi có văn bản chính thức.")


def _weight(schools: pd.DataFrame) -> pd.Series:
    """How many schools each row stands for (1 per row unless the frame is a counts cube)."""
    if "schools" in schools.columns:
        return schools["schools"].astype(int)
    return pd.Series(1, index=schools.index)


def distribution(schools: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Schools per group (DH, QT, and the school level) × cấp học × level, for one year."""
    rows = []
    w = schools.assign(_w=_weight(schools))
    for key, label in (*((g, f"Nhóm {lbl}") for g, lbl in catalog.index.groups.items()), ("school", "Cả trường")):
        col = "school_level" if key == "school" else f"{key.lower()}_level"
        for lv, part in w.groupby("level"):
            counts = part.groupby(col)["_w"].sum()
            for m in LEVELS:
                rows.append({"group": label, "level": lv, "maturity": m, "schools": int(counts.get(m, 0)),
                             "total": int(part["_w"].sum())})
    return pd.DataFrame(rows, columns=["group", "level", "maturity", "schools", "total"])


def level_counts(schools: pd.DataFrame) -> dict[int, int]:
    """Schools at Mức 1, 2, 3 (school level)."""
    c = schools.assign(_w=_weight(schools)).groupby("school_level")["_w"].sum()
    return {m: int(c.get(m, 0)) for m in LEVELS}


def trend(schools: pd.DataFrame) -> pd.DataFrame:
    """Schools per school year × school level (Mức 1/2/3), oldest first."""
    t = (schools.assign(_w=_weight(schools)).groupby(["school_year", "school_level"])["_w"].sum()
         .rename("schools").reset_index())
    full = pd.MultiIndex.from_product([sorted(schools["school_year"].unique()), LEVELS],
                                      names=["school_year", "school_level"])
    return t.set_index(["school_year", "school_level"]).reindex(full, fill_value=0).reset_index()


def index_row(schools: pd.DataFrame, catalog: Catalog, school_year: str, expected: int) -> dict:
    """The district target for the index as an overview row (share of schools at min_level or above).

    `schools`: kpi.domain.scoring rows for the school year (the schools that were scored = reporting);
    `expected`: the schools of the index's cấp học in scope.
    """
    t = catalog.index.district_target
    w = _weight(schools)
    reporting = int(w.sum())
    meeting = int(w[schools["school_level"] >= t["min_level"]].sum()) if reporting else 0
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
        "provisional": bool(schools.loc[w > 0, "provisional"].any()) if reporting else False,
    }


def index_year_for(school_year: str, round: str) -> str:
    """The index year shown with a period: the year itself at year end (CN); at the HK1 review the
    latest published index is the previous year's (self-assessment closes 31/05, published 20/06)."""
    if round == "CN":
        return school_year
    start = int(school_year[:4])
    return f"{start - 1}-{start}"


def expected_schools(summary: pd.DataFrame, catalog: Catalog) -> int:
    """Schools of the index's cấp học in scope, from kpi.store.queries.district_summary's counts."""
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
