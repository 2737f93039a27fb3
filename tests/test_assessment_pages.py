"""The assessment pages through dashboard.py (AppTest): the principal's own assessment only, a draft
saved and a submission; the office verifies, returns one criterion with a comment, approves and
publishes; the published result on the principal's scorecard; evidence offered only to those who
may see it."""

import pytest

from kpi.admin.auth import User
from kpi.common.access import Scope
from kpi.store import db
from kpi.views import cache as views
from kpi.workflows import assessment as asm
from tests.conftest import app_test

YEAR = "2023-2024"
HT_THCS = User("ht.thcs001", "HT THCS001", "hieu_truong", "THCS001", None)


@pytest.fixture()
def app(entry_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(entry_db))
    return entry_db


def _name(path, sid):
    c = db.connect(path)
    try:
        return c.execute("SELECT name FROM schools WHERE school_id = ?", [sid]).fetchall()[0][0]
    finally:
        c.close()


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                     + [w.value for w in at.warning] + [t.value for t in at.title])


def _assessment(path, sid):
    return views.views_for(path).assessor(Scope.everything()).assessment(
        User("chuyenvien", "", "chuyen_vien", None, None), sid, YEAR)


def test_the_principal_reaches_only_the_own_assessment_and_saves_a_draft(app):
    at = app_test("tu_danh_gia", user="ht.th001", truong="TH002", dg_truong="TH002")
    assert not at.exception
    assert at.title[0].value == f"Tự đánh giá mức độ chuyển đổi số · {_name(app, 'TH001')}"
    shown = _texts(at)
    assert _name(app, "TH002") not in shown and "TH002" not in shown
    assert "Tạm tính: tiêu chí hoặc cách chấm chỉ biết từ nguồn không chính thức." in shown  # provisional labelled
    assert "Tính từ số liệu: 10 × " in shown  # what earns DH4's points, in words
    assert "Gợi ý từ số liệu trường đã báo cáo" in shown  # the computed suggestion, with its figures
    evidence = [b for b in at.get("download_button") if "ke_hoach_day_hoc_truc_tuyen.pdf" in b.proto.label]
    assert len(evidence) == 1  # the own evidence is offered
    assert any(m.label == "Nhóm Dạy-học · tự đánh giá" for m in at.metric)  # the running total
    at.text_input(key="tdg_p_DH4").set_value("7,5")  # the fields are a form: sent with its button
    at.button(key="tdg_save").click().run()
    assert not at.exception and any("Đã lưu nháp" in s.value for s in at.success)
    assert _assessment(app, "TH001").items["DH4"].self_points == 7.5
    other = app_test("tu_danh_gia", user="ht.thcs001")  # another principal: not TH001's evidence
    assert not [b for b in other.get("download_button") if "ke_hoach_day_hoc_truc_tuyen.pdf" in b.proto.label]


def test_bad_points_are_refused_on_the_page(app):
    at = app_test("tu_danh_gia", user="ht.th001")
    before = _assessment(app, "TH001")
    at.button(key="tdg_submit").click().run()  # half the criteria unanswered
    assert not at.exception
    assert at.error and at.error[0].value.startswith("Chưa nộp được: còn lỗi cần sửa.")
    assert _assessment(app, "TH001").version == before.version
    at.text_input(key="tdg_p_DH4").set_value("11")  # told at Tính lại, refused at the save
    at.button(key="tdg_recompute").click().run()
    assert "DH4 Học liệu số hóa: 11 điểm nằm ngoài khoảng 0 đến 10." in [e.value for e in at.error]
    at.button(key="tdg_save").click().run()
    assert at.error[0].value.startswith("Chưa lưu được: còn lỗi cần sửa.")
    assert _assessment(app, "TH001") == before  # nothing written


