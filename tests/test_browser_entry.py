"""Schools' entry and the office's review in a real browser (Debian chromium via Playwright) against a
real `streamlit run`: a principal types (checked as they type), saves, reloads, submits; the office
returns with a reason the principal then sees; approval changes the district figure; lock and
reopen; no other school's form by URL.

The two tests share one server on a private copy of the sample with its state store, in order:
the first works on THCS001's draft, the second approves and locks the period."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kpi.admin import auth
from kpi.common.access import Scope
from kpi.store import db, state
from kpi.views import cache as views
from tests.test_browser import CHROMIUM, page_as, serve_copy, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing (make test installs it as root)"),
]
T = 30000  # ms


@pytest.fixture(scope="module")
def entry_app(sample_db, browser, tmp_path_factory):
    yield from serve_copy(sample_db, browser, tmp_path_factory, "entry")


_as = page_as


def _name(path, sid):
    c = db.connect(path)
    try:
        return c.execute("SELECT name FROM schools WHERE school_id = ?", [sid]).fetchall()[0][0]
    finally:
        c.close()


def _wait_idle(page):
    wait_idle(page, T)


def test_principal_enters_saves_reloads_submits_and_sees_the_return(browser, entry_app):
    url, path = entry_app
    own = _name(path, "THCS001")
    page = _as(browser, url, "ht.thcs001")
    page.goto(f"{url}/nop-so-lieu?truong=TH002")  # another school in the URL: the own form all the same
    page.get_by_role("heading", name=f"Nộp số liệu · {own}").wait_for(timeout=T)
    assert _name(path, "TH002") not in page.content()
    page.get_by_text("Bản nháp, lưu lần cuối").wait_for(timeout=T)
    pupils = page.get_by_label("Tổng số học sinh (trẻ) (học sinh) *")
    expect(pupils).to_have_value(re.compile(r"\d"), timeout=T)
    before = int(pupils.input_value().replace(".", ""))
    # typing is checked as the user types (a pause, no Enter): a hard check, then a soft one
    pupils.fill("99999")
    page.get_by_text("Tổng số học sinh (trẻ): ngoài giới hạn cho phép (0 đến 10000)").wait_for(timeout=T)
    pupils.fill(str(round(before * 1.5)))
    page.get_by_text(re.compile(r"Tổng số học sinh \(trẻ\): tăng 5\d(,\d)?% so với kỳ trước")).wait_for(timeout=T)
    why = page.get_by_label("Giải thích cho 'Tổng số học sinh (trẻ)' (bắt buộc khi nộp)")
    why.wait_for(timeout=T)
    page.get_by_role("button", name="Lưu nháp").click()
    page.get_by_text("Đã lưu nháp lúc").wait_for(timeout=T)
    page.get_by_role("button", name="Nộp").click()  # the soft check is not explained yet: refused, field named
    page.get_by_text("Tổng số học sinh (trẻ): cần giải thích ngắn (ít nhất 5 ký tự) trước khi nộp").wait_for(timeout=T)
    page.reload()  # the draft survives a reload
    page.get_by_role("heading", name=f"Nộp số liệu · {own}").wait_for(timeout=T)
    pupils = page.get_by_label("Tổng số học sinh (trẻ) (học sinh) *")
    expect(pupils).to_have_value(re.compile(r"\d"), timeout=T)
    assert pupils.input_value().replace(".", "") == str(round(before * 1.5))
    why = page.get_by_label("Giải thích cho 'Tổng số học sinh (trẻ)' (bắt buộc khi nộp)")
    why.fill("Nhận học sinh của điểm trường sáp nhập")
    _wait_idle(page)
    page.get_by_role("button", name="Nộp").click()
    page.get_by_text("Đã nộp số liệu lúc").wait_for(timeout=T)
    page.get_by_text("đang chờ Phòng duyệt").first.wait_for(timeout=T)
    assert page.get_by_role("button", name="Lưu nháp").count() == 0  # a submission waits: nothing to edit
    # the office returns it with a reason
    office = _as(browser, url, "chuyenvien")
    office.goto(f"{url}/duyet-so-lieu?dy_truong=THCS001")
    office.get_by_role("heading", name="Duyệt số liệu").wait_for(timeout=T)
    office.get_by_text("Nhận học sinh của điểm trường sáp nhập").first.wait_for(timeout=T)  # the explanation
    office.get_by_label("Lý do trả lại (trường sẽ thấy)").fill("Số học sinh cần khớp với danh sách trên CSDL ngành")
    _wait_idle(office)
    office.get_by_role("button", name="Trả lại").click()
    office.get_by_text(f"Đã trả lại {own}").wait_for(timeout=T)
    page.reload()
    page.get_by_text("Lý do Phòng trả lại: Số học sinh cần khớp với danh sách trên CSDL ngành").wait_for(timeout=T)
    page.get_by_role("button", name="Lưu nháp").wait_for(timeout=T)  # returned: the school may correct again
    # and the review page is not the principal's to open
    page.goto(f"{url}/duyet-so-lieu")
    page.wait_for_timeout(1500)
    _wait_idle(page)
    assert page.get_by_role("heading", name="Duyệt số liệu").count() == 0
    page.context.close()
    office.context.close()


def _missing(page) -> str:
    line = page.get_by_text(re.compile(r"\d+ trường chưa có số liệu kỳ này"))
    line.wait_for(timeout=T)
    return line.inner_text()


def test_approval_moves_the_district_figure_then_lock_and_reopen(browser, entry_app):
    url, path = entry_app
    th005, mn001 = _name(path, "TH005"), _name(path, "MN001")
    office = _as(browser, url, "chuyenvien")
    chart = f"{url}/chi-tieu?nam_hoc=2023-2024&ky=CN&chi_tieu=tin_hoc_quoc_te"
    office.goto(chart)
    approved_only = _missing(office)
    assert th005 in approved_only  # submitted in the app, not yet approved: not counted
    office.goto(chart + "&cho_duyet=1")  # the switch: including submitted, not yet approved
    assert th005 not in _missing(office)
    office.goto(f"{url}/duyet-so-lieu?dy_truong=TH005&cho_duyet=0")
    office.get_by_text(f"{th005}: Đã nộp lúc").wait_for(timeout=T)
    office.get_by_role("button", name="Duyệt", exact=True).click()
    office.get_by_text("Đã duyệt 1 trường").wait_for(timeout=T)
    office.goto(chart + "&cho_duyet=0")
    after = _missing(office)
    assert th005 not in after
    assert int(after.split()[0]) == int(approved_only.split()[0]) - 1
    # lock: refused while submissions wait; another staff member (another worker) decides them
    office.goto(f"{url}/duyet-so-lieu")
    office.get_by_role("heading", name="Duyệt số liệu").wait_for(timeout=T)
    office.get_by_text("Tôi muốn khóa kỳ 2023-2024 · CN").click()
    _wait_idle(office)
    office.get_by_role("button", name="Khóa kỳ").click()
    office.get_by_text(re.compile(r"Chưa khóa được kỳ 2023-2024 CN: còn \d+ trường đã nộp đang chờ duyệt")).wait_for(
        timeout=T)
    staff = auth.User("chuyenvien", "", "chuyen_vien", None, None)
    d = views.views_for(path).desk(Scope.everything())
    waiting = [(s, e.version) for s in d.schools if (e := d.entry(s, "2023-2024", "CN")).state == "da_nop"]
    d.approve(staff, waiting, "2023-2024", "CN")
    office.reload()
    office.get_by_text("Tôi muốn khóa kỳ 2023-2024 · CN").click()
    _wait_idle(office)
    office.get_by_role("button", name="Khóa kỳ").click()
    office.get_by_text("Đã khóa kỳ 2023-2024 CN cho 53 trường").wait_for(timeout=T)
    # the principal of a locked school cannot change anything ...
    school = _as(browser, url, "ht.mn001")
    school.goto(f"{url}/nop-so-lieu")
    school.get_by_text("đã được duyệt và khóa").wait_for(timeout=T)
    assert school.get_by_role("button", name="Lưu nháp").count() == 0
    # ... until the office reopens it, with a reason the school sees
    office.goto(f"{url}/duyet-so-lieu?dy_truong=MN001")
    office.get_by_text(f"{mn001}: Số liệu kỳ này đã được duyệt và khóa").wait_for(timeout=T)
    office.get_by_label("Lý do mở lại (trường sẽ thấy)").fill("Sửa số trẻ theo kết quả rà soát tháng 6")
    _wait_idle(office)
    office.get_by_role("button", name="Mở lại để trường sửa").click()
    office.get_by_text(f"Đã mở lại {mn001}").wait_for(timeout=T)
    school.reload()
    school.get_by_text("Lý do Phòng trả lại: Sửa số trẻ theo kết quả rà soát tháng 6").wait_for(timeout=T)
    school.get_by_role("button", name="Lưu nháp").wait_for(timeout=T)
    actions = [(r["action"], r["user_name"]) for r in state.store_for(path).audit_rows(20)
               if r["action"] in ("mo_lai", "khoa_ky", "duyet")]
    assert actions[:2] == [("mo_lai", "chuyenvien"), ("khoa_ky", "chuyenvien")] and ("duyet", "chuyenvien") in actions
    school.context.close()
    office.context.close()
