"""Where a query reads its figures: one explicit value passed with each read (kpi.store.queries.run).

Live data (the default), a snapshot's frozen rows (chốt số liệu), live data with the schools'
submitted, not yet approved values laid over the approved ones, or a unit's observations read
once into memory (kpi.views slices a unit and answers its many small queries from it). Pending
values and a slice may go together; a snapshot goes alone. Nothing here is kept between calls:
a query's source is whatever its caller passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

import pyarrow as pa

_SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FROZEN = MappingProxyType({
    "observations": "SELECT school_id, school_year, round, field_code, value, 0::BIGINT AS import_id "
                    "FROM kpi.snapshot_observations WHERE snapshot_id = '{id}'",
    "criterion_scores": "SELECT school_id, school_year, criterion_code, self_points, self_met, verified_points, "
                        "verified_met, NULL::VARCHAR AS evidence_url, 0::BIGINT AS import_id "
                        "FROM kpi.snapshot_scores WHERE snapshot_id = '{id}'",
    "submissions": "SELECT school_id, school_year, round, received_at, source, 0::BIGINT AS import_id "
                   "FROM kpi.snapshot_submissions WHERE snapshot_id = '{id}'",
})


def source_views(snapshot_id: str | None) -> dict[str, str]:
    """Temporary views that make a query read a snapshot's frozen rows under the live table names."""
    if snapshot_id is None:
        return {}
    if not _SNAPSHOT_ID.match(snapshot_id):
        raise ValueError(f"Mã bản chốt không hợp lệ: {snapshot_id!r}")
    return {name: q.format(id=snapshot_id) for name, q in _FROZEN.items()}


@dataclass(frozen=True)
class Source:
    """The figures a query reads.

    snapshot_id: None = live data; else the rows frozen in that snapshot.
    pending: live data only: (observations, submissions) submitted and not yet approved
             (kpi.workflows.entry.pending_tables): a school with a pending submission counts with
             its submitted values instead of its approved ones. None = approved figures only.
    slice: live data only: every observation of some schools (kpi.store.queries.unit_observations),
           read instead of the stored table. Only for queries whose schools all lie in the slice.
    """

    snapshot_id: str | None = None
    pending: tuple[pa.Table, pa.Table] | None = field(default=None, compare=False, repr=False)
    slice: pa.Table | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.snapshot_id is not None and (self.pending is not None or self.slice is not None):
            raise ValueError("Bản chốt là số liệu đã đóng băng: không ghép với số liệu chờ duyệt hay lát cắt.")

    @property
    def kind(self) -> str:
        """'live', 'snapshot', 'pending', 'slice' or 'pending+slice'."""
        if self.snapshot_id is not None:
            return "snapshot"
        parts = [name for name, part in (("pending", self.pending), ("slice", self.slice)) if part is not None]
        return "+".join(parts) or "live"

    def on_file(self) -> "Source":
        """The same source without what lives in memory: what the file itself is asked (a bench replay)."""
        return Source(self.snapshot_id)

    def views(self, cur, explicit: dict[str, str] | None = None) -> dict[str, str]:
        """The temporary views (name → body) that make a query on `cur` read this source; the
        in-memory tables they read are registered on `cur`. `explicit` views (a query reading two
        periods from two sources) replace the snapshot's, and keep the slice and pending values out."""
        base = dict(explicit or source_views(self.snapshot_id))
        views = dict(base)
        if self.slice is not None and "observations" not in views:
            cur.register("observations_slice", self.slice)
            views["observations"] = "SELECT * FROM observations_slice"
        if self.pending is not None and "observations" not in base:
            views.update(_pending_views(cur, views.get("observations", "SELECT * FROM kpi.observations"),
                                        self.pending))
        return views


def _pending_views(cur, base: str, tables: tuple[pa.Table, pa.Table]) -> dict[str, str]:
    cur.register("pending_obs", tables[0])
    cur.register("pending_subs", tables[1])
    return {
        "observations": f"""SELECT * FROM ({base}) o WHERE NOT EXISTS (SELECT 1 FROM pending_obs p
                            WHERE p.school_id = o.school_id AND p.school_year = o.school_year AND p.round = o.round)
                            UNION ALL SELECT * FROM pending_obs""",
        "submissions": """SELECT * FROM kpi.submissions UNION ALL SELECT * FROM pending_subs p WHERE NOT EXISTS (
                          SELECT 1 FROM kpi.submissions s WHERE s.school_id = p.school_id
                          AND s.school_year = p.school_year AND s.round = p.round)""",
    }
