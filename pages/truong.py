"""Trường: where is this school on each target and on the maturity index, and what should it do next?"""

import streamlit as st

from kpi import export, maturity, scorecard, scoring
from kpi.catalog import LEVEL_LABELS, OWNERSHIP_LABELS
from kpi.figures import STATUS_COLORS, criteria_bars, sparkline_svg, status_text
from kpi.formatting import fmt_points
from pages import _shared as sh

sh.page_guard()

cat = sh.catalog()
year, rnd = sh.period_filters()
schools = sh.school_list()
if schools.empty:
    st.info("Không có trường nào trong phạm vi của bạn.")
    st.stop()
if sh.scope().is_school:
    school_id = sh.scope().school_id  # a principal: their own school, no picker
else:
    school_id = sh.school_picker(schools, "truong", "Trường")
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
st.download_button("Tải phiếu của trường (PDF)", lambda: export.school_pdf(
    sh.connection(), cat, sh.scope(), school_id, year, rnd, sh.scope().snapshot_id),
    f"phieu_{school_id}_{year}_{rnd}.pdf", "application/pdf", key="tr_pdf", on_click="ignore",
    icon=":material/picture_as_pdf:")

cards = scorecard.cards(sh.school_indicators(school_id, year, rnd), cat)
has_data = not cards.empty and cards["value"].notna().any()
if has_data:
    st.subheader("Việc cần làm tiếp")
    for line in scorecard.next_steps(cards):
        st.markdown(f"- {line}")
else:
    st.info("Trường chưa có số liệu kỳ này.")

index_year = maturity.index_year_for(year, rnd)
crit_all, scored = sh.school_maturity([index_year], school_id)
mine = scored[(scored["school_id"] == school_id) & (scored["school_year"] == index_year)]
if len(mine):
    row = mine.iloc[0]
    crit = crit_all[(crit_all["school_id"] == school_id) & (crit_all["school_year"] == index_year)]
    st.subheader(f"Mức độ chuyển đổi số · năm học {index_year}")
    st.caption("Tạm tính: một phần bảng tiêu chí và quy tắc chấm chưa công bố chính thức.")
    cols = st.columns(3)
    cols[0].metric("Mức của trường", f"Mức {row['school_level']}")
    for col, g in zip(cols[1:], cat.index.groups):
        col.metric(f"Nhóm {cat.index.groups[g]}", f"{fmt_points(row[f'{g.lower()}_points'])} điểm",
                   f"Mức {row[f'{g.lower()}_level']}", delta_color="off")
    for g in cat.index.groups:
        st.markdown(f"- {scoring.road_to_next_level(crit, row, g, cat).sentence}")
    with st.expander("Điểm từng tiêu chí"):
        st.plotly_chart(sh.figure(criteria_bars, crit, {k: c.name_vi for k, c in cat.criteria.items()}), theme=None,
                        width="stretch", key="tr_criteria")

if has_data:
    st.subheader("Các chỉ tiêu")
    trend = sh.school_trend(school_id, year)
    cols = st.columns(3)
    for i, (_, c) in enumerate(cards.iterrows()):
        with cols[i % 3].container(border=True):
            st.markdown(f"**{c['clause']}** · {c['label']}")
            st.markdown(f"<span style='font-size:1.6rem;font-weight:600'>{scorecard.value_text(c)}</span>"
                        f" / {scorecard.target_text(c)}", unsafe_allow_html=True)
            st.markdown(f"<span style='color:{STATUS_COLORS[c['status']]};font-weight:600'>"
                        f"{status_text(c['status'])}</span>", unsafe_allow_html=True)
            line = trend[trend["indicator_code"] == c["indicator_code"]]["value"].tolist()
            st.markdown(sparkline_svg(line, None if c["target"] != c["target"] else c["target"]),
                        unsafe_allow_html=True)
            st.caption(scorecard.peer_sentence(c, info["level"]))
            st.page_link(sh.PAGE_FILES["chi_tieu"], label="So với các trường",
                         query_params=sh.link_params(chi_tieu=c["indicator_code"]))
