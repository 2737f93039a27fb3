"""One chart renderer for the whole server: kaleido's chromium, shared by every worker.

Chart images (PPTX, PDF, PNG packs) are drawn by chromium through kaleido. Chromium takes ~3 s
and ~200 MB to start, so `python -m kpi serve` runs one renderer process for all its workers
(`python -m kpi.exports.renderer --socket data/run/<port>/renderer.sock`) instead of one chromium per
worker. Workers find it through $KPI_RENDERER_SOCKET; a process without it (the command line,
tests) renders in-process as before.

Protocol on the Unix socket, one request per connection: 4-byte big-endian length + JSON
{"figs": [plotly figure dicts], "width": int, "then_stop": bool} (an empty list only starts chromium);
answer: 4-byte count, then each PNG as 4-byte length + bytes; a count of 0xFFFFFFFF is followed by a
length-prefixed UTF-8 error message.

Chromium holds 400-500 MB while it runs (issue 29: every process of the server counts). A request
drawn ahead (`then_stop`: the meeting packs' charts, drawn when a worker warms a file version) stops it
afterwards when no other request waits; the next request starts it again (about 3 s). The figures of
the last requests are kept by content (RECENT_BYTES): the workers of one server warm the same packs,
and the second asks for what the first just had drawn.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

from kpi.exports import chromium

ENV = "KPI_RENDERER_SOCKET"
_ERROR = 0xFFFFFFFF
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


def render_remote(path: Path, figs: list[dict], width: int, timeout: float = 120.0,
                  then_stop: bool = False) -> list[bytes]:
    """PNGs of the figures (plotly dicts) drawn by the shared renderer at `path` (`then_stop`: drawn ahead,
    chromium may stop afterwards)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(_frame(json.dumps({"figs": figs, "width": width, "then_stop": then_stop}).encode("utf-8")))
        (count,) = struct.unpack(">I", _read_exact(s, 4))
        if count == _ERROR:
            (n,) = struct.unpack(">I", _read_exact(s, 4))
            raise RuntimeError(_read_exact(s, n).decode("utf-8"))
        out = []
        for _ in range(count):
            (n,) = struct.unpack(">I", _read_exact(s, 4))
            out.append(_read_exact(s, n))
        return out


RECENT_BYTES = 32 << 20  # the PNGs of the latest requests, by figure and width
IDLE_STOP_S = float(os.environ.get("KPI_RENDERER_IDLE_S", "120"))  # chromium stops after this long without a request


class _Handler(socketserver.StreamRequestHandler):
    lock = threading.Lock()  # kaleido's sync server draws one batch at a time
    waiting = 0              # requests waiting for the lock (guarded by `count`)
    count = threading.Lock()
    recent: OrderedDict = OrderedDict()
    last = time.monotonic()  # the end of the latest request

    def handle(self):
        try:
            (n,) = struct.unpack(">I", _read_exact(self.request, 4))
            if n > _MAX_REQUEST:
                raise ValueError("yêu cầu quá lớn")
            req = json.loads(_read_exact(self.request, n))
            with _Handler.count:
                _Handler.waiting += 1
            with self.lock:
                with _Handler.count:
                    _Handler.waiting -= 1
                pngs = self._draw(req["figs"], int(req.get("width", 1280))) if req["figs"] else \
                    (chromium.start_local_renderer() or [])
                with _Handler.count:
                    alone = _Handler.waiting == 0
                if req.get("then_stop") and alone:  # drawn ahead, and nobody waits: chromium's memory back
                    chromium.stop_local_renderer()
                _Handler.last = time.monotonic()
            self.request.sendall(struct.pack(">I", len(pngs)) + b"".join(_frame(p) for p in pngs))
        except Exception as e:  # noqa: BLE001 - the worker shows the message
            msg = str(e).encode("utf-8")
            self.request.sendall(struct.pack(">I", _ERROR) + _frame(msg))

    @classmethod
    def _draw(cls, figs: list[dict], width: int) -> list[bytes]:
        """The PNGs, those of a figure drawn by a recent request from memory, the others by chromium."""
        keys = [hashlib.sha256(f"{width}|{json.dumps(f, sort_keys=True)}".encode()).hexdigest() for f in figs]
        todo = [i for i, k in enumerate(keys) if k not in cls.recent]
        drawn = dict(zip((keys[i] for i in todo), chromium.render_local([figs[i] for i in todo], width))) \
            if todo else {}
        out = [drawn.get(k) or cls.recent[k] for k in keys]
        for k, png in drawn.items():
            cls.recent[k] = png
        total = sum(map(len, cls.recent.values()))
        while total > RECENT_BYTES and len(cls.recent) > 1:
            total -= len(cls.recent.pop(next(iter(cls.recent))))
        return out


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _stop_when_idle() -> None:
    """Stop chromium once nobody asked for IDLE_STOP_S (the next request starts it again)."""
    while True:
        time.sleep(min(5.0, IDLE_STOP_S / 2))
        with _Handler.lock:
            if time.monotonic() - _Handler.last > IDLE_STOP_S:
                chromium.stop_local_renderer()


def serve(path: Path) -> None:
    """Serve renders on the Unix socket `path` until terminated."""
    threading.Thread(target=_stop_when_idle, name="kpi-renderer-idle", daemon=True).start()
    path = Path(path)
    path.unlink(missing_ok=True)
    with _Server(str(path), _Handler) as server:
        os.chmod(path, 0o600)
        print(f"[kpi renderer] sẵn sàng tại {path}", file=sys.stderr, flush=True)
        try:
            server.serve_forever(poll_interval=0.5)
        finally:
            path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m kpi.exports.renderer --socket PATH`, as `kpi serve` starts it: this module alone (plotly
    and the chromium driver), not the command line's DuckDB and pandas (issue 29: every process counts)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m kpi.exports.renderer",
                                description="trình vẽ biểu đồ dùng chung cho mọi tiến trình của kpi serve")
    p.add_argument("--socket", required=True, help="đường dẫn Unix socket")
    serve(Path(p.parse_args(argv).socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
