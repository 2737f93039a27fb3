"""`python -m kpi serve`: N Streamlit workers behind nginx, sticky per browser, supervised.

One Python process runs one core's worth of Python, so the app runs one Streamlit worker per core
(`streamlit run dashboard.py` on a loopback port each) behind nginx (the Debian package), in the
way of a pre-fork server: this process starts the front and the workers, restarts a worker that
dies, forwards Ctrl-C / SIGTERM and stops everything it started.

Stickiness. A Streamlit session lives in one worker: its websocket, and the media and download
URLs its pages hand out. nginx pins each browser to a worker with a cookie (`kpi_may`, the
worker's port), set from the worker that answered the browser's first request; every later
request (login route, websocket, media, downloads) goes to that worker. When that worker is down,
the request goes to any live worker and the cookie follows it, so the browser's next requests
reach its new worker too (its login holds: sessions live in the shared state store).

Workers are warmed (the app's caches for the pages people open first) before they take users: a
worker joins nginx's pool of new browsers only once it answers health, which it does after its
warm-up. nginx serves Streamlit's static files itself. Where nginx is missing, one worker serves
directly on the front port and this says so.

Ownership (kpi.serving.supervise): every child dies with this process (a death signal, `kill -9` included),
is recorded in `data/run/<port>/pids/`, and the next start ends whatever an earlier run left; nginx
is started again only once its old master's whole group is gone and the port is free; a second
`kpi serve` on the same port is refused with the pid and command of the one running.

Restarts. A crashed worker is replaced by a new one on a new port, which joins nginx (pinned
browsers included) only once warm; its browsers go to the live workers meanwhile. SIGHUP (or
`python -m kpi serve --restart`) restarts the workers one at a time for an upgrade: a successor
is started and warmed beside the worker it replaces, nginx switches to it, the old one gets a few
seconds to finish its open requests and is stopped; then the next. People keep their sessions
(they live in the shared store) and never wait for a warm-up.

Files of a running server live in `data/run/<port>/` (nginx.conf, logs, pid files, temporary files).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kpi.admin.secret import secret_key
from kpi.common.formatting import fmt_int, fmt_number
from kpi.serving import proxy, supervise
from kpi.store import paths

# This process (the supervisor) imports neither DuckDB nor pandas: the file's checks before a start run in a
# child of their own (`check_file`), and the follower of a shared write log only on several machines. It
# held 101 MB (PSS) with them, every worker's libraries over again (issue 29: every process counts).


def log(message: str) -> None:
    """One line on stderr with the time, for whoever runs the server."""
    print(f"[kpi serve {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def lan_address() -> str:
    """This machine's address on the office network (the interface of its default route), for the
    message telling other computers and phones where to go; no packet is sent."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return s.getsockname()[0]
    return "<địa chỉ IP của máy này>"


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072", "ARROW_DEFAULT_MEMORY_POOL": "system"}
# Arrow's buffers (pandas' text columns, the view models' tables) from glibc too, not from Arrow's bundled mimalloc:
# mimalloc reserves 1 GiB and kept what the view cache had dropped (its mapping held 185 MB for 106 MB of live
# buffers in a worker at the end of the national load); glibc gives a large buffer back when it is freed. The
# national load's peak 1.612 → 1.503 MB, CPU per run unchanged (95 → 91 ms), 07/12/2026.
# A worker's DuckDB readers, each (kpi.store.db.READER_MB_ENV): the cache of the file's blocks and the queries'
# working memory together; a query that needs more spills to the worker's folder under data/run/<port>/spill/.
# Nationally the office pages' queries took 400-670 MB for a moment in each worker (the server's peak: 2,15-2,19
# GB); the file's cache alone is 90-130 MB. With 192 MB the office queries spill (So sánh's first build about 1,6
# times the CPU, other pages alike) and none was refused under the national load (kpi.store.db.within_memory
# retries one that is). The operator's own $KPI_DUCKDB_MB wins.
READER_MB = 192


def spill_dir(run_dir: Path, port: int) -> Path:
    """The folder the DuckDB readers of the worker on `port` spill to (KPI_DUCKDB_TMP)."""
    return run_dir / "spill" / str(port)


def cookie_secret() -> str:
    """Streamlit's cookie secret, the same in every worker (derived from the app's signing key), so
    a browser that moves to another worker keeps a valid XSRF cookie for uploads."""
    return hmac.new(secret_key(), b"streamlit-cookie-secret", hashlib.sha256).hexdigest()


