"""Báo cáo: freeze a round's figures and take a meeting pack (PPTX, PDF, XLSX, HTML, PNG) to the meeting."""

import streamlit as st

from kpi import db, export, snapshots, tables
from pages import _data as data
from pages import _widgets as ui
from pages._frame import current_user, page_guard, scope

page_guard()

cat = data.catalog()
year, rnd = ui.period_filters()
user = current_user()
st.title("Báo cáo")
ui.sample_badge()

st.subheader("Chốt số liệu")
st.caption("Bản chốt là bản sao không đổi của số liệu kỳ này (và các kỳ trước), có mã băm để đối chiếu về sau. "
           "Các lần nhập sau không làm thay đổi bản chốt.")
name = st.text_input("Tên bản chốt", value=f"Họp giao ban {year} {rnd}", key="bc_name")
if st.button(f"Chốt số liệu kỳ {year} · {rnd}", key="bc_freeze"):
    sid = snapshots.freeze(db.db_path(), year, rnd, name, user.user_name)
    st.success(f"Đã chốt số liệu: mã {sid}. Chọn bản chốt trong mục Nguồn số liệu để xem hoặc xuất.")
snaps = data.snapshots()
if len(snaps):
    ui.table(tables.snapshot_table(snaps), first=("Mã bản chốt",))

st.subheader("Bộ báo cáo họp")
ui.start_renderer()  # chromium starts in the background while the user chooses (~3 s, once per process)
sc = scope()
st.caption(f"Nguồn: {'bản chốt ' + sc.snapshot_id if sc.snapshot_id else 'số liệu trực tiếp (chưa chốt)'}. "
           "Tệp PowerPoint, PDF và ảnh có biểu đồ nên mất lâu hơn một chút; Excel và HTML tạo ngay.")
fmt = st.radio("Định dạng", list(export.WRITERS), horizontal=True, key="bc_format",
               format_func={"pptx": "PowerPoint (PPTX)", "pdf": "PDF", "xlsx": "Excel (XLSX)",
                            "html": "HTML (một tệp, xem không cần mạng)", "png": "Ảnh PNG (zip)"}.get)
if st.button("Tạo tệp", type="primary", key="bc_build"):
    bar = st.progress(0.0, text="Đang tổng hợp số liệu…")
    try:
        pack = export.build_pack(data.store(), cat, sc, year, rnd, sc.snapshot_id)
        bar.progress(0.3, text="Đang dựng tệp và vẽ biểu đồ…")
        st.session_state["bc_file"] = (fmt, export.WRITERS[fmt](pack, cat), sc.snapshot_id)
        bar.progress(1.0, text="Xong.")
    except export.ExportError as e:
        bar.empty()
        st.error(str(e))
if "bc_file" in st.session_state:
    f, made, sid = st.session_state["bc_file"]
    st.download_button(f"Tải tệp {f.upper()}", made, f"bao_cao_{year}_{rnd}{'_' + sid if sid else ''}.{export.EXT[f]}",
                       export.MIME[f], key="bc_download", on_click="ignore", icon=":material/download:")
