"""Quản trị: the school year's targets, the schools and units, the accounts, and who changed what."""

import datetime as dt

import streamlit as st

from kpi.admin import accounts, plans, registry
from kpi.admin import shared as admin
from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS, TARGET_BASES
from kpi.common import faults
from kpi.common.access import ROLES, SCHOOL_ROLES
from kpi.common.text import clean, plain
from kpi.store import db
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import current_user, page_guard, session_token

page_guard()

cat, user, path = data.catalog(), current_user(), db.db_path()
can = admin.can_change(user)
st.title("Quản trị")
ui.sample_badge()
if not can:
    st.info("Chỉ lãnh đạo Phòng được thay đổi mục Quản trị; tài khoản của bạn chỉ xem.", icon=":material/lock:")
if "qt_msg" in st.session_state:
    ok, text = st.session_state.pop("qt_msg")
    (st.success if ok else st.error)(plain(text))


def act(run, done: str, keep: str | None = None) -> None:
    """Run a change; tell the result on the next run (after the new data version is read)."""
    try:
        out = run()
    except (admin.AdminError, door.Refused, faults.StoreUnavailable) as e:
        st.session_state["qt_msg"] = (False, str(e))
    else:
        st.session_state["qt_msg"] = (True, done.format(out=out))
        if keep:
            st.session_state[keep] = out
    st.rerun()


def write(name: str, /, **kw):
    """A Quản trị write through the door (kpi.writes.door), as the user this session is now."""
    return door.act(name, door.Page(session_token(), user), path=path, **kw)


t_tab, s_tab, a_tab, h_tab = ui.lazy_tabs(["Chỉ tiêu năm học", "Trường và đơn vị", "Tài khoản", "Lịch sử"], "qt_tab")

