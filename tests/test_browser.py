"""Real browser (Debian chromium via Playwright) against a real `streamlit run`."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import browser_type_launch_args  # noqa: F401 - the fixture, for modules importing it from here

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
LOCAL = {"localhost", "127.0.0.1", "[::1]", "::1"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing (make test installs it as root)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db_path, browser):
    """Start `streamlit run dashboard.py` on a free port for a database; yield its URL; stop it."""
    port = _free_port()
    env = dict(os.environ, KPI_DB=str(db_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy: " + proc.stdout.read().decode(errors="replace")[-2000:])
    # The first session after a start runs in Streamlit's legacy pages/ mode, where a deep link
    # shows a "page not found" notice before dashboard.py's navigation takes over: open it once.
    warm = browser.new_page()
    warm.goto(url)
    warm.get_by_text("Vui lòng đăng nhập").wait_for(timeout=30000)
    warm.close()
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a run still going on a loaded machine: the test is over
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def app_url(sample_db, browser):
    """The app on the shared sample (tests here only read)."""
    yield from _serve(sample_db, browser)


@pytest.fixture()
def writable_app(sample_db, browser, tmp_path):
    """The app on a private copy of the sample, for tests that import data."""
    path = tmp_path / "app.duckdb"
    path.write_bytes(sample_db.read_bytes())
    for url in _serve(path, browser):
        yield url, path


def login(page, url: str, user: str = "lanhdao", password: str = "dulieumau") -> None:
    """Log in through the real form (the server sets the httponly session cookie)."""
    for attempt in range(3):
        try:
            page.goto(f"{url}/dang-nhap")
            break
        except PlaywrightError as e:
            # a logged-out "/" sends the browser to the form by itself: that navigation may abort
            # ours or interrupt it (Playwright words it either way); both end on the form
            if not any(w in str(e) for w in ("ERR_ABORTED", "interrupted by another navigation")) \
                    or attempt == 2:
                raise
            page.wait_for_load_state()
    page.wait_for_url(f"{url}/dang-nhap*", timeout=30000)
    page.get_by_label("Tên đăng nhập").fill(user)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{url}/", timeout=30000)


def serve_copy(sample_db, browser, tmp_path_factory, name: str):
    """A private copy of the sample (and of its state store) served for one module's browser tests;
    yields (url, path)."""
    from kpi.store import state

    path = tmp_path_factory.mktemp(name) / "app.duckdb"
    path.write_bytes(sample_db.read_bytes())
    state.store_for(sample_db).copy_to(state.state_path(path))
    yield from ((url, path) for url in _serve(path, browser))


def page_as(browser, url: str, user: str):
    """A new browser context (1300×900) logged in as `user` through the real form."""
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    login(page, url, user)
    return page


def wait_idle(page, timeout: float = 30000) -> None:
    """Wait until the page's network is quiet and its script has finished running."""
    page.wait_for_load_state("networkidle")
    page.locator('[data-test-script-state="notRunning"]').first.wait_for(state="attached", timeout=timeout)


