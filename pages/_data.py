"""The cache layer of the pages: every read a page makes, in the current user's scope.

Everything here comes from `kpi.views` (kpi.views.cache.Views): view models and query results computed once per version
of the database file and shared by every session of the worker (an import swaps the file in and
the next run reads the new version). Pages never query the database themselves.
"""

from __future__ import annotations

import contextlib
import sys
import time

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from kpi.catalog.model import Catalog, default_catalog
from kpi.common.access import Scope
from kpi.display import figures, tables  # noqa: F401 - loaded before the first visitor (warm_up)
from kpi.domain import maturity, scoring  # noqa: F401
from kpi.exports import export, school_pdf  # noqa: F401 - school_pdf: loaded before the first visitor
from kpi.store import db, queries, recovery
from kpi.views import cache as views
from kpi.views import warm
from kpi.views.compare import CompareView
from kpi.views.indicator import IndicatorView
from kpi.views.maturity import HeatmapView, LostView, MaturityView, ReviewView
from kpi.views.overview import OverviewView
from kpi.views.scorecard import ScorecardView
from kpi.workflows import entry
from kpi.writes import door
from pages._frame import current_user, scope

MAX_TABLE_ROWS = 500
DRAW_AHEAD_S = 90.0  # a start waits this long at most for the packs' chart images (chromium: about 3 s + 3 s)
WARM_SECONDS = 20.0  # principals' pages warmed for at most this long, after every office page (kpi.views.warm)


def store() -> views.Views:
    """The view models of the database file version this run reads (stops the page when there is none).

    After a write by someone else (a new file version) this worker builds the new version's view
    models in the background (kpi.views.cache.views_for with stale_ok, kpi.views.warm) and the run
    reads the old version until they are built: no reader pays the cold cost. The session that made
    the write reads the newest version at once: the door tells `_note_write` (kpi.writes.door.AFTER_WRITE),
    which marks this user (every session of theirs), until the worker serves the new version to everyone."""
    path = db.db_path()
    identity = db.file_identity(path)
    if identity is None:
        st.error(f"Chưa có cơ sở dữ liệu tại {path}. Chạy `make run` (tự tạo dữ liệu mẫu) "
                 "hoặc `python -m kpi init --sample`.")
        st.stop()
    user = getattr(current_user(), "user_name", None)
    wrote = user in _WROTE_USERS
    v = views.views_for(path, identity, stale_ok=not wrote)
    if wrote and views.served(path) is v:  # everyone reads the new version now
        _WROTE_USERS.discard(user)
    return v


# The users whose run made a write in this process: each of their sessions (the tab that wrote, a
# reload, another tab: a new Streamlit session each) reads the newest version until everyone does.
_WROTE_USERS: set[str] = set()


def _note_write(path, user_name: str) -> None:
    """The door's listener: the user who made a write in a page's run reads the newest version from now on."""
    if get_script_run_ctx() is not None:
        _WROTE_USERS.add(user_name)


door.AFTER_WRITE.append(_note_write)


def catalog() -> Catalog:
    """The validated catalog with the targets in force in this database file (targets published
    in Quản trị replace targets.toml's for their years); the shipped catalog when there is no file."""
    if db.file_identity(db.db_path()) is None:
        return default_catalog()
    return store().catalog


def connection():
    """The read-only connection of the current file version (writers and exports take a cursor)."""
    return store().con


def meta() -> dict:
    """Database facts: is_sample, unit_name, data_version."""
    return store().meta()


def periods():
    """Every period, newest first."""
    return store().periods()


def wards() -> list[str]:
    return store().wards(scope())


def snapshots():
    """Every snapshot, newest first."""
    return store().snapshots()


def school_list(period: tuple[str, str] | None = None):
    """The schools the current user may open: the open ones, or those of a period (a school closed
    since then included: its history stays reachable)."""
    return store().school_list(scope(), period)


def school_level(school_id: str) -> str | None:
    """The cấp học of a school the current user may open (None when out of scope)."""
    schools = school_list()
    row = schools[schools["school_id"] == school_id]
    return None if row.empty else row["level"].iloc[0]


def search_keys() -> dict[str, str]:
    """School id → what a school search compares (name and code, accents folded)."""
    return store().search_keys(scope())


def index_years() -> list[str]:
    """School years with maturity-index entries, newest first."""
    return store().index_years()


