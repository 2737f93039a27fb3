"""Chỉ số CĐS: at which maturity level are the schools, where are points lost, what closes the gap?

The page's view models, every text decided: the head of the page and the distribution over the
levels (`MaturityView`), the heat map of schools × criteria (`HeatmapView`), the points lost per
criterion (`LostView`), self-assessed against verified points (`ReviewView`) and a school's road to
the next level. Built over a file version's `kpi.views.cache.Views`; each tab's part is built
only when the tab is opened.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.access import Scope
from kpi.common.formatting import fmt_int, fmt_percent, fmt_points
from kpi.display import chart_text, figures, tables
from kpi.domain import maturity as district
from kpi.domain import scoring
from kpi.store import queries
from kpi.workflows import publication

HEATMAP_ROWS = 200  # schools drawn in the heat map (the table below it holds more)
LOST_BARS = 12      # criteria drawn in the chart of points lost


@dataclass
class MaturityView:
    """The head of the page (caption, publication, rules, metrics) and the distribution tab."""

    year: str
    caption: str
    published: bool
    publication: str
    rules: str
    counts_all: pd.DataFrame   # kpi.store.queries.maturity_counts of every index year
    catalog: Catalog

    @functools.cached_property
    def this_year(self) -> pd.DataFrame:
        return self.counts_all[self.counts_all["school_year"] == self.year]

    @property
    def empty(self) -> bool:
        """No school assessed itself in the year."""
        return self.this_year.empty

    @functools.cached_property
    def counts(self) -> dict[int, int]:
        return district.level_counts(self.this_year)

    @property
    def scored(self) -> int:
        return sum(self.counts.values())

    @functools.cached_property
    def metrics(self) -> list[tuple[str, str, str | None]]:
        """(label, value, help): the share at the district's target level or above, then Mức 1, 2, 3."""
        target = self.catalog.index.district_target
        meeting = sum(n for m, n in self.counts.items() if m >= target["min_level"])
        return [(f"Trường từ Mức {target['min_level']} trở lên", fmt_percent(meeting / self.scored),
                 f"Chỉ tiêu của Phòng: {fmt_percent(target['share'])}"),
                *((f"Mức {m}", fmt_int(self.counts[m]), None) for m in (1, 2, 3))]

    @functools.cached_property
    def distribution(self) -> pd.DataFrame:
        return district.distribution(self.this_year, self.catalog)

    @functools.cached_property
    def distribution_table(self) -> pd.DataFrame:
        return tables.level_table(self.distribution)

    @functools.cached_property
    def distribution_figure(self):
        return figures.level_distribution(self.distribution)

    @property
    def distribution_name(self) -> str:
        return chart_text.level_counts_name(self.counts, self.year)

    @functools.cached_property
    def trend_table(self) -> pd.DataFrame:
        return chart_text.level_trend_table(district.trend(self.counts_all))

    @functools.cached_property
    def trend_figure(self):
        return figures.level_trend(district.trend(self.counts_all))

    @property
    def trend_name(self) -> str:
        return chart_text.level_trend_name(self.trend_table)


