"""Widgets every page shares: filters kept in the URL, school pickers, tabs, tables, downloads.

Every filter's value lives in the URL (?nam_hoc=2023-2024&ky=CN&cap_hoc=TH), so a link sends the
view and the period and filters follow the user from page to page.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS, ROUND_LABELS
from kpi.common.formatting import fmt_date, fmt_int, search_key
from kpi.common.text import clean, plain
from kpi.display import tables
from kpi.display.tables import to_csv_bytes, to_xlsx_bytes
from pages import _data as data
from pages._frame import audit, current_user, scope, set_pending, set_snapshot

ALL = "Tất cả"
LIVE = "truc_tiep"
PICKER_LIMIT = 300  # more schools than this: a search box first (a 53.000-option list is slow and useless)
PAGE_FILES = {"tong_quan": "pages/tong_quan.py", "chi_tieu": "pages/chi_tieu.py",
              "so_sanh": "pages/so_sanh.py", "truong": "pages/truong.py", "chi_so": "pages/chi_so.py",
              "du_lieu": "pages/du_lieu.py", "bao_cao": "pages/bao_cao.py",
              "nop_so_lieu": "pages/nop_so_lieu.py", "duyet": "pages/duyet.py",
              "tu_danh_gia": "pages/tu_danh_gia.py", "danh_gia": "pages/danh_gia.py"}
SHARED_PARAMS = ("nam_hoc", "ky", "cap_hoc", "loai_hinh", "phuong", "cho_duyet")
PENDING_PARAM = "cho_duyet"  # ?cho_duyet=1: figures include submitted, not yet approved values


def labels(options, format_func):
    """A widget's `format_func` that keeps only the options' labels: Streamlit keeps a selectbox's format_func
    in the session (its widget state) until the widget is gone, and a function written in a page keeps that page's
    every name alive with it (its globals), the view model included: over 53.000 schools, a Chỉ tiêu model of
    tens of MB per office session outside the view cache's bound (issue 29)."""
    table = {o: format_func(o) for o in options}
    return table.__getitem__


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
    value = box.selectbox(label, options, key=key, format_func=labels(options, lambda v: clean(format_func(v))),
                          help=help)
    if value == fallback and not keep_default:
        st.query_params.pop(param, None)  # "Tất cả" needs no parameter: shorter links
    elif value is not None:
        st.query_params[param] = value
    st.session_state[synced] = value
    return value


def sample_badge() -> None:
    """The "Dữ liệu mẫu" label, shown on every page while the sample is loaded."""
    if data.meta().get("is_sample") == "true":
        st.badge("Dữ liệu mẫu: trường và số liệu giả định", icon="⚠️", color="orange")


def period_filters(sources: bool = True) -> tuple[str, str]:
    """Sidebar school year and round, kept in the URL (?nam_hoc=2023-2024&ky=CN); with `sources`,
    the data source too (live, a snapshot, or for the office live including pending values)."""
    p = data.periods()
    years = list(dict.fromkeys(p["school_year"]))
    year = url_select("Năm học", years, "nam_hoc")
    rounds = [r for r in ("CN", "HK1") if r in set(p.loc[p["school_year"] == year, "round"])]
    rnd = url_select("Kỳ báo cáo", rounds, "ky",
                     help="HK1: sơ kết học kỳ I (hạn 10/01) · CN: tổng kết cả năm (hạn 20/05)")
    deadline = data.store().deadline(year, rnd)
    if deadline is not None:
        st.sidebar.caption(f"{ROUND_LABELS[rnd]} · hạn nộp {fmt_date(deadline)}")
    if sources:
        source_filter(year, rnd)
        pending_filter(year, rnd)
    return year, rnd


