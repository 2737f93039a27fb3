"""Dữ liệu: hand out templates, import schools' files safely, and see who has not submitted."""

import datetime as dt

import streamlit as st

from kpi.catalog.model import LEVEL_LABELS
from kpi.common import faults
from kpi.common.formatting import fmt_date, fmt_int, fmt_percent
from kpi.common.text import clean, plain
from kpi.display import tables
from kpi.imports import importer, parse, problems
from kpi.imports.templates import build_template
from kpi.store import db
from kpi.writes import door
from pages import _data as data
from pages import _widgets as ui
from pages._frame import current_user, page_guard, session_token

page_guard()

cat = data.catalog()
year, rnd = ui.period_filters()
user = current_user()
st.title("Dữ liệu")
ui.sample_badge()

p = data.periods()
deadline = p.loc[(p["school_year"] == year) & (p["round"] == rnd), "deadline"].iloc[0].date()
days = (deadline - dt.date.today()).days
if days >= 0:
    st.info(f"Kỳ {year} · {rnd}: còn {fmt_int(days)} ngày đến hạn nộp ({fmt_date(deadline)}).")
else:
    st.caption(f"Kỳ {year} · {rnd}: hạn nộp {fmt_date(deadline)} đã qua {fmt_int(-days)} ngày.")

sub_tab, imp_tab, tpl_tab, log_tab = ui.lazy_tabs(["Tình hình nộp", "Nhập số liệu", "Biểu mẫu", "Nhật ký nhập"],
                                                 "dl_tab")

with sub_tab:
    if sub_tab.open:
        status, table = data.submission_table(year, rnd)
        counts = status["status"].value_counts()
        c1, c2, c3 = st.columns(3)
        c1.metric("Đúng hạn", fmt_int(counts.get("dung_han", 0)))
        c2.metric("Trễ hạn", fmt_int(counts.get("tre", 0)))
        c3.metric("Chưa nộp", fmt_int(counts.get("chua_nop", 0)))
        ui.table(table, first=("Trường",))
        missing = table[status["status"].values == "chua_nop"]
        ui.downloads(missing, f"chua_nop_{year}_{rnd}", "dl_missing")
        st.subheader("Mức đầy đủ của từng chỉ tiêu thống kê")
        comp = tables.completeness_table(data.field_completeness(year, rnd), cat)
        ui.table(comp, {"Tỉ lệ": fmt_percent}, first=("Chỉ tiêu thống kê",))

with imp_tab:
    if imp_tab.open:
        st.caption("Tải lên tệp XLSX (biểu mẫu) hoặc CSV/TXT như Excel lưu (UTF-8, Windows-1258 hoặc Unicode Text; "
                   "dấu phẩy, chấm phẩy hoặc tab). Mỗi tệp được kiểm tra toàn bộ; tệp có lỗi không được nhập phần nào.")
        max_mb = importer.LIMITS.file_bytes // 2**20
        files = ui.file_uploader(f"Tệp số liệu của trường (tối đa {max_mb} MB mỗi tệp)", type=["xlsx", "csv", "txt"],
                                 accept_multiple_files=True, key="dl_upload", help=parse.limits_text(),
                                 max_upload_size=max_mb)
        good = []
        for f in files or []:
            raw = f.getvalue()
            try:
                result = door.act("nhap_tep", door.Page(session_token(), user), path=db.db_path(), name=f.name,
                                  data=raw, dry_run=True)
            except door.Refused as e:
                st.error(f"{plain(f.name)}: {plain(e)}")
                continue
            except importer.ImportRejected as e:
                st.error(f"{plain(f.name)}: {len(e.problems)} lỗi, không thể nhập. Sửa các lỗi dưới đây rồi tải lại.")
                ui.table(tables.problems_table(e.problems), widths={"Lỗi": "large"})
                st.download_button("Tải danh sách lỗi (XLSX)", problems.error_report(e.problems),
                                   clean(f"loi_{f.name}.xlsx"), key=f"dl_err_{f.name}", on_click="ignore")
                continue
            st.success(plain(result.message))
            ui.table(result.preview)
            good.append((f.name, raw))
        if good and st.button(f"Xác nhận nhập {len(good)} tệp", type="primary", key="dl_confirm"):
            for name, raw in good:
                try:
                    done = door.act("nhap_tep", door.Page(session_token(), user), path=db.db_path(), name=name,
                                    data=raw)
                    st.success(plain(done.message))
                except door.Refused as e:
                    st.error(f"{plain(name)}: {plain(e)}")
                except importer.ImportRejected as e:
                    st.error(f"{plain(name)}: {len(e.problems)} lỗi (dữ liệu vừa thay đổi); không ghi gì.")
                except faults.StoreUnavailable as e:
                    st.error(f"{plain(name)}: {e}")

with tpl_tab:
    if tpl_tab.open:
        t_level = st.selectbox("Cấp học", ["", *LEVEL_LABELS], key="dl_level",
                               format_func=lambda v: LEVEL_LABELS.get(v, "Tất cả các cấp"))
        schools = data.school_list()
        st.download_button(
            f"Tải biểu mẫu {year} · {rnd}", lambda: build_template(cat, schools, year, rnd, t_level or None,
                                                                  data.meta().get("unit_name", "")),
            f"bieu_mau_{year}_{rnd}{'_' + t_level if t_level else ''}.xlsx", key="dl_template", on_click="ignore",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:")
        st.caption("Biểu mẫu gồm: hướng dẫn, trang Số liệu (mỗi trường một dòng, có sẵn mã và tên trường), trang Tự "
                   "đánh giá mức độ chuyển đổi số, và phiên bản để nhận ra biểu mẫu cũ.")

with log_tab:
    if log_tab.open:
        log = data.imports_log()
        ui.table(tables.imports_table(log))
        applied = log[(log["status"] == "applied") & (log["source"] == "import")]
        if len(applied):
            pick = st.selectbox("Hoàn tác lần nhập", applied["import_id"].tolist(), key="dl_revert_id",
                                format_func=lambda i: clean(
                                    f"#{i} · {applied.set_index('import_id').loc[i, 'file_name']}"))
            if st.button("Hoàn tác", key="dl_revert"):
                try:
                    st.success(door.act("hoan_tac", door.Page(session_token(), user), path=db.db_path(),
                                        import_id=int(pick)))
                except (ValueError, faults.StoreUnavailable) as e:
                    st.error(plain(e))
