"""Tự đánh giá CĐS: the points a school's reported figures earn on the computed criteria, and the
figures used, suggested beside the self-assessment form. Built over a file version's
`kpi.views.cache.Views`.
"""

from __future__ import annotations

import pandas as pd

from kpi.common.access import Scope
from kpi.common.formatting import fmt_number
from kpi.domain import scoring
from kpi.store import queries


def suggestions(v, scope: Scope, school_id: str, year: str) -> tuple[dict[str, float], dict[str, str]]:
    """(criterion → points the school's reported data earn, criterion → the figures used, in
    words) for one school and school year; empty outside the scope."""

    def compute():
        sc = Scope(scope.unit_id, scope.school_id)
        figs = queries.assessment_figures(v.con, v.catalog, sc, school_id, year)
        if figs.empty:
            return {}, {}
        frame = pd.DataFrame({"school_id": school_id, "school_year": year, "field_code": figs["field_code"],
                              "value": figs["value"].astype(float)})
        comp = scoring.computed_points(frame, v.catalog)
        points = {c: float(p) for c, p in zip(comp["criterion_code"], comp["computed"])}
        values = dict(zip(figs["field_code"], figs["value"]))
        rounds = dict(zip(figs["field_code"], figs["round"]))
        used = {}
        for code in points:
            c = v.catalog.criteria[code]
            parts = [f"{v.catalog.fields[f].label_vi}: {fmt_number(values[f], 0)} ({rounds[f]} {year})"
                     for f in (c.numerator_field, c.denominator_field) if f and f in values]
            used[code] = "; ".join(parts)
        return points, used
    return v.memo(("suggestions", scope.unit_id, scope.school_id, school_id, year), compute)