def overview(year, rnd, level=None, ownership=None, ward=None) -> OverviewView:
    """Tổng quan of a period (targets, the index target, change since the previous round)."""
    return store().overview(scope(), year, rnd, level, ownership, ward)


def indicator(code, year, rnd, level=None, ownership=None, ward=None) -> IndicatorView:
    """Chỉ tiêu: one indicator's trend and schools (other schools unnamed for a principal)."""
    return store().indicator(scope(), code, year, rnd, level, ownership, ward)


def laggards(year, rnd, level=None, ownership=None, ward=None):
    """Ai đang chậm: every target of the period and the schools short of it (office scopes)."""
    return store().laggards(scope(), year, rnd, level, ownership, ward)


def scorecard(school_id, year, rnd) -> ScorecardView | None:
    """Trường: a school's scorecard; None when out of the user's scope."""
    return store().scorecard(scope(), school_id, year, rnd)


def compare(a, b, level=None, ownership=None, ward=None, snapshot_a=None, snapshot_b=None) -> CompareView:
    """So sánh: periods A and B, each from its own source (None = live)."""
    return store().compare(scope(), a, b, level, ownership, ward, snapshot_a, snapshot_b)


def school_values_between(code, b, a, level=None, ownership=None, ward=None, snapshot_a=None, snapshot_b=None):
    """School values of period B (from snapshot_b) against period A (from snapshot_a)."""
    return store().school_values_between(scope(), code, b, a, level, ownership, ward, snapshot_a, snapshot_b)


def maturity_counts(years, level=None, ownership=None, ward=None):
    """Schools per year × cấp học × levels (every district count of the index)."""
    return store().maturity_counts(scope(), years, level, ownership, ward)


def school_maturity(years, school_id: str):
    """(criteria, schools) of the maturity index of one school only."""
    return store().school_maturity(scope(), school_id, years)


def maturity_heatmap(year, order="total", level=None, ownership=None, ward=None):
    """Schools × criteria, the first MAX_TABLE_ROWS schools in `order`."""
    return store().maturity_heatmap(scope(), year, order, MAX_TABLE_ROWS, level, ownership, ward)


def maturity_lost(year, level=None, ownership=None, ward=None):
    return store().maturity_lost(scope(), year, level, ownership, ward)


def maturity_page(year, level=None, ownership=None, ward=None) -> MaturityView:
    """Chỉ số CĐS: the head of the page and the distribution over the levels."""
    return store().maturity_page(scope(), year, level, ownership, ward)


def maturity_heat(year, order="total", group=None, level=None, ownership=None, ward=None) -> HeatmapView:
    """Chỉ số CĐS's heat map: the first MAX_TABLE_ROWS schools in `order`, one group's criteria (None: all)."""
    return store().maturity_heat(scope(), year, order, group, MAX_TABLE_ROWS, level, ownership, ward)


def maturity_lost_view(year, level=None, ownership=None, ward=None) -> LostView:
    """Chỉ số CĐS's points lost per criterion."""
    return store().maturity_lost_view(scope(), year, level, ownership, ward)


def maturity_review_view(year, flagged_only=True, limit=None, level=None, ownership=None, ward=None) -> ReviewView:
    """Chỉ số CĐS's self-assessment against verification; `limit` None = every row."""
    return store().maturity_review_view(scope(), year, flagged_only, limit or 10_000_000, level, ownership, ward)


def maturity_candidates(level=None, ownership=None, ward=None):
    """The schools of the index's cấp học under the filters, whose road to the next level the page shows."""
    return store().maturity_candidates(scope(), level, ownership, ward)


def maturity_roads(year, school_id: str) -> list[tuple[str, str]]:
    """(heading, sentence) per group: what closes a school's gap to the next level."""
    return store().maturity_roads(scope(), year, school_id)


def maturity_review(year, flagged_only=True, limit=None, level=None, ownership=None, ward=None):
    """(rows, rows in all, rows flagged); `limit` None = every row."""
    return store().maturity_review(scope(), year, flagged_only, limit or 10_000_000, level, ownership, ward)


def submission_status(year, rnd):
    return store().submission_status(scope(), year, rnd)


def submission_table(year, rnd):
    """(submission_status, its table written out), kept per version of the schools' entries."""
    return store().submission_table(scope(), year, rnd)


def field_completeness(year, rnd):
    return store().field_completeness(scope(), year, rnd)


