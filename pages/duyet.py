"""Duyệt số liệu: which schools submitted, what do their figures say, and may they count?"""

import streamlit as st

from kpi.common import faults
from kpi.common.formatting import fmt_int, fmt_percent
from kpi.common.text import clean, plain
from kpi.display import tables
from kpi.domain import workflow
from kpi.workflows import entry
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import current_user, page_guard, session_token

page_guard()

cat, user = data.catalog(), current_user()
year, rnd = ui.period_filters(sources=False)
st.title("Duyệt số liệu")
ui.sample_badge()
st.caption(f"Năm học {year} · {rnd}. Chỉ số liệu đã duyệt được tính vào số liệu toàn đơn vị; bật \"Gồm số liệu đã "
           "nộp, chưa duyệt\" ở thanh bên của các trang số liệu để xem cả số liệu chờ duyệt.")
desk = data.period_desk(year, rnd)  # a school closed since stays decidable
# the last decision's result, drawn beside the button that made it (issue 25: on a phone the top is far away)
ok, text, items, where = st.session_state.pop("dy_msg", (None, "", [], None))


def result_at(place: str) -> None:
    """The last decision's result, if it was made at `place` (its buttons are right below)."""
    if where == place:
        ui.notice(None if ok is None else "ok" if ok else "error", text, items)


def decide(kind: str, *args, at: str = "mot") -> None:
    """A decision (a button's callback, with what the user saw when the button was drawn); `at` names
    the place its result is shown (beside the button)."""
    me = door.Page(session_token(), user)
    try:
        if kind == "duyet":
            msg = door.act("so_lieu_duyet", me, desk, items=args[0], year=year, rnd=rnd)
        elif kind == "tra_lai":
            door.act("so_lieu_tra_lai", me, desk, school_id=args[0], year=year, rnd=rnd, version=args[1],
                     reason=st.session_state.get("dy_reason", ""))
            msg = f"Đã trả lại {desk.names.get(args[0], args[0])}; trường thấy lý do trên trang Nộp số liệu."
        elif kind == "mo_lai":
            door.act("so_lieu_mo_lai", me, desk, school_id=args[0], year=year, rnd=rnd,
                     reason=st.session_state.get("dy_reopen_reason", ""))
            msg = f"Đã mở lại {desk.names.get(args[0], args[0])}; trường sửa rồi nộp lại."
        else:
            msg = door.act("ky_khoa", me, desk, year=year, rnd=rnd)
        st.session_state["dy_msg"] = (True, msg, [], at)
    except (entry.EntryError, workflow.Refused, door.Refused, faults.StoreUnavailable) as e:
        st.session_state["dy_msg"] = (False, str(e), getattr(e, "problems", [])[1:50], at)


queue = data.submission_status(year, rnd)
counts = queue["state"].value_counts()
cols = st.columns(5)
for col, (label, states) in zip(cols, (("Chờ duyệt", ["da_nop"]), ("Đã trả lại", ["tra_lai"]),
                                       ("Đã duyệt", ["da_duyet", "da_khoa"]), ("Đang nhập", ["nhap"]),
                                       ("Chưa nộp", None))):
    n = int((queue["status"] == "chua_nop").sum()) if states is None else int(sum(counts.get(s, 0) for s in states))
    col.metric(label, fmt_int(n))

q_tab, dq_tab, log_tab = ui.lazy_tabs(["Hàng chờ", "Chất lượng số liệu", "Nhật ký"], "dy_tab")
with q_tab:
    if q_tab.open:
        ui.table(tables.queue_table(queue, limit=tables.MAX_TABLE_ROWS), total=len(queue))
        ui.downloads(lambda: tables.queue_table(queue), f"hang_cho_{year}_{rnd}", "dy_queue")  # every row, when clicked
        waiting = queue[queue["state"] == "da_nop"]
        if len(waiting):
            names = dict(zip(waiting["school_id"], waiting["name"]))
            picked = st.multiselect("Duyệt nhiều trường một lần", list(names),
                                    format_func=lambda s: clean(names.get(s, s)), key="dy_batch",
                                    placeholder="Chọn các trường chờ duyệt")
            versions = dict(zip(waiting["school_id"], waiting["version"]))
            result_at("nhieu")
            st.button(f"Duyệt {len(picked)} trường đã chọn", key="dy_approve_batch", disabled=not picked,
                      on_click=decide, args=("duyet", [(s, int(versions[s])) for s in picked]),
                      kwargs={"at": "nhieu"})
        else:
            result_at("nhieu")  # the last ones just approved: the result where the button was
        st.subheader("Xem một trường")
        order = queue.sort_values("state", key=lambda s: s.map({"da_nop": 0, "tra_lai": 1}).fillna(2), kind="stable")
        sid = ui.school_picker(order[["school_id", "name"]], "dy_truong", "Trường", sidebar=False)
        e = desk.entry(sid, year, rnd)
        st.info(f"{plain(desk.names.get(sid, sid))}: {e.status_sentence()}")
        if e.reason:
            st.caption(f"Lý do gần nhất: {plain(e.reason)}")
        form = data.entry_form(sid, year, rnd)
        if e.version:
            detail = tables.entry_table(e, form, cat)
            flagged = detail[detail["Cảnh báo"] != ""]
            if len(flagged):
                st.markdown("**Cảnh báo và giải thích của trường**\n" + "\n".join(
                    f"- {plain(r['Chỉ tiêu thống kê'])}: {plain(r['Cảnh báo'])} · "
                    f"giải thích: *{plain(r['Giải thích']) or 'chưa có'}*"
                    for r in flagged.to_dict("records")))
            st.dataframe(detail, hide_index=True, width="stretch")
        result_at("mot")
        if workflow.allowed(e.state, "duyet", user.role):
            c1, c2 = st.columns([1, 2])
            c1.button("Duyệt", key="dy_approve", type="primary", on_click=decide, args=("duyet", [(sid, e.version)]))
            c2.text_input("Lý do trả lại (trường sẽ thấy)", key="dy_reason")
            c2.button("Trả lại", key="dy_return", on_click=decide, args=("tra_lai", sid, e.version))
        if workflow.allowed(e.state, "mo_lai", user.role):
            st.text_input("Lý do mở lại (trường sẽ thấy)", key="dy_reopen_reason")
            st.button("Mở lại để trường sửa", key="dy_reopen", on_click=decide, args=("mo_lai", sid))
        st.subheader("Khóa kỳ")
        st.caption("Khóa kỳ: số liệu đã duyệt không còn sửa được, các trường không nộp thêm; sửa sau khi khóa cần "
                   "Phòng mở lại từng trường (có ghi lý do và nhật ký).")
        sure = st.checkbox(f"Tôi muốn khóa kỳ {year} · {rnd}", key="dy_lock_sure")
        result_at("khoa")
        st.button("Khóa kỳ", key="dy_lock", disabled=not sure, on_click=decide, args=("khoa",), kwargs={"at": "khoa"})

with dq_tab:
    if dq_tab.open:
        q = data.quality(year, rnd)
        st.caption("Gồm số liệu đã duyệt và số liệu đã nộp chờ duyệt. Bất thường: khác xa phân bố của các trường cùng "
                   "cấp (ngoài khoảng tứ phân vị mở rộng 3 lần; chỉ tiêu là tử số được so theo tỉ lệ trên mẫu số).")
        ui.table(q.table, {"Tỉ lệ": fmt_percent})
        st.subheader(f"Giá trị bất thường ({fmt_int(len(q.outliers))})")
        ui.table(q.outliers)

with log_tab:
    if log_tab.open:
        ui.table(tables.entry_audit_table(data.entry_audit()))
