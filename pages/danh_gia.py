"""Đánh giá CĐS: where is the yearly maturity assessment, which self-assessments need a look, and what is published?"""

import pandas as pd
import streamlit as st

from kpi.common import faults
from kpi.common.formatting import fmt_date, fmt_int, fmt_points
from kpi.common.text import plain
from kpi.workflows import assessment as asm
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import current_user, page_guard, session_token

page_guard()

cat, user = data.catalog(), current_user()
years = list(dict.fromkeys(data.periods()["school_year"]))
year = ui.url_select("Năm học", years, "nam_hoc")
desk = data.assessor()
st.title("Đánh giá mức độ chuyển đổi số")
ui.sample_badge()
p = desk.progress(year)
st.caption(f"Năm học {year} · {asm.progress_sentence(p)} Ngưỡng đánh dấu chênh lệch giữa điểm tự chấm và điểm tính từ "
           f"số liệu: {fmt_points(p['threshold'])} điểm.")
# the last decision's result, until the next one, drawn beside the button that made it (issue 25)
ok, text, items, where = (*st.session_state.get("dg_msg", (None, "", [])), None)[:4]
PLACES = {"xac_nhan": "xac_nhan", "tra_lai": "quyet", "duyet": "quyet", "mo_lai": "quyet", "han": "han"}


def result_at(place: str) -> None:
    """The last decision's result, if it was made at `place` (its button is right below)."""
    if where == place:
        ui.notice(None if ok is None else "ok" if ok else "error", text, items)


def decide(kind: str, *args) -> None:
    """A decision (a button's callback, with what the user saw when the button was drawn)."""
    s, me = st.session_state, door.Page(session_token(), user)
    try:
        if kind == "xac_nhan":
            sid, code, version = args
            cond = cat.criteria[code].rule == "condition"
            met = {"Đạt": True, "Chưa đạt": False}.get(s.get("dg_dat")) if cond else None
            door.act("danh_gia_xac_nhan", me, desk, school_id=sid, year=year, code=code,
                     points=None if cond else s.get("dg_diem"), met=met, comment=s.get("dg_nhan_xet", ""),
                     version=version)
            msg = f"Đã xác nhận điểm tiêu chí {code} của {desk.names.get(sid, sid)}."
        elif kind == "tra_lai":
            sid, version = args
            door.act("danh_gia_tra_lai", me, desk, school_id=sid, year=year, version=version,
                     reason=s.get("dg_ly_do", ""), criteria={c: s.get("dg_tra_nx", "") for c in s.get("dg_tra_tc", [])})
            msg = f"Đã trả lại {desk.names.get(sid, sid)}; trường thấy lý do và các tiêu chí cần sửa."
        elif kind == "duyet":
            sid, version = args
            door.act("danh_gia_duyet", me, desk, school_id=sid, year=year, version=version)
            msg = f"Đã duyệt bản tự đánh giá của {desk.names.get(sid, sid)}."
        elif kind == "mo_lai":
            door.act("danh_gia_mo_lai", me, desk, school_id=args[0], year=year, reason=s.get("dg_ly_do_mo", ""))
            msg = f"Đã mở lại {desk.names.get(args[0], args[0])}."
        elif kind == "han":
            door.act("danh_gia_han", me, desk, year=year, deadline=s["dg_han"], threshold=s["dg_nguong"])
            msg = f"Đã đặt hạn nộp {fmt_date(s['dg_han'])}, ngưỡng {fmt_points(s['dg_nguong'])} điểm."
        else:
            pid = door.act("danh_gia_cong_bo", me, desk, year=year)
            msg = f"Đã công bố kết quả năm học {year} (lần công bố {pid})."
        st.session_state["dg_msg"] = (True, msg, [], PLACES.get(kind, "cong_bo"))
    except (asm.AssessmentError, door.Refused, faults.StoreUnavailable) as e:
        st.session_state["dg_msg"] = (False, str(e), e.problems[1:40], PLACES.get(kind, "cong_bo"))


cols = st.columns(len(asm.STATES))
for col, (code, label) in zip(cols, (("chua_bat_dau", "Chưa bắt đầu"), ("nhap", "Đang nháp"), ("da_nop", "Đã nộp"),
                                     ("tra_lai", "Trả lại"), ("da_duyet", "Đã duyệt"), ("da_cong_bo", "Đã công bố"))):
    col.metric(label, fmt_int(p["counts"][code]))

states = desk.states(year)
_, threshold = desk.cycle(year)


def flagged_count(sid: str) -> int:
    rows = desk.review_rows(desk.assessment(user, sid, year), data.suggestions(sid, year)[0], threshold)
    return int(rows["flagged"].sum())


