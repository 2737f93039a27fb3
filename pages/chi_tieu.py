"""Chỉ tiêu: one target in depth: over time, across schools, and which schools hold it back."""

import streamlit as st

from kpi.common.text import plain
from kpi.display import chart_text, tables
from kpi.domain import progress
from kpi.views.indicator import indicator_codes
from pages import _data as data
from pages import _widgets as ui
from pages._frame import page_guard, scope

page_guard()

cat = data.catalog()
year, rnd = ui.period_filters()
level, owner, ward = ui.school_filters()
own_level = data.school_level(scope().school_id) if scope().is_school else None
# a principal sees the targets of their own cấp học, and opens on the first of them (the one the warm-up builds)
codes = indicator_codes(cat, own_level)
code = ui.url_select("Chỉ tiêu", codes, "chi_tieu",
                     format_func=lambda c: f"{cat.indicators[c].clause} · {cat.indicators[c].label_vi}")
view = data.indicator(code, year, rnd, level, owner, ward)

st.title(cat.indicators[code].label_vi)
ui.sample_badge()
st.caption(view.caption)

st.subheader("Toàn đơn vị qua các kỳ")
if view.note:
    st.info(view.note, icon=":material/lock:")
if not view.has_trend:
    st.info("Chưa có số liệu của chỉ tiêu này cho các trường đang chọn.")
else:
    chart, table = ui.lazy_tabs(["Biểu đồ", "Bảng số liệu"], "ct_trend_tab")
    with chart:
        if chart.open:
            chart.plotly_chart(view.trend_figure, theme=None, width="stretch", key="ct_trend",
                               alt=chart_text.trend_name(cat.indicators[code].label_vi, view.trend_drawn))
            if view.trend_window_note:
                chart.caption(view.trend_window_note)
    with table:
        if table.open:
            ui.table(view.trend_table, tables.TREND_TABLE_FORMAT, first=("Kỳ",))

st.subheader(f"Các trường · {progress.period_label(year, rnd)}")
if not view.has_values:
    st.info("Trường của bạn chưa có số liệu kỳ này." if view.note else "Chưa có trường nào nộp số liệu kỳ này.")
    st.stop()
if view.missing_sentence:
    st.caption(plain(view.missing_sentence))
office = not scope().is_school
schools_alt = chart_text.schools_name(cat.indicators[code].label_vi, progress.period_label(year, rnd), view.values)
chart, table = ui.lazy_tabs(["Biểu đồ", "Bảng"], "ct_tab")
with chart:
    if chart.open:
        if view.reporting <= 300 and office:
            event = st.plotly_chart(view.schools_figure, theme=None, width="stretch", key="ct_bars",
                                    on_select="rerun", selection_mode="points", alt=schools_alt)
            points = event.selection.points if event else []
            if points:
                ui.open_school(points[0]["customdata"][0])
            st.caption("Bấm vào cột của một trường để mở trang của trường.")
        else:
            st.plotly_chart(view.schools_figure, theme=None, width="stretch", key="ct_hist", alt=schools_alt)
with table:
    if table.open:
        frame = view.school_table
        picked = ui.table(frame, tables.SCHOOL_TABLE_FORMAT, key="ct_table", first=("Trường",),
                          **({"on_select": "rerun", "selection_mode": "single-row"} if office else {}))
        if office and picked and picked.selection.rows:
            ui.open_school(view.values.iloc[picked.selection.rows[0]]["school_id"])
        if office:  # what a click on a bar or a row does, as a field and a link (keyboard, screen reader)
            names = view.openable  # the schools of the rows shown (any other: Trường's search)
            sid = st.selectbox("Mở trang của trường", list(names), index=None, key="ct_open",
                               placeholder="Chọn trường", format_func=names.get,
                               help=None if len(names) == len(view.values) else
                               "Các trường trong bảng trên; trường khác: tìm ở trang Trường.")
            if sid:
                st.page_link(ui.PAGE_FILES["truong"], label=f"Mở trang của trường · {names[sid]}",
                             query_params=ui.link_params(truong=sid))
        ui.downloads(frame, f"{code}_{year}_{rnd}", "ct_dl", percent_columns=tables.SCHOOL_TABLE_PERCENT,
                     int_columns=tables.SCHOOL_TABLE_INT, title=f"{cat.indicators[code].clause} "
                     f"{cat.indicators[code].label_vi} · {year} {rnd}")