def worker_command(port: int) -> list[str]:
    """The command of one worker: Streamlit on a loopback port, production settings."""
    return [sys.executable, "-m", "streamlit", "run", str(paths.ROOT / "dashboard.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false", "--server.maxUploadSize", str(proxy.UPLOAD_LIMIT_MB),
            "--client.toolbarMode", "minimal", "--global.developmentMode", "false",
            "--runner.postScriptGC", "false"]




def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def healthy(port: int, timeout: float = 2.0) -> bool:
    """True when the worker on this port answers Streamlit's health check."""
    with contextlib.suppress(OSError):
        return _get(f"http://127.0.0.1:{port}/_stcore/health", timeout)[1] == b"ok"
    return False


@dataclass
class Worker:
    """One Streamlit process of the server."""

    index: int
    port: int
    proc: subprocess.Popen | None = None
    started: float = 0.0
    ready: bool = False
    restarts: int = 0
    log_path: Path | None = None
    history: list[float] = field(default_factory=list)


class Server:
    """The front (nginx) and its workers; `run()` blocks until Ctrl-C / SIGTERM."""

    DRAIN_S = 10.0  # at most this long, a replaced worker finishes its open requests before it stops
    WARM_LIMIT_S = 120.0  # a successor not warm after this long is given up
    ROLL_TRIES = 3  # a successor that fails this often ends the rolling restart (the old ones serve)

    def __init__(self, port: int = 8501, workers: int | None = None, address: str = "127.0.0.1",
                 db_path: Path | None = None, run_dir: Path | None = None, nginx: str | None = "auto",
                 fronts: tuple[str, ...] = ()):
        self.port, self.address = port, address
        self.fronts = tuple(fronts)  # `kpi front` machines whose X-Real-IP is the browser's address
        self.n = max(1, workers or os.cpu_count() or 1)
        self.db_path = Path(db_path or paths.db_path()).resolve()
        self.run_dir = Path(run_dir or paths.ROOT / "data" / "run" / str(port)).resolve()
        self.nginx = proxy.nginx_binary() if nginx == "auto" else nginx
        self.workers: list[Worker] = []
        self.front: subprocess.Popen | None = None
        self.renderer: subprocess.Popen | None = None
        self.lock = supervise.RunLock(self.run_dir)
        self._stop = False
        self._conf_ready: tuple[int, ...] | None = None
        self._conf_key: tuple | None = None
        self._health = False  # the front answers health once the start is over
        self._front_retry = 0.0
        self._front_start = 0
        self._roll: list[int] = []           # indices of the workers still to restart (SIGHUP)
        self._roll_requested = False
        self._successor: Worker | None = None  # the warming replacement of self.workers[self._roll[0]]
        self._retiring: list[tuple[Worker, float]] = []  # replaced workers finishing their requests
        self.follower = None  # several machines: the shared write log followed (kpi.store.replica.Follower)
        self.diverged: str | None = None  # why this machine's file left the shared log (then it serves no one)

    # ---- processes ---------------------------------------------------------------------------

    def _spill_dir(self, port: int) -> Path:
        return spill_dir(self.run_dir, port)

    def _env(self, index: int, port: int) -> dict:
        env = dict(os.environ, KPI_DB=str(self.db_path), KPI_WORKER=str(index), KPI_SERVE="1",
                   STREAMLIT_SERVER_COOKIE_SECRET=cookie_secret(), PYTHONUNBUFFERED="1")
        env["KPI_RENDERER_SOCKET"] = str(self.run_dir / "renderer.sock")
        env.setdefault("KPI_DUCKDB_MB", str(READER_MB))
        env["KPI_DUCKDB_TMP"] = str(self._spill_dir(port))  # DuckDB makes it when it spills, removes it at close
        # glibc's allocator: a worker's page runs each build and free frames of up to tens of MB in a thread of
        # their own; with an arena per thread and the mmap threshold rising after each large free, freed memory
        # stayed in the arenas (347 MB of a 1.145 MB worker at national scale, 07/12/2026). Two arenas and a
        # fixed threshold (large blocks mapped and given back when freed): 20 MB free. The operator's own wins.
        for k, val in MALLOC_ENV.items():
            env.setdefault(k, val)
        return env

    def _spawn(self, kind: str, marker: str, cmd: list[str], log_path: Path, env: dict | None,
               death: int = signal.SIGKILL, quiet_stdout: bool = False) -> subprocess.Popen:
        """Start a child in a session of its own that dies with this process; record it as `<kind>-<pid>`."""
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=paths.ROOT, env=env, stdout=subprocess.DEVNULL if quiet_stdout else out,
                                    stderr=out if quiet_stdout else subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=supervise.death_signal(death))
        supervise.record(self.run_dir, f"{kind}-{proc.pid}", proc.pid, marker)
        return proc

    def _free_worker_port(self) -> int:
        used = {self.port} | {w.port for w in self.workers} | {w.port for w, _ in self._retiring}
        if self._successor:
            used.add(self._successor.port)
        p = free_port()
        while p in used:
            p = free_port()
        return p

    def _start_worker(self, w: Worker) -> None:
        """Start (or start again) worker `w` on a fresh port: a browser pinned to its old port goes to
        the warm workers until this one is warm and nginx is told."""
        w.port = self._free_worker_port()
        w.log_path = self.run_dir / f"worker-{w.index}.log"
        shutil.rmtree(self._spill_dir(w.port), ignore_errors=True)  # what a killed worker on this port left
        w.proc = self._spawn("worker", "dashboard.py", worker_command(w.port), w.log_path,
                             self._env(w.index, w.port))
        w.started, w.ready = time.time(), False

    def _end_worker(self, w: Worker, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL of its whole group after `grace` seconds; forget its record."""
        p = w.proc
        with contextlib.suppress(ProcessLookupError):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        supervise.forget(self.run_dir, f"worker-{p.pid}")
        shutil.rmtree(self._spill_dir(w.port), ignore_errors=True)

    def _start_renderer(self) -> None:
        """The one chart renderer (chromium) every worker draws with; chromium itself starts on the
        first request (the Báo cáo page asks when it opens)."""
        sock = self.run_dir / "renderer.sock"
        self.renderer = self._spawn("renderer", "renderer",
                                    [sys.executable, "-m", "kpi.exports.renderer", "--socket", str(sock)],
                                    self.run_dir / "renderer.log", dict(os.environ, KPI_DB=str(self.db_path)))

    def _start_front(self) -> None:
        conf = self.run_dir / "nginx.conf"
        # SIGTERM, not SIGKILL, at the supervisor's death: nginx's master then ends its own workers
        self.front = self._spawn("front", "nginx", [self.nginx, "-p", str(self.run_dir), "-c", str(conf), "-e",
                                 str(self.run_dir / "nginx-error.log"), "-g", "daemon off;"],
                                 self.run_dir / "nginx-error.log", None, death=signal.SIGTERM, quiet_stdout=True)
        self._front_start = p.start if (p := supervise.proc(self.front.pid)) else 0

    def _end_front(self) -> bool:
        """After nginx's master died: end its whole group (its workers keep the port and the old
        configuration otherwise) and wait for the port; True when nginx can start again."""
        ended = supervise.end_group(self.front.pid, self._front_start, "nginx")
        if ended:
            log(f"đã dừng {fmt_int(len(ended))} tiến trình nginx cũ còn giữ cổng {self.port}")
        if supervise.group(self.front.pid, self._front_start, "nginx"):
            return False
        supervise.forget(self.run_dir, f"front-{self.front.pid}")
        return supervise.wait_port_free(self.port, self.address, 5.0)

    def _write_conf(self) -> bool:
        """Write nginx.conf for the workers now ready; True when it changed. A machine whose file left the
        shared write log (self.diverged) takes nobody and says no to health: its figures are never served."""
        ready = () if self.diverged else tuple(w.port for w in self.workers if w.ready)
        health = self._health and not self.diverged
        if (ready, health) == self._conf_key:
            return False
        text = proxy.nginx_config(self.run_dir, self.address, self.port, list(ready), list(ready),
                                  proxy.streamlit_static_dir(), health, self.fronts,
                                  proxy.DIVERGED_PAGE if self.diverged else proxy.STARTING_PAGE)
        (self.run_dir / "nginx.conf").write_text(text, encoding="utf-8")
        self._conf_ready, self._conf_key = ready, (ready, health)
        return True

    def _watch_follower(self) -> None:
        """Once the follower stops on a divergence, take every worker out of nginx (for good: a restart
        catches up or refuses to start)."""
        if self.follower is not None and self.follower.error and not self.diverged:
            self.diverged = self.follower.error
            log(f"máy này ngừng nhận người dùng (sức khỏe: 503) vì số liệu không khớp nhật ký ghi chung: "
                f"{self.diverged}")
            self._reload_front()

    def _check_conf(self) -> None:
        out = subprocess.run([self.nginx, "-t", "-q", "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"),
                              "-e", str(self.run_dir / "nginx-error.log")], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"cấu hình nginx không hợp lệ: {out.stderr.strip()}")

    def _reload_front(self) -> None:
        if self.front and self.front.poll() is None and self._write_conf():
            self._check_conf()
            self.front.send_signal(signal.SIGHUP)  # graceful: open websockets stay where they are
            ports = ", ".join(str(p) for p in self._conf_ready) or "(chưa có)"
            log(f"nginx: các tiến trình nhận người dùng (cổng): {ports}")

    def _wait_ready(self, w: Worker, timeout: float = 120.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline and not self._stop:
            if w.proc.poll() is not None:
                return False
            if healthy(w.port):  # a worker answers health only after its warm-up (dashboard.py lifespan)
                w.ready = True
                return True
            time.sleep(0.2)
        return False

    def _prepare(self) -> None:
        if not self.db_path.exists():
            raise RuntimeError(f"Chưa có cơ sở dữ liệu tại {self.db_path}. Chạy `python -m kpi init --sample` trước.")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.lock.acquire():
            raise RuntimeError(supervise.held_message(self.run_dir, self.port))
        for p in supervise.end_leftovers(self.run_dir):
            log(f"đã dừng tiến trình còn sót của lần chạy trước: {supervise.describe(p)}")
        proxy.make_temp_dirs(self.run_dir)
        shutil.rmtree(self.run_dir / "spill", ignore_errors=True)  # no worker runs: what killed ones spilled
        if not supervise.wait_port_free(self.port, self.address, 3.0):
            raise RuntimeError(supervise.busy_port_message(self.port))
        for line in supervise.in_child(check_file, self.db_path):
            log(line)

    def start(self) -> None:
        """Start nginx (answering proxy.STARTING_PAGE), then the workers; each joins nginx once warm."""
        self._prepare()
        if os.environ.get("KPI_STORE"):  # several machines (kpi.store.db.shared_store decides)
            # deferred: the follower (DuckDB) only where a shared write log is followed
            from kpi.store import replica

            self.follower = replica.Follower(self.db_path).start()
        self.workers = [Worker(i, 0) for i in range(self.n)]
        t = time.time()
        self._write_conf()
        self._check_conf()
        self._start_front()
        self._start_renderer()
        for w in self.workers:
            self._start_worker(w)
        for w in self.workers:
            if not self._wait_ready(w):
                raise RuntimeError(f"tiến trình {w.index} không khởi động được; xem {w.log_path}")
        log(f"{self.n} tiến trình sẵn sàng (đã làm nóng) sau {fmt_number(time.time() - t)} giây")
        # For a moment after a reload nginx's old workers still take connections: the front says it
        # is healthy only once no worker of the starting page is left to answer anyone.
        starting = [p for p in supervise.group(self.front.pid, self._front_start, "nginx") if p.pid != self.front.pid]
        self._reload_front()
        deadline = time.time() + 10
        while time.time() < deadline and any(supervise.proc(p.pid) for p in starting):
            time.sleep(0.05)
        self._health = True
        self._reload_front()
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                if _get(f"http://{self._front_host()}:{self.port}/_stcore/health")[1] == b"ok":
                    break
            if self.front.poll() is not None:
                raise RuntimeError(f"nginx dừng khi khởi động; xem {self.run_dir / 'nginx-error.log'}")
            time.sleep(0.1)
        log(f"đang phục vụ tại http://{self._front_host()}:{self.port} (nginx → {self.n} tiến trình Streamlit)")
        if self.address in ("0.0.0.0", "::", ""):
            log(f"máy khác trong mạng của cơ quan mở: http://{lan_address()}:{self.port}")

    def _front_host(self) -> str:
        return "127.0.0.1" if self.address in ("0.0.0.0", "::", "") else self.address

    def supervise_once(self) -> None:
        """One round of supervision: restart dead workers, add warmed ones back, restart nginx,
        advance a rolling restart."""
        self._watch_follower()
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is not None:
                code = w.proc.returncode
                w.ready = False
                supervise.forget(self.run_dir, f"worker-{w.proc.pid}")
                w.history = [t for t in w.history if time.time() - t < 60] + [time.time()]
                if len(w.history) > 5:  # crashing in a loop: wait a little before trying again
                    time.sleep(2)
                log(f"tiến trình {w.index} (cổng {w.port}) đã dừng (mã {code}); khởi động lại")
                self._reload_front()  # take it out of nginx (new and pinned browsers alike)
                self._start_worker(w)
                w.restarts += 1
            elif w.proc is not None and not w.ready and healthy(w.port, timeout=0.5):
                w.ready = True
                log(f"tiến trình {w.index} (cổng {w.port}) sẵn sàng trở lại")
                self._reload_front()
        self._roll_step()
        if self.renderer is not None and self.renderer.poll() is not None and not self._stop:
            log("trình vẽ biểu đồ đã dừng; khởi động lại")
            supervise.forget(self.run_dir, f"renderer-{self.renderer.pid}")
            self._start_renderer()
        if self.front is not None and self.front.poll() is not None and not self._stop \
                and time.time() >= self._front_retry:
            self._restart_front()

    def _restart_front(self) -> None:
        log(f"nginx đã dừng (mã {self.front.returncode}); dừng nốt các tiến trình của nó rồi khởi động lại")
        if not self._end_front():
            self._front_retry = time.time() + 3
            log(f"chưa khởi động lại nginx: {supervise.busy_port_message(self.port)} Thử lại sau 3 giây.")
            return
        self._conf_key = None
        self._write_conf()
        self._start_front()

    # ---- rolling restart ---------------------------------------------------------------------

    def request_roll(self) -> None:
        """Ask for a rolling restart (SIGHUP's handler; done by `supervise_once`)."""
        self._roll_requested = True

    def _roll_step(self) -> None:
        if self._roll_requested and not self._roll and not self._stop:
            self._roll_requested = False
            self._roll = [w.index for w in self.workers]
            log("khởi động lại lần lượt từng tiến trình (SIGHUP)")
        for old, until in list(self._retiring):
            # nginx switches over within a moment of its SIGHUP: only then do no connections mean idle
            settled = time.time() >= until - self.DRAIN_S + 1.5
            if time.time() >= until or (settled and supervise.connections(old.port) == 0):
                self._retiring.remove((old, until))
                self._end_worker(old)
                log(f"đã dừng tiến trình cũ (cổng {old.port})")
        if not self._roll or self._stop:
            return
        i = self._roll[0]
        new = self._successor
        if new is None:
            self._successor = new = Worker(i, 0)
            self._start_worker(new)
        elif new.proc.poll() is not None or time.time() - new.started > self.WARM_LIMIT_S:
            # a broken upgrade must not take the service down: the old workers keep serving
            failed = new.proc.poll() is not None
            self._end_worker(new, grace=0)
            new.restarts += 1
            if new.restarts >= self.ROLL_TRIES:
                self._roll, self._successor = [], None
                log(f"bản mới không khởi động được ({new.restarts} lần; xem {new.log_path}); "
                    "dừng khởi động lại lần lượt, các tiến trình cũ vẫn phục vụ")
                return
            log(f"tiến trình thay thế {i} {'dừng' if failed else 'chưa sẵn sàng'} khi khởi động; thử lại")
            self._start_worker(new)
        elif healthy(new.port, timeout=0.5):
            new.ready = True
            old = self.workers[i]
            self.workers[i] = new
            self._successor = None
            self._reload_front()  # the successor takes the old one's place, pinned browsers included
            self._retiring.append((old, time.time() + self.DRAIN_S))
            self._roll.pop(0)
            log(f"tiến trình {i}: cổng {new.port} thay cổng {old.port}"
                + ("" if self._roll else "; đã khởi động lại xong mọi tiến trình"))

    # ---- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop nginx and every worker (SIGTERM, then SIGKILL after 10 s); drop the run's records."""
        self._stop = True
        if self.follower is not None:
            self.follower.stop()
        workers = [*self.workers, *(w for w, _ in self._retiring), *([self._successor] if self._successor else [])]
        procs = [p for p in [self.front, self.renderer, *(w.proc for w in workers)] if p is not None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                if p.poll() is None:
                    p.send_signal(signal.SIGQUIT if p is self.front else signal.SIGTERM)
        deadline = time.time() + 10
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.time()))
            # each child leads its own process group: this also ends what it started (chromium)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            if p.poll() is None:
                p.wait()
        shutil.rmtree(self.run_dir / "spill", ignore_errors=True)  # the workers' DuckDB folders, all ended
        if self.lock.fd is not None:
            supervise.end_leftovers(self.run_dir)  # nginx workers orphaned by a killed master, if any
            self.lock.release()

    def run(self) -> None:
        """Start, supervise until Ctrl-C or SIGTERM (SIGHUP: rolling restart), stop everything."""
        def on_signal(signum, frame):
            self._stop = True

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        old[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda signum, frame: self.request_roll())
        try:
            self.start()
            while not self._stop:
                self.supervise_once()
                time.sleep(0.5)
        finally:
            if self.lock.fd is not None:
                log("đang dừng")
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)


