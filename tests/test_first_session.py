"""The very first browser session after a server start, opened on a deep link, gets its page: no
"page not found", no legacy pages/ mode (dashboard.py turns it off before any session)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


def test_a_deep_link_as_the_first_session_after_a_start(sample_db, browser, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "first.duckdb"
    path.write_bytes(sample_db.read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, KPI_DB=str(path)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        page = browser.new_page()
        # the login form is a plain route (no Streamlit session); the deep link is the first session
        page.goto(f"{url}/dang-nhap")
        page.get_by_label("Tên đăng nhập").fill("lanhdao")
        page.get_by_label("Mật khẩu").fill("dulieumau")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(f"{url}/", timeout=30000)
        page.goto(f"{url}/chi-tieu?nam_hoc=2022-2023&ky=CN&chi_tieu=tin_hoc_quoc_te")
        page.get_by_role("heading", name="Học sinh học Tin học theo chuẩn quốc tế", exact=False).first \
            .wait_for(timeout=30000)
        page.wait_for_timeout(1000)
        text = page.inner_text("body")
        assert "not found" not in text.lower() and "Page not found" not in text
        assert "chi_tieu=tin_hoc_quoc_te" in page.url
        page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a run still going on a loaded machine: the test is over
            proc.kill()
            proc.wait(timeout=10)
