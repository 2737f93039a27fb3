"""So sánh: per indicator, the schools that moved up to đạt or fell back between periods A and B.

Each period is read from its own source (a snapshot, or None = live). Built over a file version's
`kpi.views.cache.Views`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from kpi.common.access import Scope
from kpi.display import figures, tables
from kpi.domain import progress
from kpi.store import queries


@dataclass
class CompareView:
    """So sánh: per indicator, schools that moved up to đạt or fell back between periods A and B."""

    rows: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.rows.empty or (self.rows["reporting_a"].sum() == 0 and self.rows["reporting_b"].sum() == 0)

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        return tables.compare_table(self.rows)

    @property
    def most_moved(self) -> str | None:
        """The indicator where most schools moved (up to đạt or back): the one the page opens on."""
        if self.rows.empty:
            return None
        moved = self.rows["moved_up"] + self.rows["fell_back"]
        return self.rows["indicator_code"].iloc[int(moved.to_numpy().argmax())]

    @functools.cached_property
    def figure(self):
        return figures.compare_bars(self.rows)


def build(v, scope: Scope, a: tuple[str, str], b: tuple[str, str], level=None, ownership=None, ward=None,
          snapshot_a: str | None = None, snapshot_b: str | None = None) -> CompareView:
    """Periods A and B, each read from its own source (a snapshot, or None = live)."""
    a, b = tuple(a), tuple(b)
    mixed = snapshot_a is not None or snapshot_b is not None or scope.snapshot_id is not None  # else: live

    def compute():
        if mixed:
            rows = queries.compare_periods(v.con, v.catalog, scope, a, b, level, ownership, ward, snapshot_a,
                                           snapshot_b, mixed=True, source=v.source(scope))
        else:  # live: every filter is a sum of the pair's cells (one query per pair and data version, not per filter)
            sc = scope.shared()
            cells = v.memo(("compare_cells", sc, a, b),
                           lambda: queries.compare_cells(v.con, v.catalog, sc, a, b, source=v.source(sc)))
            rows = queries.compare_from_cells(cells, level, ownership, ward)
        return CompareView(progress.compare_rows(rows, v.catalog))
    return v.memo(("compare", scope, a, b, level, ownership, ward, snapshot_a, snapshot_b), compute)


def school_values_between(v, scope: Scope, code: str, b: tuple[str, str], a: tuple[str, str], level=None,
                          ownership=None, ward=None, snapshot_a=None, snapshot_b=None) -> pd.DataFrame:
    """School values of period B (from snapshot_b) against period A (from snapshot_a)."""
    sc, a, b = scope.with_snapshot(snapshot_b), tuple(a), tuple(b)
    mixed = snapshot_a is not None or snapshot_b is not None  # both live: the plain query
    return v.memo(("values_between", sc, code, b, a, level, ownership, ward, snapshot_a),
                  lambda: queries.school_values(v.con, v.catalog, sc, code, b, a, level, ownership, ward,
                                                snapshot_earlier=snapshot_a, mixed=mixed, source=v.source(sc)))
