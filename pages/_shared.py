"""Streamlit glue shared by every page: the cached connection, cached queries, shared widgets.

Pages call only this module and `kpi`; no SQL and no arithmetic lives in pages.
"""

from __future__ import annotations

import contextlib
import threading

import pandas as pd
import streamlit as st

from kpi import db, queries
from kpi.access import Scope
from kpi.catalog import LEVEL_LABELS, OWNERSHIP_LABELS, ROUND_LABELS, Catalog, default_catalog
from kpi.formatting import fmt_date

ALL = "Tất cả"
_frame = threading.local()


@contextlib.contextmanager
def app_frame(user):
    """Marks this script run as started by dashboard.py for a logged-in user (see `page_guard`)."""
    _frame.active, _frame.user, _frame.snapshot = True, user, None
    try:
        yield
    finally:
        _frame.active, _frame.user, _frame.snapshot = False, None, None


def login_user():
    """The logged-in user of this session: the signed session cookie, checked on every run
    (signature, idle time, revocation, account still active); None when there is none."""
    from kpi import auth

    cookie = st.context.cookies.get(auth.COOKIE)
    # AppTest has no browser cookies: tests hand a signed token over in the session state.
    token = cookie if isinstance(cookie, str) and cookie else st.session_state.get("_kpi_token")
    path, identity = str(db.db_path()), db.file_identity(db.db_path())
    if identity is None:
        return None
    return auth.user_for_token(_open(path, identity), token)


def current_user():
    """The user this page runs for (set by dashboard.py's frame)."""
    return getattr(_frame, "user", None)


def page_guard() -> None:
    """First line of every page: run only inside dashboard.py's frame.

    With a pages/ folder, Streamlit runs the first session after a server start in its legacy
    multipage mode, where a URL naming a file in pages/ runs that file alone, without the frame
    (and so without its checks). Such a run is sent to the app's front page instead.
    """
    if not getattr(_frame, "active", False):
        st.switch_page(str(db.ROOT / "dashboard.py"))


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
    """The current user's scope: a principal's own school, else the user's unit (or everything).

    Outside a logged-in run nothing is in scope."""
    user = current_user()
    if user is None:
        return Scope(unit_id="", school_id="")
    return user.scope.with_snapshot(getattr(_frame, "snapshot", None))


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


def sample_badge() -> None:
    """The "Dữ liệu mẫu" label, shown on every page while the sample is loaded."""
    if meta().get("is_sample") == "true":
        st.badge("Dữ liệu mẫu: trường và số liệu giả định", icon="⚠️", color="orange")


def period_filters() -> tuple[str, str]:
    """Sidebar school year and round, kept in the URL (?nam_hoc=2023-2024&ky=CN)."""
    p = periods()
    years = list(dict.fromkeys(p["school_year"]))
    year = url_select("Năm học", years, "nam_hoc")
    rounds = [r for r in ("CN", "HK1") if r in set(p.loc[p["school_year"] == year, "round"])]
    rnd = url_select("Kỳ báo cáo", rounds, "ky",
                     help="HK1: sơ kết học kỳ I (hạn 10/01) · CN: tổng kết cả năm (hạn 20/05)")
    deadline = p.loc[(p["school_year"] == year) & (p["round"] == rnd), "deadline"]
    if len(deadline):
        st.sidebar.caption(f"{ROUND_LABELS[rnd]} · hạn nộp {fmt_date(deadline.iloc[0])}")
    source_filter(year, rnd)
    return year, rnd


LIVE = "truc_tiep"


def snapshot_options(year: str, rnd: str) -> dict[str, str]:
    """Snapshot id → label for a period (live data first)."""
    snaps = _snapshots(db_key())
    return _source_choices(snaps[(snaps["school_year"] == year) & (snaps["round"] == rnd)])


def _source_choices(snaps) -> dict[str, str]:
    """Live data first, then each snapshot of `snaps` by id and name."""
    return {LIVE: "Số liệu trực tiếp", **{r.snapshot_id: f"Bản chốt {r.snapshot_id} · {r.name}"
                                         for r in snaps.itertuples()}}


def source_filter(year: str, rnd: str) -> None:
    """Sidebar: read live data or a snapshot of this period (?chot=ID); sets the scope's source."""
    _source_select(snapshot_options(year, rnd))


def index_source_filter(school_year: str) -> None:
    """Sidebar of the index page: live entries or a snapshot that holds this school year's
    self-assessments (a snapshot of a period keeps the index entries of its year and earlier)."""
    snaps = _snapshots(db_key())
    _source_select(_source_choices(snaps[snaps["school_year"] >= school_year]))


