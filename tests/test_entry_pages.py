"""The entry and review pages through dashboard.py (AppTest): a school's own form only, drafts that
survive a new session, the Phòng's decisions from its page, the "including submitted" switch."""

import pytest

from kpi.common.access import Scope
from kpi.display import tables
from kpi.store import db, state
from kpi.views import cache as views
from tests.conftest import app_test


@pytest.fixture()
def entry_app(entry_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(entry_db))
    return entry_db


def _name(path, sid):
    c = db.connect(path)
    try:
        return c.execute("SELECT name FROM schools WHERE school_id = ?", [sid]).fetchall()[0][0]
    finally:
        c.close()


def test_a_principal_reaches_only_the_own_form(entry_app):
    """A URL naming another school (or a page parameter) still opens the own school's form; nothing of
    another school is on it. Planted: the office's view of TH002 does show TH002 (the check can fail)."""
    at = app_test("nop_so_lieu", user="ht.th001", truong="TH002", dy_truong="TH002")
    assert not at.exception
    assert at.title[0].value == f"Nộp số liệu · {_name(entry_app, 'TH001')}"
    shown = "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info] +
                      [w.value for w in at.warning] + [t.label for t in at.text_input])
    assert _name(entry_app, "TH002") not in shown and "TH002" not in shown
    assert "Lý do Phòng trả lại" in shown  # TH001's entry was returned in the sample: the reason is on screen
    office = app_test("duyet", user="chuyenvien", dy_truong="TH002")
    assert not office.exception
    assert any(_name(entry_app, "TH002") in i.value for i in office.info)


def test_each_field_names_the_previous_periods_figure_in_its_label(entry_app):
    """The previous period's figure is read with its field (in the label: the page draws one element a field,
    a save redraws them all): every field of the form, its own figure, the period named as written."""
    from kpi.common.text import plain  # the figure as the label writes it (markdown-escaped)
    from kpi.views.entry_form import build

    at = app_test("nop_so_lieu", user="ht.th001")
    assert not at.exception
    v = views.Views(entry_app)
    try:
        year, rnd = at.session_state["nsl_ctx"][1:]
        form = build(v, Scope.school("TH001"), "TH001", year, rnd)
    finally:
        v.close()
    labels = {w.key: w.label for w in [*at.text_input, *at.selectbox] if (w.key or "").startswith("nsl_")}
    assert form.previous and form.previous_label != "kỳ trước"
    for f in form.fields:
        label = labels[f"nsl_{f.code}"]
        assert f"· kỳ trước ({form.previous_label}): **{plain(f.previous) or '—'}**" in label, label
    assert sum("**—**" not in label for label in labels.values()) >= len(form.previous)


def test_the_delegated_account_enters_and_a_draft_survives_a_new_session(entry_app):
    at = app_test(None, user="nl.th001")
    assert at.title[0].value.startswith("Nộp số liệu · ")  # the data-entry account opens on its form
    at.text_input(key="nsl_gv_tin").set_value("7").run()
    at.button(key="nsl_save").click().run()
    assert not at.exception and any("Đã lưu nháp" in s.value for s in at.success)
    again = app_test(None, user="ht.th001")  # another person, another session (a reload, another worker)
    again.switch_page("pages/nop_so_lieu.py").run()
    assert again.text_input(key="nsl_gv_tin").value == "7"


def test_stale_form_is_told_and_can_reload(entry_app):
    first = app_test("nop_so_lieu", user="ht.thcs001")
    second = app_test("nop_so_lieu", user="ht.thcs001")
    first.text_input(key="nsl_gv_tin").set_value("5").run()
    first.button(key="nsl_save").click().run()
    second.text_input(key="nsl_gv_tin").set_value("6").run()
    assert any("vừa được ht.thcs001 thay đổi" in w.value for w in second.warning)  # told before saving
    second.button(key="nsl_save").click().run()
    assert any(e.value.startswith("Nội dung đã được bạn (ở một cửa sổ khác) sửa lúc") for e in second.error)
    d = views.views_for(entry_app).desk(Scope.school("THCS001"))
    assert d.entry("THCS001", "2023-2024", "CN").raw["gv_tin"] == "5"  # the first save stands
    second.button(key="nsl_reload_btn").click().run()
    assert second.text_input(key="nsl_gv_tin").value == "5"