@pytest.fixture()
def outside_requests(page):
    seen = []

    def record(request):
        u = urlparse(request.url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in LOCAL:
            seen.append(request.url)

    page.on("request", record)
    return seen


def test_overview_in_a_real_browser(page, app_url, outside_requests):
    login(page, app_url)
    page.goto(app_url)
    page.get_by_role("heading", name="Tổng quan").wait_for(timeout=30000)
    page.get_by_text("Dữ liệu mẫu", exact=False).first.wait_for()
    page.get_by_role("tab", name="Biểu đồ").click()
    page.locator("[data-testid='stPlotlyChart'] .main-svg").first.wait_for(timeout=30000)
    bars = page.locator("[data-testid='stPlotlyChart'] .bars path")
    assert bars.count() >= 30
    page.wait_for_load_state("networkidle")
    assert outside_requests == []


def test_tile_to_target_to_school_and_deep_link(page, app_url, outside_requests):
    login(page, app_url)
    page.goto(f"{app_url}/?nam_hoc=2022-2023&ky=CN")
    page.get_by_role("heading", name="Tổng quan").wait_for(timeout=30000)
    page.get_by_text("Năm học 2022-2023 · CN").wait_for(timeout=30000)
    heading = "Trường THCS triển khai hệ thống quản lý dạy học trực tuyến (LMS)"
    # the first tile's link, by its name: under a busy machine the first link in the page while it was still being
    # drawn was once another tile's (the CI of 07/12/2026 landed on lms_lop5)
    page.get_by_role("link", name=re.compile("^Xem từng trường · .*" + re.escape(heading))).first.click()
    page.wait_for_url("**/chi-tieu?*", timeout=30000)
    page.get_by_role("heading", name=heading).wait_for(timeout=30000)
    assert "chi_tieu=lms_thcs" in page.url and "nam_hoc=2022-2023" in page.url
    bar = page.locator("[data-testid='stPlotlyChart'] .barlayer .point path >> visible=true").first
    bar.wait_for(timeout=30000)
    page.wait_for_load_state("networkidle")
    for _ in range(8):  # plotly may still be wiring its click handler after a page switch
        bar.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(500)
        box = bar.bounding_box()  # plotly's drag layer sits on top: click where a person would
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            page.wait_for_url("**/truong-hoc?*", timeout=5000)
            break
        except Exception:  # noqa: BLE001 - not yet: click again, as a person would
            continue
    page.wait_for_url("**/truong-hoc?*", timeout=10000)
    assert "truong=THCS" in page.url and "nam_hoc=2022-2023" in page.url
    school = page.locator("h1").first
    school.wait_for(timeout=30000)
    name = school.inner_text()
    assert name.startswith("Trường THCS")
    page.get_by_text("Việc cần làm tiếp").wait_for()
    page.get_by_text("Năm học 2022-2023 · CN", exact=False).first.wait_for()
    deep_link = page.url
    page.goto(deep_link)
    page.get_by_role("heading", name=name).wait_for(timeout=30000)
    assert page.url == deep_link
    page.wait_for_load_state("networkidle")
    assert outside_requests == []


def test_maturity_heatmap_page(page, app_url, outside_requests):
    login(page, app_url, "chuyenvien")
    page.goto(f"{app_url}/chi-so-cds?nam_hoc=2023-2024")
    page.get_by_role("heading", name="Chỉ số chuyển đổi số").wait_for(timeout=30000)
    page.get_by_text("Tạm tính", exact=False).first.wait_for()
    page.get_by_role("tab", name="Bản đồ nhiệt").click()
    heat = page.locator("[data-testid='stPlotlyChart'] .heatmaplayer image, [data-testid='stPlotlyChart'] .hm image")
    heat.first.wait_for(state="attached", timeout=30000)
    ticks = page.locator("[data-testid='stPlotlyChart'] .xtick text").evaluate_all("els => els.map(e => e.textContent)")
    assert any(t.startswith("DH3.1 · ") for t in ticks) and any(t.startswith("QT4.3 · ") for t in ticks)
    assert not any("QT_GAP" in t for t in ticks)  # columns are named by number and short name, never a code alone
    assert "cs_tab=" in page.url  # the open tab is in the link: a reload (or a colleague) opens it again
    page.reload()
    heat.first.wait_for(state="attached", timeout=30000)
    page.get_by_text("Tên trường").click()  # sort by name: the first row becomes the first name
    page.wait_for_timeout(1500)
    page.wait_for_load_state("networkidle")
    assert outside_requests == []


def test_login_cookie_is_httponly_and_wrong_password_refused(app_url):
    import http.client

    host, port = app_url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/dang-nhap")
    r = conn.getresponse()
    csrf = r.getheader("Set-Cookie").split(";")[0]  # kpi_csrf=…, and the form's token that goes with it
    token = re.search(r'name="csrf" value="([^"]+)"', r.read().decode()).group(1)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": csrf}
    conn.request("POST", "/dang-nhap", body=f"user=lanhdao&password=sai-mat-khau&csrf={token}", headers=form)
    r = conn.getresponse()
    body = r.read().decode("utf-8")
    assert r.status == 401 and "Tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản đã bị khóa." in body
    assert r.getheader("Set-Cookie") is None
    conn.request("POST", "/dang-nhap", body=f"user=chuyenvien&password=dulieumau&csrf={token}", headers=form)
    r = conn.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie")
    assert r.status == 303 and cookie.startswith("kpi_phien=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "dulieumau" not in cookie


def test_principal_login_reload_phone_logout(browser, app_url):
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.goto(app_url)
    page.get_by_text("Vui lòng đăng nhập").wait_for(timeout=30000)
    page.wait_for_url(f"{app_url}/dang-nhap*", timeout=30000)  # the page sends a visitor to the form
    login(page, app_url, "ht.th001")
    title = page.locator("h1").first
    title.wait_for(timeout=30000)
    name = title.inner_text()
    assert name.startswith("Trường Tiểu học")
    page.get_by_text("Các chỉ tiêu").wait_for(timeout=30000)
    page.reload()
    page.get_by_role("heading", name=name).wait_for(timeout=30000)  # still logged in after a reload
    page.get_by_text("Các chỉ tiêu").wait_for(timeout=30000)
    cards = page.get_by_role("link", name="So với các trường")  # one per card
    cards.nth(9).wait_for(timeout=30000)
    page.screenshot(path=str(ROOT / "test-results" / "scorecard-390.png"), full_page=True)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                           "document.querySelector('[data-testid=stMain]').scrollWidth, window.innerWidth]")
    assert max(widths[:2]) <= widths[2], widths  # cards stack: no horizontal scrolling at 390 px
    for i in range(min(cards.count(), 12)):
        box = cards.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1
    page.goto(f"{app_url}/dang-xuat")  # a GET only asks; its form posts with the token
    page.get_by_role("button", name="Đăng xuất").click()
    page.get_by_role("button", name="Đăng nhập").wait_for(timeout=30000)
    page.goto(app_url)
    page.get_by_text("Vui lòng đăng nhập").wait_for(timeout=30000)
    ctx.close()


def test_upload_preview_confirm_in_browser(page, writable_app, outside_requests, tmp_path):
    url, path = writable_app
    head = "Mã trường,Năm học,Kỳ,Tổng số học sinh (trẻ) (học sinh),Tổng số giáo viên (giáo viên)," \
           "Tổng số cán bộ quản lý và giáo viên (người)"
    good = tmp_path / "truong_th002.csv"
    good.write_text(f"{head}\nTH002,2023-2024,CN,1222,41,45\n", encoding="utf-8")
    login(page, url, "chuyenvien")
    page.goto(f"{url}/du-lieu")
    page.get_by_role("heading", name="Dữ liệu").wait_for(timeout=30000)
    page.get_by_role("tab", name="Nhập số liệu").click()
    page.locator("input[type=file]").set_input_files(str(good))
    page.get_by_text("truong_th002.csv: 1 dòng hợp lệ, 3 giá trị sẽ thay đổi").wait_for(timeout=30000)
    page.get_by_role("button", name="Xác nhận nhập 1 tệp").click()
    page.get_by_text("Đã nhập truong_th002.csv (lần nhập #2)").wait_for(timeout=30000)
    from kpi.store import db

    c = db.connect(path)
    got = c.execute("SELECT value FROM observations WHERE school_id = 'TH002' AND field_code = 'hs_tong' "
                    "AND school_year = '2023-2024' AND round = 'CN'").fetchall()
    audit = c.execute("SELECT user_name, file_name, status FROM imports WHERE import_id = 2").fetchall()
    c.close()
    assert got == [(1222.0,)] and audit == [("chuyenvien", "truong_th002.csv", "applied")]
    assert outside_requests == []


def test_table_tab_row_opens_the_school(page, app_url, outside_requests):
    """The open tab is in the URL; choosing a row of the schools table opens that school (the
    tab's parameter stays behind on its own page)."""
    login(page, app_url)
    page.goto(f"{app_url}/chi-tieu?nam_hoc=2023-2024&ky=CN&chi_tieu=lms_thcs&ct_tab=B%E1%BA%A3ng")
    grid = page.locator("[data-testid='stDataFrame']").last
    grid.wait_for(timeout=30000)
    page.wait_for_load_state("networkidle")
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    for _ in range(8):  # the grid draws on a canvas: click the first row's selection box
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        try:
            page.wait_for_url("**/truong-hoc?*", timeout=4000)
            break
        except Exception:  # noqa: BLE001 - not yet drawn: click again
            page.wait_for_timeout(500)
    page.wait_for_url("**/truong-hoc?*", timeout=10000)
    assert "truong=THCS" in page.url and "nam_hoc=2023-2024" in page.url and "ct_tab" not in page.url
    page.get_by_text("Việc cần làm tiếp").wait_for(timeout=30000)
    page.wait_for_load_state("networkidle")
    assert outside_requests == []


def test_principal_downloads_own_school_pdf(browser, app_url, tmp_path):
    """The principal's "Tải phiếu của trường (PDF)" on their own Trường page gives their scorecard."""
    import subprocess

    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    login(page, app_url, "ht.th001")
    title = page.locator("h1").first
    title.wait_for(timeout=30000)
    name = title.inner_text()
    page.get_by_text("Các chỉ tiêu").wait_for(timeout=30000)
    with page.expect_download(timeout=60000) as dl:
        page.get_by_role("button", name="Tải phiếu của trường (PDF)").click()
    path = tmp_path / "phieu.pdf"
    dl.value.save_as(path)
    assert dl.value.suggested_filename.startswith("phieu_TH001_")
    assert path.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert name in text and "Bạn không có quyền" not in page.inner_text("body")
    ctx.close()


def test_snapshot_source_appears_after_a_snapshot(page, writable_app):
    """The snapshot list is kept per version of the database file: once a snapshot is made, the
    "Nguồn số liệu" picker is on the pages (without a restart), and choosing it reads the snapshot."""
    url, _ = writable_app
    login(page, url, "chuyenvien")
    page.goto(f"{url}/?nam_hoc=2023-2024&ky=CN")
    page.get_by_role("heading", name="Tổng quan").wait_for(timeout=30000)
    assert page.get_by_text("Nguồn số liệu").count() == 0  # no snapshot yet
    page.goto(f"{url}/bao-cao?nam_hoc=2023-2024&ky=CN")
    page.get_by_role("button", name="Chốt số liệu kỳ 2023-2024 · CN").click()
    page.get_by_text("Đã chốt số liệu: mã").wait_for(timeout=30000)
    for path, heading in (("/?nam_hoc=2023-2024&ky=CN", "Tổng quan"),
                          ("/chi-so-cds?nam_hoc=2023-2024", "Chỉ số chuyển đổi số"),
                          ("/chi-tieu?nam_hoc=2023-2024&ky=CN", None)):
        page.goto(url + path)
        if heading:
            page.get_by_role("heading", name=heading).wait_for(timeout=30000)
        page.locator("[data-testid=stSidebar]").get_by_text("Nguồn số liệu").wait_for(timeout=30000)
    for _ in range(3):  # the sidebar is redrawn while the page finishes: open the list once it has settled
        page.locator('[data-test-script-state="notRunning"]').first.wait_for(state="attached", timeout=30000)
        page.get_by_role("combobox", name="Nguồn số liệu").click()
        try:
            page.get_by_role("option", name="Bản chốt", exact=False).first.click(timeout=10000)
            break
        except Exception:  # noqa: BLE001 - the list closed under a rerun: open it again
            page.keyboard.press("Escape")
    page.get_by_text("Đang xem số liệu đã chốt").wait_for(timeout=30000)
    assert "chot=" in page.url


@pytest.mark.parametrize("user, path, note, heading, shown", [
    ("ht.th001", "/truong", "Không có trang «/truong»", None, "Năm học 2023-2024 · CN"),
    ("ht.th001", "/tong-quan", "không dành cho tài khoản của bạn", None, "Các chỉ tiêu"),
    ("lanhdao", "/tong-quan?nam_hoc=2022-2023&ky=HK1", None, "Tổng quan", "Năm học 2022-2023 · HK1"),
    ("lanhdao", "/du-lieu", "Trang «Dữ liệu» không dành cho tài khoản của bạn", "Tổng quan", "Đạt"),
])
def test_outdated_link_opens_the_main_page_in_vietnamese(browser, app_url, user, path, note, heading, shown):
    ctx = browser.new_context()
    page = ctx.new_page()
    login(page, app_url, user)
    page.goto(app_url + path)
    if heading:
        page.get_by_role("heading", name=heading).wait_for(timeout=30000)
    page.get_by_text(shown, exact=False).first.wait_for(timeout=30000)
    if note:
        page.get_by_text(note, exact=False).wait_for(timeout=30000)
    page.wait_for_timeout(500)
    body = page.inner_text("body")
    assert "Page not found" not in body and "does not seem to exist" not in body
    ctx.close()