def desk():
    """Where the current user reads and changes the schools' entries (kpi.workflows.entry.Desk), limited to
    the user's schools (a principal: the own school only)."""
    return store().desk(scope())


def period_desk(year: str, rnd: str):
    """The desk for deciding one period (Duyệt số liệu): the user's schools and those of the period."""
    return store().period_desk(scope(), year, rnd)


def entry_form(school_id, year, rnd):
    """Nộp số liệu: a school's form (fields grouped, last period's values); None when out of scope."""
    return store().entry_form(scope(), school_id, year, rnd)


def quality(year, rnd):
    """Chất lượng số liệu of a period (approved and submitted values)."""
    return store().quality(scope(), year, rnd)


def entry_audit(limit: int = 200):
    """The workflow's audit (not kept: it is the record of what just happened)."""
    return entry.audit_rows(store().state, limit)


def imports_log():
    """The import audit (not kept: it is the record of what just happened)."""
    return queries.imports_log(connection())


def figure(key: tuple, build):
    """A figure kept with the view models under an explicit key (no hashing of frames)."""
    return store().figure(key, build)


def warm_up() -> list[str]:
    """Fill what the first visitors after a start need (kpi.views.warm.first_visits: every office
    page's first run in each office scope, then the principals' pages, the recent ones first, within
    a budget), serve that version, and from then on build every new version's view models in a
    background thread before readers get it (kpi.views.cache.serve, watch). Run by dashboard.py's
    lifespan before the worker answers; returns what it warmed."""
    t = time.perf_counter()
    path = db.db_path()
    identity = db.file_identity(path)
    if identity is None:
        return []
    with contextlib.suppress(OSError):
        db.tidy(path)  # copies left by a writer killed before this start
        db.upgrade(path)  # a file made by an older version gains this version's tables and macros
    v = views.views_for(path)
    done = warm.first_visits(v, principal_seconds=WARM_SECONDS)
    drawn = export.draw_ahead(v)  # the packs' chart images, by the renderer; chromium stops when they are drawn
    for t in drawn:
        t.join(DRAW_AHEAD_S)
    if drawn:
        done.append(f"biểu đồ bộ báo cáo ×{len(drawn)}")
    # a later version (a write while people work): the office pages and the principals of STALE_MAX_S only,
    # since readers move to it by then anyway, and warming more would take the CPU their runs need; its packs'
    # images in the background
    views.serve(v, warmer=_warm_version)
    print(f"[kpi] làm nóng xong trong {time.perf_counter() - t:.1f} s: {', '.join(done)}", file=sys.stderr,
          flush=True)
    return done


def _warm_version(v) -> list[str]:
    """A later version's warm-up (kpi.views.cache.serve): what `warm_up` builds, the principals within STALE_MAX_S,
    the packs' chart images drawn in the background (the version is served without waiting for them)."""
    done = warm.first_visits(v, principal_seconds=views.STALE_MAX_S)
    export.draw_ahead(v)
    return done


def warm_up_quietly() -> None:
    """warm_up, never failing the server (a missing or damaged file is reported by the pages); then
    the watch for new file versions (kpi.views.cache.watch)."""
    recovery.repair_quietly(db.db_path())  # a write a crash left half-done is finished or dropped (kpi.store.recovery)
    with contextlib.suppress(Exception):
        warm_up()
    views.watch(db.db_path())


def assessor():
    """Where the current user reads and changes the yearly maturity assessments
    (kpi.workflows.assessment.Assessor), limited to the user's schools (a principal: the own school only)."""
    return store().assessor(scope())


def suggestions(school_id: str, year: str):
    """(criterion → points the school's reported data earn, criterion → the figures used)."""
    return store().suggestions(scope(), school_id, year)


def publications(school_year: str | None = None, school_id: str | None = None):
    """The published results of the maturity assessment, newest first; `school_id` (the office
    looking at one school): whether that school is in each (a principal: always the own school)."""
    sc = scope()
    if school_id and not sc.is_school:
        sc = Scope(sc.unit_id, school_id)
    return store().publications(sc, school_year)


# ---- Quản trị (read per file version; every change is a write that makes a new version) --------

def admin_schools():
    """Every school ever recorded, open, closed or merged, with its dates."""
    return store().admin_schools()


def admin_units():
    return store().admin_units()


def target_plans():
    """Every published version of every school year's targets."""
    return store().target_plans()


def reference_changes():
    return store().reference_changes()


def users():
    """Every account (no password hashes)."""
    return store().user_list()