with t_tab:
    if t_tab.open:
        published = data.target_plans()
        years = sorted({t.school_year for t in cat.targets} | set(data.periods()["school_year"])
                       | set(plans.drafts(path)))
        choices = sorted(set(years) | {plans.next_year(years[-1])}, reverse=True)
        year = st.selectbox("Năm học", choices, key="qt_year")
        d = plans.draft(path, year)
        if d is None:
            st.session_state.pop(f"qt_seen_{year}", None)
            in_force = published[published["school_year"] == year]
            st.caption(f"Năm học {year}: " + (f"đang áp dụng phiên bản {int(in_force['version'].max())} đã công bố."
                                               if len(in_force)
                                               else "chưa công bố trong ứng dụng (dùng chỉ tiêu mặc định)."))
            source = st.selectbox("Bắt đầu từ chỉ tiêu năm học", sorted((y for y in years if y <= year), reverse=True)
                                  or years, key="qt_from")
            if st.button("Tạo bản nháp", key="qt_start", disabled=not can, type="primary"):
                act(lambda: write("chi_tieu_tao_nhap", school_year=year, from_year=source),
                    f"Đã tạo bản nháp chỉ tiêu năm học {year} từ năm học {source}.")
        else:
            # the draft version this window showed on its last run: saves and Công bố act on it, not on newer edits
            seen = st.session_state.get(f"qt_seen_{year}", d["version"])
            st.caption(f"Bản nháp năm học {year} (bắt đầu từ năm học {d['source_year']}), sửa lần cuối bởi "
                       f"{plain(d['updated_by'])} lúc {admin.when_text(d['updated_at'])}. "
                       "Chưa áp dụng cho đến khi công bố.")
            doc = st.text_input("Số văn bản kế hoạch", d["document"], key="qt_doc", disabled=not can,
                                placeholder="ví dụ 1234/KH-GDĐT ngày 05/09/2024")
            if doc != d["document"] and st.button("Lưu số văn bản", key="qt_doc_save", disabled=not can):
                act(lambda: write("chi_tieu_so_van_ban", school_year=year, document=doc, version=seen),
                    "Đã lưu số văn bản kế hoạch.")
            frame = admin.draft_frame(cat, d)
            edited = st.data_editor(frame, key=f"qt_editor_{year}_{d['version']}", hide_index=True, disabled=not can,
                                    width="stretch", column_config={
                                        "Chỉ số": st.column_config.TextColumn(disabled=True, width="large"),
                                        "Cấp học": st.column_config.TextColumn(disabled=True),
                                        "Chỉ tiêu (%)": st.column_config.TextColumn(help="từ 0 đến 100, ví dụ 17,5"),
                                        "Gần đạt từ (%)": st.column_config.TextColumn(help="từ 0 đến chỉ tiêu"),
                                        "Căn cứ": st.column_config.SelectboxColumn(
                                            options=list(TARGET_BASES.values()))})
            changes = admin.editor_changes(d, edited)
            c1, c2, c3 = st.columns(3)
            if c1.button(f"Lưu {len(changes)} thay đổi", key="qt_save", disabled=not (can and changes)):
                act(lambda: write("chi_tieu_sua", school_year=year, changes=changes, version=seen), "Đã lưu bản nháp.")
            if c2.button("Công bố", key="qt_publish", type="primary", disabled=not can or bool(changes)):
                act(lambda: write("chi_tieu_cong_bo", school_year=year, version=seen),
                    f"Đã công bố chỉ tiêu năm học {year}, phiên bản {{out}}: mọi trang dùng chỉ tiêu mới.")
            if c3.button("Hủy bản nháp", key="qt_discard", disabled=not can):
                act(lambda: write("chi_tieu_huy_nhap", school_year=year), f"Đã hủy bản nháp năm học {year}.")
            st.session_state[f"qt_seen_{year}"] = d["version"]
        if year not in set(data.periods()["school_year"]):
            st.caption(f"Năm học {year} chưa có kỳ báo cáo: mở hai kỳ (hạn nộp 10/01 và 20/05) để các trường báo cáo.")
            if st.button(f"Mở kỳ báo cáo năm học {year}", key="qt_open_year", disabled=not can):
                act(lambda: write("nam_hoc_mo", school_year=year), f"Đã mở kỳ báo cáo năm học {year}.")
        st.download_button(f"Tải chỉ tiêu đang áp dụng năm học {year} (tệp chỉ tiêu .toml)",
                           plans.export_toml(cat, year),
                           f"chi_tieu_{year}.toml", key="qt_export", on_click="ignore")
        up = ui.file_uploader("Nhập chỉ tiêu từ tệp chỉ tiêu (.toml, như tệp tải về ở trên): tạo bản nháp để "
                              "xem lại rồi công bố",
                              type=["toml"], key="qt_import_file", disabled=not can)
        if up is not None and st.button("Nhập tệp chỉ tiêu", key="qt_import", disabled=not can):
            act(lambda: write("chi_tieu_nhap_tep", data=up.getvalue(), file_name=up.name)["school_year"],
                "Đã tạo bản nháp chỉ tiêu năm học {out} từ tệp.")
        st.subheader("Các phiên bản đã công bố")
        if published.empty:
            st.caption("Chưa công bố phiên bản nào trong ứng dụng: mọi năm học dùng chỉ tiêu mặc định của phần mềm.")
        else:
            ui.table(admin.plans_frame(published), first=("Năm học", "Phiên bản"))
            versions = list(zip(published["school_year"], published["version"].astype(int)))
            seen = st.selectbox("Xem chỉ tiêu của phiên bản", versions, key="qt_version",
                                format_func=lambda v: f"{v[0]} · phiên bản {v[1]}")
            if seen:
                ui.table(admin.draft_frame(cat, {"rows": plans.version_rows(path, *seen)}), first=("Chỉ số",))

