"""Nộp số liệu: what are my school's figures this period, are they right, and are they with the Phòng?"""

import streamlit as st

from kpi.catalog.model import LEVEL_LABELS, ROUND_LABELS
from kpi.common import faults
from kpi.common.formatting import fmt_date
from kpi.common.text import plain
from kpi.domain import workflow
from kpi.domain.checks import check_form, shown_value
from kpi.imports.templates import build_template
from kpi.workflows import entry
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import audit, current_user, page_guard, scope, session_token

page_guard()

cat, user, sc = data.catalog(), current_user(), scope()
year, rnd = ui.period_filters(sources=False)
school_id = sc.school_id  # a school account: its own school, whatever the URL says
form = data.entry_form(school_id, year, rnd) if school_id else None
if form is None:
    st.error("Trang này dành cho tài khoản của trường: mỗi trường chỉ nhập số liệu của mình.")
    st.stop()
desk = data.desk()
e = desk.entry(school_id, year, rnd)
keys = {f.code: f"nsl_{f.code}" for f in form.fields}
shown = {f.code: f for f in cat.fields.values()}


def load(values: dict, explanations: dict) -> None:
    """Put stored (or uploaded) values into the form's widgets."""
    for code, key in keys.items():
        st.session_state[key] = values.get(code, "")
        st.session_state[f"nsl_gt_{code}"] = explanations.get(code, "")


if (st.session_state.get("nsl_ctx") != (school_id, year, rnd) or st.session_state.pop("nsl_reload", False)
        or any(k not in st.session_state for k in keys.values())):
    load(e.raw or {c: shown_value(shown[c], v) for c, v in form.approved.items()}, e.explanations)
    st.session_state["nsl_ctx"], st.session_state["nsl_version"] = (school_id, year, rnd), e.version
    st.session_state.pop("nsl_source", None)


def typed() -> tuple[dict, dict]:
    return ({c: st.session_state.get(k, "") for c, k in keys.items()},
            {c: st.session_state.get(f"nsl_gt_{c}", "") for c in keys})


def act(submit: bool) -> None:
    """Lưu nháp / Nộp (a button's callback: runs before the page, so the page shows the result)."""
    raw, expl = typed()
    try:
        saved = door.act("so_lieu_nop" if submit else "so_lieu_luu", door.Page(session_token(), user), desk,
                         school_id=school_id, year=year, rnd=rnd, raw=raw, explanations=expl,
                         version=st.session_state["nsl_version"], previous=form.previous,
                         previous_label=form.previous_label, source=st.session_state.get("nsl_source", "form"))
    except entry.Conflict as c:
        st.session_state["nsl_msg"] = ("conflict", str(c), [])
        return
    except (entry.EntryError, workflow.Refused, door.Refused, faults.StoreUnavailable) as x:
        st.session_state["nsl_msg"] = ("error", str(x), getattr(x, "problems", [])[:50])
        return
    st.session_state["nsl_version"] = saved.version
    st.session_state["nsl_full"] = saved.state != e.state  # the page's head shows the state: redraw it all
    st.session_state["nsl_msg"] = ("ok", f"Đã nộp số liệu lúc {entry.when(saved.submitted_at)}; Phòng sẽ xem và duyệt."
                                   if submit else f"Đã lưu nháp lúc {entry.when(saved.updated_at)}.", [])


st.title(f"Nộp số liệu · {plain(form.name)}")
ui.sample_badge()
st.caption(f"{LEVEL_LABELS[form.level]} · Năm học {year} · {rnd} ({ROUND_LABELS[rnd]}) · hạn nộp "
           f"{fmt_date(form.deadline)} · ô có dấu * là bắt buộc; để trống nếu chưa có số liệu (không tính là 0)")
(st.warning if e.state in ("tra_lai", "da_khoa") else st.info)(e.status_sentence())
if e.state == "tra_lai" and e.reason:
    st.warning(f"Lý do Phòng trả lại: {plain(e.reason)}", icon="↩️")
editable = workflow.allowed(e.state, "luu", user.role)

