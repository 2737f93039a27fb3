"""The gallery: every page × role × screen size as a person sees it, and every page of every export,
in one offline HTML file (`python -m kpi gallery OUT/`, `make gallery`), with what `kpi.tools.look` finds
wrong on each, so the whole product can be reviewed in one place before a release.

Pages are opened in Debian's chromium (Playwright) on a real `streamlit run` of dashboard.py over the
sample database; exports are made by `kpi.exports.export`'s writers and drawn as images: PDF pages by
poppler's pdftoppm, PPTX slides by LibreOffice when it is installed (else the slides' texts), XLSX
sheets as HTML tables of their first rows. The same browser walk (`walk`) drives the browser tests
that check every page (tests/test_look_pages.py), so what the gallery shows is what the tests check.

Nothing here imports streamlit; Playwright is imported when a walk starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from kpi.catalog.model import default_catalog
from kpi.common.access import PAGES, ROLE_PAGES, Scope
from kpi.common.formatting import fmt_int, fmt_number
from kpi.exports import export, school_pdf
from kpi.store import db
from kpi.tools import look
from kpi.tools.sample import build_sample
from kpi.views import cache as views
from kpi.views.pack import build_pack

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KPI_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "dulieumau"  # the sample's demo accounts
VIEWPORTS = {"1440": (1440, 900), "390": (390, 844)}
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--font-render-hinting=none"]

# Who sees what (kpi.common.access.ROLE_PAGES, as dashboard.py routes; the first page of a role opens at "/"): one
# demo account per role.
USERS = {"lanhdao": ("lanh_dao", "Lãnh đạo Phòng"), "chuyenvien": ("chuyen_vien", "Chuyên viên Phòng"),
         "ht.th001": ("hieu_truong", "Hiệu trưởng (Tiểu học)"), "nl.th001": ("truong_nhap_lieu", "Nhập liệu của trường")}
PAGE_URLS = {name: url for name, (_, url) in PAGES.items()}


@dataclass(frozen=True)
class Screen:
    """One state of a page worth looking at: a page, its query (an open tab), expanders to open."""

    page: str
    label: str
    query: str = ""
    expand: tuple[str, ...] = ()


SCREENS = [
    Screen("tong_quan", "Tổng quan · Theo nhóm"),
    Screen("tong_quan", "Tổng quan · Biểu đồ", "tq_tab=Biểu đồ"),
    Screen("tong_quan", "Tổng quan · Bảng số liệu", "tq_tab=Bảng số liệu"),
    Screen("chi_tieu", "Chỉ tiêu · biểu đồ", "chi_tieu=ty_trong_truc_tuyen"),
    Screen("chi_tieu", "Chỉ tiêu · bảng", "chi_tieu=ty_trong_truc_tuyen&ct_trend_tab=Bảng số liệu&ct_tab=Bảng"),
    Screen("chi_tieu", "Chỉ tiêu (mở lần đầu)"),
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


def _walk_jobs(url: str, jobs: list, screens, shoot: bool, codes, on_shot, browser=None,
               settle_timeout: float = 30) -> list[Shot]:
    """One browser working through (user, viewport) jobs: a logged-in tab per job, every screen."""
    shots = []
    with contextlib.ExitStack() as stack:
        if browser is None:
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
                for screen in (screens[user] if isinstance(screens, dict) else screens_for(user, screens)):
                    t = time.perf_counter()
                    path = screen_path(user, screen)
                    shot = Shot(user, USERS[user][1], screen, vp, path)
                    page.goto(url + path)
                    where = f"{screen.label} · {user} · {vp} px"
                    drawing = _settled(page, where, settle_timeout)
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
    user → the screens to open); check each and (shoot=True) take its full-page screenshot. One logged-in tab per user × viewport; `workers` browsers side by side
    (each in a thread of its own, as Playwright's sync API wants); `browser`: use this one instead
    (one worker). A screen not drawn to its end within `settle_timeout` s is a finding
    ("màn hình chưa vẽ xong"). Shots come back in user, viewport, screen order."""
    import threading

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


