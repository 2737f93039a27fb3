"""Typed text is text (issue 24 item 3): anything a person typed is shown as plain text everywhere.

A planted text (an image from another host, an image of the logout URL, bold, an HTML tag, a
javascript: link, a right-to-left override in a file name) is put into every typed field of the
sample: school, unit and display names, the unit's name, explanations, return and reopen reasons,
notes, comments, evidence and import file names, the targets' document number. Then every page of
the three roles runs in AppTest, and no markdown body, label, tab, expander or radio option holds
an unescaped `![`, `](` or `<img`, nor a bidi control; with `plain` planted away (a no-op) the
same check fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

import pytest

from kpi.common import text
from kpi.common.access import ROLE_PAGES
from kpi.store import db, state
from tests.conftest import ROOT, app_test

PLANT = "![a](http://may-khac/x.png) ![b](/dang-xuat) **x** <img src=x> [l](javascript:alert(1))"
FILES = ("tai\u202efdp.docx", "![o](dang-xuat).pdf")
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
UNESCAPED = re.compile(r"(?<!\\)!(?=\[)|(?<!\\)\]\(|(?<!\\)<img|(?<!\\)\*\*x(?<!\\)\*\*", re.I)
USERS = {"lanh_dao": "lanhdao", "chuyen_vien": "chuyenvien", "hieu_truong": "ht.th001"}


# ---- the function --------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, shown", [
    ("Trường Tiểu học Lê Lợi (cơ sở 2), 12/3 - Q.3; lúc 10:30",
     "Trường Tiểu học Lê Lợi (cơ sở 2), 12/3 - Q.3; lúc 10:30"),
    ("![a](http://x/y.png)", r"!\[a\](http\://x/y.png)"),
    ("[l](javascript:alert(1))", r"\[l\](javascript\:alert(1))"),
    ("**x** _y_ `z` ~~w~~", r"\*\*x\*\* \_y\_ \`z\` \~\~w\~\~"),
    ("ke_hoach_day__hoc.pdf _x a_ __b", r"ke_hoach_day__hoc.pdf \_x a\_ \_\_b"),  # inside a word: inert
    ("<img src=x onerror=alert(1)>", r"\<img src=x onerror=alert(1)>"),
    ("# tiêu đề #2", r"\# tiêu đề #2"), ("> trích", r"\> trích"), ("lần nhập #2 > 1", "lần nhập #2 > 1"),
    ("- mục", r"\- mục"), ("+ mục", r"\+ mục"), ("1. một", r"1\. một"), ("2) hai", r"2\) hai"),
    ("www.may-khac.vn a@b.vn https://x.vn", r"www\.may-khac.vn a\@b.vn https\://x.vn"),
    (":red[đỏ] :material/home: $x$ &amp; | a |", r":red\[đỏ\] \:material/home: \$x\$ \&amp; \| a \|"),
    ("C:\\tep", r"C:\\tep"),
    ("tai\u202efdp.docx\u200f\x00\x1b[31m", r"taifdp.docx\[31m"),
    (None, ""),
])
def test_plain_escapes_markdown_and_drops_controls(typed, shown):
    assert text.plain(typed) == shown


def test_clean_keeps_the_text_and_drops_only_controls():
    assert text.clean("Trường\u202e A\tB\nC\u2066") == "Trường A B C"
    assert text.clean("a\r\nb", keep_lines=True) == "a\nb"
    assert text.plain_lines("**a**\n- b\n# c") == "\\*\\*a\\*\\*  \n\\- b  \n\\# c"


# ---- every page of every role, on a sample where every typed field holds the plant ----------------

@pytest.fixture(scope="module")
def planted_db(sample_db, tmp_path_factory):
    """A copy of the sample (with its store) where every typed field holds the planted text."""
    path = tmp_path_factory.mktemp("typed") / "typed.duckdb"
    path.write_bytes(sample_db.read_bytes())
    state.store_for(sample_db).copy_to(state.state_path(path))
    with db.writing(path) as con:
        con.execute("UPDATE schools SET name = name || ' ' || ?", [PLANT])
        con.execute("UPDATE schools SET ward = ward || ' ' || ?", [PLANT])
        con.execute("UPDATE units SET name = name || ' ' || ?", [PLANT])
        con.execute("UPDATE users SET display_name = display_name || ' ' || ?", [PLANT])
        con.execute("UPDATE meta SET value = value || ' ' || ? WHERE key = 'unit_name'", [PLANT])
        con.execute("UPDATE imports SET file_name = ?", [FILES[1]])
        con.execute("UPDATE target_plans SET document = ?", [PLANT])
    store = state.Store(state.state_path(path))
    with store.write() as c:
        c.execute("UPDATE entry_values SET explanation = ?", (PLANT,))
        c.execute("UPDATE entries SET reason = ?", (PLANT,))
        c.execute("UPDATE assessments SET reason = ?", (PLANT,))
        c.execute("UPDATE assessment_items SET note = ?, comment = ?", (PLANT, PLANT))
        # one of each name
        c.execute("INSERT INTO assessment_evidence (school_id, school_year, criterion_code, file_name, kind, size, "
                  "sha256, content, uploaded_at, uploaded_by) SELECT school_id, school_year, criterion_code, "
                  "file_name, kind, size, sha256, content, uploaded_at, uploaded_by FROM assessment_evidence")
        c.execute("UPDATE assessment_evidence SET file_name = CASE evidence_id % 2 WHEN 0 THEN ? ELSE ? END", FILES)
        c.execute("UPDATE target_drafts SET document = ?", (PLANT,))
    return path


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def shown_as_markdown(at) -> list[tuple[str, str]]:
    """(element type, text) of everything Streamlit renders as markdown on the page."""
    out = []
    for node in _walk(at._tree):
        kind = type(node).__name__
        proto = getattr(node, "proto", None)
        for attr in ("body", "label", "value"):
            v = getattr(proto, attr, None) if proto is not None else None
            if isinstance(v, str) and v and not (attr == "value" and kind in ("TextInput", "TextArea", "Selectbox")):
                out.append((kind, v))
        if kind == "Radio":
            out += [(kind, o) for o in node.options]
        if kind == "Selectbox":  # not markdown, but shown: no bidi control may reorder it
            out += [("Selectbox-option", o) for o in node.options]
    return out


def problems_on_pages(path, monkeypatch) -> tuple[list[str], int]:
    """Every page of every role: the places where planted markup or a bidi control would be
    rendered, and how many times the (escaped) planted text is shown at all."""
    monkeypatch.setenv("KPI_DB", str(path))
    bad, seen = [], 0
    for role, user in USERS.items():
        for page in ROLE_PAGES[role]:
            at = app_test(page, user)
            assert not at.exception, (role, page, at.exception)
            for kind, body in shown_as_markdown(at):
                if BIDI.search(body):
                    bad.append(f"{user} {page} {kind}: bidi control in {body[:80]!r}")
                if kind != "Selectbox-option" and UNESCAPED.search(body):
                    bad.append(f"{user} {page} {kind}: {body[:120]!r}")
                seen += "may\\-khac" in body or "may-khac" in body or "fdp" in body
    return bad, seen


def test_every_page_shows_typed_text_as_text(planted_db, monkeypatch):
    bad, seen = problems_on_pages(planted_db, monkeypatch)
    assert bad == [], "\n".join(bad)
    assert seen >= 10, "the planted text must be on the pages for the check to mean anything"


def test_planted_no_op_plain_is_caught(planted_db, monkeypatch):
    monkeypatch.setattr(text, "plain", lambda s: "" if s is None else str(s))
    bad, _ = problems_on_pages(planted_db, monkeypatch)
    assert bad, "with plain() a no-op the planted markdown must be found"


# ---- in a real browser: the reviewer's pages fetch nothing from elsewhere and do not log out ----------

NO_OP_PLAIN = "import kpi.common.text as t; t.plain = lambda s: '' if s is None else str(s); "


def serve(path, prelude: str = ""):
    """`streamlit run dashboard.py` on `path` (after `prelude`, Python run in the server first); yields its URL."""
    from tests.test_browser import _free_port

    port = _free_port()
    code = (prelude + "import sys; from streamlit.web.cli import main; sys.argv = ['streamlit', 'run', "
            f"{str(ROOT / 'dashboard.py')!r}, '--server.port', '{port}', '--server.address', '127.0.0.1', "
            "'--server.headless', 'true', '--browser.gatherUsageStats', 'false']; main()")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, KPI_DB=str(path)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail("streamlit did not start")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def reviewer_visits(browser, url: str) -> tuple[list[str], object]:
    """The office reviewer opens Duyệt số liệu and Đánh giá CĐS (TH001, whose evidence has planted
    names): returns what went wrong (requests to other hosts or to /dang-xuat, a logout, a rendered
    planted image or link) and the page."""
    from tests.test_browser import LOCAL, page_as, wait_idle

    page = page_as(browser, url, "chuyenvien")
    wrong = []

    def record(request):
        u = urlparse(request.url)
        if u.hostname not in LOCAL or u.path.rstrip("/").endswith("/dang-xuat"):
            wrong.append(f"request {request.method} {request.url}")

    page.on("request", record)
    for path in ("/duyet-so-lieu", "/danh-gia-cds?nam_hoc=2023-2024&dg_truong=TH001"):
        page.goto(url + path)
        page.locator("h1").first.wait_for(timeout=60000)
        wait_idle(page, 60000)
        page.wait_for_timeout(500)  # images the last run drew
        wrong += [f"rendered <{e}>" for e in page.evaluate(
            "() => [...document.querySelectorAll('[data-testid=stMain] img, [data-testid=stMain] a')]"
            ".map(e => e.outerHTML).filter(h => /may-khac|dang-xuat|javascript:/.test(h))")]
        if page.get_by_text("Vui lòng đăng nhập").count() or "/dang-nhap" in page.url:
            wrong.append(f"logged out on {path}")
    return wrong, page


@pytest.mark.browser
def test_reviewer_browser_fetches_nothing_typed_and_stays_logged_in(browser, planted_db):
    for url in serve(planted_db):
        wrong, page = reviewer_visits(browser, url)
        assert wrong == []
        page.get_by_text("![a](http://may-khac/x.png)", exact=False).first.wait_for(timeout=10000)  # shown as typed
        # and the evidence: the download carries nosniff and attachment, and needs the session
        page.get_by_text("Minh chứng (", exact=False).first.wait_for(timeout=30000)
        with page.expect_download(timeout=60000) as got:
            page.get_by_role("button", name=re.compile("taifdp")).first.click()
        media = got.value.url
        saved_as = got.value.suggested_filename  # a Word file is saved as one, never shown reversed as "….pdf"
        assert saved_as.endswith(".docx") and not BIDI.search(saved_as), saved_as
        r = page.context.request.get(media)
        assert r.status == 200 and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-disposition"].startswith("attachment")
        stranger = browser.new_context().request.get(media)
        assert stranger.status == 403 and "đăng nhập" in stranger.text()
        # the sidebar's "Đăng xuất" is a form (Streamlit's markdown keeps it) that posts with the token
        page.locator("[data-testid=stSidebar] form[method=post][action='/dang-xuat'] input[name=csrf]").wait_for(
            state="attached")
        page.locator("[data-testid=stSidebar]").get_by_role("button", name="Đăng xuất").click()
        page.get_by_role("button", name="Đăng nhập").wait_for(timeout=30000)
        assert page.context.request.get(media).status == 403  # the ended session reaches no file
        page.context.close()


@pytest.mark.browser
def test_planted_no_op_plain_is_caught_in_the_browser(browser, planted_db):
    for url in serve(planted_db, NO_OP_PLAIN):
        wrong, page = reviewer_visits(browser, url)
        page.context.close()
        assert any("may-khac" in w for w in wrong), wrong
