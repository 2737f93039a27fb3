"""A page with every defect kpi.tools.look must find (served by tests/test_look_pages.py, never by the app)."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from kpi.display import figures

st.title("Trang có lỗi cài sẵn")
st.write("Trễ (ngày): None · Điểm mất bình quân 5.55 · 10 điểm nhóm Quản trị (QT_GAP)")
st.caption("Các quy tắc này là thiết lập trong kpi/definitions/index.toml.")
st.markdown('<div style="width: 900px; background: #eee">một khối rộng 900 px</div>', unsafe_allow_html=True)
wide = pd.DataFrame({f"Cột dài số {i}": ["một giá trị khá dài để chiếm chỗ"] * 3 for i in range(14)})
wide["Tình trạng"] = ["Đạt", "Chưa đạt", "Gần đạt"]
st.dataframe(wide, hide_index=True)
fig = figures.new_figure()
for m in (1, 2, 3):
    fig.add_bar(y=["Nhóm Dạy-học · TH", "Nhóm Quản trị · TH"], x=[m, m + 1], orientation="h",
                name=figures.LEVEL_LABELS[m], marker=dict(color=figures.LEVEL_COLORS[m]))
fig.update_layout(barmode="stack", height=300, xaxis=dict(title="Số trường"),
                  legend=dict(orientation="h", y=-0.12, x=0, yanchor="top"))
st.plotly_chart(go.Figure(fig), theme=None, key="planted")
st.html('<span id="kpi-het-trang" hidden></span>')  # the page end the gallery waits for (as dashboard.py)
