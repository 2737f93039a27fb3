"""A real server and a real browser: `streamlit run dashboard.py` over a database, demo users logged in
through the login route, and every page × role × screen size walked in Debian's chromium (Playwright),
each screen settled, checked by `kpi.tools.look` and (for the gallery) shot. The browser tests that
check every page (tests/test_look_pages.py) drive the same walk, so what the gallery shows is what the
tests check.

Nothing here imports streamlit; Playwright is imported when a walk starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from kpi.common.access import PAGES, ROLE_PAGES
from kpi.common.formatting import fmt_number
from kpi.tools import look

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KPI_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "dulieumau"  # the sample's demo accounts
VIEWPORTS = {"1440": (1440, 900), "390": (390, 844)}
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--font-render-hinting=none"]

# Who sees what (kpi.common.access.ROLE_PAGES, as dashboard.py routes; the first page of a role opens at "/"): one
# demo account per role.
USERS = {"lanhdao": ("lanh_dao", "Lãnh đạo Phòng"),
         "chuyenvien": ("chuyen_vien", "Chuyên viên Phòng"),
         "ht.th001": ("hieu_truong", "Hiệu trưởng (Tiểu học)"),
         "nl.th001": ("truong_nhap_lieu", "Nhập liệu của trường")}
PAGE_URLS = {name: url for name, (_, url) in PAGES.items()}


@dataclass(frozen=True)
class Screen:
    """One state of a page worth looking at: a page, its query (an open tab), expanders to open."""

    page: str
    label: str
    query: str = ""
    expand: tuple[str, ...] = ()
    fresh: bool = False   # opened as a new page load (a first visit), never from the screen before


SCREENS = [
    Screen("tong_quan", "Tổng quan · Theo nhóm"),
    Screen("tong_quan", "Tổng quan · Biểu đồ", "tq_tab=Biểu đồ"),
    Screen("tong_quan", "Tổng quan · Bảng số liệu", "tq_tab=Bảng số liệu"),
    Screen("chi_tieu", "Chỉ tiêu · biểu đồ", "chi_tieu=ty_trong_truc_tuyen"),
    Screen("chi_tieu", "Chỉ tiêu · bảng", "chi_tieu=ty_trong_truc_tuyen&ct_trend_tab=Bảng số liệu&ct_tab=Bảng"),
    Screen("chi_tieu", "Chỉ tiêu (mở lần đầu)", fresh=True),
    Screen("ai_cham", "Ai đang chậm"),
    Screen("so_sanh", "So sánh · biểu đồ"),
    Screen("so_sanh", "So sánh · bảng", "ss_tab=Bảng"),
    Screen("chi_so", "Chỉ số CĐS · Phân bố mức"),
    Screen("chi_so", "Chỉ số CĐS · Bản đồ nhiệt", "cs_tab=Bản đồ nhiệt"),
    Screen("chi_so", "Chỉ số CĐS · Điểm mất nhiều nhất", "cs_tab=Điểm mất nhiều nhất"),
    Screen("chi_so", "Chỉ số CĐS · Tự đánh giá và thẩm định", "cs_tab=Tự đánh giá và thẩm định"),
    Screen("chi_so", "Chỉ số CĐS · Lộ trình lên mức", "cs_tab=Lộ trình lên mức"),
    Screen("truong", "Trường", "", ("Điểm từng tiêu chí",)),
    Screen("du_lieu", "Dữ liệu · Tình hình nộp"),
    Screen("du_lieu", "Dữ liệu · Nhập số liệu", "dl_tab=Nhập số liệu"),
    Screen("du_lieu", "Dữ liệu · Biểu mẫu", "dl_tab=Biểu mẫu"),
    Screen("du_lieu", "Dữ liệu · Nhật ký nhập", "dl_tab=Nhật ký nhập"),
    Screen("bao_cao", "Báo cáo"),
    Screen("nop_so_lieu", "Nộp số liệu"),
    Screen("duyet", "Duyệt số liệu · Hàng chờ"),
    Screen("duyet", "Duyệt số liệu · Chất lượng số liệu", "dy_tab=Chất lượng số liệu"),
    Screen("duyet", "Duyệt số liệu · Nhật ký", "dy_tab=Nhật ký"),
    Screen("tu_danh_gia", "Tự đánh giá CĐS"),
    Screen("danh_gia", "Đánh giá CĐS · Xét duyệt"),
    Screen("danh_gia", "Đánh giá CĐS · Tiến độ", "dg_tab=Tiến độ"),
    Screen("danh_gia", "Đánh giá CĐS · Công bố", "dg_tab=Công bố"),
    Screen("danh_gia", "Đánh giá CĐS · Nhật ký", "dg_tab=Nhật ký"),
    Screen("quan_tri", "Quản trị · Chỉ tiêu năm học"),
    Screen("quan_tri", "Quản trị · Trường và đơn vị", "qt_tab=Trường và đơn vị"),
    Screen("quan_tri", "Quản trị · Tài khoản", "qt_tab=Tài khoản"),
    Screen("quan_tri", "Quản trị · Lịch sử", "qt_tab=Lịch sử"),
    Screen("doi_mat_khau", "Đổi mật khẩu"),
]


@dataclass
class Shot:
    """One screen as one user saw it at one size: its screenshot and what the checks found."""

    user: str
    role_label: str
    screen: Screen
    viewport: str
    url: str
    image: bytes = b""
    problems: list = field(default_factory=list)
    seconds: float = 0.0


def screens_for(user: str, screens=SCREENS) -> list[Screen]:
    """The screens a demo user can open, in the order of the role's pages."""
    pages = ROLE_PAGES[USERS[user][0]]
    return sorted((s for s in screens if s.page in pages), key=lambda s: pages.index(s.page))


