"""Tổng quan: where does the district stand on each target of the plan this period?"""

import html

import streamlit as st

from kpi.common.formatting import fmt_int
from kpi.common.text import plain
from kpi.display.chart_text import overview_name
from kpi.display.figures import STATUS_COLORS
from pages import _data as data
from pages import _widgets as ui
from pages._frame import page_guard

page_guard()

year, rnd = ui.period_filters()
level, owner, ward = ui.school_filters()

st.title("Tổng quan")
ui.sample_badge()
st.caption(f"{plain(data.meta().get('unit_name', ''))} · Năm học {year} · {rnd}")

ov = data.overview(year, rnd, level, owner, ward)
if ov.empty:
    st.info("Chưa có trường nào nộp số liệu kỳ này.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Đạt", fmt_int(ov.counts["dat"]))
c2.metric("Gần đạt", fmt_int(ov.counts["gan_dat"]))
c3.metric("Chưa đạt", fmt_int(ov.counts["chua_dat"]))
c4.metric("Chỉ tiêu theo dõi", fmt_int(ov.counts["all"]))

tiles, chart, table = ui.lazy_tabs(["Theo nhóm", "Biểu đồ", "Bảng số liệu"], "tq_tab")
with tiles:
    if tiles.open:
        for theme, part in ov.themes:
            st.subheader(theme)
            for i, t in enumerate(part):
                if i % 3 == 0:  # a row of three at a time: Tab and a phone's stacking follow the plan's order
                    cols = st.columns(3)
                with cols[i % 3].container(border=True):
                    st.markdown(
                        f"**{html.escape(t.heading)}**<br>"
                        f"<span style='font-size:1.7rem;font-weight:600'>{t.value}</span> / {t.target}<br>"
                        f"<span style='color:{STATUS_COLORS[t.status]};font-weight:600'>{t.status_text}</span>"
                        f"{' · ' + t.gap if t.gap else ''}<br>"
                        f"<small style='color:#555'>{t.change} · {t.reporting}</small>", unsafe_allow_html=True)
                    if t.is_index:
                        st.page_link(ui.PAGE_FILES["chi_so"], label=f"Xem chỉ số từng trường (tạm tính) · {t.heading}",
                                     query_params=ui.link_params())
                    else:
                        st.page_link(ui.PAGE_FILES["chi_tieu"], label=f"Xem từng trường · {t.heading}",
                                     query_params=ui.link_params(chi_tieu=t.code))
with chart:
    if chart.open:
        st.plotly_chart(ov.figure, theme=None, width="stretch", key="tq_chart",
                        alt=overview_name(ov.counts, f"năm học {year} · {rnd}"))
with table:
    if table.open:
        ui.table(ov.table, first=("Chỉ tiêu",))
