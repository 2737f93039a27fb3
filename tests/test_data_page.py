"""The "Dữ liệu" page: submissions against the deadline, upload → preview → confirm → audit, templates."""

import datetime as dt

import pytest

from kpi.store import db, state
from kpi.workflows import entry
from tests.conftest import app_test
from tests.test_importer import GOOD_HEAD, H


def _count(path, sql, params=()):
    c = db.connect(path)
    try:
        return c.execute(sql, list(params)).fetchall()[0][0]
    finally:
        c.close()


def test_submissions_and_completeness(sample_db, con):
    at = app_test("du_lieu", user="chuyenvien", nam_hoc="2023-2024", ky="CN")
    assert not at.exception and at.title[0].value == "Dữ liệu"
    on_time, late, missing = (int(m.value) for m in at.metric[:3])
    # a school's data arrived with the Phòng's import of its file, or when the school submitted in the
    # app (the state store), whichever came first
    files = dict(con.execute("SELECT school_id, received_at FROM submissions WHERE school_year = '2023-2024' "
                             "AND round = 'CN'").fetchall())
    app = {sid: entry.local(t) for sid, t in state.store_for(sample_db).read(
        "SELECT school_id, first_submitted_at FROM entries WHERE school_year = '2023-2024' AND round = 'CN' "
        "AND first_submitted_at IS NOT NULL")}
    assert [s for s in app if s not in files]  # the sample has schools whose only submission is in the app
    arrived = {s: min(t for t in (files.get(s), app.get(s)) if t is not None) for s in set(files) | set(app)}
    expected_late = sum(t.date() > dt.date(2024, 5, 20) for t in arrived.values())
    assert (missing, late) == (53 - len(arrived), expected_late) and on_time + late + missing == 53
    table = at.dataframe[0].value
    assert (table["Tình trạng"] == "Chưa nộp").sum() == missing
    assert all("/" in d for d in table.loc[table["Tình trạng"] != "Chưa nộp", "Ngày nộp"])
    comp = at.dataframe[1].value
    row = comp[comp["Chỉ tiêu thống kê"] == "Tổng số học sinh (trẻ)"].iloc[0]
    reported = con.execute("SELECT count(*) FROM observations WHERE field_code = 'hs_tong' AND "
                           "school_year = '2023-2024' AND round = 'CN'").fetchall()[0][0]
    assert (row["Trường đã báo cáo"], row["Trường phải báo cáo"]) == (reported, 53)
    assert "hạn nộp 20/05/2024 đã qua" in "\n".join(c.value for c in at.caption)


def test_upload_preview_confirm_audit(writable_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = app_test("du_lieu", user="chuyenvien")
    assert not at.get("file_uploader")  # the import tab runs only when opened
    at.session_state["dl_tab"] = "Nhập số liệu"
    at.run()
    content = f"{GOOD_HEAD}\nTH001,2023-2024,CN,1111,40,44\n".encode("utf-8")
    at.file_uploader(key="dl_upload").set_value(("truong_th001.csv", content, "text/csv")).run()
    assert not at.exception
    assert any("truong_th001.csv: 1 dòng hợp lệ, 3 giá trị sẽ thay đổi" in s.value for s in at.success)
    preview = next(d.value for d in at.dataframe if "Thay đổi" in d.value.columns)
    assert preview.iloc[0]["Mã trường"] == "TH001" and preview.iloc[0]["Thay đổi"] == 3
    assert _count(writable_db, "SELECT count(*) FROM imports") == 1  # nothing written before confirming
    at.button(key="dl_confirm").click().run()
    assert not at.exception
    assert any("Đã nhập truong_th001.csv (lần nhập #2)" in s.value for s in at.success)
    assert _count(writable_db, "SELECT value FROM observations WHERE school_id = 'TH001' AND field_code = 'hs_tong' "
                               "AND school_year = '2023-2024' AND round = 'CN'") == 1111
    at.session_state["dl_tab"] = "Nhật ký nhập"
    at.run()
    log = next(d.value for d in at.dataframe if "Lần nhập" in d.value.columns)
    assert log.iloc[0]["Tệp"] == "truong_th001.csv" and log.iloc[0]["Người nhập"] == "chuyenvien"


def test_upload_with_errors_shows_them_and_writes_nothing(writable_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = app_test("du_lieu", user="chuyenvien")
    at.session_state["dl_tab"] = "Nhập số liệu"
    at.run()
    bad = f"{GOOD_HEAD},{H['co_lms']}\nXX1,2023-2024,CN,1,1,1,\nTH001,2023-2024,CN,10,1,1,có lẽ\n".encode()
    at.file_uploader(key="dl_upload").set_value(("loi.csv", bad, "text/csv")).run()
    assert at.error[0].value.startswith("loi.csv: 2 lỗi, không thể nhập.")
    errors = next(d.value for d in at.dataframe if "Lỗi" in d.value.columns)
    assert list(errors["Dòng"]) == [2, 3] and "không nhận ra có/không" in errors.iloc[1]["Lỗi"]
    assert not [b for b in at.button if b.key == "dl_confirm"]
    assert _count(writable_db, "SELECT count(*) FROM imports") == 1


def test_principal_and_leader_cannot_open_data_page(sample_db):
    for user in ("lanhdao", "ht.th001"):
        at = app_test(None, user=user)
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("pages/du_lieu.py").run()
