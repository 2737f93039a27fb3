"""nginx in front of the workers of `python -m kpi serve`: where its binary is, its configuration
(static files from disk, each browser pinned to its worker by the `kpi_may` cookie, a pool for new
browsers, a Vietnamese page while no worker is warm), and Streamlit's built front end it serves.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from kpi.serving import frontend

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")
UPLOAD_LIMIT_MB = 25  # the import's own limits are smaller; this only bounds what nginx buffers
# What nginx answers while no worker is warm (at the start, or all crashed at once): a Vietnamese
# page that reloads itself, not nginx's English "502 Bad Gateway".
STARTING_PAGE = ('<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">'
                 '<title>Đang khởi động</title></head><body><h1>Máy chủ đang khởi động</h1><p>Vui lòng chờ vài '
                 'giây, trang sẽ tự tải lại. Phiên đăng nhập và số liệu đã lưu của bạn được giữ nguyên.</p>'
                 '</body></html>')
# What a machine of several answers once its file no longer matches the shared write log
# (kpi.store.replica.Follower.error): never its figures; `kpi front` sends its people to the others.
DIVERGED_PAGE = ('<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">'
                 '<title>Tạm ngừng phục vụ</title></head><body><h1>Máy chủ này tạm ngừng phục vụ</h1><p>Số liệu '
                 'trên máy này không còn khớp với các máy khác; quản trị viên đã được báo trong nhật ký. Vui lòng '
                 'mở lại trang sau ít phút. Phiên đăng nhập và số liệu đã lưu của bạn được giữ nguyên.</p>'
                 '</body></html>')



def nginx_binary() -> str | None:
    """Path of the nginx executable, or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def streamlit_static_dir() -> Path:
    """Streamlit's built front end (index.html, static/) in Vietnamese: kpi.serving.frontend's patched copy."""
    return frontend.static_dir()



def proxy_directives(cookie_var: str, forwarded_for: str = "$remote_addr", extra: str = "") -> str:
    """A proxying location's lines: HTTP/1.1 with the websocket upgrade, the browser's address passed on,
    day-long timeouts, no buffering (each message at once), a 3-s connect, `extra` lines, and the pinning
    cookie `$cookie_var` set on every answer."""
    return f"""
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For {forwarded_for};
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $kpi_connection;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
            proxy_connect_timeout 3s;{extra}
            add_header Set-Cookie ${cookie_var} always;"""


def pinned_then_pool(pinned: str, falls_on: str, pool: str, proxy_common: str, none_page: str) -> str:
    """The locations of a front: to the `pinned` upstream; on an answer in `falls_on` (it is gone), to
    the `pool`; when none answers, `none_page` (503, in Vietnamese, reloading itself)."""
    return f"""        location / {{
            proxy_pass http://{pinned};{proxy_common}
            error_page {falls_on} = @pool;
        }}
        location @pool {{
            proxy_pass http://{pool};{proxy_common}
            error_page 502 503 504 = @none;
        }}
        location @none {{
            default_type "text/html; charset=utf-8";
            add_header Retry-After 3 always;
            add_header Cache-Control no-store always;
            return 503 '{none_page}';
        }}"""


def config_head(run_dir: Path, command: str, connections: int) -> str:
    """The first lines of an nginx configuration written by `python -m kpi <command>`: one worker, its
    pid file and error log in the run's folder."""
    return f"""# written by `python -m kpi {command}`; do not edit (rewritten at every start)
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;
events {{ worker_connections {connections}; }}"""


_TEMP = (("client_body", "body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"), ("scgi", "scgi"))


def temp_paths(run_dir: Path) -> str:
    """Where nginx keeps request bodies and buffers: the run's own folder (never /var/lib/nginx)."""
    tmp = run_dir / "tmp"
    return "\n".join(f"    {kind}_temp_path {tmp}/{sub};" for kind, sub in _TEMP)


def make_temp_dirs(run_dir: Path) -> None:
    """Create the folders temp_paths names; as root, writable by nginx's workers (they drop to nobody)."""
    for _, sub in _TEMP:
        (run_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            for p in [run_dir / "tmp", *(run_dir / "tmp").iterdir()]:
                os.chmod(p, 0o777)


def nginx_config(run_dir: Path, address: str, port: int, pinned_ports: list[int], pool_ports: list[int],
                 static_dir: Path, health: bool = True, fronts: tuple[str, ...] = (),
                 waiting_page: str = STARTING_PAGE) -> str:
    """The nginx configuration: static files from disk, everything else to the browser's worker.

    `pinned_ports`: the warm workers a pinned browser goes straight to (a browser pinned to any
    other port, a dead or warming worker, goes to the pool and is pinned anew);
    `pool_ports`: the workers that take new browsers (least connections first); none: every request
    gets STARTING_PAGE (503, Retry-After). `health` False: the front's health check still says no
    (the configuration of a start, until nginx's workers of the starting page are gone). `fronts`: the
    addresses of `kpi front` (kpi.serving.balancer) whose X-Real-IP is the browser's own address (else
    every browser would count as the front's one address, in the login throttle and the audit).
    `waiting_page`: what is answered while no worker takes anyone (STARTING_PAGE, or DIVERGED_PAGE)."""
    pick = "\n".join(f"        {p} 127.0.0.1:{p};" for p in pinned_ports)
    pool = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in pool_ports) or \
        f"        server 127.0.0.1:{port} down;  # no warm worker yet"
    real_ip = "".join(f"\n    set_real_ip_from {a};" for a in fronts)
    real_ip += "\n    real_ip_header X-Real-IP;" if fronts else ""
    not_yet = "" if health else """
        location = /_stcore/health {
            default_type text/plain;
            return 503 "starting";
        }"""
    proxy_common = proxy_directives("kpi_route_cookie")
    return f"""{config_head(run_dir, "serve", 4096)}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    client_max_body_size {UPLOAD_LIMIT_MB}m;
{temp_paths(run_dir)}
    gzip on;
    gzip_types text/css application/javascript application/json image/svg+xml;
    gzip_min_length 1024;{real_ip}

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
        recursive_error_pages on;{not_yet}
        location /static/ {{
            alias {static_dir}/static/;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
{pinned_then_pool("$kpi_pick", "502 504", "kpi_pool", proxy_common, waiting_page)}
    }}
}}
"""