def test_the_office_returns_and_approves_from_its_page(entry_app):
    at = app_test("duyet", user="chuyenvien", nam_hoc="2023-2024", ky="CN")
    assert not at.exception and at.title[0].value == "Duyệt số liệu"
    waiting = int(at.metric[0].value)
    assert waiting >= 2
    queue = at.dataframe[0].value
    assert list(queue["Xét duyệt"][:waiting]) == ["Chờ duyệt"] * waiting  # waiting schools first
    first = queue["Mã trường"].iloc[0]
    at.text_input(key="dy_reason").set_value("Thiếu giải thích số giáo viên").run()
    at.button(key="dy_return").click().run()
    assert not at.exception and any("Đã trả lại" in s.value for s in at.success)
    assert int(at.metric[0].value) == waiting - 1
    e = views.views_for(entry_app).desk(Scope.everything()).entry(first, "2023-2024", "CN")
    assert (e.state, e.reason) == ("tra_lai", "Thiếu giải thích số giáo viên")
    nxt = at.dataframe[0].value["Mã trường"].iloc[0]
    at.selectbox(key="w_dy_truong").select(nxt).run()
    at.button(key="dy_approve").click().run()
    assert not at.exception and any(s.value.startswith("Đã duyệt 1 trường") for s in at.success)
    assert views.views_for(entry_app).desk(Scope.everything()).entry(nxt, "2023-2024", "CN").state == "da_duyet"
    at.session_state["dy_tab"] = "Chất lượng số liệu"
    at.run()
    quality = at.dataframe[0].value
    assert {"Đã báo cáo", "Bị cảnh báo", "Bất thường"} <= set(quality.columns) and quality["Bị cảnh báo"].sum() > 0
    at.session_state["dy_tab"] = "Nhật ký"
    at.run()
    log = at.dataframe[0].value
    assert list(log["Việc"][:2]) == ["Duyệt", "Trả lại"] and log["Người"].iloc[0] == "chuyenvien"


def test_the_switch_counts_submitted_figures_and_is_off_by_default(entry_app):
    off = app_test(None, user="lanhdao", nam_hoc="2023-2024", ky="CN")
    on = app_test(None, user="lanhdao", nam_hoc="2023-2024", ky="CN", cho_duyet="1")
    assert not off.exception and not on.exception
    assert off.toggle(key="w_cho_duyet").value is False and on.toggle(key="w_cho_duyet").value is True
    pending = state.store_for(entry_app).read("SELECT count(*) FROM entries WHERE state = 'da_nop'")[0][0]
    assert any(f"Đang gồm {pending} trường đã nộp, chưa duyệt (kỳ 2023-2024 CN)" in c.value for c in on.sidebar.caption)

    def reporting(at):
        return [m.value for m in at.markdown if "trường đã báo cáo" in m.value]
    assert reporting(off) and reporting(on) and reporting(off) != reporting(on)  # submitted schools count only when on
    on.switch_page("pages/chi_tieu.py").run()  # the choice follows the user to another page
    assert on.toggle(key="w_cho_duyet").value is True and on.query_params["cho_duyet"] == "1"
    principal = app_test("chi_tieu", user="ht.th001", cho_duyet="1")
    assert not principal.get("toggle")  # a principal's district figures are approved figures only


def test_a_school_uploads_its_filled_template_instead_of_typing(entry_app):
    """The upload fills the form through the import's checks (a bad file fills nothing and says why),
    and is audited; the save that follows is the same save as for typed values."""
    from tests.test_importer import GOOD_HEAD

    at = app_test("nop_so_lieu", user="ht.thcs001")
    bad = f"{GOOD_HEAD}\nTHCS001,2023-2024,CN,1234,60,44\n".encode()
    at.file_uploader(key="nsl_upload").set_value(("sai.csv", bad, "text/csv")).run()
    assert any(e.value.startswith("sai.csv: 1 lỗi, chưa điền gì") for e in at.error)
    good = f"{GOOD_HEAD}\nTHCS001,2023-2024,CN,1.234,40,44\n".encode()
    at.file_uploader(key="nsl_upload").set_value(("dung.csv", good, "text/csv")).run()
    assert not at.exception and any(s.value.startswith("Đã điền 3 giá trị từ dung.csv") for s in at.success)
    assert at.text_input(key="nsl_hs_tong").value == "1.234" and at.text_input(key="nsl_gv_tong").value == "40"
    at.button(key="nsl_save").click().run()
    saved = views.views_for(entry_app).desk(Scope.school("THCS001")).entry("THCS001", "2023-2024", "CN")
    assert saved.raw["hs_tong"] == "1.234" and saved.source == "tệp dung.csv"
    assert state.store_for(entry_app).audit_rows(action="nop_tep")[0]["user_name"] == "ht.thcs001"


def test_the_queue_on_screen_is_the_head_of_the_whole_queue(entry_app):
    """Duyệt số liệu writes out only the rows it shows (tables.queue_table's limit): the same rows, in the
    same order, as the head of the whole queue its download carries."""
    status = views.views_for(entry_app).submission_status(Scope.everything(), "2023-2024", "CN")
    assert len(status) > 10
    whole = tables.queue_table(status)
    head = tables.queue_table(status, limit=7)
    assert len(whole) == len(status) and len(head) == 7
    assert head.reset_index(drop=True).equals(whole.head(7).reset_index(drop=True))