review_tab, progress_tab, publish_tab, log_tab = ui.lazy_tabs(["Xét duyệt", "Tiến độ", "Công bố", "Nhật ký"], "dg_tab")
with review_tab:
    if review_tab.open:
        waiting = states[states["state"] == "da_nop"].copy()
        waiting["flags"] = [flagged_count(s) for s in waiting["school_id"]]
        waiting = waiting.sort_values(["flags", "school_id"], ascending=[False, True])
        st.caption("Bản đã nộp chờ xét duyệt, trường có nhiều tiêu chí chênh lệch lớn lên trước.")
        ui.table(waiting.assign(submitted_at=[asm.when(t) for t in waiting["submitted_at"]]).rename(columns={
            "school_id": "Mã trường", "name": "Tên trường", "submitted_at": "Nộp lúc",
            "flags": "Tiêu chí chênh lệch lớn"})[["Mã trường", "Tên trường", "Nộp lúc", "Tiêu chí chênh lệch lớn"]])
        # the waiting schools first; over 300 schools a search box (a list of 53.000 options cost a second a run)
        order = pd.concat([waiting[["school_id", "name"]],
                           states.loc[~states["school_id"].isin(waiting["school_id"]), ["school_id", "name"]]])
        names = desk.names
        sid = ui.school_picker(order, "dg_truong", "Trường", sidebar=False) if len(order) else None
        if sid:
            a = desk.assessment(user, sid, year)
            points, used = data.suggestions(sid, year)
            st.info(f"{plain(names.get(sid, sid))}: {a.status_sentence()}")
            if a.reason:
                st.caption(f"Lý do gần nhất: {plain(a.reason)}")
            rows = desk.review_rows(a, points, threshold)

            def pts(v, met=None, cond=False):
                if cond:
                    return {True: "Đạt", False: "Chưa đạt"}.get(met, "—")
                return "—" if v is None or pd.isna(v) else fmt_points(v)
            shown = [{"⚑": "⚑ chênh lệch" if r.flagged else "", "Tiêu chí": r.code, "Tên": r.name,
                      "Tối đa": "điều kiện" if r.condition else fmt_points(r.max_points),
                      "Trường tự chấm": pts(r.self_points, r.self_met, r.condition),
                      "Tính từ số liệu": pts(r.computed), "Phòng xác nhận": pts(r.verified_points, r.verified_met,
                                                                             r.condition),
                      "Tạm tính": "tạm tính" if r.provisional else "", "Minh chứng": fmt_int(r.evidence),
                      "Ghi chú của trường": r.note, "Nhận xét của Phòng": r.comment,
                      "Trả lại": "trả lại" if r.returned else ""} for r in rows.itertuples()]
            # points (or Đạt / Chưa đạt for a condition) read as numbers: right-aligned, the column wide
            # enough for "điều kiện"
            right = {c: {"alignment": "right"} for c in ("Trường tự chấm", "Tính từ số liệu", "Phòng xác nhận",
                                                          "Minh chứng")}
            ui.table(pd.DataFrame(shown), first=("⚑", "Tiêu chí", "Tên"), widths={"Tối đa": 90, "⚑": 110},
                     column_config={**right, "Tối đa": {"alignment": "right", "width": 90}})
            if a.evidence:
                with st.expander(f"Minh chứng ({fmt_int(len(a.evidence))} tệp)", expanded=True):
                    for e in a.evidence:
                        st.download_button(f"{e.criterion_code} · {plain(e.file_name)} ({asm.KINDS[e.kind][0]}, "
                                           f"{fmt_points(e.size / 1024)} KB)",
                                           lambda eid=e.evidence_id, me=door.Page(session_token(), user):
                                           door.act("minh_chung_tai", me, desk, evidence_id=eid)[2], e.file_name,
                                           asm.KINDS[e.kind][1], key=f"dg_ev_{e.evidence_id}", on_click="ignore",
                                           icon=":material/attach_file:")
            if asm.allowed(a.state, "xac_nhan", user.role):
                st.subheader("Xác nhận hoặc sửa điểm một tiêu chí")
                codes = list(rows["code"])
                code = st.selectbox("Tiêu chí", codes, key="dg_tc", format_func=lambda c: cat.criteria[c].short_label)
                c = cat.criteria[code]
                mine = a.items.get(code, asm.Item(code))
                if code in used:
                    st.caption(f"Tính từ số liệu: {fmt_points(points[code])} điểm ({used[code]})")
                if c.rule == "condition":
                    st.selectbox("Phòng xác nhận", ["", "Đạt", "Chưa đạt"], key="dg_dat")
                else:
                    if st.session_state.get("dg_diem_tc") != (sid, code):
                        start = mine.verified_points if mine.verified_points is not None else mine.self_points
                        st.session_state["dg_diem"] = "" if start is None else fmt_points(start)
                        st.session_state["dg_diem_tc"] = (sid, code)
                    st.text_input(f"Điểm Phòng xác nhận (0 đến {fmt_points(c.max_points)}, bước 0,5)", key="dg_diem")
                st.text_input("Nhận xét (bắt buộc khi điểm khác điểm trường tự chấm)", key="dg_nhan_xet")
                result_at("xac_nhan")
                st.button("Xác nhận điểm", key="dg_xac_nhan", on_click=decide, args=("xac_nhan", sid, code, a.version))
                st.subheader("Trả lại hoặc duyệt")
                st.multiselect("Tiêu chí trường cần xem lại", codes, key="dg_tra_tc",
                               format_func=lambda c: cat.criteria[c].short_label,
                               placeholder="Chọn tiêu chí (nếu trả lại)")
                st.text_input("Nhận xét cho các tiêu chí trả lại", key="dg_tra_nx")
                st.text_input("Lý do trả lại (trường sẽ thấy)", key="dg_ly_do")
                result_at("quyet")
                c1, c2 = st.columns(2, width=420)
                c1.button("Trả lại", key="dg_tra_lai", on_click=decide, args=("tra_lai", sid, a.version))
                c2.button("Duyệt", key="dg_duyet", type="primary", on_click=decide, args=("duyet", sid, a.version))
                st.caption("Duyệt: tiêu chí Phòng chưa xác nhận lấy điểm trường tự chấm làm điểm xác nhận.")
            else:  # just decided: the result where the buttons were
                result_at("quyet")
            if asm.allowed(a.state, "mo_lai", user.role):
                st.text_input("Lý do mở lại (trường sẽ thấy)", key="dg_ly_do_mo")
                st.button("Mở lại để trường sửa", key="dg_mo_lai", on_click=decide, args=("mo_lai", sid))

