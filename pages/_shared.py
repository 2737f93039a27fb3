"""Streamlit glue shared by every page: the cached connection, cached queries, shared widgets.

Pages call only this module and `kpi`; no SQL and no arithmetic lives in pages.
"""

from __future__ import annotations

import streamlit as st

from kpi import db, queries
from kpi.access import Scope
from kpi.catalog import LEVEL_LABELS, OWNERSHIP_LABELS, ROUND_LABELS, Catalog, default_catalog
from kpi.formatting import fmt_date

ALL = "Tất cả"


@st.cache_resource(max_entries=2, show_spinner=False)
def _open(path: str, identity: tuple) -> object:
    # One read-only connection per file version: an import swaps the file (new identity), so
    # the next run opens the new file without a restart. Queries take a cursor each.
    return db.connect(path)


def db_key() -> tuple[str, tuple]:
    """(path, file identity): part of every cache key, so an import invalidates the caches."""
    path = db.db_path()
    identity = db.file_identity(path)
    if identity is None:
        st.error(f"Chưa có cơ sở dữ liệu tại {path}. Chạy `make run` (tự tạo dữ liệu mẫu) "
                 "hoặc `python -m kpi init --sample`.")
        st.stop()
    return str(path), identity


def connection():
    """The read-only connection of the current database file."""
    return _open(*db_key())


def catalog() -> Catalog:
    """The validated catalog (loaded once per process)."""
    return default_catalog()


def scope() -> Scope:
    """The current user's scope."""
    return Scope.everything()


@st.cache_data(max_entries=8, show_spinner=False)
def _meta(key: tuple) -> dict:
    return queries.meta(_open(*key))


def meta() -> dict:
    """Database facts: is_sample, unit_name, data_version."""
    return _meta(db_key())


@st.cache_data(max_entries=8, show_spinner=False)
def _periods(key: tuple):
    return queries.periods(_open(*key))


def periods():
    """Every period, newest first."""
    return _periods(db_key())


@st.cache_data(max_entries=8, show_spinner=False)
def _wards(key: tuple, sc: Scope) -> list[str]:
    return queries.wards(_open(*key), sc)


@st.cache_data(max_entries=256, show_spinner=False)
def _summary(key: tuple, sc: Scope, school_year: str, round: str, level, ownership, ward):
    return queries.district_summary(_open(*key), catalog(), sc, school_year, round, level, ownership, ward)


def district_summary(school_year: str, round: str, level=None, ownership=None, ward=None):
    """Cached kpi.queries.district_summary for the current user's scope."""
    return _summary(db_key(), scope(), school_year, round, level, ownership, ward)


def sample_badge() -> None:
    """The "Dữ liệu mẫu" label, shown on every page while the sample is loaded."""
    if meta().get("is_sample") == "true":
        st.badge("Dữ liệu mẫu: trường và số liệu giả định", icon="⚠️", color="orange")


def period_filters(prefix: str = "") -> tuple[str, str]:
    """Sidebar school year and round, bound to the URL (?nam_hoc=...&ky=...)."""
    p = periods()
    years = list(dict.fromkeys(p["school_year"]))
    year = st.sidebar.selectbox("Năm học", years, key="nam_hoc", bind="query-params")
    rounds = p.loc[p["school_year"] == year, "round"].tolist()
    rounds = [r for r in ("CN", "HK1") if r in rounds]
    rnd = st.sidebar.selectbox("Kỳ báo cáo", rounds, key="ky", bind="query-params",
                               help="HK1: sơ kết học kỳ I (hạn 10/01) · CN: tổng kết cả năm (hạn 20/05)")
    deadline = p.loc[(p["school_year"] == year) & (p["round"] == rnd), "deadline"]
    if len(deadline):
        st.sidebar.caption(f"{ROUND_LABELS[rnd]} · hạn nộp {fmt_date(deadline.iloc[0])}")
    return year, rnd


def school_filters() -> tuple[str | None, str | None, str | None]:
    """Sidebar cấp học, loại hình, phường (None = all), bound to the URL."""
    level = st.sidebar.selectbox("Cấp học", [ALL, *LEVEL_LABELS], key="cap_hoc", bind="query-params",
                                 format_func=lambda v: LEVEL_LABELS.get(v, v))
    owner = st.sidebar.selectbox("Loại hình", [ALL, *OWNERSHIP_LABELS], key="loai_hinh",
                                 bind="query-params", format_func=lambda v: OWNERSHIP_LABELS.get(v, v))
    wards = _wards(db_key(), scope())
    ward = st.sidebar.selectbox("Phường", [ALL, *wards], key="phuong", bind="query-params")
    return tuple(None if v == ALL else v for v in (level, owner, ward))
