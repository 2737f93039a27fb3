"""One chart renderer for the whole server: kaleido's chromium, shared by every worker.

Chart images (PPTX, PDF, PNG packs) are drawn by chromium through kaleido. Chromium takes ~3 s
and ~200 MB to start, so `python -m kpi serve` runs one renderer process for all its workers
(`python -m kpi.exports.renderer --socket data/run/<port>/renderer.sock`) instead of one chromium per
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

    def handle(self):
        try:
            (n,) = struct.unpack(">I", _read_exact(self.request, 4))
            if n > _MAX_REQUEST:
                raise ValueError("yêu cầu quá lớn")
            req = json.loads(_read_exact(self.request, n))
            with self.lock:
                pngs = chromium.render_local(req["figs"], int(req.get("width", 1280))) if req["figs"] else \
                    (chromium.start_local_renderer() or [])
            self.request.sendall(struct.pack(">I", len(pngs)) + b"".join(_frame(p) for p in pngs))
        except Exception as e:  # noqa: BLE001 - the worker shows the message
            msg = str(e).encode("utf-8")
            self.request.sendall(struct.pack(">I", _ERROR) + _frame(msg))


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(path: Path) -> None:
    """Serve renders on the Unix socket `path` until terminated."""
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
