"""Tự đánh giá CĐS: how does my school score itself on the maturity index this year, with what evidence?"""

import streamlit as st

from kpi.common import faults
from kpi.common.formatting import fmt_points
from kpi.common.text import plain
from kpi.domain.scorecard import POINT_SOURCE_NAMES
from kpi.workflows import assessment as asm
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import current_user, page_guard, scope, session_token

page_guard()

cat, user, sc = data.catalog(), current_user(), scope()
if not sc.is_school or user.role != "hieu_truong":
    st.error("Trang này dành cho hiệu trưởng: mỗi trường tự đánh giá trường mình.")
    st.stop()
school_id = sc.school_id  # the own school, whatever the URL says
years = list(dict.fromkeys(data.periods()["school_year"]))
year = ui.url_select("Năm học", years, "nam_hoc")
desk = data.assessor()
if school_id not in desk.schools:
    st.info("Bộ chỉ số mức độ chuyển đổi số không áp dụng cho cấp học của trường.")
    st.stop()
a = desk.assessment(user, school_id, year)
points, used = data.suggestions(school_id, year)
crit = asm.scored_criteria(cat)
deadline, _ = desk.cycle(year)


def load(a: asm.Assessment) -> None:
    """Put the stored assessment into the widgets."""
    for c in crit:
        it = a.items.get(c.code, asm.Item(c.code))
        if c.rule == "condition":
            st.session_state[f"tdg_m_{c.code}"] = {True: "Đạt", False: "Chưa đạt"}.get(it.self_met, "")
        else:
            st.session_state[f"tdg_p_{c.code}"] = "" if it.self_points is None else fmt_points(it.self_points)
        st.session_state[f"tdg_n_{c.code}"] = it.note


if (st.session_state.get("tdg_ctx") != (school_id, year) or st.session_state.pop("tdg_reload", False)
        or any(f"tdg_n_{c.code}" not in st.session_state for c in crit)):
    load(a)
    st.session_state["tdg_ctx"], st.session_state["tdg_version"] = (school_id, year), a.version


def typed() -> dict[str, dict]:
    out = {}
    for c in crit:
        note = st.session_state.get(f"tdg_n_{c.code}", "")
        if c.rule == "condition":
            out[c.code] = {"met": {"Đạt": True, "Chưa đạt": False}.get(st.session_state.get(f"tdg_m_{c.code}")),
                           "note": note}
        else:
            out[c.code] = {"points": st.session_state.get(f"tdg_p_{c.code}"), "note": note}
    return out


def act(submit: bool) -> None:
    """Lưu nháp / Nộp (a button's callback)."""
    try:
        saved = door.act("danh_gia_nop" if submit else "danh_gia_luu", door.Page(session_token(), user), desk,
                         school_id=school_id, year=year, values=typed(), version=st.session_state["tdg_version"])
    except (asm.AssessmentError, door.Refused, faults.StoreUnavailable) as x:
        st.session_state["tdg_msg"] = ("error", str(x), x.problems[:40], "form")
        return
    st.session_state["tdg_version"] = saved.version
    st.session_state["tdg_msg"] = ("ok", f"Đã nộp bản tự đánh giá lúc {asm.when(saved.submitted_at)}; Phòng sẽ xét "
                                   "duyệt." if submit else f"Đã lưu nháp lúc {asm.when(saved.updated_at)}.", [], "form")


def recompute() -> None:
    """Tính lại: the form's values are now in the page; the running total above is theirs."""
    st.session_state["tdg_msg"] = ("info", "Đã tính lại mức theo các điểm đang điền (chưa lưu).", [], "form")


def attach() -> None:
    """Đính kèm minh chứng (a button's callback)."""
    up = st.session_state.get("tdg_file")
    if up is None:
        st.session_state["tdg_msg"] = ("error", "Chưa chọn tệp minh chứng.", [], "attach")
        return
    try:
        door.act("minh_chung_dinh_kem", door.Page(session_token(), user), desk, school_id=school_id, year=year,
                 code=st.session_state["tdg_ev_tc"], name=up.name, data=up.getvalue())
    except (asm.AssessmentError, door.Refused, faults.StoreUnavailable) as x:
        st.session_state["tdg_msg"] = ("error", str(x), [], "attach")
        return
    st.session_state["tdg_version"] = desk.assessment(user, school_id, year).version
    st.session_state["tdg_msg"] = ("ok", f"Đã đính kèm {asm.safe_name(up.name)}.", [], "attach")


def detach(evidence_id: int) -> None:
    try:
        door.act("minh_chung_go", door.Page(session_token(), user), desk, evidence_id=evidence_id)
        st.session_state["tdg_version"] = desk.assessment(user, school_id, year).version
    except (asm.AssessmentError, door.Refused, faults.StoreUnavailable) as x:
        st.session_state["tdg_msg"] = ("error", str(x), [], "attach")