def pending_filter(year: str, rnd: str) -> None:
    """Sidebar switch for the Phòng (live data only): district figures including the schools'
    submitted, not yet approved values (?cho_duyet=1). Off (the default): approved figures only."""
    set_pending(None)
    user = current_user()
    if user is None or scope().is_school or scope().snapshot_id is not None:
        return
    key, synced = f"w_{PENDING_PARAM}", f"_w_{PENDING_PARAM}"
    raw = st.query_params.get(PENDING_PARAM)
    wanted = None if raw is None else raw == "1"
    # like url_select: the URL wins when the switch is new or the URL changed since we wrote it; a page
    # opened without the parameter keeps the session's choice; the value is always written back (a
    # switch first drawn on a newly opened page would otherwise start from its default)
    current = st.session_state.get(key, st.session_state.get(synced))
    if wanted is not None and (current is None or wanted != st.session_state.get(synced)):
        current = wanted
    st.session_state[key] = bool(current)
    on = st.sidebar.toggle("Gồm số liệu đã nộp, chưa duyệt", key=key,
                           help="Tắt (mặc định): chỉ số liệu Phòng đã duyệt. Bật: cộng thêm số liệu các trường đã "
                                "nộp trên ứng dụng mà Phòng chưa duyệt (thay cho số đã duyệt của trường đó).")
    st.session_state[synced] = on
    if on:
        st.query_params[PENDING_PARAM] = "1"
        version = data.store().workflow_version() or 0
        set_pending(version)
        subs = data.store().pending_tables(version)[1]
        n = sum(1 for y, r in zip(subs["school_year"].to_pylist(), subs["round"].to_pylist()) if (y, r) == (year, rnd))
        st.sidebar.caption(f"Đang gồm {fmt_int(n)} trường đã nộp, chưa duyệt (kỳ {year} {rnd}).")
    else:
        st.query_params.pop(PENDING_PARAM, None)


def snapshot_options(year: str, rnd: str) -> dict[str, str]:
    """Snapshot id → label for a period (live data first)."""
    snaps = data.snapshots()
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
    snaps = data.snapshots()
    _source_select(_source_choices(snaps[snaps["school_year"] >= school_year]))


def _source_select(options: dict[str, str]) -> None:
    set_snapshot(None)
    if len(options) > 1:
        chosen = url_select("Nguồn số liệu", list(options), "chot", format_func=options.get, keep_default=False)
        set_snapshot(None if chosen == LIVE else chosen)
        if chosen != LIVE:
            st.sidebar.caption("Đang xem số liệu đã chốt: không đổi khi có lần nhập mới.")


def school_filters() -> tuple[str | None, str | None, str | None]:
    """Sidebar cấp học, loại hình, phường (None = all), kept in the URL (?cap_hoc=TH...)."""
    level = url_select("Cấp học", [ALL, *LEVEL_LABELS], "cap_hoc", keep_default=False,
                       format_func=lambda v: LEVEL_LABELS.get(v, v))
    owner = url_select("Loại hình", [ALL, *OWNERSHIP_LABELS], "loai_hinh", keep_default=False,
                       format_func=lambda v: OWNERSHIP_LABELS.get(v, v))
    ward = url_select("Phường", [ALL, *data.wards()], "phuong", keep_default=False)
    return tuple(None if v == ALL else v for v in (level, owner, ward))


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


def open_school(school_id: str) -> None:
    """Go to the school's scorecard, keeping the period in the URL."""
    if can_open_school(school_id):
        st.switch_page(PAGE_FILES["truong"], query_params=link_params(truong=school_id))


def school_picker(schools, param: str = "truong", label: str = "Trường", sidebar: bool = True):
    """Pick one school, kept in the URL as ?param=<school id>. Up to PICKER_LIMIT schools: a plain
    list; more: a search box (name or code, accents optional) and the matching schools."""
    box = st.sidebar if sidebar else st
    if len(schools) > PICKER_LIMIT:
        q = box.text_input(f"Tìm {label.lower()}", key=f"q_{param}", placeholder="tên hoặc mã trường")
        if q.strip():  # search keys are made once per data version, the first time someone searches
            keys = data.search_keys()
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


# Streamlit's file uploader speaks English ("Upload", "20MB per file", "12.3KB"): its words are
# replaced by Vietnamese ones in CSS (the limit is in each uploader's label).
_UPLOADER_CSS = """<style>
[data-testid="stFileUploaderDropzone"] button > * {display: none}
[data-testid="stFileUploaderDropzone"] button::after {content: "Chọn tệp"; font-size: 0.875rem}
[data-testid="stFileUploaderDropzoneInstructions"] > * {display: none}
[data-testid="stFileUploaderDropzoneInstructions"]::after {content: "hoặc kéo thả tệp vào đây";
  font-size: 0.875rem; opacity: 0.6}
[data-testid="stFileChipName"] + * {display: none}
</style>"""


def file_uploader(label: str, **kwargs):
    """st.file_uploader in Vietnamese (see _UPLOADER_CSS)."""
    st.html(_UPLOADER_CSS)
    return st.file_uploader(label, **kwargs)