def _source_select(options: dict[str, str]) -> None:
    _frame.snapshot = None
    if len(options) > 1:
        chosen = url_select("Nguồn số liệu", list(options), "chot", format_func=options.get, keep_default=False)
        _frame.snapshot = None if chosen == LIVE else chosen
        if _frame.snapshot:
            st.sidebar.caption("Đang xem số liệu đã chốt: không đổi khi có lần nhập mới.")


@st.cache_data(max_entries=8, show_spinner=False)
def _snapshots(key):
    return queries.snapshots(_open(*key))


def school_filters() -> tuple[str | None, str | None, str | None]:
    """Sidebar cấp học, loại hình, phường (None = all), kept in the URL (?cap_hoc=TH...)."""
    level = url_select("Cấp học", [ALL, *LEVEL_LABELS], "cap_hoc", keep_default=False,
                       format_func=lambda v: LEVEL_LABELS.get(v, v))
    owner = url_select("Loại hình", [ALL, *OWNERSHIP_LABELS], "loai_hinh", keep_default=False,
                       format_func=lambda v: OWNERSHIP_LABELS.get(v, v))
    ward = url_select("Phường", [ALL, *_wards(db_key(), scope())], "phuong", keep_default=False)
    return tuple(None if v == ALL else v for v in (level, owner, ward))


PAGE_FILES = {"tong_quan": "pages/tong_quan.py", "chi_tieu": "pages/chi_tieu.py",
              "so_sanh": "pages/so_sanh.py", "truong": "pages/truong.py", "chi_so": "pages/chi_so.py",
              "du_lieu": "pages/du_lieu.py", "bao_cao": "pages/bao_cao.py"}


def url_select(label: str, options: list, param: str, format_func=str, sidebar: bool = True,
               default=None, help: str | None = None, keep_default: bool = True):
    """A selectbox whose value lives in the URL as ?param=<option code>, so a link reproduces the view.

    Kept by hand rather than with bind="query-params": a bound widget puts the formatted label in
    the URL, and Streamlit drops bound parameters of one page when another page is opened, so the
    period and filters would not follow the user from page to page.
    """
    key, synced = f"w_{param}", f"_w_{param}"
    wanted = st.query_params.get(param)
    current = st.session_state.get(key)
    fallback = default if default in options else options[0] if options else None
    # The URL wins when the widget is new on this page or the URL changed since we wrote it.
    # The value is always written back: a widget first drawn on a newly opened page would
    # otherwise start from its default.
    if wanted in options and (current is None or wanted != st.session_state.get(synced)):
        current = wanted
    elif current not in options:
        current = fallback
    st.session_state[key] = current
    box = st.sidebar if sidebar else st
    value = box.selectbox(label, options, key=key, format_func=format_func, help=help)
    if value == fallback and not keep_default:
        st.query_params.pop(param, None)  # "Tất cả" needs no parameter: shorter links
    elif value is not None:
        st.query_params[param] = value
    st.session_state[synced] = value
    return value


SHARED_PARAMS = ("nam_hoc", "ky", "cap_hoc", "loai_hinh", "phuong")


def link_params(**extra) -> dict:
    """Query parameters for a link to another page: the period and filters now in the URL, plus
    `extra`, so the next page opens on the same view."""
    params = {k: st.query_params[k] for k in SHARED_PARAMS if k in st.query_params}
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


def can_open_school(school_id: str | None) -> bool:
    """Whether the current user may open this school's scorecard."""
    sc = scope()
    return bool(school_id) and (sc.school_id is None or sc.school_id == school_id)


PICKER_LIMIT = 300  # more schools than this: a search box first (a 53.000-option list is slow and useless)


def school_picker(schools, param: str = "truong", label: str = "Trường", sidebar: bool = True):
    """Pick one school, kept in the URL as ?param=<school id>. Up to PICKER_LIMIT schools: a plain
    list; more: a search box (name or code, accents optional) and the matching schools."""
    from kpi.formatting import fmt_int, search_key

    box = st.sidebar if sidebar else st
    if len(schools) > PICKER_LIMIT:
        q = box.text_input(f"Tìm {label.lower()}", key=f"q_{param}", placeholder="tên hoặc mã trường")
        if q.strip():  # search keys are made once per data version, the first time someone searches
            keys = _search_keys(db_key(), scope())
            needle = search_key(q)
            shown = schools[[needle in keys.get(sid, "") for sid in schools["school_id"]]]
        else:
            shown = schools
        wanted = st.query_params.get(param) or st.session_state.get(f"w_{param}")
        head = shown.head(PICKER_LIMIT)
        if wanted and not (head["school_id"] == wanted).any():
            head = pd.concat([schools[schools["school_id"] == wanted], head])
        if q.strip() and shown.empty:
            box.caption("Không có trường nào khớp.")
        elif len(shown) > PICKER_LIMIT:
            box.caption(f"{fmt_int(len(shown))} trường khớp; hiện {PICKER_LIMIT} trường đầu, gõ thêm để thu hẹp.")
        schools = head
    names = dict(zip(schools["school_id"], schools["name"]))
    return url_select(label, list(names), param, format_func=names.get, sidebar=sidebar)


