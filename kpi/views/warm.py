"""What the first visitors of a file version open, built before they ask (issue 29, item 1).

A worker answers health only after `first_visits` has built, for the newest file version, the view
models each role's pages ask for on their first run, with the very arguments the pages pass (so the
cache keys match: tests/test_warm.py opens every page of every role after a warm-up and counts the
view models it still had to build): per office scope (lãnh đạo, chuyên viên: the scopes of the
accounts there are) Tổng quan (also on every period of the newest RECENT_YEARS school years, for every
cấp học), Chỉ tiêu's first target (and every target's trend), Ai đang chậm, So sánh, Chỉ số CĐS, Trường's
first school, Dữ liệu's and Duyệt số liệu's first tab, Đánh giá CĐS's waiting schools and Quản trị's
first tab; then per principal (those who used the app lately first) Trường, Chỉ tiêu's first target
of the school's cấp học, Nộp số liệu and Tự đánh giá CĐS, within a time and a count budget, breadth
first: every principal's first page (Trường) before anyone's other pages, since each of them lands
there (at national scale every principal cannot be warmed; the unit's shared parts are, by the first ones).
Ai đang chậm only up to LAGGARDS_MAX_SCHOOLS schools (see there). Báo cáo's meeting pack (its view models
and charts; their images are the renderer's: kpi.exports.export.draw_ahead) for a scope that lists
schools (kpi.views.pack.LIST_MAX_SCHOOLS), so that the pack's click only writes.

After a write (an import, an approval, a publication: a new file version) kpi.views.cache builds the
same in a background thread while the old version keeps serving (`cache.views_for(..., stale_ok=True)`).

Nothing here imports streamlit.
"""

from __future__ import annotations

import contextlib
import time

from kpi.admin import auth
from kpi.catalog.model import LEVEL_LABELS
from kpi.common.access import SCHOOL_ROLES, Scope
from kpi.domain import progress
from kpi.store import queries, state
from kpi.views import indicator, pack

MAX_PRINCIPALS = 300  # principals warmed one by one (the first, by recent use); their unit's parts are shared
PRINCIPAL_SECONDS = 20.0  # and for at most this long after the office pages are warm
OFFICE_ROLES = ("lanh_dao", "chuyen_vien")
# Ai đang chậm (every target's schools) is warmed for a scope of at most this many schools: over 53.000 it
# costs about a minute of CPU per worker (measured 06/12/2026), which a start, or a write, must not spend
# while the first visitors arrive; there its first visitor builds it (issue 29, item 3: cheaper per version)
LAGGARDS_MAX_SCHOOLS = 3000
# Tổng quan is warmed on every period of the newest RECENT_YEARS school years and for every cấp học: over 53.000
# schools each is 0,2-1,3 s of a worker's time (1,5 MB for all of them), which a person going through the periods
# waited for 5-11 s under load (07/12/2026)
RECENT_YEARS = 2


def default_period(periods) -> tuple[str, str] | None:
    """The period the pages open on (pages/_widgets.period_filters): the newest school year, its
    CN round when it has one, else HK1."""
    if periods is None or periods.empty:
        return None
    year = periods["school_year"].iloc[0]
    rounds = set(periods.loc[periods["school_year"] == year, "round"])
    return year, ("CN" if "CN" in rounds else "HK1")


def recent_periods(periods, years: int = RECENT_YEARS) -> list[tuple[str, str]]:
    """The periods of the newest `years` school years, as the period filter offers them (newest first)."""
    newest = list(dict.fromkeys(periods["school_year"]))[:years]
    return [(y, r) for y in newest for r in ("CN", "HK1")
            if r in set(periods.loc[periods["school_year"] == y, "round"])]


def office_pages(v, sc: Scope, year: str, rnd: str) -> list[str]:
    """Every office page's first run for scope `sc` on the default period (Ai đang chậm up to
    LAGGARDS_MAX_SCHOOLS schools, the meeting pack up to kpi.views.pack.LIST_MAX_SCHOOLS); returns what it built."""
    done = []
    v.meta(), v.snapshots(), v.wards(sc)
    ov = v.overview(sc, year, rnd)
    _ = ov.themes  # the first tab's tiles
    for y, r in recent_periods(v.periods()):  # and every period and cấp học a person goes through next
        for lv in (None, *LEVEL_LABELS):
            _ = v.overview(sc, y, r, lv).themes
    done.append("tổng quan")
    indicator.every_trend_cells(v, sc)  # every target's trend, whichever a person opens
    view = v.indicator(sc, indicator.indicator_codes(v.catalog)[0], year, rnd)
    _ = view.trend_figure, view.schools_figure
    done.append("chỉ tiêu")
    if len(v.school_list(sc)) <= LAGGARDS_MAX_SCHOOLS:
        v.laggards(sc, year, rnd)
        done.append("ai đang chậm")
    p = v.periods()
    b = (p["school_year"].iloc[0], p["round"].iloc[0])
    a = progress.previous_period(p, *b) or b
    if a != b:
        cmp = v.compare(sc, a, b)
        if not cmp.empty:
            _ = cmp.figure
            v.school_values_between(sc, cmp.most_moved, b, a)
        done.append("so sánh")
    years = v.index_years()
    if years:
        page = v.maturity_page(sc, years[0])
        with contextlib.suppress(Exception):  # an empty year draws no figure
            _ = page.distribution_figure, page.trend_figure
        done.append("chỉ số CĐS")
    schools = v.school_list(sc, (year, rnd))
    if len(schools):
        card = v.scorecard(sc, schools["school_id"].iloc[0], year, rnd)
        if card is not None and card.maturity is not None:
            v.publications(Scope(sc.unit_id, schools["school_id"].iloc[0]), card.maturity.school_year)
        done.append("trường")
    v.submission_table(sc, year, rnd)
    v.field_completeness(sc, year, rnd)
    done.append("dữ liệu")
    _review_desk(v, sc, year, rnd, schools)
    done.append("duyệt")
    _assessment_desk(v, sc, p["school_year"].iloc[0])
    done.append("đánh giá CĐS")
    v.target_plans()
    done.append("quản trị")
    if pack_warmed(v, sc):
        # the pack of the period Báo cáo opens on (built anew for a click, from these view models: 1,8 s of
        # CPU otherwise, 5 times that in the worker's share of a deadline rush, before anything is written)
        pack.pack_charts(pack.build_pack(v, v.catalog, sc, year, rnd), v.catalog)
        done.append("bộ báo cáo")
    return done


