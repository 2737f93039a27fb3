"""Báo cáo: freeze a round's figures and take a meeting pack (PPTX, PDF, XLSX, HTML, PNG) to the meeting."""

import streamlit as st

from kpi.common import faults
from kpi.common.formatting import fmt_number
from kpi.display import tables
from kpi.exports import export
from kpi.store import db
from kpi.views.pack import build_pack
from kpi.views.pack import units_note as pack_units_note
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import audit, current_user, login_user, page_guard, scope, session_token

page_guard()
POLL_S = 0.5  # how often the page looks whether the pack is made
SHORT = {"pptx": "PPTX", "pdf": "PDF", "xlsx": "XLSX", "html": "HTML", "png": "PNG (zip)"}

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
    try:
        sid = door.act("chot_so_lieu", door.Page(session_token(), user), path=db.db_path(), school_year=year,
                       round=rnd, name=name)
    except (ValueError, faults.StoreUnavailable) as e:  # door.Refused included
        st.error(str(e))
    else:
        st.success(f"Đã chốt số liệu: mã {sid}. Chọn bản chốt trong mục Nguồn số liệu để xem hoặc xuất.")
snaps = data.snapshots()
if len(snaps):
    ui.table(tables.snapshot_table(snaps), first=("Mã bản chốt",))

st.subheader("Bộ báo cáo họp")
sc = scope()
# the pack's figures and chart images in the background while the user chooses (those of the period the page opens
# on were drawn when the version was warmed: kpi.exports.export.draw_ahead; chromium starts only to draw)
export.warm_pack(data.store(), cat, sc, year, rnd, sc.snapshot_id)
st.caption(f"Nguồn: {'bản chốt ' + sc.snapshot_id if sc.snapshot_id else 'số liệu trực tiếp (chưa chốt)'}. "
           "Tệp PowerPoint, PDF và ảnh có biểu đồ nên mất lâu hơn một chút; Excel và HTML tạo ngay. Biểu đồ đã vẽ "
           "được giữ lại, nên lần tạo sau của cùng số liệu nhanh hơn.")
units_note = pack_units_note(data.store(), sc, year, rnd)  # a Sở's or the Ministry's pack lists its units
if units_note:
    st.caption(units_note)
formats = st.multiselect("Định dạng", list(export.FORMATS), default=list(export.FORMATS), key="bc_formats",
                         format_func=export.FORMAT_LABELS.get, placeholder="Chọn định dạng")
wanted = (data.store().identity, sc, year, rnd, tuple(formats))
job_key, job = st.session_state.get("bc_job", (None, None))
running = job is not None and not job.done


def start_pack(wanted: tuple, sc, year: str, rnd: str, formats: tuple) -> None:
    """The button's callback, with what the page showed when it was drawn: the pack starts before the page
    runs again (under a deadline rush that run waits its turn, issue 29). A callback runs before the page
    frame's checks, so it checks here that the session's user is still the page's (a tab left open after a
    logout does nothing), and that no pack of this session is being made (a disabled button's click can
    be forged)."""
    me = login_user()
    _, job = st.session_state.get("bc_job", (None, None))
    if me is None or me.user_name != user.user_name or not formats or (job is not None and not job.done):
        return
    store = data.store()
    audit("tao_bo_bao_cao", {"ky": f"{year} {rnd}", "ban_chot": sc.snapshot_id, "dinh_dang": list(formats)}, user=me)
    job = export.PackJob(lambda say: export.write_all(build_pack(store, cat, sc, year, rnd, sc.snapshot_id),
                                                      cat, formats, say, apart=True),  # in forked children
                         f"bao_cao_{year}_{rnd}" + (f"_{sc.snapshot_id}" if sc.snapshot_id else "")).start()
    st.session_state["bc_job"] = (wanted, job)


st.button("Tạo bộ báo cáo", type="primary", key="bc_build", disabled=running or not formats, on_click=start_pack,
          args=(wanted, sc, year, rnd, tuple(formats)))


@st.fragment(run_every=POLL_S if running else None)
def pack_progress():
    """How far the pack is (redrawn every POLL_S while it is built; the page stays usable), then its files."""
    key, job = st.session_state.get("bc_job", (None, None))
    if job is None:
        return
    if not job.done:
        st.progress(job.fraction, text=f"{job.message} · {fmt_number(job.elapsed, 0)} giây")
        return
    if job.error:
        st.error(job.error)
    else:
        if key != wanted:
            st.caption("Các tệp dưới đây là của lựa chọn trước (kỳ, nguồn số liệu hoặc định dạng khác); "
                       "bấm Tạo bộ báo cáo để tạo lại.")
        st.success(f"Đã tạo {len(job.files)} tệp trong {fmt_number(job.seconds)} giây.")
        for col, (f, payload) in zip(st.columns(len(job.files)), job.files.items()):
            col.download_button(SHORT[f], payload, f"{job.label}.{export.EXT[f]}", export.MIME[f],
                                key=f"bc_download_{f}", on_click="ignore", icon=":material/download:",
                                help=f"Tải {export.FORMAT_LABELS[f]}")
    if running:  # it has just finished (the files are drawn above): one full run stops the polling
        st.rerun()


pack_progress()
