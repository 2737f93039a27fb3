"""Trường: where is this school on each target, and what should it do next?"""

import streamlit as st

from kpi import scorecard
from kpi.catalog import LEVEL_LABELS, OWNERSHIP_LABELS
from kpi.figures import STATUS_COLORS, status_text
from pages import _shared as sh

sh.page_guard()

cat = sh.catalog()
year, rnd = sh.period_filters()
schools = sh.school_list()
if schools.empty:
    st.info("Không có trường nào trong phạm vi của bạn.")
    st.stop()
names = dict(zip(schools["school_id"], schools["name"]))
if sh.scope().is_school:
    school_id = sh.scope().school_id
else:
    school_id = sh.url_select("Trường", list(names), "truong", format_func=names.get)
info = sh.school_info(school_id, year, rnd)
if info is None:
    st.error("Bạn không có quyền xem trường này.")
    st.stop()

st.title(info["name"])
sh.sample_badge()
st.caption(f"{LEVEL_LABELS[info['level']]} · {OWNERSHIP_LABELS[info['ownership']]} · {info['ward']} · "
           f"{info['unit_name']} · Năm học {year} · {rnd}")
sub = scorecard.submission_status(info)
(st.success if sub.startswith("Đã nộp đúng hạn") else st.warning)(sub)

cards = scorecard.cards(sh.school_indicators(school_id, year, rnd), cat)
if cards.empty or cards["value"].notna().sum() == 0:
    st.info("Trường chưa có số liệu kỳ này.")
    st.stop()

st.subheader("Việc cần làm tiếp")
for line in scorecard.next_steps(cards):
    st.markdown(f"- {line}")

st.subheader("Các chỉ tiêu")
cols = st.columns(3)
for i, (_, c) in enumerate(cards.iterrows()):
    with cols[i % 3].container(border=True):
        st.markdown(f"**{c['clause']}** · {c['label']}")
        st.markdown(f"<span style='font-size:1.6rem;font-weight:600'>{scorecard.value_text(c)}</span>"
                    f" / {scorecard.target_text(c)}", unsafe_allow_html=True)
        st.markdown(f"<span style='color:{STATUS_COLORS[c['status']]};font-weight:600'>"
                    f"{status_text(c['status'])}</span>", unsafe_allow_html=True)
        st.caption(scorecard.peer_sentence(c, info["level"]))
        st.page_link(sh.PAGE_FILES["chi_tieu"], label="So với các trường",
                     query_params=sh.link_params(chi_tieu=c["indicator_code"]))
