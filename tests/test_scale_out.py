"""Scale-out: two app processes on the same database file, both reading it, while an import writes."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kpi.imports import importer
from tests.test_importer import GOOD_HEAD

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db_path):
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=dict(os.environ, KPI_DB=str(db_path)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


def _get(url: str) -> str:
    deadline = time.time() + 60
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read().decode("utf-8")
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def test_two_app_processes_read_the_same_database(writable_db):
    procs = [_start(writable_db) for _ in range(2)]
    try:
        for _, url in procs:
            assert _get(f"{url}/_stcore/health") == "ok"
            page = _get(f"{url}/dang-nhap")  # rendered from the database: unit name and demo accounts
            assert "Phòng GDĐT Quận 3 (Dữ liệu mẫu)" in page and "ht.th001" in page
        # a writer swaps the file in while both serve; both keep answering
        importer.import_file(writable_db, "x.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,1500,60,64\n".encode(), "cv")
        for _, url in procs:
            assert "Phòng GDĐT Quận 3 (Dữ liệu mẫu)" in _get(f"{url}/dang-nhap")
    finally:
        for p, _ in procs:
            p.terminate()
            p.wait(timeout=10)
