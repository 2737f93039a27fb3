"""A page still drawing when the gallery looks at it (served by tests/test_look_pages.py, never by
the app): its title is there at once, the rest of its run takes far longer than the wait."""

import time

import streamlit as st

st.title("Trang vẽ chậm")
st.write("Phần đầu đã hiện; phần còn lại đang được tính.")
time.sleep(120)
st.write("Phần cuối.")
st.html('<span id="kpi-het-trang" hidden></span>')
