"""The maturity-index scoring engine (QĐ 4725/QĐ-BGDĐT; HCMC QĐ 271/QĐ-SGDĐT). Pure: frames in, frames out.

Driven by criteria.csv and index.toml (kpi.catalog.model):
- a criterion's points come from the first available source in `rules.precedence`
  (default: the Phòng's verified points, then the school's self-assessment, then points computed
  from the school's reported fields where criteria.csv maps the criterion to fields), capped at
  the criterion's maximum; a criterion with no source scores 0;
- group total = sum of its leaf criteria; the placeholder row (QT_GAP) scores 0 ("zero") or the
  group is rescaled from its known maximum ("rescale");
- group level by the bands: Mức 1 below 50, Mức 2 from 50 to 75 inclusive, Mức 3 strictly above 75;
- an unmet (or undeclared) mandatory condition caps its group at Mức 1 ("cap_level_1") or does
  nothing ("none");
- the school level combines the two group levels: the lower one ("min", default), never an average;
- every result carries `provisional` ("tạm tính") when a provisional row or an unsettled rule
  contributed to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi.catalog.model import Catalog, Criterion

LEVEL_NAMES = {1: "Mức 1", 2: "Mức 2", 3: "Mức 3"}
ENTRY_COLUMNS = ["school_id", "school_year", "criterion_code", "self_points", "self_met",
                 "verified_points", "verified_met"]


def level_for(points: float, catalog: Catalog) -> int:
    """Mức 1 below level2_from, Mức 2 up to and including level2_to, Mức 3 strictly above."""
    b = catalog.index
    if points < b.level2_from:
        return 1
    if points <= b.level2_to:
        return 2
    return 3


def round_step(x: float, step: float) -> float:
    """Round half up to the step (0.5 by default): 3.25 → 3.5, 3.2 → 3.0."""
    return math.floor(x / step + 0.5 + 1e-9) * step


def leaves(catalog: Catalog) -> list[Criterion]:
    """The criteria that carry points (entered and placeholder rows), in file order."""
    return [c for c in catalog.criteria.values() if c.rule in ("entered", "placeholder")]


def conditions(catalog: Catalog) -> list[Criterion]:
    """The mandatory conditions (met / not met, no points)."""
    return [c for c in catalog.criteria.values() if c.rule == "condition"]


def computed_points(fields: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Points computed from reported fields for the criteria criteria.csv maps to fields.

    `fields`: one row per school × field with columns school_id, school_year, field_code, value
    (kpi.store.queries.computed_fields). Ratio: max × numerator / denominator, rounded to the step;
    yes/no: max when "có", else 0. Returns school_id, school_year, criterion_code, computed.
    """
    out = []
    if fields.empty:
        return pd.DataFrame(columns=["school_id", "school_year", "criterion_code", "computed"])
    wide = fields.pivot_table(index=["school_id", "school_year"], columns="field_code", values="value",
                              aggfunc="first")
    step = catalog.index.round_step
    for c in catalog.criteria.values():
        if not c.compute or c.numerator_field not in wide.columns:
            continue
        num = wide[c.numerator_field]
        if c.compute == "ratio":
            if c.denominator_field not in wide.columns:
                continue
            den = wide[c.denominator_field]
            share = (num / den.where(den > 0)).clip(0, 1)
            pts = np.floor(share * c.max_points / step + 0.5 + 1e-9) * step
        else:
            pts = (num >= 1).astype(float) * c.max_points
            pts = pts.where(num.notna())
        s = pts.dropna()
        out.append(pd.DataFrame({"school_id": s.index.get_level_values(0), "school_year": s.index.get_level_values(1),
                                 "criterion_code": c.code, "computed": s.values}))
    if not out:
        return pd.DataFrame(columns=["school_id", "school_year", "criterion_code", "computed"])
    return pd.concat(out, ignore_index=True)