# ---- exports as images ------------------------------------------------------------------------------

@dataclass
class ExportView:
    """One exported file as a person sees it: page images, or tables / texts when no image can be made."""

    title: str
    file_name: str
    size: int = 0
    seconds: float = 0.0
    images: list[bytes] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)   # (sheet or slide name, HTML)
    note: str = ""
    problems: list = field(default_factory=list)


def pdf_pages(data: bytes, dpi: int = 70) -> list[bytes]:
    """Every page of a PDF as a PNG (poppler's pdftoppm)."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "f.pdf"
        src.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(src), str(Path(d) / "p")], check=True,
                       capture_output=True, timeout=300)
        return [p.read_bytes() for p in sorted(Path(d).glob("p*.png"), key=lambda p: int(p.stem.split("-")[-1]))]


def pdf_text(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "f.pdf"
        src.write_bytes(data)
        return subprocess.run(["pdftotext", "-layout", str(src), "-"], check=True, capture_output=True,
                              timeout=120).stdout.decode("utf-8", "replace")


def office() -> str | None:
    """LibreOffice's command, when installed (Debian: libreoffice-impress; `make test` or `make gallery` as root)."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def pptx_as_pdf(data: bytes, timeout: float = 240) -> bytes | None:
    """The slides as a PDF through LibreOffice (None when it is not installed)."""
    cmd = office()
    if cmd is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "bao_cao.pptx"
        src.write_bytes(data)
        env = dict(os.environ, HOME=d)  # a profile of its own: never the user's, never locked by another run
        subprocess.run([cmd, "--headless", "--norestore", "--convert-to", "pdf", "--outdir", d, str(src)],
                       check=True, capture_output=True, timeout=timeout, env=env)
        out = Path(d) / "bao_cao.pdf"
        return out.read_bytes() if out.exists() else None


def pptx_texts(data: bytes) -> list[tuple[str, str]]:
    """Each slide's texts (when LibreOffice cannot draw them)."""
    from pptx import Presentation

    out = []
    for i, slide in enumerate(Presentation(io.BytesIO(data)).slides, 1):
        lines = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                lines += [p.text for p in shape.text_frame.paragraphs if p.text.strip()]
            if getattr(shape, "has_table", False) and shape.has_table:
                lines += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
            if shape.shape_type == 13:  # a picture: a chart image
                lines.append("[hình biểu đồ]")
        out.append((f"Trang chiếu {i}", "<pre>" + html.escape("\n".join(lines)) + "</pre>"))
    return out


def xlsx_tables(data: bytes, rows: int = 15) -> list[tuple[str, str]]:
    """The first rows of every sheet of a workbook, as HTML tables (values as Excel would show
    them: numbers with their number format)."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out = []
    for ws in wb.worksheets:
        body = []
        for r, row in enumerate(ws.iter_rows(max_row=rows)):
            cells = []
            for c in row:
                v = c.value
                shown = "" if v is None else _excel_shown(v, getattr(c, "number_format", "General"))
                kind = "num" if isinstance(v, (int, float)) and not isinstance(v, bool) else "txt"
                cells.append(f'<td class="{kind}">{html.escape(shown)}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        out.append((ws.title, f'<table class="sheet">{"".join(body)}</table>'
                              f'<p class="small">{ws.max_row or 0} dòng · {ws.max_column or 0} cột</p>'))
    return out


def _excel_shown(v, number_format: str) -> str:
    """A cell as Excel shows it in a Vietnamese locale (numbers: , for decimals, . for thousands)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v.strftime("%d/%m/%Y") if hasattr(v, "strftime") else str(v)
    if "%" in number_format:
        decimals = len(number_format.split(".")[1].rstrip("%")) if "." in number_format else 0
        return fmt_number(v * 100, decimals) + "%"
    if number_format in ("General", "") and float(v) != int(v):
        return fmt_number(v, 2)
    return fmt_int(v) if float(v) == int(v) else fmt_number(v, 2)


