"""Who may see what: the caller's scope, passed to every query in kpi.queries."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = {
    "lanh_dao": "Lãnh đạo Phòng",
    "chuyen_vien": "Chuyên viên Phòng",
    "hieu_truong": "Hiệu trưởng",
}


@dataclass(frozen=True)
class Scope:
    """The rows a caller may read.

    unit_id: the office whose schools (and the schools of every unit below it) are in scope;
             None = every unit in the database.
    snapshot_id: None = live data; else the figures frozen in that snapshot (chốt số liệu).
    school_id: set for a principal: named per-school rows are limited to this school; district
               figures are aggregates over the unit and name no school.
    """

    unit_id: str | None = None
    school_id: str | None = None
    snapshot_id: str | None = None  # read a frozen snapshot's figures instead of live data

    def with_snapshot(self, snapshot_id: str | None) -> "Scope":
        """The same rows, read from a snapshot (None = live data)."""
        return Scope(self.unit_id, self.school_id, snapshot_id)

    def shared(self) -> "Scope":
        """The unit-wide scope behind a principal's aggregates (kpi.views reduces what it computes
        with it to what the principal may see: kpi.privacy)."""
        return Scope(self.unit_id, None, self.snapshot_id)

    @classmethod
    def everything(cls) -> "Scope":
        """All schools of every unit (office leadership and staff of a single-office install)."""
        return cls()

    @classmethod
    def school(cls, school_id: str, unit_id: str | None = None) -> "Scope":
        """A principal: own school named, the rest only as aggregates."""
        return cls(unit_id=unit_id, school_id=school_id)

    @property
    def is_school(self) -> bool:
        """True when named rows are limited to one school."""
        return self.school_id is not None
