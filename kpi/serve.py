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

Files of a running server live in `data/run/<port>/` (nginx.conf, logs, pid, temporary files).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
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

from kpi import db

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")
UPLOAD_LIMIT_MB = 25  # the import's own limits are smaller; this only bounds what nginx buffers


def log(message: str) -> None:
    """One line on stderr with the time, for whoever runs the server."""
    print(f"[kpi serve {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def nginx_binary() -> str | None:
    """Path of the nginx executable, or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def streamlit_static_dir() -> Path:
    """Streamlit's built front end (index.html, static/) in Vietnamese: kpi.frontend's patched copy."""
    from kpi import frontend

    return frontend.static_dir()


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def port_free(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
            return True
        except OSError:
            return False


def cookie_secret() -> str:
    """Streamlit's cookie secret, the same in every worker (derived from the app's signing key), so
    a browser that moves to another worker keeps a valid XSRF cookie for uploads."""
    from kpi import auth

    return hmac.new(auth.secret_key(), b"streamlit-cookie-secret", hashlib.sha256).hexdigest()


def worker_command(port: int) -> list[str]:
    """The command of one worker: Streamlit on a loopback port, production settings."""
    return [sys.executable, "-m", "streamlit", "run", str(db.ROOT / "dashboard.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false", "--server.maxUploadSize", str(UPLOAD_LIMIT_MB),
            "--client.toolbarMode", "minimal", "--global.developmentMode", "false",
            "--runner.postScriptGC", "false"]


def nginx_config(run_dir: Path, address: str, port: int, all_ports: list[int], ready_ports: list[int],
                 static_dir: Path) -> str:
    """The nginx configuration: static files from disk, everything else to the browser's worker.

    `all_ports`: every worker (a pinned browser reaches its worker while it lives);
    `ready_ports`: the warmed workers, which take new browsers (least connections first)."""
    pick = "\n".join(f"        {p} 127.0.0.1:{p};" for p in all_ports)
    pool = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in ready_ports)
    tmp = run_dir / "tmp"
    proxy_common = """
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $kpi_connection;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
            proxy_connect_timeout 3s;
            add_header Set-Cookie $kpi_route_cookie always;"""
    return f"""# written by `python -m kpi serve`; do not edit (rewritten at every start)
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    client_max_body_size {UPLOAD_LIMIT_MB}m;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    gzip on;
    gzip_types text/css application/javascript application/json image/svg+xml;
    gzip_min_length 1024;

    map $http_upgrade $kpi_connection {{
        default upgrade;
        '' '';
    }}
    # the worker this browser is pinned to (cookie kpi_may = its port); unknown or none: the pool
    map $cookie_kpi_may $kpi_pick {{
        volatile;
{pick}
        default kpi_pool;
    }}
    # the port of the worker that answered (the last one tried)
    map $upstream_addr $kpi_answered {{
        volatile;
        "~127\\.0\\.0\\.1:(?<p>[0-9]+)$" $p;
        default "";
    }}
    # pin the browser to that worker when it is not pinned there yet
    map "$cookie_kpi_may:$kpi_answered" $kpi_route_cookie {{
        volatile;
        "~^([0-9]+):\\1$" "";
        "~:(?<p>[0-9]+)$" "kpi_may=$p; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}
    upstream kpi_pool {{
        least_conn;
{pool}
        keepalive 16;
    }}
    server {{
        listen {address}:{port};
        location /static/ {{
            alias {static_dir}/static/;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
        location / {{
            proxy_pass http://$kpi_pick;{proxy_common}
            error_page 502 504 = @pool;
        }}
        location @pool {{
            proxy_pass http://kpi_pool;{proxy_common}
        }}
    }}
}}
"""


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

    def __init__(self, port: int = 8501, workers: int | None = None, address: str = "127.0.0.1",
                 db_path: Path | None = None, run_dir: Path | None = None, nginx: str | None = "auto"):
        self.port, self.address = port, address
        self.n = max(1, workers or os.cpu_count() or 1)
        self.db_path = Path(db_path or db.db_path()).resolve()
        self.run_dir = Path(run_dir or db.ROOT / "data" / "run" / str(port)).resolve()
        self.nginx = nginx_binary() if nginx == "auto" else nginx
        self.workers: list[Worker] = []
        self.front: subprocess.Popen | None = None
        self.renderer: subprocess.Popen | None = None
        self._stop = False
        self._conf_ready: tuple[int, ...] | None = None

    # ---- processes ---------------------------------------------------------------------------

    def _env(self, index: int) -> dict:
        env = dict(os.environ, KPI_DB=str(self.db_path), KPI_WORKER=str(index), KPI_SERVE="1",
                   STREAMLIT_SERVER_COOKIE_SECRET=cookie_secret(), PYTHONUNBUFFERED="1")
        env["KPI_RENDERER_SOCKET"] = str(self.run_dir / "renderer.sock")
        return env

    def _start_worker(self, w: Worker) -> None:
        if not port_free(w.port):
            w.port = free_port()
        w.log_path = self.run_dir / f"worker-{w.index}.log"
        out = open(w.log_path, "ab")
        w.proc = subprocess.Popen(worker_command(w.port), cwd=db.ROOT, env=self._env(w.index), stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        w.started, w.ready = time.time(), False

    def _start_renderer(self) -> None:
        """The one chart renderer (chromium) every worker draws with; chromium itself starts on the
        first request (the Báo cáo page asks when it opens)."""
        sock = self.run_dir / "renderer.sock"
        log_file = open(self.run_dir / "renderer.log", "ab")
        self.renderer = subprocess.Popen([sys.executable, "-m", "kpi", "renderer", "--socket", str(sock)],
                                         cwd=db.ROOT, env=dict(os.environ, KPI_DB=str(self.db_path)),
                                         stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()

    def _start_front(self) -> None:
        conf = self.run_dir / "nginx.conf"
        self.front = subprocess.Popen(
            [self.nginx, "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log"),
             "-g", "daemon off;"], cwd=self.run_dir, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(self.run_dir / "nginx-error.log", "ab"))

    def _write_conf(self) -> bool:
        """Write nginx.conf for the workers now ready; True when it changed."""
        ready = tuple(w.port for w in self.workers if w.ready)
        if ready == self._conf_ready:
            return False
        text = nginx_config(self.run_dir, self.address, self.port, [w.port for w in self.workers],
                            list(ready) or [w.port for w in self.workers], streamlit_static_dir())
        (self.run_dir / "nginx.conf").write_text(text, encoding="utf-8")
        self._conf_ready = ready
        return True

    def _check_conf(self) -> None:
        out = subprocess.run([self.nginx, "-t", "-q", "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf"),
                              "-e", str(self.run_dir / "nginx-error.log")], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"cấu hình nginx không hợp lệ: {out.stderr.strip()}")

    def _reload_front(self) -> None:
        if self.front and self.front.poll() is None and self._write_conf():
            self._check_conf()
            self.front.send_signal(signal.SIGHUP)  # graceful: open websockets stay where they are
            log(f"nginx: trường nhận người dùng mới: {', '.join(str(p) for p in self._conf_ready)}")

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
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # nginx's own workers drop to nobody and write their temporary files here
            with contextlib.suppress(OSError):
                for p in [self.run_dir / "tmp", *(self.run_dir / "tmp").iterdir()]:
                    os.chmod(p, 0o777)
        if not port_free(self.port, self.address):
            raise RuntimeError(f"Cổng {self.port} đang được dùng; chọn cổng khác với --port.")
        for f in db.tidy(self.db_path):
            log(f"đã xoá bản sao dở dang của một lần ghi bị dừng: {f.name}")
        if db.upgrade(self.db_path):
            log("đã nâng cấp cơ sở dữ liệu lên cấu trúc của phiên bản này (thêm bảng mới, giữ nguyên số liệu)")

    def start(self) -> None:
        """Start the workers, wait until each is warm, then start nginx in front of them."""
        self._prepare()
        used = {self.port}
        for i in range(self.n):
            p = free_port()
            while p in used:
                p = free_port()
            used.add(p)
            self.workers.append(Worker(i, p))
        t = time.time()
        self._start_renderer()
        for w in self.workers:
            self._start_worker(w)
        for w in self.workers:
            if not self._wait_ready(w):
                raise RuntimeError(f"tiến trình {w.index} không khởi động được; xem {w.log_path}")
        log(f"{self.n} tiến trình sẵn sàng (đã làm nóng) sau {time.time() - t:.1f} s")
        self._write_conf()
        self._check_conf()
        self._start_front()
        deadline = time.time() + 10
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                if _get(f"http://{self._front_host()}:{self.port}/_stcore/health")[1] == b"ok":
                    break
            if self.front.poll() is not None:
                raise RuntimeError(f"nginx dừng khi khởi động; xem {self.run_dir / 'nginx-error.log'}")
            time.sleep(0.1)
        log(f"đang phục vụ tại http://{self._front_host()}:{self.port} (nginx → {self.n} tiến trình Streamlit)")

    def _front_host(self) -> str:
        return "127.0.0.1" if self.address in ("0.0.0.0", "::", "") else self.address

    def supervise_once(self) -> None:
        """One round of supervision: restart dead workers, add warmed ones back, restart nginx."""
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is not None:
                code = w.proc.returncode
                w.ready = False
                w.history = [t for t in w.history if time.time() - t < 60] + [time.time()]
                if len(w.history) > 5:  # crashing in a loop: wait a little before trying again
                    time.sleep(2)
                log(f"tiến trình {w.index} (cổng {w.port}) đã dừng (mã {code}); khởi động lại")
                self._reload_front()  # take it out of the pool for new browsers
                self._start_worker(w)
                w.restarts += 1
            elif w.proc is not None and not w.ready and healthy(w.port, timeout=0.5):
                w.ready = True
                log(f"tiến trình {w.index} (cổng {w.port}) sẵn sàng trở lại")
                self._reload_front()
        if self.renderer is not None and self.renderer.poll() is not None and not self._stop:
            log("trình vẽ biểu đồ đã dừng; khởi động lại")
            self._start_renderer()
        if self.front is not None and self.front.poll() is not None and not self._stop:
            log("nginx đã dừng; khởi động lại")
            self._conf_ready = None
            self._write_conf()
            self._start_front()

    def stop(self) -> None:
        """Stop nginx and every worker (SIGTERM, then SIGKILL after 10 s)."""
        self._stop = True
        procs = [p for p in [self.front, self.renderer, *(w.proc for w in self.workers)] if p is not None]
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

    def run(self) -> None:
        """Start, supervise until Ctrl-C or SIGTERM, stop everything."""
        def on_signal(signum, frame):
            self._stop = True

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self._stop:
                self.supervise_once()
                time.sleep(0.5)
        finally:
            log("đang dừng")
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)


def serve_single(port: int, address: str, db_path: Path) -> int:
    """No nginx: one Streamlit process on the front port, in the foreground."""
    log("không có nginx: chỉ một tiến trình phục vụ (một lõi). Cài gói Debian `nginx` "
        "(make run cài khi chạy bằng root) để phục vụ nhiều người cùng lúc.")
    cmd = worker_command(port)
    cmd[cmd.index("--server.address") + 1] = address
    env = dict(os.environ, KPI_DB=str(db_path), KPI_SERVE="1", STREAMLIT_SERVER_COOKIE_SECRET=cookie_secret())
    proc = subprocess.Popen(cmd, cwd=db.ROOT, env=env)

    def on_signal(signum, frame):
        proc.send_signal(signal.SIGTERM)

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, on_signal)
    return proc.wait()


def serve(port: int = 8501, workers: int | None = None, address: str = "127.0.0.1",
          db_path: Path | None = None) -> int:
    """The `serve` command: nginx and N workers when nginx is there, else one process."""
    path = Path(db_path or db.db_path()).resolve()
    if nginx_binary() is None:
        return serve_single(port, address, path)
    Server(port, workers, address, path).run()
    return 0