def html_page(data: bytes, browser) -> tuple[list[bytes], str]:
    """The HTML export as a person sees it in a browser, offline: one full-page image at 1280 px,
    and its visible text."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route("**/*", lambda r: r.abort() if not r.request.url.startswith(("about:", "data:")) else r.continue_())
        page.set_content(data.decode("utf-8"), wait_until="load")
        page.wait_for_timeout(800)
        return [page.screenshot(full_page=True)], page.inner_text("body")
    finally:
        page.close()


def make_exports(db_path: Path, browser=None, codes=frozenset(), log=print) -> list[ExportView]:
    """Every export the Báo cáo page and the CLI make for the newest period (and one school's PDF),
    each drawn as images; what `kpi.tools.look` finds in their text is listed with them."""
    import zipfile


    cat = default_catalog()
    con = db.connect(db_path)
    out = []
    try:
        v = views.Views.of_connection(con, cat)
        p = v.periods()
        year = p["school_year"].iloc[0]
        rnd = "CN" if "CN" in set(p.loc[p["school_year"] == year, "round"]) else "HK1"
        t = time.perf_counter()
        pack = build_pack(v, cat, Scope.everything(), year, rnd)
        log(f"  bộ số liệu {year} {rnd}: {fmt_number(time.perf_counter() - t, 1)} s")
        jobs = [(f"Bộ báo cáo họp · {fmt.upper()}", fmt, f"bao_cao_{year}_{rnd}.{export.EXT[fmt]}",
                 (lambda f=fmt: export.WRITERS[f](pack, cat))) for fmt in export.WRITERS]
        jobs.append(("Phiếu của trường TH001 · PDF", "pdf", f"phieu_TH001_{year}_{rnd}.pdf",
                     lambda: school_pdf.school_pdf(v, cat, Scope.everything(), "TH001", year, rnd)))
        for title, fmt, name, make in jobs:
            view = ExportView(title, name)
            t = time.perf_counter()
            try:
                data = make()
                view.size = len(data)
                text = ""
                if fmt == "pdf":
                    view.images = pdf_pages(data)
                    text = pdf_text(data)
                elif fmt == "pptx":
                    drawn = None
                    try:
                        drawn = pptx_as_pdf(data)
                    except (OSError, subprocess.SubprocessError) as e:
                        view.note = f"LibreOffice không vẽ được các trang chiếu ({e.__class__.__name__})."
                    if drawn:
                        view.images = pdf_pages(drawn)
                        view.note = "Vẽ bằng LibreOffice (phông và vị trí có thể khác PowerPoint đôi chút)."
                    else:
                        view.note = view.note or ("Máy không có LibreOffice (Debian: libreoffice-impress): chỉ hiện "
                                                  "chữ của từng trang chiếu.")
                    view.tables = [] if drawn else pptx_texts(data)
                    text = "\n".join(t for _, t in pptx_texts(data))
                elif fmt == "xlsx":
                    view.tables = xlsx_tables(data)
                    text = "\n".join(t for _, t in view.tables)
                elif fmt == "html" and browser is not None:
                    view.images, text = html_page(data, browser)
                elif fmt == "png":
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        view.images = [z.read(n) for n in sorted(z.namelist()) if n.endswith(".png")]
                if text:
                    import re

                    plain = html.unescape(re.sub(r"<[^>]+>", " ", text)) if fmt in ("xlsx", "pptx") else text
                    view.problems = look.text_problems(plain, codes, title)
            except Exception as e:  # noqa: BLE001 - a broken writer is shown in the gallery, not hidden
                view.note = f"Không tạo được: {e.__class__.__name__}: {e}"
            view.seconds = time.perf_counter() - t
            log(f"  {title}: {fmt_number(view.seconds, 1)} s, {len(view.images)} hình")
            out.append(view)
    finally:
        con.close()
    return out


# ---- the gallery page ------------------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1f2937; margin: 0; background: #f5f6f8; }
header { background: #fff; padding: 16px 24px; border-bottom: 1px solid #e5e7eb; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 1.3rem; margin: 0 0 4px; } h2 { margin: 28px 24px 8px; font-size: 1.2rem; }
h3 { margin: 18px 24px 6px; font-size: 1rem; } nav a { margin-right: 14px; font-size: .9rem; }
.small { color: #6b7280; font-size: .85rem; } section { padding-bottom: 8px; }
.row { display: flex; gap: 18px; align-items: flex-start; padding: 0 24px; overflow-x: auto; }
figure { margin: 0; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; }
figure img { display: block; border: 1px solid #eee; } figcaption { font-size: .85rem; margin-top: 6px; max-width: 720px; }
.w1440 img { width: 720px; } .w390 img { width: 260px; }
.w1440 > a, .w390 > a { display: block; max-height: 1100px; overflow-y: auto; } .page img { width: 420px; } .slide img { width: 560px; }
.ok { color: #047857; } .bad { color: #b91c1c; } ul.problems { margin: 4px 0 0 16px; padding: 0; max-width: 700px; }
ul.problems li { font-size: .8rem; color: #b91c1c; }
table.sheet { border-collapse: collapse; font-size: .78rem; background: #fff; margin: 4px 0; }
table.sheet td { border: 1px solid #e5e7eb; padding: 2px 6px; max-width: 260px; overflow: hidden; white-space: nowrap;
                 text-overflow: ellipsis; } td.num { text-align: right; }
.tables { padding: 0 24px; } pre { background: #fff; border: 1px solid #e5e7eb; padding: 8px; font-size: .8rem;
                                       white-space: pre-wrap; max-width: 900px; }
"""


def _problems_html(problems: list) -> str:
    """The findings, the same word in the same kind of problem counted once ("«<NA>» × 47")."""
    if not problems:
        return '<div class="ok small">Không thấy lỗi nào.</div>'
    groups: dict = {}
    for p in problems:
        word = p.detail.split("»")[0] + "»" if p.detail.startswith("«") else p.detail
        groups.setdefault((p.kind, word), []).append(p)
    items = []
    for (kind, _), same in list(groups.items())[:30]:
        count = f" <b>× {len(same)}</b>" if len(same) > 1 else ""
        items.append(f"<li>{html.escape(kind)}: {html.escape(same[0].detail)}{count}</li>")
    more = f"<li>… và {len(groups) - 30} loại nữa</li>" if len(groups) > 30 else ""
    return f'<div class="bad small">{len(problems)} lỗi:</div><ul class="problems">{"".join(items)}{more}</ul>'


def write_html(out: Path, shots: list[Shot], exports: list[ExportView], facts: dict) -> Path:
    """OUT/index.html and its images in OUT/img/: every screen, then every export, each with its findings."""
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)

    def save(data: bytes, name: str) -> str:
        (img / name).write_bytes(data)
        return f"img/{name}"

    parts = [f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>Bộ sưu tập giao diện</title>"
             f"<style>{CSS}</style></head><body><header><h1>Bộ sưu tập giao diện · Bảng điều khiển chuyển đổi số</h1>"
             f"<div class='small'>{html.escape(facts['summary'])}</div><nav>"]
    pages = list(dict.fromkeys(s.screen.page for s in shots))
    parts += [f"<a href='#{p}'>{html.escape(next(s.screen.label for s in shots if s.screen.page == p).split(' · ')[0])}</a>"
              for p in pages]
    parts.append("<a href='#xuat'>Tệp xuất</a></nav></header>")
    n = 0
    for p in pages:
        mine = [s for s in shots if s.screen.page == p]
        parts.append(f"<section id='{p}'><h2>{html.escape(mine[0].screen.label.split(' · ')[0])}</h2>")
        for screen in dict.fromkeys(s.screen for s in mine):
            for user in dict.fromkeys(s.user for s in mine if s.screen == screen):
                row = [s for s in mine if s.screen == screen and s.user == user]
                parts.append(f"<h3>{html.escape(screen.label)} · {html.escape(row[0].role_label)} "
                             f"<span class='small'>{html.escape(row[0].url)}</span></h3><div class='row'>")
                for s in row:
                    n += 1
                    src = save(s.image, f"{n:03d}_{s.user}_{s.viewport}.png") if s.image else ""
                    parts.append(f"<figure class='w{s.viewport}'>" + (f"<a href='{src}'><img src='{src}' loading='lazy' "
                                 f"alt='{html.escape(screen.label)}'></a>" if src else "")
                                 + f"<figcaption>{s.viewport} px · {fmt_number(s.seconds, 1)} s{_problems_html(s.problems)}"
                                   "</figcaption></figure>")
                parts.append("</div>")
        parts.append("</section>")
    parts.append("<section id='xuat'><h2>Tệp xuất (bộ báo cáo họp và phiếu của trường)</h2>")
    for i, e in enumerate(exports):
        parts.append(f"<h3>{html.escape(e.title)} <span class='small'>{html.escape(e.file_name)} · "
                     f"{e.size // 1024 if e.size else 0} KB · {fmt_number(e.seconds, 1)} s</span></h3>")
        if e.note:
            parts.append(f"<p class='small' style='margin: 0 24px'>{html.escape(e.note)}</p>")
        parts.append(f"<div style='margin: 0 24px'>{_problems_html(e.problems)}</div>")
        if e.images:
            kind = "slide" if "PPTX" in e.title or "PNG" in e.title else "page"
            parts.append("<div class='row'>" + "".join(
                f"<figure class='{kind}'><a href='{save(b, f'x{i:02d}_{j:03d}.png')}'><img src='img/x{i:02d}_{j:03d}.png' "
                f"loading='lazy' alt='trang {j + 1}'></a><figcaption>trang {j + 1}</figcaption></figure>"
                for j, b in enumerate(e.images)) + "</div>")
        if e.tables:
            parts.append("<div class='tables'>" + "".join(f"<h4>{html.escape(name)}</h4>{body}" for name, body in e.tables)
                         + "</div>")
    parts.append("</section></body></html>")
    index = out / "index.html"
    index.write_text("".join(parts), encoding="utf-8")
    return index