@dataclass
class HeatmapView:
    """Schools × criteria (share of the maximum earned) in the chosen order, one group's criteria or all."""

    year: str
    matrix: pd.DataFrame       # the schools kept (at most the page's table limit), the criteria shown
    scored: int                # schools scored in the year under the filters
    catalog: Catalog

    @functools.cached_property
    def names(self) -> dict[str, str]:
        return {k: c.name_vi for k, c in self.catalog.criteria.items()}

    @functools.cached_property
    def figure(self):
        return figures.criteria_heatmap(self.matrix.head(HEATMAP_ROWS), self.names,
                                        short={k: c.short_vi for k, c in self.catalog.criteria.items()})

    @property
    def name(self) -> str:
        return chart_text.heatmap_name(min(len(self.matrix), HEATMAP_ROWS), len(self.matrix.columns), self.year)

    @property
    def chart_note(self) -> str:
        """Said above the chart when it draws only the first schools ('' when it draws them all)."""
        if self.scored <= HEATMAP_ROWS:
            return ""
        return (f"Bản đồ nhiệt hiển thị {HEATMAP_ROWS} trường đầu theo thứ tự đã chọn trong {fmt_int(self.scored)} "
                "trường; lọc theo cấp học, loại hình hoặc phường để xem nhóm khác.")

    @property
    def table_note(self) -> str:
        """Said below the chart when the table holds only the first schools ('' when it holds them all)."""
        if self.scored <= len(self.matrix):
            return ""
        return f"Bảng hiển thị {fmt_int(len(self.matrix))} trường đầu trong {fmt_int(self.scored)} trường."

    @functools.cached_property
    def table(self) -> tuple[pd.DataFrame, dict]:
        """(the table, its formats)."""
        return tables.heatmap_table(self.matrix, self.catalog)

    @property
    def column_config(self) -> dict:
        return {label: {"help": self.names[c], "width": "small"}
                for c, label in zip(self.matrix.columns, self.table[0].columns[1:])}


@dataclass
class LostView:
    """The criteria where the schools lose most points (average per school, of the maximum)."""

    rows: pd.DataFrame         # kpi.store.queries.maturity_lost
    catalog: Catalog

    @functools.cached_property
    def short(self) -> dict[str, str]:
        return {k: c.short_vi for k, c in self.catalog.criteria.items()}

    @functools.cached_property
    def figure(self):
        return figures.points_lost_bars(self.rows.head(LOST_BARS), short=self.short)

    @property
    def name(self) -> str:
        return chart_text.lost_name(self.rows, self.short)

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        return tables.lost_table(self.rows)


@dataclass
class ReviewView:
    """Self-assessed, verified and computed points side by side; the differences to look at flagged."""

    rows: pd.DataFrame
    total: int                 # rows in all
    flagged: int               # rows flagged
    flagged_only: bool
    catalog: Catalog

    @property
    def caption(self) -> str:
        return f"{fmt_int(self.flagged)} chênh lệch cần Phòng xem lại."

    @property
    def shown_total(self) -> int:
        """The rows the table stands for (it may hold only the first of them)."""
        return self.flagged if self.flagged_only else self.total

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        return tables.review_table(self.rows, self.catalog)


# ---- the reads behind them (kept per file version) -------------------------------------------------

def counts(v, scope: Scope, years, level=None, ownership=None, ward=None) -> pd.DataFrame:
    """kpi.store.queries.maturity_counts: every district count of the index."""
    years = tuple(years)
    return v.memo(("maturity_counts", scope, years, level, ownership, ward),
                  lambda: queries.maturity_counts(v.con, v.catalog, scope, list(years), level, ownership, ward,
                                                  source=v.source(scope)))


