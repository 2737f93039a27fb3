"""Chỉ số CĐS: at which maturity level are the schools, where are points lost, what closes the gap?"""

import streamlit as st

from kpi.common.formatting import fmt_int, fmt_percent, fmt_points
from kpi.display import chart_text, tables
from kpi.display.figures import criteria_heatmap, level_distribution, level_trend, points_lost_bars
from kpi.domain import maturity, scoring
from kpi.workflows import publication
from pages import _data as data
from pages import _style as style
from pages import _widgets as ui
from pages._frame import page_guard, scope

page_guard()

HEATMAP_ROWS = 200
cat = data.catalog()
years = data.index_years()
if not years:
    st.title("Chỉ số chuyển đổi số")
    st.info("Chưa có số liệu tự đánh giá mức độ chuyển đổi số của trường nào.")
    st.stop()
year = ui.url_select("Năm học", years, "nam_hoc")
ui.index_source_filter(year)
level, owner, ward = ui.school_filters()

st.title("Chỉ số chuyển đổi số")
ui.sample_badge()
snap = scope().snapshot_id
st.caption(f"{cat.index.decision} · Năm học {year} · tự đánh giá trước {cat.index.self_assessment_deadline}, "
           f"Phòng thẩm định trước {cat.index.review_deadline} · "
           + (f"bản chốt {snap}" if snap else "số liệu trực tiếp"))
done, said = publication.sentence(data.publications(year), year)
(st.success if done else st.info)(said)
st.warning(maturity.rules_sentence(cat), icon="⚠️")

counts_all = data.maturity_counts(years, level, owner, ward)
this_year = counts_all[counts_all["school_year"] == year]
if this_year.empty:
    st.info("Chưa có trường nào tự đánh giá trong năm học này.")
    st.stop()

target = cat.index.district_target
counts = maturity.level_counts(this_year)
scored = sum(counts.values())
meeting = sum(n for m, n in counts.items() if m >= target["min_level"])
c1, c2, c3, c4 = st.columns(4)
c1.metric(f"Trường từ Mức {target['min_level']} trở lên", fmt_percent(meeting / scored),
          help=f"Chỉ tiêu của Phòng: {fmt_percent(target['share'])}")
for col, m in zip((c2, c3, c4), (1, 2, 3)):
    col.metric(f"Mức {m}", fmt_int(counts[m]))

dist_tab, heat_tab, lost_tab, review_tab, road_tab = ui.lazy_tabs(
    ["Phân bố mức", "Bản đồ nhiệt", "Điểm mất nhiều nhất", "Tự đánh giá và thẩm định", "Lộ trình lên mức"], "cs_tab")
with dist_tab:
    if dist_tab.open:
        dist = maturity.distribution(this_year, cat)
        fkey = (scope(), year, level, owner, ward)
        st.markdown("**Số trường theo mức, nhóm tiêu chí và cấp học**")
        st.plotly_chart(data.figure(("cs_dist", *fkey), lambda: level_distribution(dist)), theme=None,
                        width="stretch", key="cs_dist", alt=chart_text.level_counts_name(counts, year))
        ui.table(tables.level_table(dist), width="content")
        st.markdown("**Mức của trường qua các năm học**")
        trend_rows = chart_text.level_trend_table(maturity.trend(counts_all))
        st.plotly_chart(data.figure(("cs_trend", *fkey), lambda: level_trend(maturity.trend(counts_all))),
                        theme=None, width="stretch", key="cs_trend", alt=chart_text.level_trend_name(trend_rows))
        ui.table(trend_rows, width="content")
