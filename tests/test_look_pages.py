"""Every page, as each role sees it, at 1440×900 and 390×844 in Debian's chromium: no two texts of a
chart overlap, nothing is drawn outside a chart, no sideways scrolling on a phone, the key columns
of every table in view on a wide screen, and no word nobody should read (kpi.tools.look, driven by
kpi.tools.browse.walk: the same walk that makes the gallery). A planted page holds one of each defect,
and the checks must find every one."""

from pathlib import Path

import pytest

from kpi.catalog.model import default_catalog
from kpi.tools import browse, look

ROOT = Path(__file__).resolve().parents[1]
CODES = look.catalog_codes(default_catalog())

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(browse.CHROMIUM).exists(), reason="Debian chromium missing"),
]


def _screens() -> dict:
    """Each role's pages; every tab for the office staff and the principal, the first view of
    each page for the leadership (its tabs are the office staff's, over the same scope)."""
    out = {u: browse.screens_for(u) for u in ("chuyenvien", "ht.th001")}
    firsts = {}
    for s in browse.screens_for("lanhdao"):
        firsts.setdefault(s.page, s)
    out["lanhdao"] = list(firsts.values())
    return out


SCREENS = _screens()


@pytest.fixture(scope="module")
def app(sample_db):
    with browse.serve(sample_db) as url:
        yield url


@pytest.fixture(scope="module")
def sweep(app):
    """Every screen of every role at both sizes, two browsers side by side (about a minute)."""
    return browse.walk(app, tuple(SCREENS), tuple(browse.VIEWPORTS), SCREENS, shoot=False, codes=CODES, workers=2)


@pytest.mark.parametrize("viewport", list(browse.VIEWPORTS))
@pytest.mark.parametrize("user", list(SCREENS))
def test_every_page_looks_right(sweep, user, viewport):
    mine = [s for s in sweep if s.user == user and s.viewport == viewport]
    assert {s.screen.page for s in mine} == set(browse.ROLE_PAGES[browse.USERS[user][0]])
    problems = [str(p) for s in mine for p in s.problems]
    assert problems == [], "\n".join(problems)


def test_gallery_covers_every_page_of_every_role():
    """The walk's table of roles and pages is the one dashboard.py routes by (kpi.common.access)."""
    from kpi.common import access

    source = (ROOT / "dashboard.py").read_text(encoding="utf-8")
    assert "from kpi.common.access import PAGES, ROLE_PAGES" in source and "ROLE_PAGES = {" not in source
    assert browse.ROLE_PAGES is access.ROLE_PAGES
    assert {k: v[1] for k, v in access.PAGES.items()} == browse.PAGE_URLS
    assert {u[0] for u in browse.USERS.values()} == set(browse.ROLE_PAGES)
    assert {s.page for s in browse.SCREENS} == set(browse.PAGE_URLS)


@pytest.fixture(scope="module")
def planted(sample_db):
    with browse.serve(sample_db, script=ROOT / "tests" / "planted_page.py") as url:
        yield url


@pytest.mark.parametrize("viewport, expected", [
    ("1440", {"giá trị trống hiện thành chữ", "số thập phân kiểu Anh", "mã nội bộ", "đường dẫn tệp",
              "cột chính bị che", "chữ chồng lên nhau"}),
    ("390", {"cuộn ngang"}),
])
def test_planted_page_defects_are_caught(browser, planted, viewport, expected):
    w, h = browse.VIEWPORTS[viewport]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    try:
        page = ctx.new_page()
        page.goto(planted)
        browse.settle(page)
        found = browse.look_at(page, viewport, "trang cài lỗi", CODES)
    finally:
        ctx.close()
    assert expected <= {p.kind for p in found}, [str(p) for p in found]


@pytest.fixture(scope="module")
def slow(sample_db):
    with browse.serve(sample_db, script=ROOT / "tests" / "planted_slow_page.py") as url:
        yield url


def test_a_screen_still_drawing_is_a_finding(browser, slow, planted):
    """The walk captures a screen only when its run is over and its last element is there; a
    planted page whose run goes on (its title already shown) is a finding, and the finished planted
    page is not."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(slow)
        # half drawn, as the old gallery took it
        page.get_by_role("heading", name="Trang vẽ chậm").wait_for(timeout=30000)
        [found] = browse._settled(page, "trang vẽ chậm", timeout=4)
        page.goto(planted)
        done = browse._settled(page, "trang cài lỗi", timeout=30)
    finally:
        ctx.close()
    assert found.kind == browse.STILL_DRAWING and "Streamlit còn đang chạy trang" in found.detail, str(found)
    assert "chưa có phần cuối trang" in found.detail, str(found)
    assert done == []


def test_the_app_writes_the_page_end_the_walk_waits_for():
    source = (ROOT / "dashboard.py").read_text(encoding="utf-8")
    after_run = source.split("nav.run()", 1)[1]  # written after the page's own script, inside its frame
    assert f'id="{browse.PAGE_END_ID}"' in after_run.split("\n\n", 1)[0]
    assert "getElementById('" + browse.PAGE_END_ID + "')" in browse.SETTLED_JS
    assert 'data-lan="{run}"' in after_run.split("\n\n", 1)[0]  # numbered per run (the walk's same-tab wait)


def test_a_screen_opened_in_the_same_tab_waits_for_its_own_run(browser, app, planted):
    """The walk opens a role's next screen in the same tab (a rerun, as the app's navigation does);
    it takes the screen only once that run's own page end is drawn. Planted: a page whose page end
    is the same on every run (no run number) is never taken for the next screen's."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        browse.login(ctx, app, "chuyenvien")
        page = ctx.new_page()
        page.goto(app + "/")
        assert browse._settled(page, "Tổng quan", timeout=60) == []
        first = page.evaluate(f"() => document.getElementById('{browse.PAGE_END_ID}').dataset.lan")
        overview = page.locator("h1").first.inner_text()
        assert browse._opened_in_tab(page, "/chi-tieu?ct_tab=B%E1%BA%A3ng", "Chỉ tiêu", timeout=60) == []
        assert page.locator("h1").first.inner_text() != overview  # the next page, drawn in the same tab
        assert page.get_by_role("tab", name="Bảng", selected=True).count() == 1  # its tab from the path
        assert int(page.evaluate(f"() => document.getElementById('{browse.PAGE_END_ID}').dataset.lan")) > int(first)
        page.goto(planted)
        assert browse._settled(page, "trang cài lỗi", timeout=30) == []
        [found] = browse._opened_in_tab(page, "/", "trang cài lỗi", timeout=3)
    finally:
        ctx.close()
    assert found.kind == browse.STILL_DRAWING and "lượt chạy mới" in found.detail, str(found)
