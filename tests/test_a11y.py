"""Accessibility (WCAG 2.1 AA, issue 30) in a real browser: axe-core injected by Playwright into
Debian chromium on every page of every main role at a desktop and a phone size, each scanned over
its whole height; a keyboard-only principal; Streamlit's front end in Vietnamese (kpi.serving.frontend).

axe-core comes from the npm registry (`make test` installs it into .axe/, pinned in the Makefile);
the scan runs offline. One server, one browser, pages in sequence.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kpi.common.access import PAGES, ROLE_PAGES
from kpi.serving import frontend
from tests.test_browser import CHROMIUM, login, serve_copy, wait_idle

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
T = 30000  # ms
VIEWPORTS = {"1440x900": (1440, 900), "390x844": (390, 844)}
ROLES = {"lanhdao": "lanh_dao", "chuyenvien": "chuyen_vien", "ht.thcs001": "hieu_truong"}
# Tổng quan's tabs apart (the first is the page itself)
EXTRA = {"tong_quan": ["?tq_tab=Biểu đồ", "?tq_tab=Bảng số liệu"]}
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian chromium missing (make test installs it as root)")


@pytest.fixture(scope="module")
def a11y_app(sample_db, browser, tmp_path_factory):
    yield from serve_copy(sample_db, browser, tmp_path_factory, "a11y")


def _axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core không có ở {AXE}: chạy `make test` (hoặc `npm install --prefix .axe axe-core@…` "
                    "theo phiên bản trong Makefile).")
    return AXE.read_text(encoding="utf-8")


def _full_height(page) -> int:
    """The height of everything there is to read: Streamlit scrolls its main area, not the window."""
    return page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer],'
                                         + ' [data-testid=stSidebarContent]')].map(e => e.scrollHeight))""")


def scan(page, axe: str) -> list[dict]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations of the page as it is, over its whole
    height: the viewport is stretched to the page's height for the scan (colour contrast is only
    measured on what is on screen), then set back."""
    size = page.viewport_size
    height = min(_full_height(page), 16000)
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(150)
    try:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=axe)
        result = page.evaluate("""async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                                          why: (n.failureSummary || '').slice(0, 200)}))}));
        }""", TAGS)
    finally:
        page.set_viewport_size(size)
    return result


def _describe(where: str, violations: list[dict]) -> str:
    lines = [where]
    for v in violations:
        lines.append(f"  {v['impact']} {v['id']} ({v['help']}): {len(v['nodes'])} phần tử")
        lines += [f"    {n['target']} · {n['html']} · {n['why']}" for n in v["nodes"][:4]]
    return "\n".join(lines)


def _open(page, url: str) -> None:
    page.goto(url)
    _settled(page)


def _settled(page) -> None:
    wait_idle(page, T)
    page.locator("h1").first.wait_for(timeout=T)
    # plotly draws after the run: wait for every chart on the page
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
        .every(c => c.querySelector('.main-svg'))""", timeout=T)


