"""The meeting pack from a real browser: progress shown at once, the page answering while the pack is
built in the background, the downloads when it is ready."""

import time

import pytest

from tests.test_browser import CHROMIUM, _serve, browser_type_launch_args, login  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="Debian chromium missing")]


@pytest.fixture()
def report_app(sample_db, browser, tmp_path, monkeypatch):
    path = tmp_path / "bao_cao.duckdb"  # its own copy: the chart images are kept beside the file
    path.write_bytes(sample_db.read_bytes())
    # as `kpi serve` runs its workers: no forced garbage collection after every run (here: every
    # redraw of the progress bar), which would stall the pack's thread
    monkeypatch.setenv("STREAMLIT_RUNNER_POST_SCRIPT_GC", "false")
    yield from _serve(path, browser)


def test_meeting_pack_in_the_background(page, report_app):
    login(page, report_app, "chuyenvien")
    page.goto(f"{report_app}/bao-cao?nam_hoc=2023-2024&ky=CN")
    build = page.get_by_role("button", name="Tạo bộ báo cáo")
    build.wait_for(timeout=30000)
    started = time.monotonic()
    build.click()
    page.get_by_role("progressbar").wait_for(timeout=15000)  # how far it is, at once
    name = page.get_by_label("Tên bản chốt")
    name.fill("Họp giao ban tháng 6")  # the page answers while the pack is built
    name.press("Enter")
    page.get_by_role("button", name="PPTX", exact=True).wait_for(timeout=120000)
    seconds = time.monotonic() - started
    assert name.input_value() == "Họp giao ban tháng 6"
    page.get_by_text("Đã tạo 5 tệp", exact=False).wait_for()
    for label, file in (("XLSX", "bao_cao_2023-2024_CN.xlsx"), ("PDF", "bao_cao_2023-2024_CN.pdf")):
        with page.expect_download() as d:
            page.get_by_role("button", name=label, exact=True).click()
        assert d.value.suggested_filename == file
    print(f"bộ báo cáo (5 định dạng) từ lúc bấm: {seconds:.1f} s")
