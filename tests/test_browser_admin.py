"""Quản trị in a real browser (Debian chromium via Playwright) against a real `streamlit run`: an
account made from the office's Excel file logs in through the login form with its first password,
reaches only "Đổi mật khẩu" (even by URL), changes it, lands on its own page, and the first password
no longer opens the door."""

from pathlib import Path

import pytest

from kpi.admin import accounts
from kpi.store import db
from tests.test_admin import LEAD, accounts_xlsx
from tests.test_browser import CHROMIUM, _serve, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing (make test installs it as root)"),
]
T = 30000  # ms


@pytest.fixture(scope="module")
def admin_app(sample_db, browser, tmp_path_factory):
    path = tmp_path_factory.mktemp("admin") / "app.duckdb"
    path.write_bytes(sample_db.read_bytes())
    made = accounts.create_accounts(path, LEAD, "tk.xlsx", accounts_xlsx([("ht.moi", "Hiệu trưởng Mới", "Hiệu trưởng",
                                                                         "TH003")]))
    for url in _serve(path, browser):
        yield url, path, dict(made.created)["ht.moi"]


def test_a_first_password_is_changed_before_anything_else(browser, admin_app):
    url, path, first = admin_app
    c = db.connect(path)
    school = c.execute("SELECT name FROM schools WHERE school_id = 'TH003'").fetchall()[0][0]
    c.close()
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    login(page, url, "ht.moi", first)
    page.get_by_role("heading", name="Đổi mật khẩu").wait_for(timeout=T)
    page.goto(f"{url}/truong-hoc")  # the own page by URL: still the password page
    page.get_by_role("heading", name="Đổi mật khẩu").wait_for(timeout=T)
    assert school not in page.locator("h1").all_inner_texts()
    new = "hoa phượng nở đỏ sân trường"
    page.get_by_label("Mật khẩu hiện tại").fill(first)
    page.get_by_label("Mật khẩu mới", exact=True).fill(new)
    page.get_by_label("Nhập lại mật khẩu mới").fill(new)
    page.get_by_role("button", name="Đổi mật khẩu").click()
    page.get_by_role("heading", name=school).wait_for(timeout=T)  # the principal's own page
    assert not accounts.must_change(path, "ht.moi")
    other = browser.new_context().new_page()
    other.goto(f"{url}/dang-nhap")
    other.get_by_label("Tên đăng nhập").fill("ht.moi")
    other.get_by_label("Mật khẩu").fill(first)
    other.get_by_role("button", name="Đăng nhập").click()
    other.get_by_role("alert").wait_for(timeout=T)
    assert "không đúng" in other.get_by_role("alert").inner_text()
    login(other, url, "ht.moi", new)
    other.get_by_role("heading", name=school).wait_for(timeout=T)
