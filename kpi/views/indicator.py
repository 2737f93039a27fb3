"""Chỉ tiêu: one indicator over time and across the schools of a period, every text decided.

Built over a file version's `kpi.views.cache.Views`; read by the page and the meeting pack. For a
principal, kpi.domain.privacy reduces the unit's rows (own school named, others anonymous).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import pandas as pd

from kpi.catalog.model import LEVEL_LABELS, TARGET_BASES, Catalog
from kpi.common.access import Scope
from kpi.common.formatting import fmt_int, fmt_percent
from kpi.display import figures, figures_trend, tables
from kpi.domain import privacy, progress
from kpi.store import queries

MISSING_NAMES = 12  # the Chỉ tiêu page names this many schools without data, then "…"


def indicator_codes(cat: Catalog, level: str | None = None) -> list[str]:
    """The targets Chỉ tiêu offers, in Tổng quan's order (by theme, as the pack); for a principal
    (`level`: the school's cấp học) those of that cấp học. The page opens on the first."""
    codes = [c for c, ind in cat.indicators.items() if level is None or level in ind.levels] or list(cat.indicators)
    themes = list(cat.themes)
    return sorted(codes, key=lambda c: themes.index(cat.indicators[c].theme))


@dataclass
class IndicatorView:
    """Chỉ tiêu: one indicator over time and across the schools of a period."""

    code: str
    caption: str
    trend: pd.DataFrame        # kpi.domain.progress.trend_rows
    values: pd.DataFrame       # kpi.store.queries.school_values (for a principal: kpi.domain.privacy.principal_values)
    note: str = ""             # why figures about other schools are left out (small group), if they are

    @property
    def has_trend(self) -> bool:
        return not self.trend.empty and self.trend["value"].notna().sum() > 0

    @property
    def has_values(self) -> bool:
        return self.values["value"].notna().sum() > 0

    @functools.cached_property
    def missing_sentence(self) -> str:
        missing = self.values[self.values["value"].isna()]
        if missing.empty:
            return ""
        named = missing[missing["school_id"].notna()] if "school_id" in missing.columns else missing
        names = [n for n in named["name"].head(MISSING_NAMES) if isinstance(n, str)]  # others stay unnamed
        listed = (": " + ", ".join(names) + ("…" if len(named) > MISSING_NAMES else "")) if names else ""
        return f"{fmt_int(len(missing))} trường chưa có số liệu kỳ này (không tính là 0){listed}"

    @functools.cached_property
    def trend_table(self) -> pd.DataFrame:
        return tables.trend_table(self.trend)

    @functools.cached_property
    def school_table(self) -> pd.DataFrame:
        return tables.school_table(self.values)

    @functools.cached_property
    def openable(self) -> dict[str, str]:
        """School id → name of the named schools among the rows the table shows (tables.MAX_TABLE_ROWS):
        those a click on a row can open, offered as a field too (over 53.000 schools the field held
        every school's name, 44 ms a run to list and a message of a megabyte to the browser)."""
        shown = self.values.head(tables.MAX_TABLE_ROWS)
        named = shown[shown["school_id"].notna()]
        return dict(zip(named["school_id"], named["name"]))

    @functools.cached_property
    def trend_drawn(self) -> pd.DataFrame:
        """The trend rows the chart draws (its latest periods: figures_trend.latest_periods)."""
        return figures_trend.latest_periods(self.trend)

    @functools.cached_property
    def trend_window_note(self) -> str:
        """What the chart leaves to the table, when it does ('' when it draws every period)."""
        drawn, every = self.trend_drawn["period"].nunique(), self.trend["period"].nunique()
        return "" if drawn == every else (f"Biểu đồ: {fmt_int(drawn)} kỳ gần nhất; thẻ Bảng số liệu có đủ "
                                          f"{fmt_int(every)} kỳ.")

    @functools.cached_property
    def trend_figure(self):
        return figures_trend.trend_chart(self.trend)

    @property
    def reporting(self) -> int:
        return int(self.values["value"].notna().sum())

    @functools.cached_property
    def schools_figure(self):
        return figures.school_bars(self.values) if self.reporting <= 300 else figures.school_histogram(self.values)


def trend(v, scope: Scope, code: str, level, ownership, ward) -> tuple[pd.DataFrame, bool]:
    """(the district's value per period, pooled; whether a principal's small groups were left blank)."""
    sc = scope.shared()
    # every filter is a sum of the unit's cells (one query per indicator and data version, not per filter)
    cells = v.memo(("trend_cells", sc, code),
                   lambda: queries.indicator_trend_cells(v.con, v.catalog, sc, code, source=v.source(sc, local=True)))
    per_level = v.memo(("trend_levels", sc, code, level, ownership, ward),
                       lambda: queries.trend_from_cells(cells, v.catalog, code, level, ownership, ward))
    rows = v.memo(("trend", sc, code, level, ownership, ward), lambda: progress.trend_rows(per_level))
    return privacy.principal_trend(rows, per_level=per_level) if scope.is_school else (rows, False)


def every_trend_cells(v, scope: Scope) -> None:
    """Every indicator's cells of the unit, from one query (half the CPU of one query each), kept as each
    indicator's own (`trend`): built by the warm-up of an office scope, so that no one opening a target
    nobody opened before waits for its query (over 53.000 schools 0,25 s each, seconds under load)."""
    sc = scope.shared()
    started = time.perf_counter()
    every = queries.indicator_trend_cells_all(v.con, v.catalog, sc, source=v.source(sc, local=True))
    share = (time.perf_counter() - started) / max(1, len(every))  # what each would cost to build again
    for code, cells in every.items():
        v.memo(("trend_cells", sc, code), lambda cells=cells: cells, cost=share)


def school_values(v, scope: Scope, code: str, period, earlier, level, ownership,
                  ward) -> tuple[pd.DataFrame, bool]:
    """(kpi.store.queries.school_values per school, reduced for a principal; whether rows were left out)."""
    period, earlier = tuple(period), tuple(earlier) if earlier else None
    sc = scope.shared()
    if level is None and ownership is None and ward is None:
        rows = v.memo(("school_values", sc, code, period, earlier, None, None, None),
                      lambda: queries.school_values(v.con, v.catalog, sc, code, period, earlier,
                                                    source=v.source(sc, local=True)))
    else:  # a school's row does not depend on the filter: the filter is a subset of the unit's rows, in order
        every = school_values(v, sc, code, period, earlier, None, None, None)[0]
        rows = v.memo(("school_values", sc, code, period, earlier, level, ownership, ward),
                      lambda: queries.rows_of(every, level, ownership, ward).reset_index(drop=True))
    if not scope.is_school:
        return rows, False
    return v.memo(("school_values_for", scope, code, period, earlier, level, ownership, ward),
                  lambda: privacy.principal_values(rows, scope.school_id))


def build(v, scope: Scope, code: str, year: str, rnd: str, level=None, ownership=None, ward=None) -> IndicatorView:
    """Chỉ tiêu: the indicator's caption, its district trend and its schools this period."""
    def compute():
        ind = v.catalog.indicators[code]
        targets = [v.catalog.target_for(code, lv, year) for lv in ind.levels]
        target_text = "; ".join(f"{lv} {fmt_percent(t.value)}" for lv, t in zip(ind.levels, targets) if t)
        basis = next((TARGET_BASES[t.basis] for t in targets if t), "chưa có chỉ tiêu cho năm học này")
        caption = (f"Mục {ind.clause} · {', '.join(LEVEL_LABELS[lv] for lv in ind.levels)} · "
                   f"chỉ tiêu {target_text or '—'} ({basis}) · Năm học {year} · {rnd}")
        prev = v.previous_period(year, rnd)
        rows, hidden_trend = trend(v, scope, code, level, ownership, ward)
        values, hidden_rows = school_values(v, scope, code, (year, rnd), prev, level, ownership, ward)
        return IndicatorView(code, caption, rows, values, privacy.group_note() if hidden_trend or hidden_rows else "")
    return v.memo(("indicator", scope, code, year, rnd, level, ownership, ward), compute)