st.title(f"Tự đánh giá mức độ chuyển đổi số · {plain(desk.names.get(school_id, school_id))}")
ui.sample_badge()
st.caption(f"{cat.index.name_vi} ({cat.index.decision}) · Năm học {year} · "
           f"{asm.progress_sentence(desk.progress(year))}")
# The last action's result stays until the next action (a run cut short by a newer one must not lose it).
# It is shown where the action was taken (beside its button, each criterion's problem at the criterion);
# a refused save or submit is also named at the top, so no one reads the page as sent (issue 25).
kind, text, items, where = (*st.session_state.get("tdg_msg", (None, "", [])), "form")[:4]
if kind == "error" and where == "form":
    st.error(f"{plain(text)} Xem lỗi ở từng tiêu chí và cạnh nút Nộp.")
(st.warning if a.state == "tra_lai" else st.info)(a.status_sentence())
if a.reason and a.state == "tra_lai":
    st.warning(f"Lý do Phòng trả lại: {plain(a.reason)}", icon="↩️")
editable = asm.allowed(a.state, "luu", user.role)
if a.version != st.session_state["tdg_version"]:
    st.warning("Bản đánh giá vừa được thay đổi ở nơi khác; tải lại để xem (thay đổi chưa lưu ở đây sẽ mất).")
    if st.button("Tải lại bản mới nhất", key="tdg_reload_btn"):
        st.session_state["tdg_reload"] = True
        st.rerun()

result = asm.running_result(typed(), points, school_id, year, cat)
cols = st.columns(1 + len(result["groups"]))
cols[0].metric("Mức theo bản tự đánh giá đang điền", f"Mức {result['level']}")
for col, (g, label, pts, level, unmet) in zip(cols[1:], result["groups"]):
    col.metric(f"Nhóm {label} · tự đánh giá", f"{fmt_points(pts)} điểm")
    col.caption(f"Mức {level}" + (f" · chưa đạt điều kiện bắt buộc {unmet}" if unmet else ""))
st.caption(f"Đã trả lời {result['answered']}/{result['total']} tiêu chí. Tiêu chí chưa nhập điểm được tính theo gợi ý "
           "từ số liệu (nếu có). Mức 1 dưới 50 điểm, Mức 2 từ 50 đến 75, Mức 3 trên 75 điểm mỗi nhóm. Đây là điểm "
           "tự đánh giá của bản đang điền; trang Trường hiện điểm chỉ số (mỗi tiêu chí lấy điểm "
           + ", rồi ".join(POINT_SOURCE_NAMES[s] for s in cat.index.precedence) + ")."
           + (" Các ô điểm được gửi khi bấm Tính lại, Lưu nháp hoặc Nộp (gõ không tải lại trang)." if editable else ""))

files: dict[str, list] = {}
for e in a.evidence:
    files.setdefault(e.criterion_code, []).append(e)
# a refused save/submit: each problem beside the criterion it names ("DH4 Học liệu số hóa: …", "QT1: …")
at_field: dict[str, list[str]] = {}
for prob in items if kind == "error" and where == "form" else []:
    code = prob.split(":", 1)[0].split(" ", 1)[0]
    at_field.setdefault(code, []).append(prob)
