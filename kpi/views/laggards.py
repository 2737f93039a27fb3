"""Ai đang chậm: every target of the period and the schools short of it, worst first (an office scope).

The view model is kpi.domain.laggards.LaggardsView; it is built here from the overview and the
indicators' school values a file version's `kpi.views.cache.Views` already keeps.
"""

from __future__ import annotations

from kpi.common.access import Scope
from kpi.domain.laggards import LaggardsView
from kpi.domain.laggards import build as laggards_from


def build(v, scope: Scope, year: str, rnd: str, level=None, ownership=None, ward=None) -> LaggardsView:
    """Ai đang chậm of a period under the page's filters."""
    def compute():
        rows = v.overview(scope, year, rnd, level, ownership, ward).rows
        prev = v.previous_period(year, rnd)  # as the Chỉ tiêu page asks: one query for both
        codes = [c for c in dict.fromkeys(rows.get("indicator_code", [])) if c in v.catalog.indicators]
        values = {c: v.school_values(scope, c, (year, rnd), prev, level, ownership, ward) for c in codes}
        return laggards_from(rows, values, v.catalog)
    return v.memo(("laggards", scope, year, rnd, level, ownership, ward), compute)
