"""Đổi mật khẩu: a first (or reset) password is changed before anything else; anyone may change theirs."""

import streamlit as st

from kpi.admin import accounts, auth
from kpi.admin import shared as admin
from kpi.common import faults
from kpi.store import db
from kpi.writes import door
from pages._frame import current_user, page_guard, session_token
from pages._web import CSRF_COOKIE, logout_form

page_guard()

user, path = current_user(), db.db_path()
forced = accounts.must_change(path, user.user_name)
st.title("Đổi mật khẩu")
if forced:
    st.info("Bạn đang dùng mật khẩu lần đầu (hoặc vừa được đặt lại): hãy đặt mật khẩu của riêng bạn trước khi dùng "
            "bảng điều khiển.", icon=":material/key:")
st.caption(f"Mật khẩu mới: từ {accounts.MIN_LENGTH} đến {accounts.MAX_LENGTH} ký tự, mọi ký tự kể cả dấu cách và "
           "tiếng Việt có dấu; không cần chữ hoa hay ký hiệu: một câu dễ nhớ gồm vài từ là tốt nhất. Không dùng lại "
           "mật khẩu trước đó, tên đăng nhập hay mật khẩu phổ biến.")
with st.form("dmk_form"):
    current = st.text_input("Mật khẩu hiện tại", type="password", key="dmk_current")
    new = st.text_input("Mật khẩu mới", type="password", key="dmk_new", max_chars=accounts.MAX_LENGTH)
    repeat = st.text_input("Nhập lại mật khẩu mới", type="password", key="dmk_repeat", max_chars=accounts.MAX_LENGTH)
    submitted = st.form_submit_button("Đổi mật khẩu", type="primary", key="dmk_submit")
if submitted:
    try:
        door.act("doi_mat_khau", door.Page(session_token(), user), path=path, current=current, new=new,
                 repeat=repeat, keep_session=auth.session_id(session_token()))
    except (admin.AdminError, door.Refused, faults.StoreUnavailable) as e:
        st.error(str(e))
    else:
        st.success("Đã đổi mật khẩu.")
        if forced:  # now the role's own pages: dashboard.py opens its main page
            st.session_state["_kpi_note"] = "Đã đổi mật khẩu."
            st.session_state["_kpi_home"] = True
            st.rerun()
st.markdown(logout_form(st.context.cookies.get(CSRF_COOKIE)), unsafe_allow_html=True)
