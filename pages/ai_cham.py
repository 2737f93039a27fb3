"""Ai đang chậm: every target of the period, the schools short of it worst first, one click to each."""

import streamlit as st

from kpi.common.formatting import fmt_percent
from kpi.common.text import plain
from kpi.domain import laggards, progress
from pages import _data as data
from pages import _widgets as ui
from pages._frame import page_guard, scope

page_guard()
if scope().is_school:  # a principal never sees other schools named (the menu does not offer it either)
    st.error("Trang này chỉ dành cho Lãnh đạo và Chuyên viên Phòng.")
    st.stop()

year, rnd = ui.period_filters()
level, owner, ward = ui.school_filters()
view = data.laggards(year, rnd, level, owner, ward)

st.title("Ai đang chậm")
ui.sample_badge()
st.caption(f"Các trường chưa đạt từng chỉ tiêu · {progress.period_label(year, rnd)}. Trường chưa báo cáo "
           "được liệt kê riêng, không tính là 0.")
if view.empty:
    st.info("Kỳ và bộ lọc đang chọn chưa có chỉ tiêu kế hoạch hoặc chưa có số liệu. Hãy chọn kỳ hoặc cấp "
            "học khác.")
    st.stop()

st.subheader("Các chỉ tiêu")
ui.table(view.target_table, first=("Mục", "Chỉ tiêu"), key="ac_targets")

names = view.target_names()
choices = [None, *names]
key = st.selectbox("Chỉ tiêu", choices, key="ac_target",
                   format_func=ui.labels(choices, lambda k: names.get(k, "Tất cả chỉ tiêu")))
where = plain(names[key]) if key else "tất cả chỉ tiêu"
params = ui.link_params()

st.subheader("Trường chưa đạt")
short = view.school_table(key, params)
if short.empty:
    st.success(f"Không có trường nào chưa đạt ({where}).")
else:
    st.caption("Xếp từ trường thiếu nhiều nhất. Bấm vào một dòng để mở trang của trường (hoặc «Mở trang»: "
               "mở trong thẻ mới).")
    picked = ui.table(short, first=("Trường", "Khoảng cách"), key="ac_short", on_select="rerun",
                      selection_mode="single-row", formats={c: fmt_percent for c in laggards.PERCENT_COLUMNS},
                      column_config={"Trang trường": st.column_config.LinkColumn("Trang trường",
                                                                                 display_text="Mở trang")})
    if picked and picked.selection.rows:
        ui.open_school(short.iloc[picked.selection.rows[0]]["Mã trường"])
    schools = dict(zip(short["Mã trường"], short["Trường"]))  # the same, as a field and a link (keyboard)
    sid = st.selectbox("Mở trang của trường", list(schools), index=None, key="ac_open", placeholder="Chọn trường",
                       format_func=schools.get)
    if sid:
        st.page_link(ui.PAGE_FILES["truong"], label=f"Mở trang của trường · {plain(schools[sid])}",
                     query_params=ui.link_params(truong=sid))

st.subheader("Chưa báo cáo")
missing = view.missing_table(key)
if missing.empty:
    st.success(f"Mọi trường đã báo cáo ({where}).")
else:
    ui.table(missing, first=("Trường",), key="ac_missing")

st.caption("Tải danh sách (mọi chỉ tiêu: trường chưa đạt, rồi trường chưa báo cáo).")
ui.downloads(view.download_table, f"ai_dang_cham_{year}_{rnd}", "ac_dl",
             percent_columns=laggards.PERCENT_COLUMNS, title=f"Ai đang chậm · {year} {rnd}")
