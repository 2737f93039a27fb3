"""Trường: where is this school on each target and on the maturity index, and what should it do next?"""

import html

import streamlit as st

from kpi.common.text import plain
from kpi.display import chart_text
from kpi.display.figures import STATUS_COLORS
from kpi.exports import school_pdf as school_report
from kpi.workflows import publication
from pages import _data as data
from pages import _widgets as ui
from pages._frame import audit, current_user, page_guard, scope

page_guard()

year, rnd = ui.period_filters()
if scope().is_school:
    school_id = scope().school_id  # a principal: their own school, no picker
else:
    schools = data.school_list((year, rnd))  # the period's schools: one closed since then stays reachable
    if schools.empty:
        st.info("Không có trường nào trong phạm vi của bạn.")
        st.stop()
    school_id = ui.school_picker(schools, "truong", "Trường")
card = data.scorecard(school_id, year, rnd)
if card is None:
    if school_id in set(data.school_list()["school_id"]):
        st.info("Trường chưa hoạt động trong kỳ này (mở sau hạn nộp của kỳ); chọn kỳ khác.")
    else:
        st.error("Bạn không có quyền xem trường này.")
    st.stop()

st.title(plain(card.name))
ui.sample_badge()
st.caption(plain(card.caption))
if card.returned:
    st.warning(plain(card.submission), icon=":material/undo:")
    st.markdown(plain(f"Lý do Phòng trả lại: {card.return_reason or '(Phòng không ghi lý do)'}"))  # typed by a person
    if scope().is_school:
        st.page_link(ui.PAGE_FILES["nop_so_lieu"], label="Sửa và nộp lại", icon=":material/edit:")
else:
    (st.success if card.submitted_on_time else st.warning)(plain(card.submission))
# the file is made when clicked, outside this run: take what it needs now
store, cat, sc, user = data.store(), data.catalog(), scope(), current_user()


def school_pdf() -> bytes:
    pdf = school_report.school_pdf(store, cat, sc, school_id, year, rnd, sc.snapshot_id)
    audit("tai_phieu_truong", {"truong": school_id, "ky": f"{year} {rnd}"}, user)
    return pdf


st.download_button("Tải phiếu của trường (PDF)", school_pdf,
    f"phieu_{school_id}_{year}_{rnd}.pdf", "application/pdf", key="tr_pdf", on_click="ignore",
    icon=":material/picture_as_pdf:")

if card.has_data:
    st.subheader("Việc cần làm tiếp")
    st.markdown("\n".join(f"- {line}" for line in card.next_steps))
else:
    st.info("Trường chưa có số liệu kỳ này.")

if card.maturity is not None:
    m = card.maturity
    st.subheader(f"Mức độ chuyển đổi số · năm học {m.school_year}")
    done, said = publication.sentence(data.publications(m.school_year, school_id), m.school_year, school=True)
    (st.success if done else st.info)(said, icon=":material/verified:" if done else None)
    st.caption("Tạm tính: một phần bảng tiêu chí và quy tắc chấm chưa công bố chính thức.")
    st.caption(m.sources)
    cols = st.columns(1 + len(m.groups))
    cols[0].metric("Mức của trường (điểm chỉ số)", f"Mức {m.level}")
    for col, (label, points, level) in zip(cols[1:], m.groups):
        col.metric(label, level)  # the level as the value, its points under it (never an arrow: nothing rose)
        col.caption(points)
    st.markdown("\n".join(f"- {road}" for road in m.roads))
    with st.expander("Điểm từng tiêu chí"):
        st.plotly_chart(m.figure, theme=None, width="stretch", key="tr_criteria",
                        alt=chart_text.criteria_name(card.name, m.criteria))
        ui.table(chart_text.criteria_table(m.criteria, m.names), first=("Tiêu chí",), widths={"Nội dung": "large"})

if card.has_data:
    st.subheader("Các chỉ tiêu")
    for i, c in enumerate(card.cards):
        if i % 3 == 0:  # a row of three at a time: Tab and a phone's stacking follow the plan's order
            cols = st.columns(3)
        with cols[i % 3].container(border=True):
            st.markdown(
                f"**{html.escape(c.heading)}**<br>"
                f"<span style='font-size:1.6rem;font-weight:600'>{c.value}</span> / {c.target}<br>"
                f"<span style='color:{STATUS_COLORS[c.status]};font-weight:600'>{c.status_text}</span><br>"
                f"{c.sparkline}<br><small style='color:#555'>{html.escape(c.peers)}</small>",
                unsafe_allow_html=True)
            st.page_link(ui.PAGE_FILES["chi_tieu"], label=f"So với các trường · {c.heading}",
                         query_params=ui.link_params(chi_tieu=c.code))