def open_school(school_id: str) -> None:
    """Go to the school's scorecard, keeping the period in the URL."""
    if can_open_school(school_id):
        st.switch_page(PAGE_FILES["truong"], query_params=link_params(truong=school_id))


@st.cache_data(max_entries=256, show_spinner=False)
def _trend(key, sc, code, level, ownership, ward):
    return queries.indicator_trend(_open(*key), catalog(), sc, code, level, ownership, ward)


def indicator_trend(code, level=None, ownership=None, ward=None):
    """Cached kpi.queries.indicator_trend."""
    return _trend(db_key(), scope(), code, level, ownership, ward)


@st.cache_data(max_entries=256, show_spinner=False)
def _school_values(key, sc, code, period, earlier, level, ownership, ward):
    return queries.school_values(_open(*key), catalog(), sc, code, period, earlier, level, ownership, ward)


def school_values(code, period, earlier=None, level=None, ownership=None, ward=None):
    """Cached kpi.queries.school_values (other schools unnamed for a principal)."""
    return _school_values(db_key(), scope(), code, tuple(period), tuple(earlier) if earlier else None,
                          level, ownership, ward)


@st.cache_data(max_entries=64, show_spinner=False)
def _compare(key, sc, a, b, level, ownership, ward, snap_a, snap_b):
    return queries.compare_periods(_open(*key), catalog(), sc, a, b, level, ownership, ward,
                                   snap_a, snap_b, mixed=True)


def compare_periods(a, b, level=None, ownership=None, ward=None, snapshot_a=None, snapshot_b=None):
    """Cached kpi.queries.compare_periods, each period from its own source (None = live)."""
    return _compare(db_key(), scope(), tuple(a), tuple(b), level, ownership, ward, snapshot_a, snapshot_b)


@st.cache_data(max_entries=64, show_spinner=False)
def _moves(key, sc, code, b, a, level, ownership, ward, snap_a):
    return queries.school_values(_open(*key), catalog(), sc, code, b, a, level, ownership, ward,
                                 snapshot_earlier=snap_a, mixed=True)


def school_values_between(code, b, a, level=None, ownership=None, ward=None, snapshot_a=None, snapshot_b=None):
    """Cached school values of period B (from snapshot_b) against period A (from snapshot_a)."""
    return _moves(db_key(), scope().with_snapshot(snapshot_b), code, tuple(b), tuple(a), level, ownership,
                  ward, snapshot_a)


@st.cache_data(max_entries=8, show_spinner=False)
def _school_list(key, sc):
    return queries.school_list(_open(*key), sc)


def school_list():
    """The schools the current user may open."""
    return _school_list(db_key(), scope())


@st.cache_data(max_entries=16, show_spinner=False)
def _search_keys(key, sc) -> dict[str, str]:
    """School id → what a search compares (kpi.formatting.search_key of name and code)."""
    from kpi.formatting import search_key

    df = _school_list(key, sc)
    return {i: search_key(f"{n} {i}") for n, i in zip(df["name"], df["school_id"])}


@st.cache_data(max_entries=256, show_spinner=False)
def _school_info(key, sc, school_id, year, rnd):
    return queries.school_info(_open(*key), sc, school_id, year, rnd)


def school_info(school_id, year, rnd):
    """Cached kpi.queries.school_info (None when out of scope)."""
    return _school_info(db_key(), scope(), school_id, year, rnd)


@st.cache_data(max_entries=256, show_spinner=False)
def _school_indicators(key, sc, school_id, year, rnd):
    return queries.school_indicators(_open(*key), catalog(), sc, school_id, year, rnd)


def school_indicators(school_id, year, rnd):
    """Cached kpi.queries.school_indicators."""
    return _school_indicators(db_key(), scope(), school_id, year, rnd)