def make_gallery(out: str | Path, db_path: str | Path | None = None, workers: int = 2, exports: bool = True,
                 log=print) -> Path:
    """Render every page × role × viewport and every export into OUT/index.html (+ OUT/img/).
    Without `db_path` the deterministic sample is built in a temporary folder (the gallery always
    shows the same product, whatever data/ holds)."""
    from playwright.sync_api import sync_playwright


    out = Path(out)
    if out.exists():
        shutil.rmtree(out / "img", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    codes = look.catalog_codes(default_catalog())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gallery.duckdb"
        if db_path:
            shutil.copyfile(db_path, path)
        else:
            build_sample(path, schools=53, years=3, seed=7)
        with serve(path) as url:
            log(f"Máy chủ sẵn sàng ({time.perf_counter() - t0:.0f} s); chụp các trang…")
            shots = walk(url, codes=codes, workers=workers,
                         on_shot=lambda s: log(f"  {s.screen.label} · {s.user} · {s.viewport} px: "
                                               f"{len(s.problems)} lỗi ({fmt_number(s.seconds, 1)} s)"))
        t_pages = time.perf_counter() - t0
        views_out = []
        if exports:
            log("Tạo và vẽ các tệp xuất…")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                try:
                    views_out = make_exports(path, browser, codes, log)
                finally:
                    browser.close()
    total = time.perf_counter() - t0
    bad = sum(1 for s in shots if s.problems) + sum(1 for e in views_out if e.problems)
    summary = (f"Tạo lúc {dt.datetime.now():%d/%m/%Y %H:%M} · dữ liệu mẫu · {len(shots)} màn hình "
               f"({len({s.user for s in shots})} tài khoản × {len(VIEWPORTS)} cỡ màn hình), {len(views_out)} tệp xuất · "
               f"{bad} mục có lỗi · chụp trang {t_pages:.0f} s, tổng {total:.0f} s")
    index = write_html(out, shots, views_out, {"summary": summary})
    log(summary)
    return index
