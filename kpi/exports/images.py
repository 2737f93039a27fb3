"""The pack's chart images: drawn once, kept by content.

`chart_images` draws the charts of a pack (`kpi.views.pack.Chart`) in batches: by the server's
shared renderer under `kpi serve` (kpi.exports.renderer, one chromium for every worker), else by
kaleido in this process (kpi.exports.chromium). `ChartCache` keeps the PNGs by content: a figure
that was drawn before is never drawn again, in this process or another one reading the same data
directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import threading
from pathlib import Path

import plotly.io as pio

from kpi.common.faults import ExportError
from kpi.display.medium import CHART_W
from kpi.exports import renderer
from kpi.exports.chromium import NO_CHROMIUM, image_size, render_local, start_local_renderer
from kpi.store import db


def start_renderer() -> None:
    """Make sure charts can be drawn without waiting: under `kpi serve`, ask the server's one shared
    renderer to start chromium; elsewhere start it in this process. The Báo cáo page calls this in
    the background when it opens, so a pack does not wait for chromium."""
    path = renderer.socket_path()
    if path is None:
        start_local_renderer()
        return
    try:
        renderer.render_remote(path, [], 0)
    except (OSError, RuntimeError) as e:
        raise ExportError(NO_CHROMIUM) from e


def render_pngs(figs: list, width: int = CHART_W, ahead: bool = False) -> list[bytes]:
    """PNGs of the figures: by the server's shared renderer under `kpi serve` (one chromium for
    every worker; `ahead`: drawn before anyone asked, chromium may stop afterwards), else by kaleido in
    this process (started once)."""
    path = renderer.socket_path()
    if path is None:
        return render_local(figs, width)
    try:
        # plain JSON for the socket (a figure dict may hold numpy arrays: plotly's encoder writes them)
        return renderer.render_remote(path, [json.loads(figure_json(f)) for f in figs], width, then_stop=ahead)
    except (OSError, RuntimeError) as e:
        raise ExportError(NO_CHROMIUM) from e


def figure_json(fig) -> str:
    """The figure (a dict or a go.Figure) as plotly JSON (numpy arrays and dates as plotly writes them)."""
    return pio.to_json(fig if isinstance(fig, dict) else fig.to_dict(), validate=False)


class ChartCache:
    """PNG bytes by content: the key is a hash of the figure's JSON, its size and the versions of
    plotly and kaleido, so the same figure is drawn once and a snapshot's images never change
    (nothing to invalidate: changed data is a different figure). Kept in memory (bounded) and on
    disk under `directory` (shared by every worker of the machine; bounded, oldest dropped)."""

    def __init__(self, directory: Path | None = None, memory_bytes: int = 96 << 20, disk_bytes: int = 512 << 20):
        self.directory = directory
        self.memory_bytes, self.disk_bytes = memory_bytes, disk_bytes
        self._memory: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._puts = 0
        self.hits = self.misses = 0

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def _versions() -> str:
        return "|".join(f"{p}={importlib.metadata.version(p)}" for p in ("plotly", "kaleido"))

    def key(self, fig: dict) -> str:
        w, h = image_size(fig, CHART_W)
        return hashlib.sha256(f"{self._versions()}|{w}x{h}|{figure_json(fig)}".encode()).hexdigest()

    def _dir(self) -> Path | None:
        if self.directory is not None:
            return self.directory
        env = os.environ.get("KPI_CHART_CACHE")
        if env:
            return Path(env)
        return db.db_path().parent / "cache" / "charts"

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory[key] = self._memory.pop(key)  # most recently used last
        if data is None and (d := self._dir()) is not None:
            try:
                data = (d / key[:2] / f"{key}.png").read_bytes()
            except OSError:
                data = None
            if data is not None:
                self._remember(key, data)
        if data is None:
            self.misses += 1
        else:
            self.hits += 1
        return data

    def _remember(self, key: str, data: bytes) -> None:
        with self._lock:
            self._memory[key] = data
            total = sum(map(len, self._memory.values()))
            while total > self.memory_bytes and len(self._memory) > 1:
                total -= len(self._memory.pop(next(iter(self._memory))))

    def put(self, key: str, data: bytes) -> None:
        self._remember(key, data)
        d = self._dir()
        if d is None:
            return
        try:
            (d / key[:2]).mkdir(parents=True, exist_ok=True)
            tmp = d / key[:2] / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, d / key[:2] / f"{key}.png")
            self._puts += 1
            if self._puts % 64 == 0:
                self.prune()
        except OSError:
            pass  # a read-only data directory: the memory layer still serves this process

    def prune(self) -> None:
        """Drop the least recently written files beyond `disk_bytes`."""
        d = self._dir()
        if d is None or not d.exists():
            return
        files = sorted(((p.stat().st_mtime, p.stat().st_size, p) for p in d.glob("*/*.png")), reverse=True)
        total = 0
        for _, size, p in files:
            total += size
            if total > self.disk_bytes:
                p.unlink(missing_ok=True)

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()


CHART_CACHE = ChartCache()


_DRAWING: dict[str, threading.Event] = {}  # chart keys being drawn now by some thread of this process
_DRAWING_LOCK = threading.Lock()


def chart_images(charts: list, progress_cb=None, cache: ChartCache | None = None, batch: int = 12,
                 ahead: bool = False) -> list[bytes]:
    """The PNG of every chart (`kpi.views.pack.Chart`): from the cache, the others drawn in batches
    (progress between). A chart another thread is drawing now (the pack's warm-up, kpi.exports.export.warm_pack,
    when the click comes before it is done) is waited for, not drawn twice; if that thread failed, it is drawn here.
    `ahead`: drawn before anyone asked (render_pngs)."""
    cache = CHART_CACHE if cache is None else cache
    keys = [cache.key(c.figure) for c in charts]
    found = {k: cache.get(k) for k in dict.fromkeys(keys)}
    figs = {k: c.figure for k, c in zip(keys, charts)}
    mine, theirs = [], []
    with _DRAWING_LOCK:
        for k, v in found.items():
            if v is None:
                if k in _DRAWING:
                    theirs.append(k)
                else:
                    _DRAWING[k] = threading.Event()
                    mine.append(k)
    try:
        todo = len(mine) + len(theirs)
        for start in range(0, len(mine), batch):
            part = mine[start:start + batch]
            if progress_cb:
                progress_cb(start / todo, f"Đang vẽ biểu đồ {start + 1}-{start + len(part)}/{todo}")
            last = start + batch >= len(mine)
            for k, png in zip(part, render_pngs([figs[k] for k in part], ahead=ahead and last)):
                cache.put(k, png)
                found[k] = png
                _done_drawing(k)
    finally:
        for k in mine:
            _done_drawing(k)
    for k in theirs:
        with _DRAWING_LOCK:
            event = _DRAWING.get(k)
        if event is not None:
            event.wait(600)
        found[k] = cache.get(k) or render_pngs([figs[k]])[0]
    return [found[k] for k in keys]


def _done_drawing(key: str) -> None:
    with _DRAWING_LOCK:
        event = _DRAWING.pop(key, None)
    if event is not None:
        event.set()