def downloads(df, name: str, key: str, **xlsx) -> None:
    """CSV (UTF-8 with BOM) and XLSX download buttons for a table, built when clicked. `df` may be
    a function returning the table (when the page shows only part of it)."""
    from kpi.tables import to_csv_bytes, to_xlsx_bytes

    frame = df if callable(df) else (lambda: df)
    c1, c2 = st.columns([1, 1], width=360)
    c1.download_button("Tải CSV", lambda: to_csv_bytes(frame()), f"{name}.csv", "text/csv", key=f"{key}_csv",
                       on_click="ignore", icon=":material/download:")
    c2.download_button("Tải XLSX", lambda: to_xlsx_bytes(frame(), **xlsx), f"{name}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx",
                       on_click="ignore", icon=":material/download:")


@st.cache_data(max_entries=8, show_spinner=False)
def _index_years(key):
    return queries.index_years(_open(*key))


def index_years() -> list[str]:
    """School years with maturity-index entries, newest first."""
    return _index_years(db_key())


@st.cache_data(max_entries=64, show_spinner=False)
def _maturity(key, sc, years, level, ownership, ward):
    return queries.maturity(_open(*key), catalog(), sc, list(years), level, ownership, ward)


@st.cache_data(max_entries=64, show_spinner=False)
def _maturity_counts(key, sc, years, level, ownership, ward):
    return queries.maturity_counts(_open(*key), catalog(), sc, list(years), level, ownership, ward)


def maturity_counts(years, level=None, ownership=None, ward=None):
    """Cached kpi.queries.maturity_counts: schools per year × cấp học × levels (the index's counts)."""
    return _maturity_counts(db_key(), scope(), tuple(years), level, ownership, ward)


@st.cache_data(max_entries=256, show_spinner=False)
def _school_trend(key, sc, school_id, year):
    return queries.school_trend(_open(*key), catalog(), sc, school_id, year)


def school_trend(school_id, year):
    """Cached kpi.queries.school_trend."""
    return _school_trend(db_key(), scope(), school_id, year)


@st.cache_data(max_entries=64, show_spinner=False)
def _submission_status(key, sc, year, rnd):
    return queries.submission_status(_open(*key), sc, year, rnd)


def submission_status(year, rnd):
    """Cached kpi.queries.submission_status."""
    return _submission_status(db_key(), scope(), year, rnd)


@st.cache_data(max_entries=64, show_spinner=False)
def _completeness(key, sc, year, rnd):
    return queries.field_completeness(_open(*key), catalog(), sc, year, rnd)


def field_completeness(year, rnd):
    """Cached kpi.queries.field_completeness."""
    return _completeness(db_key(), scope(), year, rnd)


def imports_log():
    """The import audit (not cached: it is the record of what just happened)."""
    return queries.imports_log(connection())


def snapshots_table():
    """Every snapshot, newest first (cached by file version)."""
    return _snapshots(db_key())


@st.cache_data(max_entries=256, show_spinner=False)
def _figure(builder_name: str, *args, **kwargs):
    from kpi import figures

    return getattr(figures, builder_name)(*args, **kwargs)


def figure(builder, *args, **kwargs):
    """A kpi.figures builder's figure, cached on its inputs (building a plotly figure costs ~10 ms)."""
    return _figure(builder.__name__, *args, **kwargs)


@st.cache_data(max_entries=256, show_spinner=False)
def _overview(key, sc, year, rnd, level, ownership, ward):
    from kpi import maturity, progress

    con, cat = _open(*key), catalog()

    def rows_for(y, r):
        summary = queries.district_summary(con, cat, sc, y, r, level, ownership, ward)
        base = progress.overview_rows(summary, cat)
        if base.empty or base["schools_reporting"].sum() == 0:
            return base  # nothing reported this period: the page says so
        iy = maturity.index_year_for(y, r)
        counts = _maturity_counts(key, sc, (iy,), level, ownership, ward)
        return maturity.with_index_row(base, counts, summary, cat, iy)

    rows = rows_for(year, rnd)
    if rows.empty or rows["schools_reporting"].sum() == 0:
        return rows
    prev = progress.previous_period(queries.periods(con), year, rnd)
    return progress.with_change(rows, rows_for(*prev) if prev else None)


def overview(year, rnd, level=None, ownership=None, ward=None):
    """The overview's rows (targets and the index target, with change since the previous round),
    cached per data version, scope and filters."""
    return _overview(db_key(), scope(), year, rnd, level, ownership, ward)