# The fields sit in one form: typing 13 scores sends nothing until Tính lại / Lưu nháp / Nộp (a rerun per
# field made the page take seconds on a phone); the buttons are the form's, so they carry what was typed.
body = st.form("tdg_form", border=False, enter_to_submit=False) if editable else st.container()
with body:
    for g, label in cat.index.groups.items():
        st.subheader(f"Nhóm {label}")
        for c in (c for c in crit if c.group_code == g):
            it = a.items.get(c.code, asm.Item(c.code))
            with st.container(border=True):
                head = f"**{c.code} · {c.name_vi}**"
                head += " · điều kiện bắt buộc (Đạt / Chưa đạt)" if c.rule == "condition" else \
                    f" · tối đa {fmt_points(c.max_points)} điểm"
                st.markdown(head)
                st.caption(asm.how_scored(c, cat) + (" Tạm tính: tiêu chí hoặc cách chấm chỉ biết từ nguồn không "
                                                     "chính thức." if c.provisional else
                                                     " Nguồn chính thức (QĐ 4725/QĐ-BGDĐT)."))
                if c.code in points:
                    st.caption(f"Gợi ý từ số liệu trường đã báo cáo: **{fmt_points(points[c.code])} điểm** "
                               f"({used.get(c.code, '')})")
                if it.returned:
                    st.warning("Phòng yêu cầu xem lại tiêu chí này" + (f": {plain(it.comment)}" if it.comment else "."))
                elif it.comment:
                    st.caption(f"Nhận xét của Phòng: {plain(it.comment)}")
                if it.verified_points is not None or it.verified_met is not None:
                    shown = fmt_points(it.verified_points) + " điểm" if c.rule != "condition" else \
                        ("Đạt" if it.verified_met else "Chưa đạt")
                    st.caption(f"Phòng xác nhận: {shown}")
                left, right = st.columns([1, 3])
                if c.rule == "condition":
                    left.selectbox("Tự đánh giá", ["", "Đạt", "Chưa đạt"], key=f"tdg_m_{c.code}",
                                   disabled=not editable, format_func=lambda v: v or "— chưa chọn —")
                else:
                    left.text_input("Điểm tự đánh giá", key=f"tdg_p_{c.code}", disabled=not editable,
                                    placeholder=f"0 đến {fmt_points(c.max_points)}")
                    why = asm.points_problem(st.session_state.get(f"tdg_p_{c.code}"), c)
                    if why and why not in at_field.get(c.code, []):
                        st.error(why, icon="✖")
                right.text_input("Ghi chú", key=f"tdg_n_{c.code}", disabled=not editable, max_chars=asm.NOTE_MAX)
                for prob in at_field.get(c.code, []):
                    st.error(plain(prob), icon="✖")
                if files.get(c.code):
                    st.caption("Minh chứng: " + ", ".join(plain(e.file_name) for e in files[c.code])
                               + " (tải hoặc gỡ ở mục Minh chứng đã đính kèm bên dưới)")
    if editable:
        st.divider()
        st.caption(f"Mức theo bản đang điền: Mức {result['level']} · đã trả lời {result['answered']}/"
                   f"{result['total']} tiêu chí (bấm Tính lại sau khi sửa điểm để cập nhật).")
        if where == "form":  # the result of Tính lại / Lưu nháp / Nộp, right above their buttons
            ui.notice(kind, text, items)
        c1, c2, c3 = st.columns(3, width=480)
        c1.form_submit_button("Tính lại", key="tdg_recompute", on_click=recompute, icon=":material/calculate:")
        c2.form_submit_button("Lưu nháp", key="tdg_save", on_click=act, args=(False,), icon=":material/save:")
        c3.form_submit_button("Nộp", key="tdg_submit", type="primary", on_click=act, args=(True,),
                              icon=":material/send:", disabled=not asm.allowed(a.state, "nop", user.role))
        st.caption("Lưu nháp giữ bản đánh giá mà chưa gửi Phòng; Nộp gửi để Phòng xét duyệt: cần trả lời mọi tiêu chí.")
if where == "form" and not editable:  # just submitted: nothing left to edit, the result where the buttons were
    ui.notice(kind, text, items)

if a.evidence:
    st.subheader("Minh chứng đã đính kèm")
    for e in sorted(a.evidence, key=lambda e: [c.code for c in crit].index(e.criterion_code)
                    if e.criterion_code in cat.criteria else 0):
        c1, c2 = st.columns([3, 1])
        c1.download_button(f"{e.criterion_code} · {plain(e.file_name)} ({asm.KINDS[e.kind][0]}, "
                           f"{fmt_points(e.size / 1024)} KB)",
                           lambda eid=e.evidence_id, me=door.Page(session_token(), user):
                           door.act("minh_chung_tai", me, desk, evidence_id=eid)[2], e.file_name,
                           asm.KINDS[e.kind][1], key=f"tdg_ev_{e.evidence_id}", on_click="ignore",
                           icon=":material/attach_file:")
        if editable:
            c2.button("Gỡ", key=f"tdg_go_{e.evidence_id}", on_click=detach, args=(e.evidence_id,))

if editable:
    st.subheader("Đính kèm minh chứng")
    st.caption(f"Nhận {asm.ALLOWED_TEXT}; mỗi tệp tối đa {fmt_points(asm.MAX_FILE / 1024 / 1024)} MB, cả năm học tối "
               f"đa {fmt_points(asm.MAX_SCHOOL / 1024 / 1024)} MB mỗi trường. Chỉ trường và Phòng xem được minh chứng.")
    st.selectbox("Tiêu chí", [c.code for c in crit], key="tdg_ev_tc",
                 format_func=lambda code: cat.criteria[code].short_label)
    ui.file_uploader("Tệp minh chứng", key="tdg_file", type=["pdf", "png", "jpg", "jpeg", "docx", "xlsx", "pptx"])
    if where == "attach":  # the result of Đính kèm / Gỡ, right above the button
        ui.notice(kind, text, items)
    st.button("Đính kèm", key="tdg_attach", on_click=attach, icon=":material/upload_file:")
