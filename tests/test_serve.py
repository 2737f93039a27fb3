"""`python -m kpi serve`: nginx in front of two workers, sticky per browser, supervised; and a short
load run through it with no errors."""

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kpi.serving import serve
from kpi.serving.proxy import nginx_binary, streamlit_static_dir
from kpi.tools import loadbench

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="Debian nginx missing (make test installs it as root)")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _worker_pids(server_pid: int) -> dict[int, int]:
    """worker port → pid, among the processes the server started."""
    out = {}
    for pid in loadbench.tree(server_pid):
        cmd = loadbench._cmdline(pid).split()
        if "streamlit" in " ".join(cmd) and "--server.port" in cmd:
            out[int(cmd[cmd.index("--server.port") + 1])] = pid
    return out


@pytest.fixture(scope="module")
def served(sample_db, tmp_path_factory):
    work = tmp_path_factory.mktemp("serve")
    path = work / "kpi.duckdb"
    path.write_bytes(sample_db.read_bytes())
    port = _port()
    env = dict(os.environ, KPI_DB=str(path))
    proc = subprocess.Popen([sys.executable, "-m", "kpi", "serve", "--port", str(port), "--workers", "2",
                             "--db", str(path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if _get(url + "/_stcore/health")[2] == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("kpi serve did not answer: " + proc.stdout.read().decode(errors="replace")[-3000:])
    yield url, proc, path
    tree = loadbench.tree(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0].decode(errors="replace")
    time.sleep(0.5)
    alive = [p for p in tree if os.path.exists(f"/proc/{p}") and "zombie" not in
             Path(f"/proc/{p}/status").read_text().lower()]
    assert alive == [], f"processes left after SIGTERM: {alive}\n{out[-2000:]}"
    assert "đang dừng" in out
    assert not (ROOT / "data" / "run" / str(port) / "spill").exists()  # the workers' DuckDB folders go too


def _run(coro):
    """asyncio.run in a thread of its own (Playwright's sync API may hold this thread's loop)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _browser(url, user, plan=None):
    from pages._load import Browser, Result

    plan = plan or {"users": [], "years": ["2023-2024"], "indicators": {"TH": ["tin_hoc_quoc_te"]}, "schools": []}
    return Browser(url, {"user": user, "password": "dulieumau", "role": "x"}, plan, Result(), random.Random(1))


def test_a_workers_arrow_buffers_come_from_glibc():
    """Issue 29: with the workers' environment (serve.MALLOC_ENV) pyarrow allocates from the system allocator,
    which gives a freed large buffer back, not from its mimalloc, which kept what the view cache dropped (planted:
    without it, pyarrow's default pool is not the system's)."""
    probe = "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"

    def backend(env):
        return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    plain = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    assert backend(dict(plain, **serve.MALLOC_ENV)) == "system"
    assert backend(plain) != "system"


def test_the_front_answers_through_nginx_with_two_workers(served):
    url, proc, _ = served
    workers = _worker_pids(proc.pid)
    assert len(workers) == 2
    for pid in workers.values():  # glibc's allocator told to give freed memory back (kpi.serving.serve.MALLOC_ENV)
        environ = dict(x.split("=", 1) for x in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in x)
        assert {k: environ.get(k) for k in serve.MALLOC_ENV} == serve.MALLOC_ENV
        assert environ["KPI_DUCKDB_MB"] == str(serve.READER_MB)  # each worker's DuckDB readers are bounded
    # the supervisor and the renderer hold no copy of the workers' libraries (issue 29: every process counts)
    renderer = [p for p in loadbench.tree(proc.pid) if "kpi.exports.renderer" in loadbench._cmdline(p)]
    assert len(renderer) == 1
    assert loadbench.rss_mb([proc.pid]) < 40, loadbench.rss_mb([proc.pid])
    # the renderer has drawn the office's pack (its warm-up, kpi.exports.export.draw_ahead): kaleido's Python side
    # stays (about 40 MB), chromium has stopped, and nothing of DuckDB, pandas or pyarrow was ever loaded
    maps = Path(f"/proc/{renderer[0]}/maps").read_text()
    assert loadbench.rss_mb(renderer) < 80 and not [m for m in ("duckdb", "pandas", "pyarrow") if m in maps]
    status, headers, body = _get(url + "/")
    assert status == 200 and b"<!--" in body[:10] or b"<!doctype" in body[:200].lower()
    assert headers["Server"] == "nginx"
    pinned = [c for c in headers.get_all("Set-Cookie") if c.startswith("kpi_may=")]
    assert len(pinned) == 1 and int(pinned[0].split("=")[1].split(";")[0]) in workers
    assert "HttpOnly" in pinned[0]
    # a pinned browser is not pinned again; a forged pin goes to a real worker and is corrected
    again = _get(url + "/", {"Cookie": pinned[0].split(";")[0]})[1]
    assert not [c for c in (again.get_all("Set-Cookie") or []) if c.startswith("kpi_may=")]
    forged = _get(url + "/", {"Cookie": "kpi_may=1"})[1]
    assert [c for c in forged.get_all("Set-Cookie") if c.startswith("kpi_may=")]
    # Streamlit's static files (kpi.serving.frontend's Vietnamese copy) come from nginx itself, cached for good
    js = next(streamlit_static_dir().glob("static/js/*.js"))
    status, headers, body = _get(f"{url}/static/js/{js.name}")
    assert status == 200 and body == js.read_bytes()
    assert "immutable" in headers["Cache-Control"] and "set-cookie" not in {k.lower() for k in headers}


def test_the_packs_charts_are_drawn_before_anyone_asks_and_chromium_stops(served):
    """Issue 29: the first meeting pack of a version under a rush took 15 s from the click when its charts were
    drawn then. Each worker's warm-up has the renderer draw the office's pack (kpi.exports.export.draw_ahead)
    before it answers health; chromium stops afterwards, so it holds no memory while nobody draws."""
    from kpi.catalog.model import default_catalog
    from kpi.common.access import Scope
    from kpi.exports.images import ChartCache
    from kpi.store import db
    from kpi.views.pack import build_pack, pack_charts

    _, proc, path = served
    con = db.connect(path)
    try:
        cat = default_catalog()
        charts = pack_charts(build_pack(con, cat, Scope.everything(), "2023-2024", "CN"), cat)
    finally:
        con.close()
    cache = ChartCache(path.parent / "cache" / "charts")
    missing = [c.name for c in charts if cache.get(cache.key(c.figure)) is None]
    assert len(charts) > 30 and missing == []
    renderer = next(p for p in loadbench.tree(proc.pid) if "kpi.exports.renderer" in loadbench._cmdline(p))
    chromium = [p for p in loadbench.tree(renderer) if p != renderer and "chrom" in loadbench._cmdline(p)]
    assert chromium == []


def test_downloads_through_the_front_reach_the_worker_that_made_them(served):
    url, _, path = served

    async def go():
        got = []
        for i in range(4):  # browsers spread over both workers
            b = _browser(url, "chuyenvien")
            assert await b.login()
            await b.connect()
            assert await b.rerun("Chỉ tiêu · bảng", "chi-tieu",
                                 "nam_hoc=2023-2024&ky=CN&chi_tieu=tin_hoc_quoc_te&ct_tab=Bảng")
            status, body = await b.download("ct_dl_csv")
            got.append((b.cookies.get("kpi_may"), status, body[:40]))
            await b.ws.close()
        return got

    got = _run(go())
    assert {s for _, s, _ in got} == {200}, got
    assert all(body.startswith("\ufeff".encode()) and "Trường".encode() in body for _, _, body in got)
    # every worker wrote the audit of the logins and downloads to the one shared store
    from kpi.store import state

    store = state.Store(state.state_path(path))
    downloads = store.audit_rows(action="tai_bang")
    assert len(downloads) >= 4 and {r["user_name"] for r in downloads} == {"chuyenvien"}
    assert "ct" in downloads[0]["detail"] or "tin_hoc_quoc_te" in downloads[0]["detail"]
    assert len(store.audit_rows(action="dang_nhap")) >= 4


def test_a_killed_worker_comes_back_and_its_users_stay_logged_in(served):
    url, proc, _ = served
    workers = _worker_pids(proc.pid)

    async def go():
        browsers = []
        for _ in range(6):
            b = _browser(url, "lanhdao")
            assert await b.login()
            await b.connect()
            assert await b.rerun("Tổng quan", "", "nam_hoc=2023-2024&ky=CN")
            browsers.append(b)
        ports = {int(b.cookies["kpi_may"]) for b in browsers}
        victim = next(iter(ports)) if len(ports) == 1 else sorted(ports)[0]
        os.kill(workers[victim], signal.SIGKILL)
        await asyncio.sleep(0.5)
        for b in browsers:
            if int(b.cookies["kpi_may"]) != victim:  # the other worker's sessions go on as if nothing happened
                assert await b.rerun("Tổng quan", "", "nam_hoc=2022-2023&ky=CN")
            else:  # the browser reconnects (as Streamlit's front end does) and is still logged in
                await b.load_index()
                await b.connect()
                assert await b.rerun("Tổng quan", "", "nam_hoc=2023-2024&ky=CN"), b.result.errors
            assert b.result.errors == []
        return victim

    victim = _run(go())
    deadline = time.time() + 90
    while time.time() < deadline:  # the supervisor starts it again (on a new port: see kpi.serving.serve)
        now = _worker_pids(proc.pid)
        if len(now) == 2 and workers[victim] not in now.values():
            try:  # warm, and nginx sends the browsers pinned to it there (it does only once warm)
                if all(not [c for c in _get(url + "/", {"Cookie": f"kpi_may={p}"})[1].get_all("Set-Cookie") or []
                            if c.startswith("kpi_may=")] for p in now):
                    break
            except OSError:
                pass
        time.sleep(0.5)
    else:
        pytest.fail("the killed worker was not restarted")


def test_a_draft_saved_through_one_worker_is_read_through_the_other(served):
    """Drafts live in the shared state store, not in a worker: a principal saves through worker A, and
    a second browser of the school, pinned to worker B, opens the form with that value."""
    from pages._load import SAVE_INPUT, _Tap

    url, proc, _ = served
    first, second = sorted(_worker_pids(proc.pid))

    async def go():
        a, b = _browser(url, "ht.thcs001"), _browser(url, "ht.thcs001")
        a.cookies["kpi_may"], b.cookies["kpi_may"] = str(first), str(second)
        for x in (a, b):
            await x.login()
            await x.connect()
            await x.rerun("start", "", "")
        await a.save_draft()
        tap = _Tap(b.ws)
        b.ws = tap
        await b.rerun("Nộp số liệu", "nop-so-lieu", "nam_hoc=2023-2024&ky=CN")
        for x in (a, b):
            await x.ws.close()
        return a.typed[SAVE_INPUT], tap.inputs[SAVE_INPUT][1], a.result.errors + b.result.errors, a.cookies, b.cookies

    typed, seen, errors, ca, cb = _run(go())
    assert errors == [] and (ca["kpi_may"], cb["kpi_may"]) == (str(first), str(second))
    assert seen.replace(".", "") == typed


def test_a_short_load_run_has_no_errors(sample_db, tmp_path):
    r = loadbench.run_load(sample_db, sessions=5, seconds=10, think=(1, 2), workers=2, browser=False, office=2,
                           ramp=2, work=tmp_path / "load", idle_s=0)
    assert r["error_count"] == 0, r["errors"]
    assert r["saves"]["lost"] == 0 and r["saves"]["audited"] == r["saves"]["confirmed"]
    assert r["page_runs"] >= 10 and r["logins"] == 5
    assert r["cpu_per_run_ms"] and r["peak_memory_mb"] > 0 and r["workers"] == 2
    assert {p["role"] for p in r["pages"]} >= {"hieu_truong"}
    # what a person feels: the first minute counted from the health answer (the browsers start then), the 15-s
    # windows, the light page's line, and every process of the server in the memory (nginx, 2 workers, renderer)
    assert r["first_minute"]["runs"] == r["page_runs"] and r["after_first_minute"]["runs"] == 0
    assert r["windows"][0]["from_s"] == 0 and sum(w["runs"] for w in r["windows"]) == r["page_runs"]
    assert "light_p95_s" in r and r["light_pages"] == ["Đổi mật khẩu"]
    assert {"worker", "nginx"} <= set(r["peak_memory_by_kind_mb"]) and r["memory_processes"] >= 4
    assert "phút đầu" in loadbench.report(r)
