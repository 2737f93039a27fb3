"""Chỉ tiêu: one target in depth: over time, across schools, and which schools hold it back."""

import streamlit as st

from kpi import progress, tables
from kpi.catalog import LEVEL_LABELS, TARGET_BASES
from kpi.figures import school_bars, school_histogram, trend_chart
from pages import _shared as sh

sh.page_guard()

cat = sh.catalog()
year, rnd = sh.period_filters()
level, owner, ward = sh.school_filters()
code = sh.url_select("Chỉ tiêu", list(cat.indicators), "chi_tieu",
                     format_func=lambda c: f"{cat.indicators[c].clause} · {cat.indicators[c].label_vi}")
ind = cat.indicators[code]

st.title(ind.label_vi)
sh.sample_badge()
targets = [cat.target_for(code, lv, year) for lv in ind.levels]
target_text = "; ".join(f"{lv} {t.value * 100:g}%".replace(".", ",") for lv, t in zip(ind.levels, targets) if t)
basis = next((TARGET_BASES[t.basis] for t in targets if t), "chưa có chỉ tiêu cho năm học này")
st.caption(f"Mục {ind.clause} · {', '.join(LEVEL_LABELS[lv] for lv in ind.levels)} · "
           f"chỉ tiêu {target_text or '—'} ({basis}) · Năm học {year} · {rnd}")

st.subheader("Toàn đơn vị qua các kỳ")
trend = progress.trend_rows(sh.indicator_trend(code, level, owner, ward))
if trend.empty or trend["value"].notna().sum() == 0:
    st.info("Chưa có số liệu của chỉ tiêu này cho các trường đang chọn.")
else:
    chart, table = sh.lazy_tabs(["Biểu đồ", "Bảng số liệu"], "ct_trend_tab")
    with chart:
        if chart.open:
            chart.plotly_chart(sh.figure(trend_chart, trend), theme=None, width="stretch", key="ct_trend")
    with table:
        if table.open:
            table.dataframe(tables.styled(tables.trend_table(trend), tables.TREND_TABLE_FORMAT), hide_index=True)

st.subheader(f"Các trường · {progress.period_label(year, rnd)}")
prev = progress.previous_period(sh.periods(), year, rnd)
values = sh.school_values(code, (year, rnd), prev, level, owner, ward)
if values["value"].notna().sum() == 0:
    st.info("Chưa có trường nào nộp số liệu kỳ này.")
    st.stop()
missing = values[values["value"].isna()]
if len(missing):
    st.caption(f"{len(missing)} trường chưa có số liệu kỳ này (không tính là 0): "
               + ", ".join(missing["name"].head(12)) + ("…" if len(missing) > 12 else ""))
chart, table = sh.lazy_tabs(["Biểu đồ", "Bảng"], "ct_tab")
with chart:
    if chart.open:
        if values["value"].notna().sum() <= 300:
            event = st.plotly_chart(sh.figure(school_bars, values), theme=None, width="stretch", key="ct_bars",
                                    on_select="rerun", selection_mode="points")
            points = event.selection.points if event else []
            if points:
                sh.open_school(points[0]["customdata"][0])
            st.caption("Bấm vào cột của một trường để mở trang của trường.")
        else:
            st.plotly_chart(sh.figure(school_histogram, values), theme=None, width="stretch", key="ct_hist")
with table:
    if table.open:
        frame = tables.school_table(values)
        picked = sh.table(frame, tables.SCHOOL_TABLE_FORMAT, key="ct_table", on_select="rerun",
                          selection_mode="single-row")
        if picked and picked.selection.rows:
            sh.open_school(values.iloc[picked.selection.rows[0]]["school_id"])
        sh.downloads(frame, f"{code}_{year}_{rnd}", "ct_dl", percent_columns=tables.SCHOOL_TABLE_PERCENT,
                     int_columns=tables.SCHOOL_TABLE_INT, title=f"{ind.clause} {ind.label_vi} · {year} {rnd}")
