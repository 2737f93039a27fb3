"""The yearly maturity assessment in a real browser (Debian chromium via Playwright) against a real
`streamlit run`: a principal attaches evidence, changes a returned criterion and submits; the office
sees the evidence, approves and publishes; the principal's scorecard shows the published level."""

import time
from pathlib import Path

import pytest

from kpi.tools.sample import SAMPLE_PDF
from kpi.views import cache as views
from tests.test_browser import CHROMIUM, page_as, serve_copy, wait_idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing (make test installs it as root)"),
]
T = 30000  # ms


@pytest.fixture(scope="module")
def assess_app(sample_db, browser, tmp_path_factory):
    yield from serve_copy(sample_db, browser, tmp_path_factory, "assess")


_as = page_as


def _wait_idle(page):
    wait_idle(page, T)


def test_assess_submit_approve_publish_in_the_browser(browser, assess_app, tmp_path):
    url, _ = assess_app
    page = _as(browser, url, "ht.thcs001")
    page.goto(f"{url}/tu-danh-gia-cds?truong=TH001")  # another school in the URL: the own assessment all the same
    page.get_by_role("heading", name="Tự đánh giá mức độ chuyển đổi số").first.wait_for(timeout=T)
    page.get_by_text("Lý do Phòng trả lại:").wait_for(timeout=T)
    # evidence: a PDF attached to DH4 through the uploader
    pdf = tmp_path / "danh_muc_hoc_lieu_so.pdf"
    pdf.write_bytes(SAMPLE_PDF)
    _wait_idle(page)
    box = page.get_by_label("Tiêu chí", exact=True)
    box.scroll_into_view_if_needed()
    box.click()
    box.fill("DH4 ·")
    page.get_by_role("option", name="DH4 · Học liệu số hóa").click()
    _wait_idle(page)
    page.locator('input[type="file"]').set_input_files(str(pdf))
    # the upload has arrived: the file's chip, without its spinner (its English size is hidden)
    page.locator(f'[data-testid="stFileChipName"][title="{pdf.name}"]').wait_for(timeout=T)
    page.locator('[data-testid="stFileChipIconSpinner"]').wait_for(state="detached", timeout=T)
    _wait_idle(page)
    page.get_by_role("button", name="Đính kèm").click()
    page.get_by_text("Đã đính kèm danh_muc_hoc_lieu_so.pdf").wait_for(timeout=T)
    page.get_by_role("button", name="danh_muc_hoc_lieu_so.pdf (PDF").wait_for(timeout=T)  # listed under DH4
    # DH4 is the sixth points field (DH3.1, DH3.3-DH3.6, DH4); the returned criterion gets new points
    dh4 = page.get_by_label("Điểm tự đánh giá").nth(5)
    dh4.fill("8")
    dh4.press("Enter")
    _wait_idle(page)
    page.wait_for_timeout(500)  # the value's rerun settles before the button is pressed
    _wait_idle(page)
    page.get_by_role("button", name="Nộp", exact=True).click()
    _wait_idle(page)
    page.get_by_text("Đã nộp bản tự đánh giá lúc").wait_for(timeout=T)
    page.get_by_text("đang chờ Phòng xét duyệt").first.wait_for(timeout=T)
    _wait_idle(page)
    assert page.get_by_role("button", name="Lưu nháp").count() == 0  # submitted: nothing to edit
    # the office sees the evidence one click away, approves, publishes
    office = _as(browser, url, "chuyenvien")
    office.goto(f"{url}/danh-gia-cds?dg_truong=THCS001")
    office.get_by_role("heading", name="Đánh giá mức độ chuyển đổi số").wait_for(timeout=T)
    evidence = office.get_by_role("button", name="DH4 · danh_muc_hoc_lieu_so.pdf", exact=False)
    evidence.wait_for(timeout=T)
    with office.expect_download(timeout=T) as got:
        evidence.click()
    assert Path(got.value.path()).read_bytes() == SAMPLE_PDF  # the file itself, served after the access check
    # another principal reaches neither the assessment nor the evidence, whatever the URL says
    other = _as(browser, url, "ht.th001")
    other.goto(f"{url}/tu-danh-gia-cds?truong=THCS001&dg_truong=THCS001")
    other.get_by_role("heading", name="Tự đánh giá mức độ chuyển đổi số").first.wait_for(timeout=T)
    _wait_idle(other)
    assert "danh_muc_hoc_lieu_so.pdf" not in other.content()
    other.context.close()
    office.get_by_role("button", name="Duyệt", exact=True).click()
    office.get_by_text("Đã duyệt bản tự đánh giá").wait_for(timeout=T)
    office.goto(f"{url}/danh-gia-cds?dg_tab=C%C3%B4ng%20b%E1%BB%91")
    office.get_by_text("Tôi muốn công bố kết quả năm học").click()
    _wait_idle(office)
    office.get_by_role("button", name="Công bố", exact=True).click()
    office.get_by_text("Đã công bố kết quả năm học 2023-2024").wait_for(timeout=T)
    # the principal's scorecard now says the result is published: at once, or after a reload once the
    # worker serves the new file version to everyone (within kpi.views.cache.STALE_MAX_S of the publication)
    published = page.get_by_text("Kết quả đã công bố: lần công bố CB-2023-2024-01")
    bound = time.monotonic() + views.STALE_MAX_S  # the new file was written before the office read its message
    page.goto(f"{url}/")
    wait_idle(page, T)
    while not published.count() and time.monotonic() < bound:
        page.wait_for_timeout(500)
        page.reload()
        wait_idle(page, T)
    if not published.count():  # past the bound: a run that starts now draws the new version, however busy
        page.reload()
        wait_idle(page, T)
    published.wait_for(timeout=T)
    page.context.close()
    office.context.close()
