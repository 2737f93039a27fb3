"""Work in a forked child (kpi.common.forked), and the meeting pack written that way (issue 29: under a deadline
rush the pack's writers got a thread's share of a busy worker's interpreter and took 20 s of the 23 s)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from kpi.common import forked
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not forked.available(), reason="no fork here")


def _talks(send, n):
    for i in range(n):
        send(("step", i))
    return {"pid": os.getpid(), "sid": os.getsid(0), "big": b"x" * (3 << 20)}


def test_a_child_sends_its_messages_then_its_answer():
    heard = []
    child = forked.Child(_talks, 3)
    forked.gather([child], lambda c, m: heard.append(m))
    out = child.result()
    assert heard == [("step", 0), ("step", 1), ("step", 2)]
    assert out["pid"] == child.pid != os.getpid() and len(out["big"]) == 3 << 20  # larger than a pipe holds
    assert out["sid"] == os.getsid(0)  # in this process's session unless asked


def test_a_child_of_its_own_session_is_scheduled_as_a_job_of_its_own():
    child = forked.Child(_talks, 0, own_session=True)
    forked.gather([child])
    assert child.result()["sid"] == child.pid != os.getsid(0)


def _refuses(send):
    from kpi.common.faults import ExportError

    raise ExportError("Không có bản chốt 2023-2024-CN-09.")


def test_the_childs_exception_is_raised_here_as_itself():
    from kpi.common.faults import ExportError

    child = forked.Child(_refuses)
    forked.gather([child])
    with pytest.raises(ExportError, match="Không có bản chốt 2023-2024-CN-09"):
        child.result()


def _dies(send):
    send("sắp dừng")
    os.kill(os.getpid(), signal.SIGKILL)


def _hangs(send):
    time.sleep(60)


def test_a_child_killed_or_silent_gives_no_answer_and_is_reaped():
    dead, silent = forked.Child(_dies), forked.Child(_hangs)
    t = time.monotonic()
    forked.gather([dead, silent], stall=1.0)
    assert time.monotonic() - t < 10
    for child in (dead, silent):
        with pytest.raises(forked.ChildDied):
            child.result()
        with pytest.raises(ChildProcessError):  # reaped: no zombie left
            os.waitpid(child.pid, os.WNOHANG)


def test_the_child_dies_with_the_process_that_forked_it(tmp_path):
    """`kill -9` of a worker while its pack is being written: the writer does not live on."""
    pid_file = tmp_path / "child.pid"
    code = ("import os, time\nfrom kpi.common import forked\n"
            "def hang(send):\n    time.sleep(120)\n"
            f"c = forked.Child(hang)\nopen({str(pid_file)!r}, 'w').write(str(c.pid))\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        os.kill(child, 0)  # alive
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_child_forked_beside_busy_threads_answers():
    """The worker forks from one thread while others run pages; the child runs only its own work."""
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sum(range(10000))

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        children = [forked.Child(_talks, 2) for _ in range(5)]
        forked.gather(children, stall=30)
        assert [len(c.result()["big"]) for c in children] == [3 << 20] * 5
    finally:
        stop.set()


# ---- the meeting pack's writers in children -------------------------------------------------------------

PACK = """
import json, sys
from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.exports import export, images
from kpi.store import db
from kpi.views.pack import build_pack, pack_charts

cat = default_catalog()
pack = build_pack(db.connect({db!r}), cat, Scope.everything(), "2023-2024", "CN")
images.chart_images = lambda charts, *a, **k: [{png!r}] * len(charts)  # no chromium needed here
export.chart_images = images.chart_images
said = []
out = export.write_all(pack, cat, export.FORMATS, lambda f, m: said.append(m), apart={apart})
print(json.dumps({{"sizes": {{f: len(b) for f, b in out.items()}}, "said": said,
                  "writers": [m for m in ("fpdf", "pptx", "xlsxwriter") if m in sys.modules]}}))
"""


def _blank_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1000, 500), "white").save(buf, "PNG")
    return buf.getvalue()


def _pack_in_subprocess(sample_db, apart: bool) -> dict:
    code = PACK.format(db=str(sample_db), png=_blank_png(), apart=apart)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KPI_DB": str(sample_db)})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_pack_written_apart_is_the_pack_and_its_writers_stay_in_the_children(sample_db):
    apart, here = _pack_in_subprocess(sample_db, True), _pack_in_subprocess(sample_db, False)
    assert set(apart["sizes"]) == set(here["sizes"]) == {"pptx", "pdf", "xlsx", "html", "png"}
    for f, n in here["sizes"].items():  # the same content (a PDF or a zip differs only in its time stamps)
        assert abs(apart["sizes"][f] - n) <= max(64, n // 1000), f
    assert "Đã ghi tệp PDF" in apart["said"]
    assert apart["writers"] == []  # fpdf and python-pptx were imported by the children only
    assert set(here["writers"]) >= {"fpdf", "pptx"}  # planted: written in this process, they load here


def test_a_writer_that_dies_leaves_its_formats_to_the_thread(sample_db, monkeypatch):
    """Planted: the PDF's child is killed (as the kernel's out-of-memory killer would): the pack still has it."""
    from kpi.catalog.model import default_catalog
    from kpi.common.access import Scope
    from kpi.exports import export
    from kpi.store import db
    from kpi.views.pack import build_pack
    from tests.export_check import pdf_words

    real = export._write_in_child

    def dying(send, formats, *args):
        if "pdf" in formats:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(send, formats, *args)

    monkeypatch.setattr(export, "_write_in_child", dying)
    monkeypatch.setattr(export, "chart_images", lambda charts, *a, **k: [_blank_png()] * len(charts))
    cat = default_catalog()
    con = db.connect(sample_db)
    pack = build_pack(con, cat, Scope.everything(), "2023-2024", "CN")
    out = export.write_all(pack, cat, ("pdf", "xlsx"), apart=True)
    assert set(out) == {"pdf", "xlsx"}
    words = [w for *_, w in pdf_words(out["pdf"])]
    assert "Tổng" in words and "Tình" in words  # the summary and the submissions, written in this thread
    con.close()
