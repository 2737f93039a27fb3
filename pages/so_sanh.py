"""So sánh: between two periods, which schools moved up to "đạt" on each target, and which fell back?"""

import streamlit as st

from kpi.common.formatting import fmt_int
from kpi.display import tables
from kpi.display.chart_text import compare_name
from kpi.domain import progress
from pages import _data as data
from pages import _widgets as ui
from pages._frame import page_guard

page_guard()

cat = data.catalog()
p = data.periods()
codes = {f"{y}-{r}": (y, r) for y, r in zip(p["school_year"], p["round"])}
label = lambda c: progress.period_label(*codes[c])  # noqa: E731
b_code = ui.url_select("Kỳ so sánh (B)", list(codes), "ky_b", format_func=label)
prev = progress.previous_period(p, *codes[b_code])
a_code = ui.url_select("Kỳ gốc (A)", list(codes), "ky_a", format_func=label,
                       default=f"{prev[0]}-{prev[1]}" if prev else None)
a, b = codes[a_code], codes[b_code]
sources = {}
for key, period in (("chot_a", a), ("chot_b", b)):
    options = ui.snapshot_options(*period)
    chosen = ui.url_select(f"Nguồn kỳ {key[-1].upper()}", list(options), key, format_func=options.get,
                           keep_default=False) if len(options) > 1 else ui.LIVE
    sources[key] = None if chosen == ui.LIVE else chosen
level, owner, ward = ui.school_filters()
a_label = label(a_code) + (f" (bản chốt {sources['chot_a']})" if sources["chot_a"] else "")
b_label = label(b_code) + (f" (bản chốt {sources['chot_b']})" if sources["chot_b"] else "")

st.title("So sánh hai kỳ")
ui.sample_badge()
st.caption(f"A = {a_label} → B = {b_label}. Mỗi kỳ được so với chỉ tiêu của năm học đó "
           "(năm chưa có chỉ tiêu thì dùng chỉ tiêu của kỳ B).")
if a == b and sources["chot_a"] == sources["chot_b"]:
    st.info("Chọn hai kỳ khác nhau (hoặc một bản chốt với số liệu trực tiếp) để so sánh.")
    st.stop()
view = data.compare(a, b, level, owner, ward, sources["chot_a"], sources["chot_b"])
rows = view.rows
if view.empty:
    st.info("Chưa có trường nào nộp số liệu ở cả hai kỳ.")
    st.stop()

c1, c2 = st.columns(2)
c1.metric("Lượt trường lên đạt", fmt_int(rows["moved_up"].sum()))
c2.metric("Lượt trường tụt khỏi đạt", fmt_int(rows["fell_back"].sum()))
chart, table = ui.lazy_tabs(["Biểu đồ", "Bảng"], "ss_tab")
with chart:
    if chart.open:
        chart.plotly_chart(view.figure, theme=None, width="stretch", key="ss_chart",
                           alt=compare_name(a_label, b_label, rows))
with table:
    if table.open:
        frame = view.table
        ui.table(frame, first=("Chỉ tiêu",))
        ui.downloads(frame, f"so_sanh_{a[0]}_{a[1]}_{b[0]}_{b[1]}", "ss_dl")

st.subheader("Trường thay đổi theo từng chỉ tiêu")
code = ui.url_select("Chỉ tiêu", list(rows["indicator_code"]), "chi_tieu", sidebar=False, default=view.most_moved,
                     format_func=lambda c: f"{cat.indicators[c].clause} · {cat.indicators[c].label_vi}")
moves = tables.school_moves(data.school_values_between(code, b, a, level, owner, ward, sources["chot_a"],
                                                     sources["chot_b"]))
for col, (key, title) in zip(st.columns(2), (("up", "Lên đạt"), ("down", "Tụt khỏi đạt"))):
    col.markdown(f"**{title}** ({len(moves[key])} trường)")
    if moves[key].empty:
        col.caption("Không có trường nào.")
    else:
        with col:
            ui.table(moves[key], tables.MOVES_FORMAT, first=("Trường",))
