"""What a principal may learn about other schools (pure).

A principal sees their own school by name and other schools only as figures about groups: never
another school's code, name, ward or raw counts, and nothing at all about a group of fewer than
`MIN_GROUP` schools (after the filters in force) — with three schools in a ward, a pooled value,
a rank or an anonymous row would point at one school. The same holds per cấp học: on an indicator
of every cấp học, a level with fewer than `MIN_GROUP` schools reporting (GDTX: one school in a
district) gives no row, no place and no pooled value of its own. A figure about others is shown only when
at least `MIN_GROUP` schools contribute to it; otherwise the page says why.

kpi.views applies these rules to every view model it builds for a principal's scope, so the pages,
their downloads and the exports all get the same, already reduced, figures.
"""

from __future__ import annotations

import math
import os

import pandas as pd

MIN_GROUP = int(os.environ.get("KPI_MIN_GROUP", "5"))


def group_note(k: int = MIN_GROUP) -> str:
    """The sentence shown where figures about other schools are left out."""
    return f"Nhóm dưới {k} trường, không hiển thị số liệu của các trường khác (để không lộ số liệu của một trường)."


def small_levels(values: pd.DataFrame, k: int = MIN_GROUP) -> set:
    """The cấp học of `values` (kpi.store.queries.school_values' rows) with fewer than `k` schools reporting:
    on an indicator of every cấp học, a per-level group such as GDTX (one school in a district)."""
    if "level" not in values.columns or values.empty:
        return set()
    reporting = values[values["value"].notna()].groupby("level").size()
    return {lv for lv in values["level"].dropna().unique() if int(reporting.get(lv, 0)) < k}


def principal_values(values: pd.DataFrame, own: str, k: int = MIN_GROUP) -> tuple[pd.DataFrame, bool]:
    """kpi.store.queries.school_values' rows (named, unit-wide) as a principal may see them: the own
    school's row as it is; every other school without code, name, ownership, ward, numerator or
    denominator; no other school at all when fewer than `k` schools reported; and no other school
    of a cấp học fewer than `k` schools of which reported (its row carries the level and the
    level's target, so it would be that level's figure). Returns (rows, suppressed)."""
    mine = values[values["school_id"] == own].assign(is_own=True)
    if int(values["value"].notna().sum()) < k:
        return mine.reset_index(drop=True), True
    small = small_levels(values, k)
    others = values[(values["school_id"] != own) & ~values["level"].isin(small)].assign(
        school_id=None, name="Trường khác", ownership=None, ward=None, numerator=math.nan, denominator=math.nan,
        is_own=False)
    hidden = bool(((values["school_id"] != own) & values["level"].isin(small)).any())
    out = pd.concat([mine, others]) if len(mine) else others
    return out.sort_values("value", ascending=False, na_position="last", kind="stable").reset_index(drop=True), hidden


def principal_trend(trend: pd.DataFrame, k: int = MIN_GROUP, per_level: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, bool]:
    """kpi.domain.progress.trend_rows with the pooled figures of periods where fewer than `k` schools
    reported left blank. With `per_level` (kpi.store.queries.indicator_trend's rows, one per level and
    period, before pooling): a period's pooled numerator and denominator are left blank where a
    cấp học with fewer than `k` schools reporting is inside the pool, so that the pooled counts
    minus the other levels' (each shown under its own filter) never give that level's counts.
    Returns (rows, anything suppressed)."""
    small = trend["schools_reporting"] < k
    out, hidden = trend, bool(small.any())
    if hidden:
        out = trend.copy()
        for col in ("numerator", "denominator", "value"):
            out[col] = out[col].where(~small)
    if per_level is not None and len(per_level) and "series" in out.columns:
        levels = set(per_level["level"])
        tiny = per_level[(per_level["schools_reporting"] > 0) & (per_level["schools_reporting"] < k)]
        periods = set(zip(tiny["school_year"], tiny["round"]))
        pooled = ~out["series"].isin(levels)
        mixed = pooled & pd.Series([(y, r) in periods for y, r in zip(out["school_year"], out["round"])],
                                   index=out.index, dtype=bool)
        if mixed.any():
            out = out.copy() if out is trend else out
            for col in ("numerator", "denominator"):
                out[col] = out[col].where(~mixed)
    return out, hidden


def principal_overview(rows: pd.DataFrame, k: int = MIN_GROUP) -> tuple[pd.DataFrame, bool]:
    """Overview rows (district aggregates) without the rows fewer than `k` schools reported on."""
    if rows.empty:
        return rows, False
    keep = rows["schools_reporting"] >= k
    return rows[keep].reset_index(drop=True), not keep.all()


def peer_rows(level_values: pd.DataFrame, defs: list[dict], school_id: str, k: int | None) -> pd.DataFrame:
    """One school's row per indicator of its level (the shape of kpi/sql/school_indicators.sql):
    its numerator, denominator and value, the target, and how it stands among the schools of its
    level that reported (`position` of `peers`, 1 = highest) and the district's pooled value.

    `level_values`: kpi.store.queries.level_values (every school of the level, unit-wide); `defs`:
    catalog.target_rows of the school year for the level. With `k` (a principal), the place and
    the district value are left out where fewer than `k` schools reported."""
    rows = []
    by_code = dict(tuple(level_values.groupby("indicator_code", sort=False))) if len(level_values) else {}
    for d in defs:
        part = by_code.get(d["indicator_code"])
        num = den = value = position = peers = district = math.nan
        if part is not None and len(part):
            me = part[part["school_id"] == school_id]
            district = part["numerator"].sum() / part["denominator"].sum()
            if len(me):  # a place only for a school that reported
                num, den, value = (float(me["numerator"].iloc[0]), float(me["denominator"].iloc[0]),
                                   float(me["value"].iloc[0]))
                position, peers = int((part["value"] > value + 1e-12).sum()) + 1, len(part)
            if k is not None and len(part) < k:
                position = peers = district = math.nan
        rows.append({"indicator_code": d["indicator_code"], "level": d["level"], "kind": d["kind"],
                     "numerator": num, "denominator": den, "value": value, "target": d["target"],
                     "near": d["near"], "target_year": d["target_year"], "position": position, "peers": peers,
                     "district_value": district})
    cols = ["indicator_code", "level", "kind", "numerator", "denominator", "value", "target", "near", "target_year",
            "position", "peers", "district_value"]
    return pd.DataFrame(rows, columns=cols).sort_values("indicator_code").reset_index(drop=True)