def _go(page, url: str, slug: str) -> None:
    """Open a page of the navigation as a person does: a click in the sidebar (no reload, the same
    session: much faster than a new page load); a page not in the navigation by its URL."""
    link = page.locator(f'[data-testid=stSidebarNav] a[href$="/{slug}"]')
    if not slug or link.count() != 1 or not link.is_visible():
        _open(page, f"{url}/{slug}")
        return
    link.click()
    page.wait_for_url(re.compile(rf"/{re.escape(slug)}(\?|$)"), timeout=T)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-test-script-state]')]
        .every(e => e.dataset.testScriptState === 'notRunning')""", timeout=T)
    _settled(page)


def _both_sizes(page, axe: str, where: str, found: list[str]) -> None:
    for name, (w, h) in reversed(VIEWPORTS.items()):  # ends on the desktop, whose sidebar opens the next page
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(150)
        violations = scan(page, axe)
        if violations:
            found.append(_describe(f"{where} @ {name}", violations))


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("user", list(ROLES))
def test_every_page_has_no_serious_axe_violation(browser, a11y_app, user):
    url, _ = a11y_app
    axe = _axe_source()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    found: list[str] = []
    if user == "lanhdao":  # the login page, once
        page.goto(f"{url}/dang-nhap")
        page.get_by_label("Tên đăng nhập").wait_for(timeout=T)
        _both_sizes(page, axe, "Đăng nhập", found)
    login(page, url, user)
    names = [n for n in ROLE_PAGES[ROLES[user]] if n != "doi_mat_khau"] + ["doi_mat_khau"]
    for i, name in enumerate(names):
        title, slug = PAGES[name]
        base = f"{url}/" if i == 0 else f"{url}/{slug}"
        for extra in [""] + EXTRA.get(name, []):
            if i and not extra:
                _go(page, url, slug)
            else:
                _open(page, base + extra)
            assert page.evaluate("document.documentElement.lang") == "vi"
            _both_sizes(page, axe, f"{user} · {title}{extra}", found)
    context.close()
    assert not found, "axe-core (WCAG 2.1 AA, nghiêm trọng trở lên):\n" + "\n".join(found)


@pytest.mark.browser
@needs_chromium
def test_a_planted_low_contrast_colour_is_caught(browser, a11y_app):
    """The scan is no formality: the old "Gần đạt" orange (#E69F00, 2.25:1) put back on a real status
    word of Tổng quan is reported."""
    url, _ = a11y_app
    axe = _axe_source()
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    login(page, url, "lanhdao")
    _open(page, f"{url}/")
    assert scan(page, axe) == []
    planted = page.evaluate("""() => {
        const s = [...document.querySelectorAll('[data-testid=stMarkdownContainer] span')]
            .find(e => /Đạt|Gần đạt|Chưa đạt/.test(e.textContent));
        s.style.color = '#E69F00'; s.id = 'planted'; return s.textContent; }""")
    assert planted
    violations = scan(page, axe)
    contrast = [v for v in violations if v["id"] == "color-contrast"]
    assert contrast and any("#planted" in n["target"] for n in contrast[0]["nodes"]), violations
    # and the keyboard walk sees the app's focus ring taken away (pages/_style.py's CSS removed)
    page.evaluate("""() => [...document.querySelectorAll('style')].filter(s => s.textContent.includes('.kpi-sr'))
                           .forEach(s => s.remove())""")
    focus_start(page, styled=False)
    with pytest.raises(AssertionError, match="focus not visible"):
        tab_to(page, "never such a name", limit=5)
    page.context.close()


@pytest.mark.browser
@needs_chromium
def test_streamlit_front_end_speaks_vietnamese(browser, a11y_app):
    url, _ = a11y_app
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    login(page, url, "chuyenvien")
    _open(page, f"{url}/")
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.locator("[data-testid=stSkipToContent]").inner_text() == "Bỏ qua, đến nội dung chính"
    assert page.get_by_role("button", name="Mở thanh bên").count() == 1
    html = page.content()
    for english in ("Skip to main content", "Expand sidebar", "Link to heading", "Main menu"):
        assert english not in html
    # the collapsed sidebar is out of the Tab order: after the skip link comes its button
    assert _first_stops(page, 3)[:2] == [("Bỏ qua, đến nội dung chính", False), ("Mở thanh bên", False)]
    page.add_style_tag(content="section[data-testid=stSidebar][data-collapsed], section[data-testid=stSidebar]"
                               "[data-collapsed] * { visibility: visible !important; }")  # planted: back in
    assert any(inside for _, inside in _first_stops(page, 3))
    page.context.close()


def _first_stops(page, n: int) -> list[tuple[str, bool]]:
    focus_start(page)
    stops = []
    for _ in range(n):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        stops.append((now["name"], now["inSidebar"]) if now else ("", False))
    return stops


# ---- the patched copy itself (no browser) ------------------------------------------------------


_NOT_FILES = {"elk-api.js", "elk-worker.min.js"}  # names in mermaid's code, no files in Streamlit's build either


def test_patched_copy_has_lang_vi_and_no_english_left(tmp_path):
    out = frontend.static_dir(tmp_path)
    shell = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="vi">' in shell and 'lang="en"' not in shell
    for prefix, old, new in frontend.REPLACEMENTS:
        js = "".join(f.read_text(encoding="utf-8") for f in (out / "static" / "js").glob(f"{prefix}*.js"))
        assert old not in js and new in js
    assert frontend.static_dir(tmp_path) == out  # made once
    # every script has a name of its own (a browser's year-long cache of Streamlit's English scripts
    # is never used for it), and every script named in the page or a script is there
    js = out / "static" / "js"
    assert all(".vi" in f.name for f in js.glob("*.js"))
    named = set(re.findall(r'\./static/js/([\w.-]+\.js)', shell))
    for f in js.glob("*.js"):
        named |= set(re.findall(r'"\./([\w.-]+\.js)"', f.read_text(encoding="utf-8")))
    shipped = {f.name for f in (frontend.installed_static_dir() / "static" / "js").glob("*.js")}
    assert len(named) > 100 and not named & shipped  # no script named by its old name
    assert {n for n in named if not (js / n).exists()} <= _NOT_FILES


def test_a_string_no_longer_in_streamlit_fails_loudly(tmp_path, monkeypatch):
    """An upgrade of Streamlit that changes one of the English strings must not silently bring English
    back: the copy is refused, naming the string."""
    monkeypatch.setattr(frontend, "REPLACEMENTS",
                        frontend.REPLACEMENTS + (("index.", "children:`Skip to the moon`", "x"),))
    with pytest.raises(frontend.FrontendPatchError, match="Skip to the moon"):
        frontend.static_dir(tmp_path)
    assert not any(p.name.startswith("static-") for p in tmp_path.iterdir())  # nothing half-made is served


# ---- the keyboard alone ----------------------------------------------------------------------

FOCUSED = """() => { const e = document.activeElement; if (!e || e === document.body) return null;
    const s = getComputedStyle(e);
    const name = (e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].innerText)
                  || e.innerText || e.value || '').trim().replace(/\\s+/g, ' ');
    return {tag: e.tagName, name, outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
            inSidebar: !!e.closest('[data-testid=stSidebar]')}; }"""


APP_STYLE = "() => [...document.querySelectorAll('style')].some(s => s.textContent.includes('.kpi-sr'))"


def focus_start(page, styled: bool = True) -> None:
    """Put the keyboard at the top of the page (the next Tab goes to the first stop), once the page's
    run has finished and the app's CSS is on it (`styled`)."""
    if styled:
        wait_idle(page, T)
        page.wait_for_function(APP_STYLE, timeout=T)
    page.evaluate("""() => { document.activeElement && document.activeElement.blur();
        document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex'); }""")


