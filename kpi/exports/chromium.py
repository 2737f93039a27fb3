"""Chart images drawn in this process: kaleido's chromium (two tabs), started once.

kpi.exports.renderer serves these to every worker of `kpi serve`; kpi.exports.images asks the
renderer, or this module when no server runs.
"""

from __future__ import annotations

import threading

import plotly.graph_objects as go

from kpi.common.faults import ExportError

# ---- drawing: kaleido's chromium, once per figure ------------------------------------------------

NO_CHROMIUM = ("Không tạo được hình biểu đồ: máy cần trình duyệt Chromium (Debian: apt-get install chromium). "
                "Tệp XLSX, CSV và HTML vẫn xuất được.")
_RENDERER_LOCK = threading.Lock()   # starting chromium
RELOAD_EVERY = 40                   # figures a tab draws before its page is loaded afresh


class _Chromium:
    """kaleido's chromium (two tabs) driven from an asyncio loop in a thread of its own.

    kaleido reloads a tab after every figure it draws (its page holds plotly.js: ~0,3 s of the
    ~0,4 s a chart costs). Plotly's toImage purges the plot it made, so here a tab is loaded afresh
    only after RELOAD_EVERY figures: a pack's 35 charts take about 3 s instead of 9 s."""

    def __init__(self, tabs: int = 2):
        import asyncio
        import atexit

        import kaleido

        class Kaleido(kaleido.Kaleido):
            async def _return_kaleido_tab(self, tab) -> None:
                uses = self.kpi_uses.get(id(tab), 0) + 1
                if uses >= RELOAD_EVERY:
                    await tab.reload()
                    uses = 0
                self.kpi_uses[id(tab)] = uses
                await self.tabs_ready.put(tab)

        async def open_browser():
            k = Kaleido(n=tabs, mathjax=False)
            k.kpi_uses = {}
            await k.open()
            return k

        self._asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="kpi-chromium", daemon=True).start()
        try:
            self.kaleido = self._run(open_browser(), 120)
        except BaseException:
            self.loop.call_soon_threadsafe(self.loop.stop)
            raise
        atexit.register(self.close)

    def _run(self, coro, timeout: float | None = None):
        return self._asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def render(self, figs: list, width: int) -> list[bytes]:
        """PNGs of the figures, each at its layout's size, the tabs drawing side by side."""
        async def draw():
            jobs = []
            for f in figs:
                w, h = image_size(f, width)
                jobs.append(self.kaleido.calc_fig(f, opts={"format": "png", "width": w, "height": h}))
            return await self._asyncio.gather(*jobs)
        return list(self._run(draw(), 600))

    def close(self) -> None:
        if not self.loop.is_running():  # closed already (a failed chromium, then again at exit)
            return
        try:
            self._run(self.kaleido.close(), 10)
        except Exception:  # noqa: BLE001, S110 - the process is ending: nothing to tell anyone
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)


_CHROMIUM: _Chromium | None = None


def start_local_renderer() -> None:
    """Start chromium (two tabs) in this process, once; ~3 s. Raises ExportError when chromium
    is missing."""
    global _CHROMIUM
    with _RENDERER_LOCK:
        if _CHROMIUM is not None:
            return
        try:
            c = _Chromium()
            c.render([go.Figure().to_dict()], 64)  # chromium starts on the first image: draw one now
        except Exception as e:  # noqa: BLE001 - any failure here is "no chart images"
            raise ExportError(NO_CHROMIUM) from e
        _CHROMIUM = c


def stop_local_renderer() -> bool:
    """Stop this process's chromium (the next drawing starts it again); True when one ran."""
    global _CHROMIUM
    with _RENDERER_LOCK:
        chromium, _CHROMIUM = _CHROMIUM, None
    if chromium is None:
        return False
    chromium.close()
    return True


def image_size(fig, width: int) -> tuple[int, int]:
    """A figure's image size: its layout's, else `width` × 500."""
    layout = fig.get("layout", {}) if isinstance(fig, dict) else fig.layout.to_plotly_json()
    return int(layout.get("width") or width), int(layout.get("height") or 500)


def render_local(figs: list, width: int) -> list[bytes]:
    """PNGs of the figures (go.Figure or plotly dicts, each at its layout's size), drawn by this
    process's chromium. A chromium that fails mid-drawing (a tab crashed, a loaded machine) is
    started afresh and asked once more before the images are given up."""
    dicts = [f.to_dict() if hasattr(f, "to_dict") else f for f in figs]
    for attempt in range(2):
        start_local_renderer()
        chromium = _CHROMIUM
        try:
            return chromium.render(dicts, width)
        except Exception as e:  # noqa: BLE001 - any failure here is "no chart images"
            _drop(chromium)
            if attempt:
                raise ExportError(NO_CHROMIUM) from e
    raise AssertionError("unreachable")


def _drop(chromium: _Chromium) -> None:
    """Forget and close a chromium that failed; the next drawing starts another."""
    global _CHROMIUM
    with _RENDERER_LOCK:
        if _CHROMIUM is chromium:
            _CHROMIUM = None
    chromium.close()