def pack_warmed(v, sc: Scope) -> bool:
    """Whether the warm-up gathers scope `sc`'s meeting pack: one that lists schools (kpi.views.pack.LIST_MAX_SCHOOLS;
    over 53.000 schools gathering every target's schools costs more than a start or a write may spend)."""
    return len(v.school_list(sc)) <= pack.LIST_MAX_SCHOOLS


def _review_desk(v, sc: Scope, year: str, rnd: str, schools) -> None:
    """Duyệt số liệu's first run: the queue, and the entry of the school its picker opens on."""
    v.period_desk(sc, year, rnd)
    queue = v.submission_status(sc, year, rnd)
    if len(queue):
        order = queue.sort_values("state", key=lambda s: s.map({"da_nop": 0, "tra_lai": 1}).fillna(2), kind="stable")
        v.entry_form(sc, order["school_id"].iloc[0], year, rnd)


def _assessment_desk(v, sc: Scope, year: str) -> None:
    """Đánh giá CĐS's first run: the figures behind every waiting self-assessment, and the school it opens on."""
    states = v.assessor(sc).states(year)
    waiting = list(states.loc[states["state"] == "da_nop", "school_id"])
    for sid in waiting or list(states["school_id"][:1]):
        v.suggestions(sc, sid, year)


def principal_home(v, user: auth.User, year: str, rnd: str) -> None:
    """A principal's first page after the login (Trường: the school's scorecard)."""
    sc, sid = user.scope, user.school_id
    v.user(user.user_name), v.wards(sc)
    card = v.scorecard(sc, sid, year, rnd)
    if card is not None and card.maturity is not None:
        v.publications(Scope(sc.unit_id, sid), card.maturity.school_year)


def principal_pages(v, user: auth.User, year: str, rnd: str) -> None:
    """A principal's pages on their first run: Trường, Chỉ tiêu, Nộp số liệu, Tự đánh giá CĐS."""
    sc, sid = user.scope, user.school_id
    principal_home(v, user, year, rnd)
    schools = v.school_list(sc)
    row = schools[schools["school_id"] == sid]
    level = None if row.empty else row["level"].iloc[0]
    view = v.indicator(sc, indicator.indicator_codes(v.catalog, level)[0], year, rnd)
    _ = view.trend_figure, view.schools_figure
    v.desk(sc)
    v.entry_form(sc, sid, year, rnd)
    v.assessor(sc)
    v.suggestions(sc, sid, v.periods()["school_year"].iloc[0])


def office_scopes(v) -> list[Scope]:
    """The distinct scopes of the active office accounts (Scope.everything() when there is none)."""
    users = v.user_list()
    rows = users[users["role"].isin(OFFICE_ROLES) & users["active"].astype(bool)].to_dict("records")
    scopes = list(dict.fromkeys(auth.user_from_row(r).scope for r in rows))
    return scopes or [Scope.everything()]


def first_visits(v, principals: int = MAX_PRINCIPALS, principal_seconds: float = PRINCIPAL_SECONDS) -> list[str]:
    """Build what the first visitors of `v`'s file version open (see the module doc); returns what it built.
    The office pages always; then principals until `principals` of them or `principal_seconds`."""
    done = []
    period = default_period(v.periods())
    if period is None:
        return done
    year, rnd = period
    for row in v.user_list().to_dict("records"):
        if row["role"] in OFFICE_ROLES and row["active"]:
            v.user(row["user_name"])  # the login's and every run's lookup
    for sc in office_scopes(v):
        done += [f"{part} ({sc.unit_id or 'toàn bộ'})" for part in office_pages(v, sc, year, rnd)]
    t = time.perf_counter()
    rows = queries.principal_users(v.con)
    with contextlib.suppress(Exception):  # the principals who used the app lately first
        recent = {name: i for i, name in enumerate(state.store_for(v.path).recent_users(time.time() - 14 * 86400))}
        rows.sort(key=lambda r: recent.get(r["user_name"], len(recent)))
    users = [u for u in (auth.user_from_row(r) for r in rows[:principals]) if u.role in SCHOOL_ROLES and u.school_id]
    # breadth first: every principal's first page (where each of them lands), then their other pages
    homes = warmed = 0
    for user in users:
        if time.perf_counter() - t > principal_seconds:
            break
        principal_home(v, user, year, rnd)
        homes += 1
    for user in users[:homes]:
        if time.perf_counter() - t > principal_seconds:
            break
        principal_pages(v, user, year, rnd)
        warmed += 1
    done.append(f"hiệu trưởng ×{warmed} (trang đầu ×{homes})")
    return done