def criterion_points(entries: pd.DataFrame, computed: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """One row per school × school year × leaf criterion: points, source, capped, provisional.

    `entries`: kpi.store.queries.criterion_entries rows (self / verified points); `computed`: from
    `computed_points`. Every leaf gets a row for every school that has any entry or computed value.
    """
    keys = pd.concat([entries[["school_id", "school_year"]], computed[["school_id", "school_year"]]]).drop_duplicates()
    lv = leaves(catalog)
    crit = pd.DataFrame({
        "criterion_code": [c.code for c in lv], "group_code": [c.group_code for c in lv],
        "max_points": [c.max_points for c in lv], "crit_provisional": [c.provisional for c in lv],
        "placeholder": [c.rule == "placeholder" for c in lv],
    })
    grid = keys.merge(crit, how="cross")
    grid = grid.merge(entries[["school_id", "school_year", "criterion_code", "self_points", "verified_points"]],
                      on=["school_id", "school_year", "criterion_code"], how="left")
    grid = grid.merge(computed, on=["school_id", "school_year", "criterion_code"], how="left")
    sources = {"verified": "verified_points", "self": "self_points", "computed": "computed"}
    points = pd.Series(np.nan, index=grid.index)
    source = pd.Series(None, index=grid.index, dtype=object)
    for name in catalog.index.precedence:
        col = grid[sources[name]]
        take = points.isna() & col.notna()
        points = points.where(~take, col)
        source = source.where(~take, name)
    points = points.where(~grid["placeholder"], np.nan)  # the placeholder is never scored
    raw = points.fillna(0.0)
    grid["points"] = raw.clip(lower=0, upper=grid["max_points"])
    grid["capped"] = raw > grid["max_points"]
    grid["source"] = source.where(~grid["placeholder"], None)
    grid["provisional"] = grid["crit_provisional"] & ((grid["points"] > 0) | grid["placeholder"])
    return grid.drop(columns=["crit_provisional"])


def condition_status(entries: pd.DataFrame, catalog: Catalog, keys: pd.DataFrame) -> pd.DataFrame:
    """One row per school × year × mandatory condition: met (verified wins), declared."""
    conds = pd.DataFrame({"criterion_code": [c.code for c in conditions(catalog)],
                          "group_code": [c.group_code for c in conditions(catalog)],
                          "crit_provisional": [c.provisional for c in conditions(catalog)]})
    grid = keys.merge(conds, how="cross").merge(
        entries[["school_id", "school_year", "criterion_code", "self_met", "verified_met"]],
        on=["school_id", "school_year", "criterion_code"], how="left")
    met = grid["verified_met"].where(grid["verified_met"].notna(), grid["self_met"])
    grid["declared"] = met.notna()
    grid["met"] = met.fillna(False).astype(bool)
    return grid


def score(entries: pd.DataFrame, computed: pd.DataFrame, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every school × school year present in `entries` / `computed`.

    Returns (criteria, schools): `criteria` from `criterion_points`; `schools` one row per school ×
    year with dh_points, dh_level, dh_unmet, dh_provisional, qt_… likewise, school_level, provisional.
    """
    rules = catalog.index
    crit = criterion_points(entries, computed, catalog)
    keys = crit[["school_id", "school_year"]].drop_duplicates()
    cond = condition_status(entries, catalog, keys)
    out = keys.reset_index(drop=True).copy()
    provisional_any = pd.Series(False, index=out.index)
    levels = {}
    for g in rules.groups:
        gc = crit[crit["group_code"] == g]
        sums = gc.groupby(["school_id", "school_year"]).agg(points=("points", "sum"),
                                                             prov=("provisional", "any")).reset_index()
        m = out.merge(sums, on=["school_id", "school_year"], how="left")
        pts = m["points"].fillna(0.0)
        prov = m["prov"].fillna(False).astype(bool)
        placeholder_max = sum(c.max_points for c in leaves(catalog) if c.group_code == g and c.rule == "placeholder")
        if placeholder_max and rules.placeholder == "rescale":
            group_max = rules.group_max.get(g, 100.0)
            pts = (pts * group_max / (group_max - placeholder_max)).round(2)
            prov = prov | True
        gcond = cond[cond["group_code"] == g]
        unmet = (gcond[~gcond["met"]].groupby(["school_id", "school_year"])["criterion_code"]
                 .agg(lambda s: ", ".join(s)).rename("unmet").reset_index())
        m = m.merge(unmet, on=["school_id", "school_year"], how="left")
        unmet_codes = m["unmet"].fillna("")
        cond_prov = (gcond.groupby(["school_id", "school_year"])["crit_provisional"].any()
                     .rename("cprov").reset_index())
        m = m.merge(cond_prov, on=["school_id", "school_year"], how="left")
        raw_level = pts.map(lambda p: level_for(p, catalog))
        capped = (unmet_codes != "") & (rules.mandatory_unmet == "cap_level_1") & (raw_level > 1)
        level = raw_level.where(~capped, 1)
        # the cap rule is a setting the public texts do not settle: results it changes are provisional
        prov = prov | capped | (m["cprov"].fillna(False).astype(bool) & (unmet_codes != ""))
        k = g.lower()
        out[f"{k}_points"] = pts.values
        out[f"{k}_level"] = level.values.astype(int)
        out[f"{k}_unmet"] = unmet_codes.values
        out[f"{k}_provisional"] = prov.values
        levels[g] = level.values
        provisional_any = provisional_any | prov.values
    if rules.combine_groups == "min":
        school_level = np.minimum.reduce([levels[g] for g in rules.groups])
    else:
        school_level = levels[rules.combine_groups.upper()]
    out["school_level"] = np.asarray(school_level, dtype=int)
    out["provisional"] = provisional_any.values
    return crit, out


@dataclass(frozen=True)
class Road:
    """What a school needs in one group to reach the next level."""

    group: str
    level: int
    next_level: int | None
    points: float
    points_needed: float
    unmet: tuple[str, ...]
    criteria: tuple[tuple[str, str, float], ...]  # (code, name, points still available)
    sentence: str


def road_to_next_level(crit: pd.DataFrame, school: pd.Series, group: str, catalog: Catalog) -> Road:
    """The points missing to the group's next level and the fewest criteria whose remaining points
    close the gap, largest first (taking the k largest remainders is what makes k minimal).

    `crit`: this school's rows of `score(...)[0]`; `school`: its row of `score(...)[1]`.
    """
    k = group.lower()
    label = catalog.index.groups[group]
    level, points = int(school[f"{k}_level"]), float(school[f"{k}_points"])
    unmet = tuple(c for c in str(school[f"{k}_unmet"]).split(", ") if c and c != "nan")
    raw = level_for(points, catalog)
    conds = "; ".join(f"{c} {catalog.criteria[c].name_vi}" for c in unmet)
    if unmet and raw > level:
        return Road(group, level, raw, points, 0.0, unmet, (),
                    f"Trước hết phải đáp ứng điều kiện bắt buộc: {conds}. Khi đó nhóm {label} "
                    f"đạt Mức {raw} với {_pts(points)} điểm hiện có.")
    if level >= 3:
        return Road(group, level, None, points, 0.0, unmet, (),
                    f"Nhóm {label} đã đạt Mức 3 ({_pts(points)} điểm).")
    b = catalog.index
    target = b.level2_from if level == 1 else b.level2_to + b.round_step  # Mức 3 is strictly above
    needed = max(0.0, target - points)
    mine = crit[(crit["group_code"] == group) & ~crit["placeholder"]].copy()
    mine["remaining"] = mine["max_points"] - mine["points"]
    mine = mine[mine["remaining"] > 0].sort_values(["remaining", "criterion_code"], ascending=[False, True])
    chosen, total = [], 0.0
    for r in mine.itertuples():
        if total >= needed - 1e-9:
            break
        chosen.append((r.criterion_code, catalog.criteria[r.criterion_code].name_vi, float(r.remaining)))
        total += r.remaining
    items = "; ".join(f"{code} {name} (còn {_pts(rem)} điểm)" for code, name, rem in chosen)
    sentence = f"Cần thêm {_pts(needed)} điểm nhóm {label} để đạt Mức {level + 1}: {items}."
    if unmet:
        sentence = f"Cần đáp ứng điều kiện bắt buộc: {conds}. " + sentence
    return Road(group, level, level + 1, points, needed, unmet, tuple(chosen), sentence)


def _pts(x: float) -> str:
    return (f"{x:.1f}".rstrip("0").rstrip(".")).replace(".", ",")