with s_tab:
    if s_tab.open:
        schools, units = data.admin_schools(), data.admin_units()
        ui.table(admin.schools_frame(schools), first=("Mã trường", "Tên trường"))
        open_ids = schools.loc[schools["active"].astype(bool), "school_id"].tolist()
        names = dict(zip(schools["school_id"], schools["name"]))
        unit_names = dict(zip(units["unit_id"], units["name"]))
        label = lambda sid: clean(f"{sid} · {names.get(sid, '')}")  # noqa: E731
        with st.expander("Thêm trường"):
            with st.form("qt_add_school"):
                c1, c2 = st.columns(2)
                sid = c1.text_input("Mã trường", key="qt_s_id")
                name = c2.text_input("Tên trường", key="qt_s_name")
                level = c1.selectbox("Cấp học", list(LEVEL_LABELS), format_func=LEVEL_LABELS.get, key="qt_s_level")
                own = c2.selectbox("Loại hình", list(OWNERSHIP_LABELS), format_func=OWNERSHIP_LABELS.get,
                                   key="qt_s_own")
                ward = c1.text_input("Phường", key="qt_s_ward")
                unit = c2.selectbox("Đơn vị", list(unit_names), format_func=unit_names.get, key="qt_s_unit")
                opened = c1.date_input("Hoạt động từ ngày", dt.date.today(), format="DD/MM/YYYY", key="qt_s_opened")
                if st.form_submit_button("Thêm trường", disabled=not can, key="qt_s_submit"):
                    act(lambda: write("truong_them", school_id=sid, name=name, level=level, ownership=own, ward=ward,
                                      unit_id=unit, opened_on=opened),
                        "Đã thêm trường {out}.")
        with st.expander("Sửa, đóng hoặc sáp nhập một trường"):
            pick = st.selectbox("Trường", open_ids, format_func=label, key="qt_e_school")
            if pick:
                row = schools[schools["school_id"] == pick].iloc[0]
                c1, c2 = st.columns(2)
                e_name = c1.text_input("Tên trường", row["name"], key=f"qt_e_name_{pick}")
                e_level = c2.selectbox("Cấp học", list(LEVEL_LABELS), list(LEVEL_LABELS).index(row["level"]),
                                       format_func=LEVEL_LABELS.get, key=f"qt_e_level_{pick}")
                e_own = c1.selectbox("Loại hình", list(OWNERSHIP_LABELS),
                                     list(OWNERSHIP_LABELS).index(row["ownership"]),
                                     format_func=OWNERSHIP_LABELS.get, key=f"qt_e_own_{pick}")
                e_unit = c2.selectbox("Đơn vị", list(unit_names), list(unit_names).index(row["unit_id"])
                                      if row["unit_id"] in unit_names else 0, format_func=unit_names.get,
                                      key=f"qt_e_unit_{pick}")
                e_day = c1.date_input("Từ ngày", dt.date.today(), format="DD/MM/YYYY", key="qt_e_day")
                c2.caption("Đổi đơn vị có hiệu lực từ ngày trên (các kỳ trước vẫn tính ở đơn vị cũ). "
                           "Tên, cấp học, loại hình là thông tin hiện tại (số liệu các kỳ trước cũng xếp theo đó); "
                           "ngày hiệu lực được ghi vào lịch sử. "
                           "Trường đổi cấp học từ một ngày: đóng trường cũ và thêm trường mới (mã mới).")
                if st.button("Lưu thông tin trường", key="qt_e_save", disabled=not can):
                    act(lambda: write("truong_sua", school_id=pick, effective_on=e_day, name=e_name, level=e_level,
                                      ownership=e_own, unit_id=e_unit),
                        f"Đã sửa thông tin trường {pick}.")
                reason = st.text_input("Lý do đóng trường", key="qt_c_reason")
                if st.button("Đóng trường từ ngày trên", key="qt_close", disabled=not can):
                    act(lambda: write("truong_dong", school_id=pick, closed_on=e_day, reason=reason),
                        f"Đã đóng trường {pick}: số liệu cũ giữ nguyên, các kỳ sau không còn tính trường này.")
                into = st.selectbox("Sáp nhập vào trường", [s for s in open_ids if s != pick], format_func=label,
                                    key="qt_m_into")
                if st.button("Sáp nhập từ ngày trên", key="qt_merge", disabled=not can):
                    act(lambda: write("truong_sap_nhap", school_id=pick, into=into, merged_on=e_day),
                        f"Đã sáp nhập trường {pick} vào {into}; số liệu của cả hai trường được giữ.")
        st.subheader("Đơn vị")
        ui.table(admin.units_frame(units), first=("Tên đơn vị",))
        with st.expander("Thêm hoặc sửa đơn vị"):
            with st.form("qt_unit"):
                c1, c2 = st.columns(2)
                pick_u = c1.selectbox("Đơn vị", ["", *unit_names],
                                      format_func=lambda u: unit_names.get(u, "(thêm đơn vị mới)"), key="qt_u_pick")
                uid = c2.text_input("Mã đơn vị mới (chỉ khi thêm)", key="qt_u_id")
                uname = c1.text_input("Tên đơn vị (để trống: giữ tên cũ)", key="qt_u_name")
                kind = c2.selectbox("Loại", list(registry.UNIT_KINDS), format_func=registry.UNIT_KINDS.get,
                                    key="qt_u_kind")
                parent = c1.selectbox("Cấp trên", ["", *unit_names], format_func=lambda u: unit_names.get(u, "— (gốc)"),
                                      key="qt_u_parent")
                uday = c2.date_input("Từ ngày", dt.date.today(), format="DD/MM/YYYY", key="qt_u_day")
                if st.form_submit_button("Lưu đơn vị", disabled=not can, key="qt_u_submit"):
                    if pick_u:
                        act(lambda: write("don_vi_sua", unit_id=pick_u, effective_on=uday, name=uname or None,
                                          kind=kind, parent_id=parent),
                            f"Đã sửa đơn vị {uname or unit_names[pick_u]}.")
                    else:
                        act(lambda: write("don_vi_them", unit_id=uid, name=uname, kind=kind, parent_id=parent or None,
                                          effective_on=uday),
                            f"Đã thêm đơn vị {uname}.")