def lazy_tabs(labels: list[str], key: str):
    """st.tabs whose hidden tabs do not run: switching tabs reruns the page and only the open one
    (`tab.open`) draws, so a page costs what its first tab costs, not the sum of all tabs. The open
    tab is kept in the URL (?key=<label>, the first tab needs none), so a link opens it."""
    return st.tabs(labels, key=key, on_change="rerun", bind="query-params")


EMPTY_TABLE = "Chưa có dòng nào để hiển thị."
# The columns a reader looks for beside the key (a school, a criterion): on a phone (390 px) they come right
# after the pinned key column, so the figure is on screen without scrolling sideways (issue 25).
VALUE_COLUMNS = ("Giá trị", "Chỉ tiêu", "Tình trạng", "Điểm", "Mức", "Điểm tự đánh giá", "Tỉ lệ")
KEY_WIDTH = 150  # px: the pinned key column on a phone leaves ~200 px for the figures beside it


def table(df, formats: dict | None = None, total: int | None = None, first: tuple = (), widths: dict | None = None,
          values: tuple | None = None, empty: str = EMPTY_TABLE, **kwargs):
    """st.dataframe of at most MAX_TABLE_ROWS rows, every cell as a person should read it
    (kpi.display.tables.screen_table: Vietnamese numbers, "—" for a missing value, never "None"); says so
    when rows were left out (`total`: the rows there are, when `df` already holds only the first
    ones). `first`: the key columns, shown first so a wide table never hides them; `widths`:
    column → "small", "medium", "large" or pixels. `values`: the figures' columns, put right after the
    key (default: those of VALUE_COLUMNS present). The first key column is pinned and KEY_WIDTH wide
    (unless `widths` says otherwise), so on a phone the key and the figures stay on screen while the
    other columns scroll. Downloads always carry every row. An empty table is the sentence `empty`
    (Streamlit would draw the English word "empty"); returns None."""
    if df is None or df.empty:
        st.caption(empty)
        return None
    shown = df.head(tables.MAX_TABLE_ROWS)
    total = max(len(df), total or 0)
    if total > len(shown):
        st.caption(f"Hiển thị {fmt_int(len(shown))} dòng đầu trong {fmt_int(total)} dòng; tải tệp để có đủ.")
    data, config = tables.kept_screen_table(df, formats, tables.MAX_TABLE_ROWS)
    config = dict(config)
    for col, w in (widths or {}).items():
        if col in shown.columns:
            config[col] = {**config.get(col, {}), "width": w}
    config.update(kwargs.pop("column_config", {}))
    keys = [c for c in first if c in shown.columns]
    figures = [c for c in (VALUE_COLUMNS if values is None else values) if c in shown.columns and c not in keys]
    if keys or figures:
        kwargs.setdefault("column_order", keys + figures + [c for c in shown.columns if c not in keys + figures])
    if keys:
        config[keys[0]] = {"width": KEY_WIDTH, **config.get(keys[0], {}), "pinned": True}
    kwargs.setdefault("width", "stretch")
    return st.dataframe(data, hide_index=True, column_config=config or None, **kwargs)


def downloads(df, name: str, key: str, **xlsx) -> None:
    """CSV (UTF-8 with BOM) and XLSX download buttons for a table, built when clicked. `df` may be
    a function returning the table (when the page shows only part of it)."""
    frame = df if callable(df) else (lambda: df)
    user = current_user()  # the files are made when clicked, outside this run

    def made(fmt: str, data: bytes) -> bytes:
        audit("tai_bang", {"tep": f"{name}.{fmt}", "dong": len(frame())}, user)
        return data

    c1, c2 = st.columns([1, 1], width=360)
    c1.download_button("Tải CSV", lambda: made("csv", to_csv_bytes(frame())), f"{name}.csv", "text/csv",
                       key=f"{key}_csv", on_click="ignore", icon=":material/download:")
    c2.download_button("Tải XLSX", lambda: made("xlsx", to_xlsx_bytes(frame(), **xlsx)), f"{name}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx",
                       on_click="ignore", icon=":material/download:")


def notice(kind: str | None, text: str, items=(), box=st) -> None:
    """An action's result where it is drawn (next to the button that caused it, issue 25): "ok" in
    green, "info" in blue, anything else in red with its problems listed. `text` and `items` are shown
    through plain() (they may quote what a person typed)."""
    if kind == "ok":
        box.success(plain(text), icon=":material/check_circle:")
    elif kind == "info":
        box.info(plain(text))
    elif kind:
        box.error(plain(text) + "".join(f"\n- {plain(p)}" for p in items), icon="✖")