if editable:
    with st.expander("Tải lên biểu mẫu đã điền thay cho gõ tay"):
        st.download_button("Tải biểu mẫu của trường", lambda: build_template(
            cat, data.school_list(), year, rnd, form.level, data.meta().get("unit_name", "")),
            f"bieu_mau_{school_id}_{year}_{rnd}.xlsx", key="nsl_template", on_click="ignore",
            icon=":material/download:")
        up = ui.file_uploader("Tệp XLSX hoặc CSV của trường", type=["xlsx", "csv", "txt"], key="nsl_upload")
        if up is not None and st.session_state.get("nsl_file") != up.file_id:
            st.session_state["nsl_file"] = up.file_id
            values, problems = entry.values_from_file(up.name, up.getvalue(), school_id, year, rnd,
                                                      data.connection(), cat)
            if problems:
                st.error(f"{plain(up.name)}: {len(problems)} lỗi, chưa điền gì vào biểu mẫu."
                         + "".join(f"\n- {plain(p)}" for p in problems[:50]))
            else:
                load(values, typed()[1])
                st.session_state["nsl_source"] = f"tệp {up.name}"
                audit("nop_tep", {"truong": school_id, "ky": f"{year} {rnd}", "tep": up.name, "gia_tri": len(values)})
                st.success(f"Đã điền {len(values)} giá trị từ {plain(up.name)}: kiểm tra, giải thích các cảnh báo "
                           "rồi lưu hoặc nộp (tệp qua đúng các kiểm tra của trang này).")


@st.fragment
def body() -> None:
    """The fields, checked as the user types (a pause reruns only this part), and the buttons."""
    if st.session_state.pop("nsl_full", False):
        st.rerun()
    # the last save's result is drawn beside the buttons (a phone shows the top of the page 5.000 px away);
    # a refused one is also named at the top, so no one reads the page as sent (issue 25)
    kind, text, items = st.session_state.pop("nsl_msg", (None, "", []))
    if kind == "error":
        st.error(f"{plain(text)} Xem lỗi ở từng ô và cạnh nút Nộp.")
    stale = desk.entry(school_id, year, rnd)
    if stale.version != st.session_state["nsl_version"]:
        if kind != "conflict":
            who, at = stale.last_change()
            st.warning(f"Số liệu vừa được {who} thay đổi lúc {entry.when(at)}; tải lại để xem (thay đổi chưa lưu ở "
                       "đây sẽ mất).")
        if st.button("Tải lại bản mới nhất", key="nsl_reload_btn"):
            st.session_state["nsl_reload"] = True
            st.rerun()
    raw, expl = typed()
    check = check_form(raw, expl, form.level, cat, form.previous, form.previous_label)
    previous_heading = form.previous_heading[:1].lower() + form.previous_heading[1:]  # "kỳ trước (2023-2024 HK1)"
    for group, fields in form.groups:
        st.subheader(group)
        for f in fields:
            # the previous period's figure in the field's own label (read with it, on a phone as on a desk): one
            # element a field instead of a row of two columns and a caption, a third of the page's run (a save
            # redraws every field)
            label = (f"{f.label} ({f.unit})" + (" *" if f.required else "")
                     + f" · {previous_heading}: **{plain(f.previous) or '—'}**")
            if f.kind == "bool":
                st.selectbox(label, ["", "Có", "Không"], key=keys[f.code], disabled=not editable,
                             format_func=lambda v: v or "— chưa chọn —")
            else:
                st.text_input(label, key=keys[f.code], disabled=not editable, placeholder="để trống nếu chưa có",
                              live="400ms")
            for m in check.problems.get(f.code, []):
                st.error(f"{f.label}: {plain(m)}", icon="✖")
            for fl in check.flags.get(f.code, []):
                st.warning(f"{f.label}: {plain(fl.message)}", icon="⚠️")
            if f.code in check.flags:
                st.text_input(f"Giải thích cho '{f.label}' (bắt buộc khi nộp)", key=f"nsl_gt_{f.code}",
                              disabled=not editable, max_chars=cat.checks.explain_max, live="400ms")
    if editable:
        st.divider()
        ui.notice("error" if kind == "conflict" else kind, text, items)
        c1, c2 = st.columns(2, width=420)
        c1.button("Lưu nháp", key="nsl_save", on_click=act, args=(False,), icon=":material/save:")
        c2.button("Nộp", key="nsl_submit", type="primary", on_click=act, args=(True,), icon=":material/send:",
                  disabled=not workflow.allowed(e.state, "nop", user.role))
        st.caption("Lưu nháp giữ số liệu (kể cả khi tải lại trang hay đăng xuất) mà chưa gửi Phòng; Nộp gửi số liệu "
                   "để Phòng duyệt: cần sửa hết lỗi và giải thích các cảnh báo.")
    else:  # just submitted: nothing left to edit, the result where the buttons were
        ui.notice(kind, text, items)


body()
