"""Bảng điều khiển chuyển đổi số: the app's frame and router (`streamlit run dashboard.py`)."""

from pathlib import Path

import streamlit as st

from pages import _shared as sh

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="Bảng điều khiển chuyển đổi số", page_icon=str(ROOT / "kpi/assets/favicon.png"),
                   layout="wide")

PAGES = [
    st.Page(ROOT / "pages/tong_quan.py", title="Tổng quan", url_path="tong-quan", default=True),
    st.Page(ROOT / "pages/chi_tieu.py", title="Chỉ tiêu", url_path="chi-tieu"),
    st.Page(ROOT / "pages/so_sanh.py", title="So sánh", url_path="so-sanh"),
    st.Page(ROOT / "pages/chi_so.py", title="Chỉ số CĐS", url_path="chi-so-cds"),
    st.Page(ROOT / "pages/truong.py", title="Trường", url_path="truong-hoc"),
]

nav = st.navigation(PAGES)
st.sidebar.caption("Bảng điều khiển chuyển đổi số")
with sh.app_frame():
    nav.run()
