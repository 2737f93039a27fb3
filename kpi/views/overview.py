"""Tổng quan: the overview of a period for a scope and filters, every text decided.

Built by `build` over a file version's `kpi.views.cache.Views` (its memo, connection, catalog and
shared reads), and read alike by the page and the meeting pack.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.access import Scope
from kpi.common.formatting import fmt_int, fmt_percent
from kpi.display import figures
from kpi.domain import maturity, privacy, progress
from kpi.store import queries


@dataclass(frozen=True)
class Tile:
    """One target of the overview, every text decided."""

    code: str
    heading: str          # "II.10 · Học sinh học Tin học quốc tế (TH)"
    value: str            # "17,5%"
    target: str           # "chỉ tiêu 20%"
    status: str           # status code (colour)
    status_text: str      # "✖ Chưa đạt"
    gap: str              # "còn thiếu 37 học sinh"
    change: str           # "tăng 2,5 điểm % so với kỳ trước"
    reporting: str        # "17/18 trường đã báo cáo"
    is_index: bool


@dataclass
class OverviewView:
    """Tổng quan of a period for a scope and filters: the overview rows with their change since
    the previous round, the status counts, the tiles by theme, the table."""

    rows: pd.DataFrame
    catalog: Catalog
    note: str = ""

    @property
    def empty(self) -> bool:
        return self.rows.empty or self.rows["schools_reporting"].sum() == 0

    @functools.cached_property
    def counts(self) -> dict[str, int]:
        c = self.rows["status"].value_counts()
        return {"dat": int(c.get("dat", 0)), "gan_dat": int(c.get("gan_dat", 0)),
                "chua_dat": int(c.get("chua_dat", 0)), "all": len(self.rows)}

    @functools.cached_property
    def themes(self) -> list[tuple[str, list[Tile]]]:
        """(theme label, tiles) in the plan's order."""
        out = []
        for theme in self.catalog.themes.values():
            part = self.rows[self.rows["theme"] == theme.code]
            if part.empty:
                continue
            tiles = []
            for r in part.to_dict("records"):
                lv = "" if r["level"] == progress.ALL_LEVELS else f" ({r['level']})"
                tiles.append(Tile(
                    r["indicator_code"], f"{r['clause']} · {r['label']}{lv}", fmt_percent(r["value"]),
                    f"chỉ tiêu {fmt_percent(r['target'])}", r["status"], figures.status_text(r["status"]),
                    progress.gap_sentence(r), progress.change_sentence(r["change"]),
                    f"{fmt_int(r['schools_reporting'])}/{fmt_int(r['schools_expected'])} trường đã báo cáo",
                    r["indicator_code"] == maturity.INDEX_CODE))
            out.append((theme.label_vi, tiles))
        return out

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        return progress.overview_table(self.rows, self.catalog)

    @functools.cached_property
    def figure(self):
        return figures.progress_bars(self.rows)


def summary(v, scope: Scope, year: str, rnd: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
    """kpi.store.queries.district_summary (aggregates name no school: shared by every user of the unit)."""
    sc = replace(scope, school_id=None)
    return v.memo(("summary", sc, year, rnd, level, ownership, ward),
                  lambda: queries.district_summary(v.con, v.catalog, sc, year, rnd, level, ownership, ward,
                                                   source=v.source(sc, local=True)))


def _rows(v, scope: Scope, year: str, rnd: str, level, ownership, ward) -> pd.DataFrame:
    sums = v.summary(scope, year, rnd, level, ownership, ward)
    base = progress.overview_rows(sums, v.catalog)
    if base.empty or base["schools_reporting"].sum() == 0:
        return base
    iy = maturity.index_year_for(year, rnd)
    counts = v.maturity_counts(scope, (iy,), level, ownership, ward)
    return maturity.with_index_row(base, counts, sums, v.catalog, iy)


def build(v, scope: Scope, year: str, rnd: str, level=None, ownership=None, ward=None) -> OverviewView:
    """The overview of a period, with the change since the previous round (for pages and packs)."""
    def compute():
        rows = _rows(v, scope, year, rnd, level, ownership, ward)
        if not (rows.empty or rows["schools_reporting"].sum() == 0):
            prev = v.previous_period(year, rnd)
            rows = progress.with_change(rows, _rows(v, scope, *prev, level, ownership, ward) if prev else None)
        note = ""
        if scope.is_school:
            rows, hidden = privacy.principal_overview(rows)
            note = privacy.group_note() if hidden else ""
        return OverviewView(rows, v.catalog, note)
    return v.memo(("overview", scope, year, rnd, level, ownership, ward), compute)