with heat_tab:
    if heat_tab.open:
        order = st.radio("Sắp xếp trường theo", ["total", "dh", "qt", "name"], horizontal=True, key="cs_order",
                         format_func={"total": "Tổng điểm", "dh": "Điểm Dạy-học", "qt": "Điểm Quản trị",
                                      "name": "Tên trường"}.get)
        matrix = data.maturity_heatmap(year, order, level, owner, ward)
        # a phone (390 px) cannot show 29 columns: one group's columns at a time, and with all of them the
        # table (key column pinned) instead of the chart on a narrow screen (pages/_style.py, issue 25)
        group = st.segmented_control("Tiêu chí hiển thị", [ui.ALL, *cat.index.groups], key="cs_heat_group",
                                     default=ui.ALL, format_func=lambda g: cat.index.groups.get(g, g))
        if group and group != ui.ALL:
            matrix = matrix[[c for c in matrix.columns if c in cat.criteria and cat.criteria[c].group_code == group]]
        else:
            style.narrow_hides("cs_heat", "Màn hình hẹp: bản đồ nhiệt đủ các tiêu chí được thay bằng bảng bên dưới; "
                               "chọn nhóm Dạy-học hoặc Quản trị để xem bản đồ nhiệt của một nhóm.")
        names = {k: c.name_vi for k, c in cat.criteria.items()}
        short = {k: c.short_vi for k, c in cat.criteria.items()}
        st.caption("Mỗi ô: phần trăm điểm tối đa của tiêu chí mà trường đạt (cam: không có điểm, xanh đậm: đủ điểm; "
                   "ô trắng có dấu —: trường chưa có điểm tiêu chí này).")
        if scored > HEATMAP_ROWS:
            st.caption(f"Bản đồ nhiệt hiển thị {HEATMAP_ROWS} trường đầu theo thứ tự đã chọn trong {fmt_int(scored)} "
                       "trường; lọc theo cấp học, loại hình hoặc phường để xem nhóm khác.")
        st.plotly_chart(data.figure(("cs_heat", scope(), year, order, level, owner, ward, group),
                                    lambda: criteria_heatmap(matrix.head(HEATMAP_ROWS), names, short=short)),
                        theme=None, width="stretch", key="cs_heat",
                        alt=chart_text.heatmap_name(min(len(matrix), HEATMAP_ROWS), len(matrix.columns), year))
        if scored > len(matrix):
            st.caption(f"Bảng hiển thị {fmt_int(len(matrix))} trường đầu trong {fmt_int(scored)} trường.")
        heat, heat_format = tables.heatmap_table(matrix, cat)
        ui.table(heat, heat_format, first=("Trường",),
                 column_config={label: {"help": names[c], "width": "small"} for c, label in zip(matrix.columns, heat.columns[1:])})
with lost_tab:
    if lost_tab.open:
        lost = data.maturity_lost(year, level, owner, ward)
        st.markdown("**Tiêu chí các trường mất nhiều điểm nhất** (bình quân mỗi trường, trên điểm tối đa)")
        st.plotly_chart(data.figure(("cs_lost", scope(), year, level, owner, ward), lambda: points_lost_bars(
            lost.head(12), short={k: c.short_vi for k, c in cat.criteria.items()})), theme=None, width="stretch",
            key="cs_lost", alt=chart_text.lost_name(lost, {k: c.short_vi for k, c in cat.criteria.items()}))
        ui.table(tables.lost_table(lost), first=("Tiêu chí",), widths={"Nội dung": "large"})
with review_tab:
    if review_tab.open:
        only = st.toggle("Chỉ hiện các chênh lệch cần xem lại", value=True, key="cs_only_flags")
        rev, total, flagged = data.maturity_review(year, only, tables.MAX_TABLE_ROWS, level, owner, ward)
        st.caption(f"{fmt_int(flagged)} chênh lệch cần Phòng xem lại.")
        ui.table(tables.review_table(rev, cat), tables.REVIEW_FORMAT, total=flagged if only else total,
                 first=("Trường", "Tiêu chí"), widths={"Nội dung": "large"})
        ui.downloads(lambda: tables.review_table(data.maturity_review(year, only, None, level, owner, ward)[0], cat),
                     f"tham_dinh_{year}", "cs_dl")
with road_tab:
    if road_tab.open:
        candidates = data.school_list()
        candidates = candidates[candidates["level"].isin(cat.index.levels_apply)
                                & ((candidates["level"] == level) if level else True)
                                & ((candidates["ownership"] == owner) if owner else True)
                                & ((candidates["ward"] == ward) if ward else True)]
        sid = ui.school_picker(candidates, "cs_truong", "Trường", sidebar=False) if len(candidates) else None
        crit, mine = data.school_maturity([year], sid) if sid else (None, [])
        if not len(mine):
            st.info("Trường này chưa tự đánh giá trong năm học đã chọn.")
        else:
            row = mine.iloc[0]
            for g in cat.index.groups:
                road = scoring.road_to_next_level(crit, row, g, cat)
                st.markdown(f"**Nhóm {cat.index.groups[g]}: {fmt_points(road.points)} điểm chỉ số, Mức {road.level}**")
                st.write(road.sentence)