def lost(v, scope: Scope, year: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
    return v.memo(("maturity_lost", scope, year, level, ownership, ward),
                  lambda: queries.maturity_lost(v.con, v.catalog, scope, year, level, ownership, ward,
                                                source=v.source(scope)))


def heatmap(v, scope: Scope, year: str, order: str, limit: int, level=None, ownership=None,
            ward=None) -> pd.DataFrame:
    return v.memo(("maturity_heatmap", scope, year, order, limit, level, ownership, ward),
                  lambda: queries.maturity_heatmap(v.con, v.catalog, scope, year, order, limit, level, ownership,
                                                   ward, source=v.source(scope)))


def review(v, scope: Scope, year: str, flagged_only: bool, limit: int, level=None, ownership=None, ward=None):
    return v.memo(("maturity_review", scope, year, flagged_only, limit, level, ownership, ward),
                  lambda: queries.maturity_review(v.con, v.catalog, scope, year, flagged_only, limit, level,
                                                  ownership, ward, source=v.source(scope)))


def school_maturity(v, scope: Scope, school_id: str, years) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(criteria, schools) of one school only (a scorecard needs no other school's scores)."""
    sc = replace(scope, school_id=school_id)
    years = tuple(years)
    return v.memo(("school_maturity", sc, years),
                  lambda: queries.maturity(v.con, v.catalog, sc, list(years), source=v.source(sc)))


# ---- the page's view models ----------------------------------------------------------------------

def build(v, scope: Scope, year: str, level=None, ownership=None, ward=None) -> MaturityView:
    """The head of the page and the distribution tab for a school year under the filters."""
    def compute():
        cat = v.catalog
        snap = scope.snapshot_id
        caption = (f"{cat.index.decision} · Năm học {year} · tự đánh giá trước {cat.index.self_assessment_deadline}, "
                   f"Phòng thẩm định trước {cat.index.review_deadline} · "
                   + (f"bản chốt {snap}" if snap else "số liệu trực tiếp"))
        done, said = publication.sentence(v.publications(scope, year), year)
        return MaturityView(year, caption, done, said, district.rules_sentence(cat),
                            v.maturity_counts(scope, v.index_years(), level, ownership, ward), cat)
    return v.memo(("maturity_page", scope, year, level, ownership, ward), compute)


def heat(v, scope: Scope, year: str, order: str, group: str | None, limit: int, level=None, ownership=None,
         ward=None) -> HeatmapView:
    """The heat map in `order` ('total', a group code in lower case, or 'name'), of one group's
    criteria (None: all), at most `limit` schools."""
    def compute():
        cat = v.catalog
        matrix = v.maturity_heatmap(scope, year, order, limit, level, ownership, ward)
        if group is not None:
            matrix = matrix[[c for c in matrix.columns if c in cat.criteria and cat.criteria[c].group_code == group]]
        return HeatmapView(year, matrix, build(v, scope, year, level, ownership, ward).scored, cat)
    return v.memo(("maturity_heat", scope, year, order, group, limit, level, ownership, ward), compute)


def lost_view(v, scope: Scope, year: str, level=None, ownership=None, ward=None) -> LostView:
    """The points lost per criterion."""
    return v.memo(("maturity_lost_view", scope, year, level, ownership, ward),
                  lambda: LostView(v.maturity_lost(scope, year, level, ownership, ward), v.catalog))


def review_view(v, scope: Scope, year: str, flagged_only: bool, limit: int, level=None, ownership=None,
                ward=None) -> ReviewView:
    """Self-assessment against verification: the flagged differences only, or every row (at most `limit`)."""
    def compute():
        rows, total, flagged = v.maturity_review(scope, year, flagged_only, limit, level, ownership, ward)
        return ReviewView(rows, total, flagged, flagged_only, v.catalog)
    return v.memo(("maturity_review_view", scope, year, flagged_only, limit, level, ownership, ward), compute)


def candidates(v, scope: Scope, level=None, ownership=None, ward=None) -> pd.DataFrame:
    """The open schools of the index's cấp học under the filters (whose road the page can show)."""
    def compute():
        s = v.school_list(scope)
        keep = s["level"].isin(v.catalog.index.levels_apply)
        for col, want in (("level", level), ("ownership", ownership), ("ward", ward)):
            if want:
                keep &= s[col] == want
        return s[keep]
    return v.memo(("maturity_candidates", scope.unit_id, scope.school_id, level, ownership, ward), compute)


def roads(v, scope: Scope, year: str, school_id: str) -> list[tuple[str, str]]:
    """(heading, sentence) per group: a school's points and level, and what closes the gap to the
    next level; empty when the school did not assess itself in the year."""
    def compute():
        crit, mine = v.school_maturity(scope, school_id, [year])
        if not len(mine):
            return []
        row, cat, out = mine.iloc[0], v.catalog, []
        for g in cat.index.groups:
            road = scoring.road_to_next_level(crit, row, g, cat)
            out.append((f"**Nhóm {cat.index.groups[g]}: {fmt_points(road.points)} điểm chỉ số, Mức {road.level}**",
                        road.sentence))
        return out
    return v.memo(("maturity_roads", scope, year, school_id), compute)
