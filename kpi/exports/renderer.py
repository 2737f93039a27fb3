"""One chart renderer for the whole server: kaleido's chromium, shared by every worker.

Chart images (PPTX, PDF, PNG packs) are drawn by chromium through kaleido. Chromium takes ~3 s
and ~200 MB to start, so `python -m kpi serve` runs one renderer process for all its workers
(`python -m kpi renderer --socket data/run/<port>/renderer.sock`) instead of one chromium per
worker. Workers find it through $KPI_RENDERER_SOCKET; a process without it (the command line,
tests) renders in-process as before.

Protocol on the Unix socket, one request per connection: 4-byte big-endian length + JSON
{"figs": [plotly figure dicts], "width": int} (an empty list only starts chromium); answer:
4-byte count, then each PNG as 4-byte length + bytes; a count of 0xFFFFFFFF is followed by a
length-prefixed UTF-8 error message.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from pathlib import Path

from kpi.exports import chromium

ENV = "KPI_RENDERER_SOCKET"
_ERROR = 0xFFFFFFFF
# chromium holds 560-800 MB while it has drawn a pack: closed after this long without a request
# (Báo cáo starts it again when it opens, in the background, about 3 s)
IDLE_S = float(os.environ.get("KPI_RENDERER_IDLE_S", "600"))
_MAX_REQUEST = 256 * 1024 * 1024


def socket_path() -> Path | None:
    """The shared renderer's socket, when this process is a worker of `kpi serve` and it is up."""
    p = os.environ.get(ENV)
    return Path(p) if p and Path(p).exists() else None


def _read_exact(sock, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise ConnectionError("kết nối tới trình vẽ biểu đồ bị đóng")
        buf += chunk
    return bytes(buf)


def _frame(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def render_remote(path: Path, figs: list[dict], width: int, timeout: float = 120.0) -> list[bytes]:
    """PNGs of the figures (plotly dicts) drawn by the shared renderer at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(_frame(json.dumps({"figs": figs, "width": width}).encode("utf-8")))
        (count,) = struct.unpack(">I", _read_exact(s, 4))
        if count == _ERROR:
            (n,) = struct.unpack(">I", _read_exact(s, 4))
            raise RuntimeError(_read_exact(s, n).decode("utf-8"))
        out = []
        for _ in range(count):
            (n,) = struct.unpack(">I", _read_exact(s, 4))
            out.append(_read_exact(s, n))
        return out


class _Handler(socketserver.StreamRequestHandler):
    lock = threading.Lock()  # kaleido's sync server draws one batch at a time
    last = 0.0  # time.monotonic() of the last request's end

    def handle(self):
        try:
            (n,) = struct.unpack(">I", _read_exact(self.request, 4))
            if n > _MAX_REQUEST:
                raise ValueError("yêu cầu quá lớn")
            req = json.loads(_read_exact(self.request, n))
            with self.lock:
                try:
                    pngs = chromium.render_local(req["figs"], int(req.get("width", 1280))) if req["figs"] else \
                        (chromium.start_local_renderer() or [])
                finally:
                    _Handler.last = time.monotonic()
            self.request.sendall(struct.pack(">I", len(pngs)) + b"".join(_frame(p) for p in pngs))
        except Exception as e:  # noqa: BLE001 - the worker shows the message
            msg = str(e).encode("utf-8")
            self.request.sendall(struct.pack(">I", _ERROR) + _frame(msg))


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _close_when_idle(idle_s: float, stop: threading.Event) -> None:
    """Close chromium once no request came for `idle_s` seconds (never while one is drawn)."""
    while not stop.wait(min(10.0, max(0.1, idle_s / 4))):
        if time.monotonic() - _Handler.last >= idle_s:
            with _Handler.lock:
                if time.monotonic() - _Handler.last >= idle_s and chromium.stop_local_renderer():
                    print("[kpi renderer] đóng chromium sau thời gian không dùng", file=sys.stderr, flush=True)


def serve(path: Path, idle_s: float | None = None, stop: threading.Event | None = None) -> None:
    """Serve renders on the Unix socket `path` until terminated (or `stop` is set); chromium is closed after
    `idle_s` (IDLE_S) seconds without a request."""
    path = Path(path)
    stop = stop or threading.Event()
    _Handler.last = time.monotonic()
    threading.Thread(target=_close_when_idle, args=(IDLE_S if idle_s is None else idle_s, stop),
                     name="kpi-renderer-idle", daemon=True).start()
    path.unlink(missing_ok=True)
    with _Server(str(path), _Handler) as server:
        os.chmod(path, 0o600)
        print(f"[kpi renderer] sẵn sàng tại {path}", file=sys.stderr, flush=True)
        threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
        try:
            server.serve_forever(poll_interval=0.5)
        finally:
            stop.set()
            path.unlink(missing_ok=True)
