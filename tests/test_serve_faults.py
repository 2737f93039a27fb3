"""Faults of `python -m kpi serve` as they really happen (issue 28, "what to build" 2 and 4): a second
server on the port, nginx's master killed, a worker crashed, a rolling restart under page loads (and
one whose new version cannot start), the supervisor itself killed.

Each property is checked on a real server (nginx, two workers, a copy of the sample) and, with the
same check, on a server started with the defect planted (the code patched in the supervisor's own
process before it runs), where the check must fail. These tests take real seconds: one correct
server (`first`) and one planted one share the work.
"""

import asyncio
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import until
from test_serve import _browser, _get, _port, _run

from kpi.serving import proxy, serve, supervise
from kpi.serving.proxy import nginx_binary
from kpi.tools import loadbench

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="Debian nginx missing (make test installs it as root)")

# Defects to plant, each undoing one guarantee; run in the supervisor's process before `kpi serve`.
PLANTS = {
    "no_death_signal": "import kpi.serving.supervise as s\ns.death_signal = lambda sig=None: None",
    "nginx_group_left": "import kpi.serving.serve as v\nv.Server._end_front = lambda self: True",
    "no_cleanup": "import kpi.serving.supervise as s\ns.end_leftovers = lambda run_dir: []",
    "no_lock": "import kpi.serving.supervise as s\ns.RunLock.acquire = lambda self: True",
    "all_at_once": """import kpi.serving.serve as v
def _roll_step(self):
    if self._roll_requested:
        self._roll_requested = False
        for w in self.workers:
            w.proc.terminate()
v.Server._roll_step = _roll_step""",
}


def _command(port: int, db: Path, plants: tuple[str, ...]) -> list[str]:
    """`python -m kpi serve` with two workers, the `plants` applied first in its own process."""
    args = ["serve", "--port", str(port), "--workers", "2", "--db", str(db)]
    code = "\n".join(PLANTS[p] for p in plants)
    return [sys.executable, "-c", f"{code}\nimport sys\nfrom kpi.cli import main\nsys.exit(main({args!r}))"]


