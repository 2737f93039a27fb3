"""The front across machines (issue 27, item 3): one nginx in front of several machines, each running
`python -m kpi serve` (its own nginx and workers) on the shared PostgreSQL store.

Each browser is pinned to the machine that answered it (cookie `kpi_may_chu`, the machine's number in
the list), as each machine pins it to one of its workers (`kpi_may`). A machine that does not answer
(stopped, killed, unreachable) sends its browsers to the pool of the others, where the one that
answers pins them anew: the session (cookie `kpi_phien`, checked in the shared store), the drafts and
the throttles are in the store, so the person goes on logged in, with nothing lost. Static files go
through to the machines (their own nginx serves them from disk).

`python -m kpi front --machine HOST:PORT --machine HOST:PORT ...` runs it (nginx in the foreground);
`--print-config` prints the configuration for a system nginx (README: "Nhiều máy").
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
from pathlib import Path

from kpi.serving import proxy

COOKIE = "kpi_may_chu"
# What the front answers while no machine answers: a Vietnamese page that reloads itself.
NONE_PAGE = proxy.STARTING_PAGE.replace("Máy chủ đang khởi động", "Chưa có máy chủ nào trả lời")
_MACHINE = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$")


def parse_machines(machines: list[str]) -> list[str]:
    """The machines as HOST:PORT, checked; a Vietnamese ValueError names the first one that is not."""
    out = []
    for m in machines:
        found = _MACHINE.match(m.strip())
        if not found or not 0 < int(found["port"]) < 65536:
            raise ValueError(f"Địa chỉ máy «{m}» không đúng dạng MÁY:CỔNG (ví dụ 10.0.0.11:8501).")
        out.append(m.strip())
    if not out:
        raise ValueError("Cần ít nhất một máy (--machine MÁY:CỔNG).")
    if len(set(out)) != len(out):
        raise ValueError("Một máy được nêu hai lần trong --machine.")
    return out


def _resolved(machine: str) -> list[str]:
    """The address:port forms nginx may report for `machine` in $upstream_addr."""
    host, port = machine.rsplit(":", 1)
    forms = {machine}
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            for info in socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM):
                ip = info[4][0]
                forms.add(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
        except OSError:
            pass
    return sorted(forms)


def balancer_config(run_dir: Path, address: str, port: int, machines: list[str]) -> str:
    """The nginx configuration of the front across `machines` (HOST:PORT of each `kpi serve`)."""
    machines = parse_machines(machines)
    pick = "\n".join(f"        {i} m{i};" for i in range(len(machines)))
    # the last address tried ("A, B" within an upstream, "A : B" after a fall-back to the pool)
    answered = "\n".join(f'        "~(^| ){re.escape(form)}$" {i};' for i, m in enumerate(machines)
                         for form in _resolved(m))
    singles = "\n".join(f"    upstream m{i} {{\n        server {m} max_fails=1 fail_timeout=5s;\n"
                        f"        keepalive 8;\n    }}" for i, m in enumerate(machines))
    pool = "\n".join(f"        server {m} max_fails=1 fail_timeout=5s;" for m in machines)
    proxy_common = proxy.proxy_directives("kpi_machine_cookie", "$proxy_add_x_forwarded_for", """
            proxy_request_buffering off;
            proxy_next_upstream error timeout http_502 http_503;""")
    return f"""{proxy.config_head(run_dir, "front", 8192)}
http {{
    access_log off;
    server_tokens off;
    tcp_nodelay on;
    keepalive_timeout 65;
    client_max_body_size {proxy.UPLOAD_LIMIT_MB}m;
{proxy.temp_paths(run_dir)}

    map $http_upgrade $kpi_connection {{
        default upgrade;
        '' '';
    }}
    # the machine this browser is pinned to (cookie {COOKIE} = its number); unknown or none: the pool
    map $cookie_{COOKIE} $kpi_machine {{
{pick}
        default kpi_machines;
    }}
    # the number of the machine that answered (the last one tried)
    map $upstream_addr $kpi_machine_answered {{
        volatile;
{answered}
        default "";
    }}
    # pin the browser to that machine when it is not pinned there yet
    map "$cookie_{COOKIE}:$kpi_machine_answered" $kpi_machine_cookie {{
        volatile;
        "~^([0-9]+):\\1$" "";
        "~:(?<n>[0-9]+)$" "{COOKIE}=$n; Path=/; HttpOnly; SameSite=Lax";
        default "";
    }}
{singles}
    upstream kpi_machines {{
        least_conn;
{pool}
        keepalive 16;
    }}
    server {{
        listen {address}:{port};
        recursive_error_pages on;
{proxy.pinned_then_pool("$kpi_machine", "502 503 504", "kpi_machines", proxy_common, NONE_PAGE)}
    }}
}}
"""


def run(port: int, address: str, machines: list[str], run_dir: Path) -> int:
    """Write the configuration, check it, then become nginx (in the foreground, until SIGTERM / SIGQUIT)."""
    nginx = proxy.nginx_binary()
    if nginx is None:
        raise RuntimeError("Cần nginx (Debian: apt-get install nginx) để chạy `kpi front`.")
    proxy.make_temp_dirs(run_dir)
    conf = run_dir / "nginx.conf"
    conf.write_text(balancer_config(run_dir, address, port, machines), encoding="utf-8")
    check = subprocess.run([nginx, "-t", "-q", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"Cấu hình nginx của `kpi front` không hợp lệ: {check.stderr.strip()[-500:]}")
    print(f"[kpi] front: http://{address}:{port} → {', '.join(machines)}", flush=True)
    os.execv(nginx, [nginx, "-c", str(conf), "-g", "daemon off;"])
    return 0  # not reached
