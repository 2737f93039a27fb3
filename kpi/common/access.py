"""Who may see what: the caller's scope, passed to every query in kpi.store.queries."""

from __future__ import annotations

from dataclasses import dataclass, replace

ROLES = {
    "lanh_dao": "Lãnh đạo Phòng",
    "chuyen_vien": "Chuyên viên Phòng",
    "hieu_truong": "Hiệu trưởng",
    "truong_nhap_lieu": "Nhập liệu của trường",
}
SCHOOL_ROLES = ("hieu_truong", "truong_nhap_lieu")  # one school: own named data only

# The pages each role sees, in menu order (the first opens at "/"): dashboard.py routes by it and
# `python -m kpi gallery` walks it. Page name (pages/<name>.py) → (menu title, URL path).
ROLE_PAGES = {
    "lanh_dao": ["tong_quan", "chi_tieu", "ai_cham", "so_sanh", "chi_so", "truong", "quan_tri", "doi_mat_khau"],
    "chuyen_vien": ["tong_quan", "chi_tieu", "ai_cham", "so_sanh", "chi_so", "truong", "du_lieu", "duyet", "bao_cao",
                    "danh_gia", "quan_tri", "doi_mat_khau"],
    "hieu_truong": ["truong", "chi_tieu", "nop_so_lieu", "tu_danh_gia", "doi_mat_khau"],
    "truong_nhap_lieu": ["nop_so_lieu", "truong", "chi_tieu", "doi_mat_khau"],
}
PAGES = {
    "tong_quan": ("Tổng quan", "tong-quan"), "chi_tieu": ("Chỉ tiêu", "chi-tieu"),
    "ai_cham": ("Ai đang chậm", "ai-dang-cham"),
    "so_sanh": ("So sánh", "so-sanh"), "chi_so": ("Chỉ số CĐS", "chi-so-cds"),
    "truong": ("Trường", "truong-hoc"), "du_lieu": ("Dữ liệu", "du-lieu"),
    "bao_cao": ("Báo cáo", "bao-cao"), "nop_so_lieu": ("Nộp số liệu", "nop-so-lieu"),
    "duyet": ("Duyệt số liệu", "duyet-so-lieu"),
    "tu_danh_gia": ("Tự đánh giá CĐS", "tu-danh-gia-cds"), "danh_gia": ("Đánh giá CĐS", "danh-gia-cds"),
    "quan_tri": ("Quản trị", "quan-tri"), "doi_mat_khau": ("Đổi mật khẩu", "doi-mat-khau"),
}


@dataclass(frozen=True)
class Scope:
    """The rows a caller may read.

    unit_id: the office whose schools (and the schools of every unit below it) are in scope;
             None = every unit in the database.
    snapshot_id: None = live data; else the figures frozen in that snapshot (chốt số liệu).
    school_id: set for a principal: named per-school rows are limited to this school; district
               figures are aggregates over the unit and name no school.
    pending: None = approved figures only (the default); else live figures with the schools'
             submitted, not yet approved values laid over them, as of this version of the
             workflow store (kpi.workflows.entry: the version is part of every cache key).
    """

    unit_id: str | None = None
    school_id: str | None = None
    snapshot_id: str | None = None  # read a frozen snapshot's figures instead of live data
    pending: int | None = None

    def with_snapshot(self, snapshot_id: str | None) -> "Scope":
        """The same rows, read from a snapshot (None = live data); approved figures only."""
        return Scope(self.unit_id, self.school_id, snapshot_id)

    def with_pending(self, version: int | None) -> "Scope":
        """Live figures including submitted, not yet approved values (None: approved only)."""
        return replace(self, snapshot_id=None if version is not None else self.snapshot_id, pending=version)

    def shared(self) -> "Scope":
        """The unit-wide scope behind a principal's aggregates (kpi.views reduces what it computes
        with it to what the principal may see: kpi.domain.privacy)."""
        return replace(self, school_id=None)

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