def check_file(path: Path) -> list[str]:
    """Before a start (in a child of the supervisor: `supervise.in_child`): drop the copies of writes a stop
    left half-done, take every write made on other machines (several machines), upgrade the file's structure,
    finish or drop a write a crash left half-done (kpi.store.recovery); returns what it did, for the log."""
    # deferred: DuckDB and pandas in this child only (supervise.in_child): the supervisor stays at about 15 MB
    from kpi.store import db, recovery

    done = [f"đã xoá bản sao dở dang của một lần ghi bị dừng: {f.name}" for f in db.tidy(path)]
    caught = db.catch_up(path)  # several machines: this file takes every write made elsewhere before anyone reads it
    if caught:
        done.append(f"đã cập nhật {fmt_int(caught)} lần ghi của các máy khác từ nhật ký ghi chung")
    if db.upgrade(path):
        done.append("đã nâng cấp cơ sở dữ liệu lên cấu trúc của phiên bản này (thêm bảng mới, giữ nguyên số liệu)")
    return done + list(recovery.repair_quietly(path))


def serve_single(port: int, address: str, db_path: Path) -> int:
    """No nginx: one Streamlit process on the front port, in the foreground."""
    log("không có nginx: chỉ một tiến trình phục vụ (một lõi). Cài gói Debian `nginx` "
        "(make run cài khi chạy bằng root) để phục vụ nhiều người cùng lúc.")
    cmd = worker_command(port)
    cmd[cmd.index("--server.address") + 1] = address
    env = dict(os.environ, KPI_DB=str(db_path), KPI_SERVE="1", STREAMLIT_SERVER_COOKIE_SECRET=cookie_secret())
    env.setdefault("KPI_DUCKDB_MB", str(READER_MB))
    env["KPI_DUCKDB_TMP"] = str(spill_dir(paths.ROOT / "data" / "run" / str(port), port))
    proc = subprocess.Popen(cmd, cwd=paths.ROOT, env=env, preexec_fn=supervise.death_signal(signal.SIGTERM))

    def on_signal(signum, frame):
        proc.send_signal(signal.SIGTERM)

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, on_signal)
    return proc.wait()


def serve(port: int = 8501, workers: int | None = None, address: str = "127.0.0.1",
          db_path: Path | None = None, fronts: tuple[str, ...] = ()) -> int:
    """The `serve` command: nginx and N workers when nginx is there, else one process."""
    path = Path(db_path or paths.db_path()).resolve()
    if proxy.nginx_binary() is None:
        return serve_single(port, address, path)
    Server(port, workers, address, path, fronts=fronts).run()
    return 0


def request_restart(port: int = 8501) -> int:
    """`kpi serve --restart`: ask the `kpi serve` running on `port` for a rolling restart (SIGHUP)."""
    run_dir = paths.ROOT / "data" / "run" / str(port)
    p = supervise.running(run_dir)
    if p is None:
        raise RuntimeError(f"Không có `kpi serve` nào đang chạy trên cổng {port} (không thấy {run_dir / 'serve.pid'}).")
    os.kill(p.pid, signal.SIGHUP)
    print(f"Đã yêu cầu `kpi serve` (tiến trình {p.pid}) khởi động lại lần lượt từng tiến trình; "
          "người đang dùng không phải đăng nhập lại. Xem tiến độ trong nhật ký của nó.")
    return 0