with a_tab:
    if a_tab.open:
        users = data.users()
        ui.table(admin.users_frame(users, accounts.must_change_users(path)), first=("Tên đăng nhập",))
        st.subheader("Tạo nhiều tài khoản từ một tệp Excel")
        st.download_button("Tải biểu mẫu tài khoản (XLSX)", lambda: accounts.accounts_template(
            list(zip(data.school_list()["school_id"], data.school_list()["name"]))), "bieu_mau_tai_khoan.xlsx",
            key="qt_acc_template", on_click="ignore")
        up = ui.file_uploader("Tệp tài khoản đã điền", type=["xlsx"], key="qt_acc_file", disabled=not can)
        if up is not None:
            try:
                pre = accounts.preview_accounts(path, up.name, up.getvalue(), user.user_name)
            except admin.AdminError as e:
                st.error(plain(e))
            else:
                st.info(f"Tạo mới {len(pre.created)}, thay đổi {len(pre.changed)}, khóa {len(pre.disabled)} "
                        f"(hiệu trưởng cũ của trường có hiệu trưởng mới), không đổi {len(pre.unchanged)} tài khoản."
                        + "".join(f"\n- {plain(u)}: {plain(w)}" for u, w in pre.changed + pre.disabled)
                        + (f"\n\nTạo mới: {plain(', '.join(u for u, _ in pre.created))}" if pre.created else ""))
                if pre.office:
                    st.warning("Các dòng dưới đây tạo mới hoặc đổi tài khoản của lãnh đạo / chuyên viên Phòng: đánh "
                               "dấu từng dòng để xác nhận (dòng chưa đánh dấu: tệp không được áp dụng).", icon="⚠️")
                ok = {u for u, what, n in pre.office if st.checkbox(plain(f"Dòng {n}: {u} ({what})"),
                                                                   key=f"qt_acc_ok_{u}", disabled=not can)}
                if st.button("Tạo tài khoản", key="qt_acc_create", type="primary", disabled=not can):
                    act(lambda: write("tai_khoan_tao_tu_tep", file_name=up.name, data=up.getvalue(), confirmed=ok),
                        "Đã áp dụng tệp tài khoản.", keep="qt_acc_done")
        done = st.session_state.get("qt_acc_done")
        if done is not None and done.created:
            st.warning("Mật khẩu lần đầu chỉ hiện một lần: tải về và trao cho từng người; họ phải đổi khi đăng nhập.")
            st.download_button("Tải mật khẩu lần đầu (XLSX)", accounts.passwords_file(done.created),
                               "mat_khau_lan_dau.xlsx", key="qt_acc_passwords", on_click="ignore")
            if st.button("Đã trao mật khẩu, ẩn đi", key="qt_acc_hide"):
                st.session_state.pop("qt_acc_done")
                st.rerun()
        st.subheader("Một tài khoản")
        who = st.selectbox("Tài khoản", users["user_name"].tolist(), key="qt_acc_user")
        if who:
            row = users[users["user_name"] == who].iloc[0]
            c1, c2 = st.columns(2)
            role = c1.selectbox("Vai trò", list(ROLES), list(ROLES).index(row["role"]), format_func=ROLES.get,
                                key=f"qt_acc_role_{who}")
            school = c2.text_input("Mã trường", row["school_id"] if isinstance(row["school_id"], str) else "",
                                   key=f"qt_acc_school_{who}", disabled=role not in SCHOOL_ROLES)
            b1, b2, b3 = st.columns(3)
            if b1.button("Lưu vai trò / trường", key="qt_acc_update", disabled=not can):
                act(lambda: write("tai_khoan_sua", user_name=who, role=role, school_id=school),
                    f"Đã đổi tài khoản {who}.")
            if b2.button("Đặt lại mật khẩu", key="qt_acc_reset", disabled=not can):
                act(lambda: write("tai_khoan_dat_lai", user_name=who),
                    f"Mật khẩu lần đầu mới của {who}: {{out}} (chỉ hiện lần này; phải đổi khi đăng nhập).")
            active = bool(row["active"])
            if b3.button("Khóa tài khoản" if active else "Mở khóa tài khoản", key="qt_acc_toggle", disabled=not can):
                act(lambda: write("tai_khoan_khoa", user_name=who, active=not active),
                    f"Đã {'khóa' if active else 'mở khóa'} tài khoản {who}.")

with h_tab:
    if h_tab.open:
        st.caption("Mọi thay đổi trong Quản trị: ai, lúc nào, thay đổi gì (kể cả lần bị từ chối vì không có quyền).")
        units = data.admin_units()
        rows = admin.history_frame(admin.history(path), cat, dict(zip(units["unit_id"], units["name"])))
        ui.table(rows, widths={"Chi tiết": "large"})