def screen_path(user: str, screen: Screen) -> str:
    """The URL path of a screen for a user (a role's first page lives at "/")."""
    pages = ROLE_PAGES[USERS[user][0]]
    path = "/" if pages[0] == screen.page else "/" + PAGE_URLS[screen.page]
    return path + ("?" + "&".join(f"{k}={quote(v)}" for k, v in (p.split("=", 1) for p in screen.query.split("&")))
                   if screen.query else "")


# ---- a server and a browser ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(db_path: str | Path, timeout: float = 60, script: str | Path = ROOT / "dashboard.py"):
    """`streamlit run dashboard.py` (or `script`) on a free port over `db_path`; yields its URL, stops it
    after."""
    port = free_port()
    env = dict(os.environ, KPI_DB=str(db_path))
    env.setdefault("KPI_SECRET", "khoa-chi-dung-cho-bo-suu-tap-anh")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    out = proc.stdout.read().decode(errors="replace")[-2000:] if proc.poll() is not None else ""
                    raise RuntimeError(f"Máy chủ Streamlit không khởi động được. {out}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def login(context, url: str, user: str, password: str = PASSWORD) -> None:
    """Log a browser context in through the real login route (its httponly cookie lands in the context)."""
    form = context.request.get(f"{url}/dang-nhap").text()  # sets the CSRF cookie; the form carries its token
    token = re.search(r'name="csrf" value="([^"]*)"', form)
    r = context.request.post(f"{url}/dang-nhap", form={"user": user, "password": password,
                                                       "csrf": token.group(1) if token else ""},
                             headers={"Origin": url}, max_redirects=0)
    if r.status != 303:
        raise RuntimeError(f"Đăng nhập {user} không được (mã {r.status}).")


PAGE_END_ID = "kpi-het-trang"   # the element dashboard.py writes after every page's script

SETTLED_JS = r"""
() => {
  const main = document.querySelector('[data-testid=stMain]');
  const states = [...document.querySelectorAll('[data-test-script-state]')];
  const why = [];
  if (!main || !document.querySelector('h1')) why.push('chưa có tiêu đề trang');
  if (!states.length || states.some(e => e.dataset.testScriptState !== 'notRunning'))
    why.push('Streamlit còn đang chạy trang');
  if (document.querySelector('[data-testid=stStatusWidget] [data-testid=stStatusWidgetRunningIcon]'))
    why.push('dấu hiệu đang chạy còn hiện');
  const stale = document.querySelectorAll('[data-stale=true]').length;
  if (stale) why.push(stale + ' phần tử của lượt trước còn mờ');
  if (document.querySelector('[data-testid=stSkeleton]')) why.push('còn khung chờ');
  if (!document.getElementById('PAGE_END')) why.push('chưa có phần cuối trang');
  const charts = main ? [...main.querySelectorAll('[data-testid=stPlotlyChart]')] : [];
  const blank = charts.filter(c => c.offsetParent && !c.querySelector('svg.main-svg')).length;
  if (blank) why.push(blank + ' biểu đồ chưa vẽ');
  return {done: why.length === 0, why: why, count: main ? main.querySelectorAll('*').length : 0};
}
""".replace("PAGE_END", PAGE_END_ID)

STILL_DRAWING = "màn hình chưa vẽ xong"

# Open a path in the same tab as a click in the app's navigation does (Streamlit reruns on the
# history change, over the same session and websocket; no new page load); returns the run number of
# the page end drawn now, which the next run's page end replaces.
OPEN_IN_TAB_JS = """(path) => {
  const end = document.getElementById('PAGE_END');
  const before = end ? (end.dataset.lan ?? null) : null;
  window.scrollTo(0, 0);
  const main = document.querySelector('[data-testid=stMain]');
  if (main) main.scrollTo(0, 0);
  history.pushState({}, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
  return before;
}""".replace("PAGE_END", PAGE_END_ID)
NEXT_RUN_JS = """(before) => {
  const end = document.getElementById('PAGE_END');
  return !!end && (end.dataset.lan ?? null) !== before;
}""".replace("PAGE_END", PAGE_END_ID)


class StillDrawing(TimeoutError):
    """A page whose script run (or its drawing) is not over when the wait ends."""


def settle(page, timeout: float = 30) -> None:
    """Wait until the page's script run is over and its page is drawn to the end: every script
    state "notRunning", no running indicator, no stale element of an earlier run, no skeleton, the
    page-end element present, every visible chart drawn, and the same count of elements twice in a
    row 200 ms apart. Raises StillDrawing (saying what is missing) when that does not happen."""
    deadline = time.time() + timeout
    last, why = None, ["chưa mở được trang"]
    while time.time() < deadline:
        now = page.evaluate(SETTLED_JS)
        why = now["why"]
        if now["done"] and now["count"] == last:
            return
        last = now["count"] if now["done"] else None
        page.wait_for_timeout(200)
    raise StillDrawing(f"{page.url}: trang chưa hiện xong sau {fmt_number(timeout, 0)} giây ({'; '.join(why)})")


def drawing_finding(err: StillDrawing, where: str):
    """The finding for a screen captured while still drawing."""
    return look.Finding(STILL_DRAWING, where, str(err).split(": ", 1)[-1])


def full_page_png(page) -> bytes:
    """The whole page (Streamlit scrolls inside its main block, so the window grows to fit it)."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    need = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                         " return m ? m.scrollHeight : document.body.scrollHeight; }")
    tall = min(max(height, int(need)), 16000)
    if tall > height:
        page.set_viewport_size({"width": width, "height": tall})
        page.wait_for_timeout(400)
    try:
        return page.screenshot(full_page=True)
    finally:
        if tall > height:
            page.set_viewport_size({"width": width, "height": height})


def look_at(page, viewport: str, where: str, codes) -> list:
    """Everything `kpi.tools.look` finds wrong on the page now."""
    facts = page.evaluate(look.PAGE_FACTS_JS)
    charts = page.evaluate(look.CHART_FACTS_JS)
    keys = look.KEY_COLUMNS if viewport == "1440" else ()
    return look.page_problems(facts, codes, keys, where) + look.chart_problems(charts, where)


def _settled(page, where: str, timeout: float) -> list:
    """[] once the page has settled; else the one finding that it is still drawing."""
    try:
        settle(page, timeout)
    except StillDrawing as e:
        return [drawing_finding(e, where)]
    return []


def _opened_in_tab(page, path: str, where: str, timeout: float) -> list:
    """Open `path` in the same tab (as the app's own navigation does: a rerun, not a page load) and
    wait until that run has drawn its page end and settled; [] or the finding that it is still drawing."""
    before = page.evaluate(OPEN_IN_TAB_JS, path)
    deadline = time.time() + timeout
    while not page.evaluate(NEXT_RUN_JS, before):
        if time.time() > deadline:
            return [look.Finding(STILL_DRAWING, where, f"{path}: lượt chạy mới chưa vẽ đến cuối trang sau "
                                                        f"{fmt_number(timeout, 0)} giây")]
        page.wait_for_timeout(50)
    return _settled(page, where, max(1.0, deadline - time.time()))


def _walk_jobs(url: str, jobs: list, screens, shoot: bool, codes, on_shot, browser=None,
               settle_timeout: float = 30) -> list[Shot]:
    """One browser working through (user, viewport) jobs: a logged-in tab per job, every screen."""
    shots = []
    with contextlib.ExitStack() as stack:
        if browser is None:
            # deferred: Playwright (and its driver) loads only when a walk starts, never for the product
            from playwright.sync_api import sync_playwright

            pw = stack.enter_context(sync_playwright())
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            stack.callback(browser.close)
        while jobs:
            try:
                user, vp = jobs.pop(0)
            except IndexError:
                break
            w, h = VIEWPORTS[vp]
            ctx = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1, locale="vi-VN")
            try:
                login(ctx, url, user)
                page = ctx.new_page()
                loaded = False
                for screen in (screens[user] if isinstance(screens, dict) else screens_for(user, screens)):
                    t = time.perf_counter()
                    path = screen_path(user, screen)
                    shot = Shot(user, USERS[user][1], screen, vp, path)
                    where = f"{screen.label} · {user} · {vp} px"
                    if loaded and not screen.fresh:
                        drawing = _opened_in_tab(page, path, where, settle_timeout)
                    else:
                        page.goto(url + path)
                        drawing = _settled(page, where, settle_timeout)
                    loaded = not drawing  # after a screen that never settled, the next one loads anew
                    for label in screen.expand:
                        if drawing:
                            break
                        with contextlib.suppress(Exception):
                            page.get_by_text(label, exact=True).first.click(timeout=5000)
                        drawing = _settled(page, where, settle_timeout)
                    shot.problems = drawing + look_at(page, vp, where, codes)
                    if shot.problems:  # a grid or chart still settling: keep what is still wrong a moment later
                        page.wait_for_timeout(800)
                        again = {str(p) for p in look_at(page, vp, where, codes)}
                        shot.problems = drawing + [p for p in shot.problems if str(p) in again and p not in drawing]
                    if shoot:
                        shot.image = full_page_png(page)
                    shot.seconds = time.perf_counter() - t
                    shots.append(shot)
                    if on_shot:
                        on_shot(shot)
            finally:
                ctx.close()
    return shots


def walk(url: str, users=tuple(USERS), viewports=tuple(VIEWPORTS), screens=SCREENS, shoot: bool = True,
         codes=frozenset(), on_shot=None, workers: int = 1, browser=None, settle_timeout: float = 30) -> list[Shot]:
    """Open every screen each user may see at every viewport (`screens`: a list of screens, or
    user → the screens to open); check each and (shoot=True) take its full-page screenshot. One
    logged-in tab per user × viewport; `workers` browsers side by side (each in a thread of its own,
    as Playwright's sync API wants); `browser`: use this one instead (one worker). A screen not drawn
    to its end within `settle_timeout` s is a finding ("màn hình chưa vẽ xong"). Shots come back in
    user, viewport, screen order."""
    jobs = [(u, vp) for u in users for vp in viewports]
    if browser is not None or workers <= 1:
        shots = _walk_jobs(url, jobs, screens, shoot, codes, on_shot, browser, settle_timeout)
    else:
        results, errors = [], []

        def work():
            try:
                results.extend(_walk_jobs(url, jobs, screens, shoot, codes, on_shot, settle_timeout=settle_timeout))
            except BaseException as e:  # noqa: BLE001 - reported below, in the caller's thread
                errors.append(e)

        threads = [threading.Thread(target=work, name=f"gallery-{i}") for i in range(min(workers, len(jobs)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        shots = results
    order = {(u, vp): i for i, (u, vp) in enumerate((u, vp) for u in users for vp in viewports)}
    rank = {s: i for i, s in enumerate(SCREENS)}
    return sorted(shots, key=lambda s: (order[(s.user, s.viewport)], rank.get(s.screen, 0)))