with progress_tab:
    if progress_tab.open:
        st.caption(f"{fmt_int(p['schools'])} trường thuộc diện đánh giá; {fmt_int(p['late'])} trường nộp sau hạn.")
        ui.table(states.assign(state=states["state"].map(asm.STATES),
                               submitted_at=[asm.when(t) for t in states["submitted_at"]],
                               late=states["late"].map({True: "nộp muộn", False: ""})).rename(columns={
            "school_id": "Mã trường", "name": "Tên trường", "level": "Cấp học", "state": "Trạng thái",
            "submitted_at": "Nộp lúc", "late": "Đúng hạn", "returned": "Tiêu chí đang trả lại"}))
        st.subheader("Danh sách nhắc nộp")
        reminders = desk.reminders(year)
        ui.table(reminders)
        ui.downloads(reminders, f"nhac_nop_danh_gia_cds_{year}", "dg_nhac")
        st.subheader("Hạn nộp và ngưỡng chênh lệch")
        deadline, thr = desk.cycle(year)
        st.date_input("Hạn nộp bản tự đánh giá", value=deadline, key="dg_han", format="DD/MM/YYYY")
        st.number_input("Ngưỡng chênh lệch (điểm)", min_value=0.5, max_value=100.0, step=0.5, value=float(thr),
                        format="%g", key="dg_nguong")
        result_at("han")
        st.button("Lưu hạn và ngưỡng", key="dg_luu_han", on_click=decide, args=("han",))

with publish_tab:
    if publish_tab.open:
        pubs = data.publications()
        st.caption("Công bố ghi điểm cuối cùng của các trường đã duyệt vào số liệu toàn đơn vị (trang Chỉ số CĐS, "
                   "phiếu của trường và các tệp xuất dùng kết quả này), đóng băng và ghi mã kiểm tra; "
                   "các năm đã công bố giữ nguyên.")
        if len(pubs):
            ui.table(pubs.assign(published_at=[fmt_date(t) for t in pubs["published_at"]],
                                 content_hash=[h[:16] + "…" for h in pubs["content_hash"]]).drop(
                columns=["includes_school"]).rename(columns={
                    "publication_id": "Lần công bố", "school_year": "Năm học", "published_by": "Người công bố",
                    "published_at": "Ngày", "schools": "Số trường", "content_hash": "Mã kiểm tra (SHA-256)"}))
        else:
            st.info("Chưa có lần công bố nào.")
        ready = p["counts"]["da_duyet"]
        st.write(f"Năm học {year}: {fmt_int(ready)} trường đã duyệt chờ công bố, {fmt_int(p['counts']['da_cong_bo'])} "
                 "trường đã công bố.")
        sure = st.checkbox(f"Tôi muốn công bố kết quả năm học {year}", key="dg_cb_chac")
        result_at("cong_bo")
        st.button("Công bố", key="dg_cong_bo", disabled=not (sure and ready), on_click=decide, args=("cong_bo",),
                  type="primary")

with log_tab:
    if log_tab.open:
        ui.table(asm.audit_table(data.store().state))
