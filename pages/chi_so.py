"""Chỉ số CĐS: at which maturity level are the schools, where are points lost, what closes the gap?"""

import streamlit as st

from kpi.display import tables
from pages import _data as data
from pages import _style as style
from pages import _widgets as ui
from pages._frame import page_guard

page_guard()

cat = data.catalog()
years = data.index_years()
if not years:
    st.title("Chỉ số chuyển đổi số")
    st.info("Chưa có số liệu tự đánh giá mức độ chuyển đổi số của trường nào.")
    st.stop()
year = ui.url_select("Năm học", years, "nam_hoc")
ui.index_source_filter(year)
level, owner, ward = ui.school_filters()

view = data.maturity_page(year, level, owner, ward)
st.title("Chỉ số chuyển đổi số")
ui.sample_badge()
st.caption(view.caption)
(st.success if view.published else st.info)(view.publication)
st.warning(view.rules, icon="⚠️")
if view.empty:
    st.info("Chưa có trường nào tự đánh giá trong năm học này.")
    st.stop()

for col, (label, value, help_) in zip(st.columns(4), view.metrics):
    col.metric(label, value, help=help_)

dist_tab, heat_tab, lost_tab, review_tab, road_tab = ui.lazy_tabs(
    ["Phân bố mức", "Bản đồ nhiệt", "Điểm mất nhiều nhất", "Tự đánh giá và thẩm định", "Lộ trình lên mức"], "cs_tab")
with dist_tab:
    if dist_tab.open:
        st.markdown("**Số trường theo mức, nhóm tiêu chí và cấp học**")
        st.plotly_chart(view.distribution_figure, theme=None, width="stretch", key="cs_dist",
                        alt=view.distribution_name)
        ui.table(view.distribution_table, width="content")
        st.markdown("**Mức của trường qua các năm học**")
        st.plotly_chart(view.trend_figure, theme=None, width="stretch", key="cs_trend", alt=view.trend_name)
        ui.table(view.trend_table, width="content")
with heat_tab:
    if heat_tab.open:
        order = st.radio("Sắp xếp trường theo", ["total", "dh", "qt", "name"], horizontal=True, key="cs_order",
                         format_func={"total": "Tổng điểm", "dh": "Điểm Dạy-học", "qt": "Điểm Quản trị",
                                      "name": "Tên trường"}.get)
        # a phone (390 px) cannot show 29 columns: one group's columns at a time, and with all of them the
        # table (key column pinned) instead of the chart on a narrow screen (pages/_style.py, issue 25)
        group = st.segmented_control("Tiêu chí hiển thị", [ui.ALL, *cat.index.groups], key="cs_heat_group",
                                     default=ui.ALL, format_func=lambda g: cat.index.groups.get(g, g))
        heat = data.maturity_heat(year, order, None if group in (None, ui.ALL) else group, level, owner, ward)
        if group in (None, ui.ALL):
            style.narrow_hides("cs_heat", "Màn hình hẹp: bản đồ nhiệt đủ các tiêu chí được thay bằng bảng bên dưới; "
                               "chọn nhóm Dạy-học hoặc Quản trị để xem bản đồ nhiệt của một nhóm.")
        st.caption("Mỗi ô: phần trăm điểm tối đa của tiêu chí mà trường đạt (cam: không có điểm, xanh đậm: đủ điểm; "
                   "ô trắng có dấu —: trường chưa có điểm tiêu chí này).")
        if heat.chart_note:
            st.caption(heat.chart_note)
        st.plotly_chart(heat.figure, theme=None, width="stretch", key="cs_heat", alt=heat.name)
        if heat.table_note:
            st.caption(heat.table_note)
        table, formats = heat.table
        ui.table(table, formats, first=("Trường",), column_config=heat.column_config)
with lost_tab:
    if lost_tab.open:
        lost = data.maturity_lost_view(year, level, owner, ward)
        st.markdown("**Tiêu chí các trường mất nhiều điểm nhất** (bình quân mỗi trường, trên điểm tối đa)")
        st.plotly_chart(lost.figure, theme=None, width="stretch", key="cs_lost", alt=lost.name)
        ui.table(lost.table, first=("Tiêu chí",), widths={"Nội dung": "large"})
with review_tab:
    if review_tab.open:
        only = st.toggle("Chỉ hiện các chênh lệch cần xem lại", value=True, key="cs_only_flags")
        review = data.maturity_review_view(year, only, tables.MAX_TABLE_ROWS, level, owner, ward)
        st.caption(review.caption)
        ui.table(review.table, tables.REVIEW_FORMAT, total=review.shown_total, first=("Trường", "Tiêu chí"),
                 widths={"Nội dung": "large"})
        ui.downloads(lambda: data.maturity_review_view(year, only, None, level, owner, ward).table,
                     f"tham_dinh_{year}", "cs_dl")
with road_tab:
    if road_tab.open:
        candidates = data.maturity_candidates(level, owner, ward)
        sid = ui.school_picker(candidates, "cs_truong", "Trường", sidebar=False) if len(candidates) else None
        roads = data.maturity_roads(year, sid) if sid else []
        if not roads:
            st.info("Trường này chưa tự đánh giá trong năm học đã chọn.")
        for heading, sentence in roads:
            st.markdown(heading)
            st.write(sentence)
