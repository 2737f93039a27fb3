"""nginx in front of the workers of `python -m kpi serve`: where its binary is, its configuration
(static files from disk, each browser pinned to its worker by the `kpi_may` cookie, a pool for new
browsers, a Vietnamese page while no worker is warm), and Streamlit's built front end it serves.
"""

from __future__ import annotations

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



def nginx_binary() -> str | None:
    """Path of the nginx executable, or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def streamlit_static_dir() -> Path:
    """Streamlit's built front end (index.html, static/) in Vietnamese: kpi.serving.frontend's patched copy."""
    return frontend.static_dir()



def nginx_config(run_dir: Path, address: str, port: int, pinned_ports: list[int], pool_ports: list[int],
                 static_dir: Path, health: bool = True) -> str:
    """The nginx configuration: static files from disk, everything else to the browser's worker.

    `pinned_ports`: the warm workers a pinned browser goes straight to (a browser pinned to any
    other port, a dead or warming worker, goes to the pool and is pinned anew);
    `pool_ports`: the workers that take new browsers (least connections first); none: every request
    gets STARTING_PAGE (503, Retry-After). `health` False: the front's health check still says no
    (the configuration of a start, until nginx's workers of the starting page are gone)."""
    pick = "\n".join(f"        {p} 127.0.0.1:{p};" for p in pinned_ports)
    pool = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in pool_ports) or \
        f"        server 127.0.0.1:{port} down;  # no warm worker yet"
    tmp = run_dir / "tmp"
    not_yet = "" if health else """
        location = /_stcore/health {
            default_type text/plain;
            return 503 "starting";
        }"""
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
        recursive_error_pages on;{not_yet}
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
            error_page 502 503 504 = @starting;
        }}
        location @starting {{
            default_type "text/html; charset=utf-8";
            add_header Retry-After 3 always;
            add_header Cache-Control no-store always;
            return 503 '{STARTING_PAGE}';
        }}
    }}
}}
"""
