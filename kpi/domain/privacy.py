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

import numpy as np
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


PEER_COLUMNS = ["indicator_code", "level", "kind", "numerator", "denominator", "value", "target", "near",
                "target_year", "position", "peers", "district_value"]


class LevelPeers:
    """One cấp học's reported values of a period, kept for places and district values only: per indicator
    the reporting schools' values sorted, the pooled sums, and each school's numerator, denominator and
    value in arrays over the level's schools (sorted ids, NaN where a school did not report). Built once per
    level and period from kpi.store.queries.level_values and shared by every principal of the unit: a
    school's place is a binary search instead of a pass over the level's rows (53.000 schools: a few
    hundred thousand rows per level), and it holds a tenth of the frame's memory."""

    def __init__(self, level_values: pd.DataFrame):
        at, ids = pd.factorize(level_values["school_id"], sort=True)  # each row's place among the sorted ids
        self.ids = np.asarray(ids, dtype=object)
        codes, names = pd.factorize(level_values["indicator_code"])
        num, den, value = (level_values[c].to_numpy(dtype=float, na_value=np.nan)
                           for c in ("numerator", "denominator", "value"))
        self.codes: dict[str, tuple] = {}
        for j, code in enumerate(names):
            mine = codes == j
            cols = []
            for col in (num, den, value):
                arr = np.full(len(self.ids), np.nan)
                arr[at[mine]] = col[mine]
                cols.append(arr)
            district = num[mine].sum() / den[mine].sum()
            self.codes[str(code)] = (*cols, np.sort(value[mine]), float(district))

    @property
    def nbytes(self) -> int:
        """What it holds (for the view models' memory budget)."""
        return 64 * len(self.ids) + sum(a.nbytes for arrays in self.codes.values() for a in arrays[:4])

    def rows(self, defs: list[dict], school_id: str, k: int | None) -> pd.DataFrame:
        """One school's row per indicator of its level (the shape of kpi/sql/school_indicators.sql): its
        numerator, denominator and value, the target, and how it stands among the schools of its level that
        reported (`position` of `peers`, 1 = highest) and the district's pooled value. With `k` (a principal),
        the place and the district value are left out where fewer than `k` schools reported."""
        i = int(np.searchsorted(self.ids, school_id)) if len(self.ids) else 0
        found = i < len(self.ids) and self.ids[i] == school_id
        rows = []
        for d in defs:
            num = den = value = position = peers = district = math.nan
            arrays = self.codes.get(d["indicator_code"])
            if arrays is not None:
                nums, dens, values, ranked, district = arrays
                if found and not math.isnan(values[i]):  # a place only for a school that reported
                    num, den, value = float(nums[i]), float(dens[i]), float(values[i])
                    above = len(ranked) - int(np.searchsorted(ranked, value + 1e-12, side="right"))
                    position, peers = above + 1, len(ranked)
                if k is not None and len(ranked) < k:
                    position = peers = district = math.nan
            rows.append({"indicator_code": d["indicator_code"], "level": d["level"], "kind": d["kind"],
                         "numerator": num, "denominator": den, "value": value, "target": d["target"],
                         "near": d["near"], "target_year": d["target_year"], "position": position, "peers": peers,
                         "district_value": district})
        return pd.DataFrame(rows, columns=PEER_COLUMNS).sort_values("indicator_code").reset_index(drop=True)