def test_office_returns_one_criterion_then_approves_and_publishes_and_the_scorecard_says_so(app):
    # the principal of THCS001 (returned in the sample) sees the reason and resubmits from the page
    ht = app_test("tu_danh_gia", user="ht.thcs001")
    assert any("Lý do Phòng trả lại" in w.value for w in ht.warning)
    assert any("Phòng yêu cầu xem lại tiêu chí này" in w.value for w in ht.warning)
    ht.text_input(key="tdg_p_DH4").set_value("8")
    ht.button(key="tdg_submit").click().run()
    assert not ht.exception and any("Đã nộp bản tự đánh giá" in s.value for s in ht.success), \
        [e.value for e in ht.error]
    assert _assessment(app, "THCS001").state == "da_nop"
    # the office: verify one criterion with a comment, return one criterion with a comment
    at = app_test("danh_gia", user="chuyenvien", dg_truong="THCS001")
    assert not at.exception and at.title[0].value == "Đánh giá mức độ chuyển đổi số"
    assert any(f"{_name(app, 'THCS001')}:" in i.value for i in at.info)
    at.selectbox(key="dg_tc").set_value("DH4").run()
    assert at.text_input(key="dg_diem").value == "8"  # starts from the school's points (verify = one click)
    at.text_input(key="dg_diem").set_value("6").run()
    at.text_input(key="dg_nhan_xet").set_value("Chỉ 6/10 môn có học liệu số").run()
    at.button(key="dg_xac_nhan").click().run()
    assert not at.exception and any("Đã xác nhận điểm tiêu chí DH4" in s.value for s in at.success)
    at.multiselect(key="dg_tra_tc").set_value(["QT3.3"]).run()
    at.text_input(key="dg_tra_nx").set_value("Thiếu ảnh chụp sổ điểm số").run()
    at.text_input(key="dg_ly_do").set_value("Bổ sung minh chứng tiêu chí QT3.3").run()
    at.button(key="dg_tra_lai").click().run()
    assert not at.exception and any("Đã trả lại" in s.value for s in at.success)
    a = _assessment(app, "THCS001")
    assert (a.state == "tra_lai" and a.items["QT3.3"].returned
            and a.items["QT3.3"].comment == "Thiếu ảnh chụp sổ điểm số")
    assert a.items["DH4"].verified_points == 6.0 and not a.items["DH4"].returned
    # the school sees the returned criterion with its comment, resubmits
    ht = app_test("tu_danh_gia", user="ht.thcs001")
    assert any("Thiếu ảnh chụp sổ điểm số" in w.value for w in ht.warning)
    ht.button(key="tdg_submit").click().run()
    assert _assessment(app, "THCS001").state == "da_nop"
    # the office approves, then publishes the year
    at = app_test("danh_gia", user="chuyenvien", dg_truong="THCS001")
    at.button(key="dg_duyet").click().run()
    assert not at.exception and any("Đã duyệt" in s.value for s in at.success)
    pub = app_test("danh_gia", user="chuyenvien", dg_tab="Công bố")
    pub.checkbox(key="dg_cb_chac").check().run()
    pub.button(key="dg_cong_bo").click().run()
    assert not pub.exception and any(s.value.startswith(f"Đã công bố kết quả năm học {YEAR}") for s in pub.success)
    assert _assessment(app, "THCS001").state == "da_cong_bo"
    # the principal's scorecard says the result is published, with its level; another school's not
    card = app_test(None, user="ht.thcs001")
    assert not card.exception
    assert any(s.value.startswith(f"Kết quả đã công bố: lần công bố CB-{YEAR}-01") for s in card.success)
    assert any(m.label == "Mức của trường (điểm chỉ số)" for m in card.metric)
    other = app_test(None, user="ht.th001")
    assert not any(s.value.startswith("Kết quả đã công bố") for s in other.success)
    assert any("chưa gồm trường này" in i.value for i in other.info)
    index = app_test("chi_so", user="lanhdao", nam_hoc=YEAR)
    assert any(s.value.startswith(f"Kết quả đã công bố: lần công bố CB-{YEAR}-01") for s in index.success)


def test_progress_tab_lists_the_reminders(app):
    at = app_test("danh_gia", user="chuyenvien", dg_tab="Tiến độ")
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Chưa bắt đầu", "Đang nháp", "Đã nộp", "Trả lại", "Đã duyệt", "Đã công bố"]
    assert all(int(m.value) > 0 for m in at.metric[:5])
    reminders = at.dataframe[1].value
    assert set(reminders["Trạng thái"]) == {asm.STATES[s] for s in ("chua_bat_dau", "nhap", "tra_lai")}


def test_the_data_entry_account_and_the_leadership_have_no_assessment_page(app):
    at = app_test(None, user="nl.th001")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/tu_danh_gia.py").run()
    at = app_test(None, user="lanhdao")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/danh_gia.py").run()


def test_the_log_tab_lists_the_assessment_audit(app):
    d = views.views_for(app).assessor(Scope.school("TH001"))
    a = d.assessment(User("ht.th001", "", "hieu_truong", "TH001", None), "TH001", YEAR)
    d.save(User("ht.th001", "", "hieu_truong", "TH001", None), "TH001", YEAR, {"DH4": {"points": 5}}, a.version)
    at = app_test("danh_gia", user="chuyenvien", dg_tab="Nhật ký")
    assert not at.exception
    log = at.dataframe[0].value
    assert (log["Việc"].iloc[0], log["Người"].iloc[0], log["Trường"].iloc[0]) == ("Lưu nháp tự đánh giá", "ht.th001",
                                                                                  "TH001")
