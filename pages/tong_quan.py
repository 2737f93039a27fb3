"""Tổng quan: where does the district stand on each target of the plan this period?"""

import streamlit as st

from kpi import maturity, progress
from kpi.figures import STATUS_COLORS, progress_bars, status_text
from kpi.formatting import fmt_int, fmt_percent
from pages import _shared as sh

sh.page_guard()

cat = sh.catalog()
year, rnd = sh.period_filters()
level, owner, ward = sh.school_filters()

st.title("Tổng quan")
sh.sample_badge()
st.caption(f"{sh.meta().get('unit_name', '')} · Năm học {year} · {rnd}")

rows = sh.overview(year, rnd, level, owner, ward)
if rows.empty or rows["schools_reporting"].sum() == 0:
    st.info("Chưa có trường nào nộp số liệu kỳ này.")
    st.stop()

counts = rows["status"].value_counts()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Đạt", fmt_int(counts.get("dat", 0)))
c2.metric("Gần đạt", fmt_int(counts.get("gan_dat", 0)))
c3.metric("Chưa đạt", fmt_int(counts.get("chua_dat", 0)))
c4.metric("Chỉ tiêu theo dõi", fmt_int(len(rows)))

tiles, chart, table = sh.lazy_tabs(["Theo nhóm", "Biểu đồ", "Bảng số liệu"], "tq_tab")
with tiles:
    if tiles.open:
        for theme in cat.themes.values():
            part = rows[rows["theme"] == theme.code]
            if part.empty:
                continue
            st.subheader(theme.label_vi)
            cols = st.columns(3)
            for i, (_, r) in enumerate(part.iterrows()):
                with cols[i % 3].container(border=True):
                    lv = "" if r["level"] == progress.ALL_LEVELS else f" ({r['level']})"
                    st.markdown(f"**{r['clause']}** · {r['label']}{lv}")
                    st.markdown(f"<span style='font-size:1.7rem;font-weight:600'>{fmt_percent(r['value'])}</span>"
                                f" / chỉ tiêu {fmt_percent(r['target'])}", unsafe_allow_html=True)
                    st.markdown(f"<span style='color:{STATUS_COLORS[r['status']]};font-weight:600'>"
                                f"{status_text(r['status'])}</span> · {progress.gap_sentence(r)}",
                                unsafe_allow_html=True)
                    st.caption(f"{progress.change_sentence(r['change'])} · "
                               f"{fmt_int(r['schools_reporting'])}/{fmt_int(r['schools_expected'])} trường đã báo cáo")
                    if r["indicator_code"] == maturity.INDEX_CODE:
                        st.page_link(sh.PAGE_FILES["chi_so"], label="Xem chỉ số từng trường (tạm tính)",
                                     query_params=sh.link_params())
                    else:
                        st.page_link(sh.PAGE_FILES["chi_tieu"], label="Xem từng trường",
                                     query_params=sh.link_params(chi_tieu=r["indicator_code"]))
with chart:
    if chart.open:
        st.plotly_chart(sh.figure(progress_bars, rows), theme=None, width="stretch", key="tq_chart")
with table:
    if table.open:
        st.dataframe(progress.overview_table(rows, cat), hide_index=True, width="stretch")