class Served:
    """One `kpi serve` started by a test: its process, port, log, database."""

    def __init__(self, port: int, db: Path, log: Path, plants: tuple[str, ...] = ()):
        self.port, self.db, self.log = port, db, log
        self.url = f"http://127.0.0.1:{port}"
        self.run_dir = ROOT / "data" / "run" / str(port)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(_command(port, db, plants), cwd=ROOT, env=dict(os.environ, KPI_DB=str(db)),
                                         stdout=out,
                                         stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_up(self, timeout: float = 150) -> None:
        # this server's own words, not only an answer (an earlier run's orphans may answer too)
        if not until(lambda: self.proc.poll() is None and "đang phục vụ tại" in self.text()
                      and _health(self.url), timeout):
            pytest.fail(f"kpi serve did not answer:\n{self.text()[-3000:]}")

    def processes(self) -> list[supervise.Proc]:
        """The server and everything it started (pid and start time name each for good)."""
        return [p for p in map(supervise.proc, loadbench.tree(self.proc.pid)) if p is not None]

    def workers(self) -> dict[int, int]:
        """worker port → pid."""
        out = {}
        for p in self.processes():
            cmd = p.cmd.split()
            if "dashboard.py" in p.cmd and "--server.port" in cmd:
                out[int(cmd[cmd.index("--server.port") + 1])] = p.pid
        return out

    def nginx_master(self) -> supervise.Proc:
        """nginx's master: the server's child running nginx (named "nginx: master" once it runs)."""
        return next(p for p in self.processes() if p.ppid == self.proc.pid and "nginx" in p.cmd)


def _health(url: str) -> bool:
    try:
        return _get(url + "/_stcore/health")[2] == b"ok"
    except (OSError, http.client.HTTPException):  # a connection cut as nginx dies
        return False


def _left(procs: list[supervise.Proc]) -> list[supervise.Proc]:
    """Those of `procs` still alive (the same process: same pid and start time)."""
    return [p for p in procs if (q := supervise.proc(p.pid)) is not None and q.start == p.start]


def _front_clean(s: Served, old: supervise.Proc) -> bool:
    """No process of nginx's old master (with the old configuration) is left, and the front answers.
    In this order: the old master's orphaned workers answer until they are ended, so an answer read
    before they are seen gone may be theirs, with the new nginx not yet started."""
    return supervise.group(old.pid, old.start, "nginx") == [] and _health(s.url)


def _second_start(port: int, db: Path, plants: tuple[str, ...] = ()) -> tuple[int, str]:
    out = subprocess.run(_command(port, db, plants), cwd=ROOT, env=dict(os.environ, KPI_DB=str(db)),
                         capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout + out.stderr


def _names_holder(code: int, out: str, port: int, holder: int) -> bool:
    """A refusal in Vietnamese that names the `kpi serve` running on the port by its pid."""
    return (code != 0 and f"Cổng {port}" in out and f"`kpi serve` phục vụ: tiến trình {holder} " in out
            and "Traceback" not in out)


def _page_loads_during(s: Served, start, done, timeout: float = 150) -> tuple[int, list]:
    """Load a logged-in person's page over and over (GET /, websocket, one run) from `start()` until
    `done()`; (page loads made, every failure)."""
    stop = threading.Event()

    async def loads():
        b = _browser(s.url, "lanhdao")
        assert await b.login()
        n = 0
        while not stop.is_set():
            try:
                await b.load_index()
                await b.connect()
                await b.rerun("Tổng quan", "", "nam_hoc=2023-2024&ky=CN")
                await b.ws.close()
                b.ws = None
            except Exception as e:  # noqa: BLE001 - a refused or broken connection is a failed load
                b.result.errors.append(("exception", type(e).__name__, str(e)[:200]))
            n += 1
            await asyncio.sleep(0.2)
        return n, b.result.errors

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(_run, loads())
        time.sleep(2)
        start()
        finished = until(done, timeout, 0.5)
        time.sleep(2)
        stop.set()
        n, errors = fut.result()
    assert finished, f"the restart did not finish:\n{s.text()[-3000:]}"
    return n, errors


@pytest.fixture(scope="module")
def work(sample_db, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve_faults")
    started: list[Served] = []
    yield d, started
    for s in started:  # whatever a failed test left: the server, then every group its records name
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        supervise.end_leftovers(s.run_dir)


def _copy(sample_db: Path, d: Path, name: str) -> Path:
    path = d / f"{name}.duckdb"
    path.write_bytes(sample_db.read_bytes())
    return path


@pytest.fixture(scope="module")
def first(work, sample_db):
    d, started = work
    s = Served(_port(), _copy(sample_db, d, "first"), d / "first.log")
    started.append(s)
    s.wait_up()
    return s


def test_a_second_serve_on_the_port_is_refused_naming_the_first(first):
    code, out = _second_start(first.port, first.db)
    assert _names_holder(code, out, first.port, first.proc.pid), out
    # planted: without the run's lock, the second one meets only a busy port (held by nginx, not
    # by the `kpi serve` to stop) and cannot name it
    code, out = _second_start(first.port, first.db, ("no_lock", "no_cleanup"))
    assert code != 0 and not _names_holder(code, out, first.port, first.proc.pid), out
    assert _health(first.url) and first.proc.poll() is None


def test_nginx_killed_comes_back_with_nothing_of_the_old_one(first):
    old = first.nginx_master()
    os.kill(old.pid, signal.SIGKILL)
    assert until(lambda: _front_clean(first, old), 20), first.text()[-2000:]
    new = first.nginx_master()
    holders = supervise.port_holders(first.port)
    assert new.pid != old.pid and holders and {p.pgid for p in holders} == {new.pid}, (old, new, holders)


def _routed(conf: str, front: int) -> set[int]:
    """The worker ports nginx's configuration sends requests to (a server marked down is none)."""
    return {int(m) for m in re.findall(r"127\.0\.0\.1:(\d+)(?![^\n]*\bdown\b)", conf)} - {front}


def test_nginx_is_told_of_warm_workers_only(tmp_path, monkeypatch):
    srv = serve.Server(port=18080, workers=2, run_dir=tmp_path, nginx="nginx")
    srv.workers = [serve.Worker(0, 41001, ready=True), serve.Worker(1, 41002, ready=False)]

    def conf():
        srv._conf_key = None
        srv._write_conf()
        return (tmp_path / "nginx.conf").read_text(encoding="utf-8")

    assert _routed(conf(), 18080) == {41001}
    srv.workers[0].ready = False  # none warm: everyone gets the Vietnamese page that reloads itself
    text = conf()
    assert _routed(text, 18080) == set() and "@none" in text and 'lang="vi"' in text
    # planted: pinned browsers sent to every worker, warm or not (as before)
    real = proxy.nginx_config
    monkeypatch.setattr(proxy, "nginx_config", lambda d, a, p, pinned, pool, *rest:
                        real(d, a, p, [w.port for w in srv.workers], pool, *rest))
    srv.workers[0].ready = True
    assert _routed(conf(), 18080) != {41001}


class _Follower:
    error: str | None = None


@pytest.mark.skipif(nginx_binary() is None, reason="nginx missing")
def test_a_machine_whose_file_left_the_write_log_serves_no_one(tmp_path, monkeypatch):
    """Several machines: once the follower stops on a divergence (kpi.store.replica.Follower.error), the
    machine takes its workers out of nginx and says no to health, so `kpi front` (proxy_next_upstream on
    503) sends its people to the others; a person who reaches it directly reads why, in Vietnamese.
    Served by a real nginx. Planted: the follower's error left unwatched keeps the workers in."""
    port = _port()
    srv = serve.Server(port=port, workers=2, run_dir=tmp_path, nginx=nginx_binary())
    srv.workers = [serve.Worker(0, _port(), ready=True), serve.Worker(1, _port(), ready=True)]
    srv.follower, srv._health = _Follower(), True
    proxy.make_temp_dirs(tmp_path)  # as Server._prepare
    srv._write_conf()
    srv._check_conf()
    srv._start_front()

    def answers(wait_s: float = 0.0) -> tuple[int, str, set[int]]:
        deadline = time.time() + wait_s
        while True:
            status, _, body = _get(f"http://127.0.0.1:{port}/tong-quan")
            page = body.decode("utf-8", "replace")
            if "tạm ngừng phục vụ" in page or time.time() >= deadline:
                return status, page, _routed((tmp_path / "nginx.conf").read_text(encoding="utf-8"), port)
            time.sleep(0.1)

    try:
        deadline = time.time() + 10
        while time.time() < deadline and supervise.port_free(port, "127.0.0.1"):
            time.sleep(0.05)
        srv.supervise_once()
        assert answers()[2] == {w.port for w in srv.workers}
        srv.follower.error = "dấu vân tay của tệp khác với nhật ký ghi chung ở lần ghi #7"
        monkeypatch.setattr(srv, "_watch_follower", lambda: None)  # planted: nobody looks at the follower
        srv.supervise_once()
        status, page, routed = answers(1.0)
        assert routed == {w.port for w in srv.workers} and "tạm ngừng phục vụ" not in page
        monkeypatch.undo()
        srv.supervise_once()
        status, page, routed = answers(10.0)
        assert srv.diverged and routed == set()
        assert status == 503 and "Máy chủ này tạm ngừng phục vụ" in page and 'lang="vi"' in page
        assert _get(f"http://127.0.0.1:{port}/_stcore/health")[0] == 503
    finally:
        srv.front.terminate()
        srv.front.wait(10)


def test_a_successor_that_cannot_start_leaves_the_old_workers_serving(tmp_path, monkeypatch):
    """A broken upgrade: every successor of a rolling restart dies at once; the roll is given up and
    the old worker keeps serving."""
    def roll(tries: int) -> tuple[serve.Server, serve.Worker]:
        monkeypatch.setattr(serve.Server, "ROLL_TRIES", tries)
        srv = serve.Server(port=18081, workers=1, run_dir=tmp_path, nginx="nginx")
        old = serve.Worker(0, 41001, ready=True,
                           proc=subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        srv.workers = [old]

        def broken(w):
            w.proc, w.started = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"]), time.time()

        monkeypatch.setattr(srv, "_start_worker", broken)
        srv.request_roll()
        for _ in range(8):
            srv._roll_step()
            if srv._successor is not None:
                srv._successor.proc.wait()
        return srv, old

    def old_serves(srv, old):
        alive = old.proc.poll() is None
        old.proc.kill()
        old.proc.wait()
        return srv._roll == [] and srv._successor is None and srv.workers == [old] and alive

    assert old_serves(*roll(3))
    assert not old_serves(*roll(10**6))  # planted: a roll that never gives up


def test_a_crashed_worker_takes_no_one_until_it_is_warm(first):
    before = first.workers()
    victim_port = sorted(before)[0]
    other = next(p for p in before if p != victim_port)
    os.kill(before[victim_port], signal.SIGKILL)
    assert until(lambda: set(first.workers()) - set(before), 15), first.text()[-2000:]
    fresh = (set(first.workers()) - set(before)).pop()
    warming = 0
    while not serve.healthy(fresh):  # a browser pinned to the new worker goes to the warm one meanwhile
        t = time.time()
        status, headers, _ = _get(first.url + "/", {"Cookie": f"kpi_may={fresh}"})
        assert status == 200 and time.time() - t < 5
        assert f"kpi_may={other}" in " ".join(headers.get_all("Set-Cookie") or [])
        warming += 1
    assert warming >= 1

    def joined():
        status, headers, _ = _get(first.url + "/", {"Cookie": f"kpi_may={fresh}"})
        return status == 200 and not [c for c in headers.get_all("Set-Cookie") or [] if c.startswith("kpi_may=")]

    assert until(joined, 15)


def test_a_rolling_restart_keeps_every_page_load(first):
    before = first.workers()
    marker = "đã khởi động lại xong mọi tiến trình"

    def restart():
        out = subprocess.run([sys.executable, "-m", "kpi", "serve", "--restart", "--port", str(first.port)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and f"tiến trình {first.proc.pid}" in out.stdout, out

    def done():
        now = first.workers()
        return marker in first.text() and len(now) == 2 and not set(now.values()) & set(before.values())

    n, errors = _page_loads_during(first, restart, done)
    assert errors == [] and n >= 5, (n, errors)
    assert all(supervise.proc(p) is None for p in before.values())
    records = [json.loads(f.read_text())["pid"] for f in (first.run_dir / "pids").glob("worker-*.json")]
    assert sorted(records) == sorted(first.workers().values())


def test_killing_serve_leaves_nothing_of_its_run(first):
    procs = first.processes()
    for kind in ("nginx: master", "nginx: worker", "dashboard.py", "kpi.exports.renderer"):
        assert any(kind in p.cmd for p in procs), (kind, procs)
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    assert until(lambda: _left(procs) == [], 5), _left(procs)
    assert supervise.wait_port_free(first.port, "127.0.0.1", 2)


def test_the_same_checks_catch_the_planted_defects_and_a_new_start_cleans_up(work, sample_db):
    """A server without the death signal, the nginx group kill and the one-at-a-time restart: each
    check fails on it; then a correct `kpi serve` on its port ends what it left and starts."""
    d, started = work
    bad = Served(_port(), _copy(sample_db, d, "planted"), d / "planted.log",
                 ("no_death_signal", "nginx_group_left", "all_at_once"))
    started.append(bad)
    bad.wait_up()

    before = bad.workers()

    def done():
        now = bad.workers()
        return len(now) == 2 and not set(now.values()) & set(before.values()) and \
            all(_health(f"http://127.0.0.1:{p}") for p in now)

    n, errors = _page_loads_during(bad, lambda: os.kill(bad.proc.pid, signal.SIGHUP), done)
    assert errors, "restarting every worker at once must fail page loads"

    old = bad.nginx_master()
    os.kill(old.pid, signal.SIGKILL)
    assert not until(lambda: _front_clean(bad, old), 6), "an orphaned nginx worker must be seen"

    procs = bad.processes()
    os.kill(bad.proc.pid, signal.SIGKILL)
    bad.proc.wait()
    time.sleep(3)
    orphans = _left(procs)
    assert orphans and supervise.group(old.pid, old.start, "nginx"), "without the death signal children must be left"

    # planted: a start that does not end the earlier run's processes is refused (port held)
    code, out = _second_start(bad.port, bad.db, ("no_cleanup",))
    assert code != 0 and f"Cổng {bad.port}" in out and "Traceback" not in out, out
    assert _left(orphans) == orphans

    again = Served(bad.port, bad.db, d / "again.log")
    started.append(again)
    again.wait_up()
    assert _left(orphans) == [] and supervise.group(old.pid, old.start, "nginx") == []
    assert "còn sót của lần chạy trước" in again.text()
    procs = again.processes()
    again.proc.send_signal(signal.SIGTERM)
    again.proc.wait(timeout=30)
    assert until(lambda: _left(procs) == [], 5), _left(procs)
    assert list((again.run_dir / "pids").glob("*.json")) == [] and not (again.run_dir / "serve.pid").exists()