def tab_to(page, wanted, limit: int = 250, back: bool = False) -> dict:
    """Press Tab (Shift+Tab) until the focused element's name matches `wanted` (a regex); every stop
    on the way must show the focus ring. Returns the element; fails naming the stops passed."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = page.evaluate(FOCUSED)
        if now is None:
            continue
        seen.append(now["name"][:50])
        assert now["outline"] != "none" and now["width"] >= 2, f"focus not visible on {now}"
        if re.search(wanted, now["name"]):
            return now
    pytest.fail(f"'{wanted}' not reached with the keyboard; stops: {seen[-40:]}")


@pytest.mark.browser
@needs_chromium
def test_a_principal_does_everything_with_the_keyboard(browser, a11y_app):
    """Log in, read the scorecard (skip link first, the cards in the plan's order), open Nộp số liệu,
    change a figure, save and submit: Tab, Shift+Tab, typing and Enter only, the focus always visible."""
    url, _ = a11y_app
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(f"{url}/dang-nhap")
    page.locator("#user").wait_for(timeout=T)
    page.keyboard.type("ht.thcs001")  # the user field has the focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type("dulieumau")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/", timeout=T)
    wait_idle(page, T)
    page.get_by_text("Các chỉ tiêu").wait_for(timeout=T)
    focus_start(page)
    first = tab_to(page, ".", limit=5)
    assert first["name"] == "Bỏ qua, đến nội dung chính"
    # the cards are read row by row, in the plan's order: the links come in the cards' order
    # (the heading "Các chỉ tiêu" is drawn before the cards under it: wait for the first card's link)
    links = page.locator("[data-testid=stMain] [data-testid=stPageLink-NavLink]")
    links.filter(has_text=re.compile(r"^\s*So với các trường")).first.wait_for(timeout=T)
    wait_idle(page, T)
    cards = page.locator("[data-testid=stMain] [data-testid=stPageLink-NavLink]").evaluate_all(
        "els => els.map(e => e.innerText.trim().replace(/\\s+/g, ' '))")
    cards = [c for c in cards if c.startswith("So với các trường")]
    assert len(cards) >= 3
    reached = [tab_to(page, r"^So với các trường")["name"]]
    for _ in cards[1:3]:
        reached.append(tab_to(page, r"^So với các trường", limit=10)["name"])
    assert reached == cards[:3]
    # to Nộp số liệu through the navigation (back up the page to the sidebar)
    tab_to(page, r"^Nộp số liệu$", back=True, limit=300)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile(r"^Nộp số liệu · ")).wait_for(timeout=T)
    wait_idle(page, T)
    page.get_by_text("Bản nháp, lưu lần cuối").wait_for(timeout=T)
    focus_start(page)
    field = tab_to(page, r"^Tổng số học sinh \(trẻ\)")
    assert field["tag"] == "INPUT"
    before = page.evaluate("document.activeElement.value")
    page.keyboard.press("Control+A")
    page.keyboard.type(before)  # the same figure, typed again
    tab_to(page, r"Lưu nháp", limit=400)
    page.keyboard.press("Enter")
    page.get_by_text("Đã lưu nháp lúc").wait_for(timeout=T)
    wait_idle(page, T)
    focus_start(page)
    tab_to(page, r"^(send )?Nộp$", limit=400)
    page.keyboard.press("Enter")
    page.get_by_text("Đã nộp số liệu lúc").wait_for(timeout=T)
    page.context.close()


# ---- every chart is named (no browser) ---------------------------------------------------------


def charts_without_name(source: str) -> list[int]:
    """Lines of `source` calling plotly_chart without an accessible name (`alt=`)."""
    import ast

    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "plotly_chart"
            and not any(k.arg == "alt" for k in node.keywords)]


def test_every_chart_on_a_page_has_an_accessible_name():
    unnamed = {p.name: lines for p in sorted((ROOT / "pages").glob("*.py"))
               if (lines := charts_without_name(p.read_text(encoding="utf-8")))}
    assert unnamed == {}
    planted = 'st.plotly_chart(fig, theme=None, key="x")\nst.plotly_chart(fig, key="y", alt=name)\n'
    assert charts_without_name(planted) == [1]


def test_the_charts_that_had_no_table_have_one_and_names_state_the_figure(sample_db):
    from kpi.common.access import Scope
    from kpi.display import chart_text
    from kpi.domain import maturity
    from kpi.store import db
    from kpi.views import cache as views

    v = views.views_for(sample_db, db.file_identity(sample_db))
    years = v.index_years()
    counts = v.maturity_counts(Scope(), years)
    trend = maturity.trend(counts)
    table = chart_text.level_trend_table(trend)
    assert list(table.columns) == ["Năm học", "Mức 1", "Mức 2", "Mức 3"] and list(table["Năm học"]) == sorted(years)
    last = counts[counts["school_year"] == max(years)]
    per_level = maturity.level_counts(last)
    assert [int(table.iloc[-1][f"Mức {m}"].replace(".", "")) for m in (1, 2, 3)] == [per_level[m] for m in (1, 2, 3)]
    assert f"Mức 3: {per_level[3]} trường" in chart_text.level_trend_name(table)
    year, rnd = v.periods().iloc[0][["school_year", "round"]]
    card = v.scorecard(Scope(), "THCS001", year, rnd)
    crit = card.maturity.criteria
    rows = chart_text.criteria_table(crit, card.maturity.names)
    shown = crit[~crit["placeholder"] & (crit["max_points"] > 0)]
    assert len(rows) == len(shown) and list(rows["Tiêu chí"]) == list(shown["criterion_code"])
    assert chart_text.criteria_name(card.name, crit).startswith(f"Biểu đồ điểm từng tiêu chí của {card.name}: ")
