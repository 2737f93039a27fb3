"""Dữ liệu: who submitted when, which fields the schools filled in, and the quality of a period's
figures (approved and submitted values: per field, and the outliers). Built over a file version's
`kpi.views.cache.Views`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from kpi.common.access import Scope
from kpi.display import tables
from kpi.domain import quality
from kpi.store import queries
from kpi.workflows import entry


@dataclass
class QualityView:
    """Chất lượng số liệu of a period (approved and submitted values): per field, and the outliers."""

    table: pd.DataFrame
    outliers: pd.DataFrame


def submission_status(v, scope: Scope, year: str, rnd: str) -> pd.DataFrame:
    """Who submitted when (a file the Phòng imported, or the app), on time or late, and where
    each school's entry stands: read again whenever the schools' entries change."""
    open_ = entry.open_period(v.periods())
    if scope.school_id is not None and scope.snapshot_id is None and v.state is not None:
        # one school (a scorecard): read again only when its own entry changes, not with every school's save
        own = entry.school_entry_times(v.state, scope.school_id, year, rnd, open_)
        row = tuple(tuple(r.values()) for r in own.to_pylist())
        return v.memo(("submission_status", scope, year, rnd, row),
                      lambda: queries.submission_status(v.con, scope, year, rnd, own, (year, rnd) == open_,
                                                        source=v.source(scope)))
    version = v.workflow_version() if scope.snapshot_id is None else None

    def compute():
        times = None if version is None else v.memo(  # one read of the store per version, for every scope
            ("entry_times", year, rnd, version), lambda: entry.entry_times(v.state, year, rnd, open_))
        # a snapshot holds arrivals, not the entries' workflow: nothing in it is open for entry
        return queries.submission_status(v.con, scope, year, rnd, times,
                                         (year, rnd) == open_ and scope.snapshot_id is None, source=v.source(scope))
    return v.memo(("submission_status", scope, year, rnd, version), compute)


def submission_table(v, scope: Scope, year: str, rnd: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(submission_status, kpi.display.tables.submission_table of it): the table written out once per version
    of the schools' entries (53.000 schools: 120 ms a run otherwise), with the rows it was written from."""
    version = v.workflow_version() if scope.snapshot_id is None else None

    def compute():
        status = submission_status(v, scope, year, rnd)
        return status, tables.submission_table(status)
    return v.memo(("submission_table", scope, year, rnd, version), compute)


def field_completeness(v, scope: Scope, year: str, rnd: str) -> pd.DataFrame:
    """Per field × cấp học: the schools expected to report it and those that did."""
    return v.memo(("field_completeness", scope, year, rnd),
                  lambda: queries.field_completeness(v.con, v.catalog, scope, year, rnd, source=v.source(scope)))


def build(v, scope: Scope, year: str, rnd: str) -> QualityView:
    """Chất lượng số liệu of a period: approved values with the submitted ones laid over them."""
    version = v.workflow_version() or 0
    sc = replace(scope, school_id=None).with_pending(version)

    def compute():
        values = queries.period_values(v.con, sc, year, rnd, source=v.source(sc))
        flagged = entry.flagged_values(v.state, year, rnd)
        levels, _ = v.scope_levels(Scope(scope.unit_id))
        # drafts are not yet data
        flagged = flagged[flagged["school_id"].isin(list(levels)) & (flagged["state"] != "nhap")]
        expected = pd.Series(list(levels.values())).value_counts().to_dict()
        far = quality.outliers(values, v.catalog)
        return QualityView(quality.field_table(values, flagged, expected, v.catalog, far),
                           quality.outlier_table(far, v.catalog))
    return v.memo(("quality", sc, year, rnd), compute)