@st.cache_data(max_entries=64, show_spinner=False)
def _maturity_heatmap(key, sc, year, order, level, ownership, ward):
    from kpi import tables

    return queries.maturity_heatmap(_open(*key), catalog(), sc, year, order, tables.MAX_TABLE_ROWS, level, ownership,
                                    ward)


def maturity_heatmap(year, order="total", level=None, ownership=None, ward=None):
    """Cached kpi.queries.maturity_heatmap: the first tables.MAX_TABLE_ROWS schools in `order`."""
    return _maturity_heatmap(db_key(), scope(), year, order, level, ownership, ward)


@st.cache_data(max_entries=64, show_spinner=False)
def _maturity_lost(key, sc, year, level, ownership, ward):
    return queries.maturity_lost(_open(*key), catalog(), sc, year, level, ownership, ward)


def maturity_lost(year, level=None, ownership=None, ward=None):
    """Cached kpi.queries.maturity_lost."""
    return _maturity_lost(db_key(), scope(), year, level, ownership, ward)


@st.cache_data(max_entries=64, show_spinner=False)
def _maturity_review(key, sc, year, flagged_only, limit, level, ownership, ward):
    return queries.maturity_review(_open(*key), catalog(), sc, year, flagged_only, limit, level, ownership, ward)


def maturity_review(year, flagged_only=True, limit=None, level=None, ownership=None, ward=None):
    """Cached kpi.queries.maturity_review: (rows, rows in all, rows flagged); `limit` None = every row."""
    return _maturity_review(db_key(), scope(), year, flagged_only, limit or 10_000_000, level, ownership, ward)


def warm_up() -> list[str]:
    """Fill the caches the first visitor after a server start needs: the connection, the periods
    and the overview of the period the pages open on (for a user who sees every school), with the
    index counts behind its tile. Run by dashboard.py in a background thread when the server
    starts; returns what it warmed."""
    from kpi import export, figures, maturity, progress, tables  # noqa: F401 - imported for the first page

    done = []
    path = db.db_path()
    identity = db.file_identity(path)
    if identity is None:
        return done
    key = (str(path), identity)
    p = _periods(key)
    if p.empty:
        return done
    year = p["school_year"].iloc[0]
    rnd = "CN" if "CN" in set(p.loc[p["school_year"] == year, "round"]) else "HK1"
    _overview(key, Scope.everything(), year, rnd, None, None, None)
    done.append(f"tong_quan {year} {rnd}")
    years = tuple(_index_years(key))
    if years:
        _maturity_counts(key, Scope.everything(), years, None, None, None)
        done.append("chi_so")
    return done


def warm_up_quietly() -> None:
    """warm_up, never failing the server (a missing or damaged file is reported by the pages)."""
    with contextlib.suppress(Exception):
        warm_up()


@st.cache_resource(show_spinner=False)
def start_renderer() -> threading.Thread:
    """Start the chart renderer for exports in a background thread, once per process (a missing
    chromium is reported when a pack is made, not here)."""
    from kpi import export

    def run():
        with contextlib.suppress(export.ExportError):
            export.start_renderer()

    t = threading.Thread(target=run, name="kpi-renderer", daemon=True)
    t.start()
    return t


def lazy_tabs(labels: list[str], key: str):
    """st.tabs whose hidden tabs do not run: switching tabs reruns the page and only the open one
    (`tab.open`) draws, so a page costs what its first tab costs, not the sum of all tabs. The open
    tab is kept in the URL (?key=<label>, the first tab needs none), so a link opens it."""
    return st.tabs(labels, key=key, on_change="rerun", bind="query-params")


def table(df, formats: dict | None = None, total: int | None = None, **kwargs):
    """st.dataframe of at most tables.MAX_TABLE_ROWS rows (Vietnamese number formats); says so when
    rows were left out (`total`: the rows there are, when `df` already holds only the first ones).
    Downloads always carry every row."""
    from kpi import tables
    from kpi.formatting import fmt_int

    shown = df.head(tables.MAX_TABLE_ROWS)
    total = max(len(df), total or 0)
    if total > len(shown):
        st.caption(f"Hiển thị {fmt_int(len(shown))} dòng đầu trong {fmt_int(total)} dòng; tải tệp để có đủ.")
    data = tables.styled(shown, formats) if formats else shown
    return st.dataframe(data, hide_index=True, width="stretch", **kwargs)


def school_maturity(years, school_id: str):
    """kpi.queries.maturity (criteria, schools) for one school only (a scorecard needs no other
    school's scores)."""
    from kpi.access import Scope

    sc = scope()
    return _maturity(db_key(), Scope(sc.unit_id, school_id, sc.snapshot_id), tuple(years), None, None, None)
