"""Meeting packs: every format from one pack, the charts drawn once.

The pack is the view model of `kpi.views.pack` (`build_pack`: the pages' own figures, so a pack
says what the pages say; `pack_charts`: its charts as exported). One module per format writes it:
`kpi.exports.xlsx`, `html`, `pptx`, `pdf` and `png` (the school's own PDF: `school_pdf`), over the
shared tables of `kpi.exports.text` and the chart images of `kpi.exports.images` (drawn in one
kaleido batch, kept by content). `write_all` writes every asked format from one drawing, the
formats that need no image while chromium draws; `PackJob` runs it in the background for the Báo
cáo page, `warm_pack` prepares the view models when the page opens.

Every file carries the unit, period, snapshot id, generation time and "Dữ liệu mẫu" when built
from the sample. Chart images need chromium (kaleido); when it is missing, `ExportError` says so
and XLSX, CSV and HTML still work. `tests/export_check.py` reads every format back the way a
person sees it (words inside the page, text inside its box, numbers stored as numbers, axes from 0).
"""

from __future__ import annotations

import importlib
import tempfile
import threading
import time
from pathlib import Path

from kpi.catalog.model import Catalog, default_catalog
from kpi.common import exiting, forked
from kpi.common.access import Scope
from kpi.common.faults import ExportError
from kpi.exports import renderer
from kpi.exports.html import to_html
from kpi.exports.images import ChartCache, chart_images, start_renderer
from kpi.exports.png import to_png_zip
from kpi.exports.xlsx import to_xlsx
from kpi.views import cache as views
from kpi.views import warm
from kpi.views.pack import Pack, build_pack, pack_charts

FORMATS = ("pptx", "pdf", "xlsx", "html", "png")
FORMAT_LABELS = {"pptx": "PowerPoint (PPTX)", "pdf": "PDF", "xlsx": "Excel (XLSX)",
                 "html": "HTML (một tệp, xem không cần mạng)", "png": "Ảnh PNG (zip)"}
NEEDS_IMAGES = {"pptx", "pdf", "png"}


def _imported_when_used(module: str, name: str):
    """The writer `name` of `module`, imported at its first use: fpdf and python-pptx (26 MB) load in the
    worker that writes a pack, not in every worker at its start (issue 29: the server's memory)."""
    def write(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    write.__name__ = write.__qualname__ = name
    return write


to_pdf = _imported_when_used("kpi.exports.pdf", "to_pdf")
to_pptx = _imported_when_used("kpi.exports.pptx", "to_pptx")
WRITERS = {"pptx": to_pptx, "pdf": to_pdf, "xlsx": to_xlsx, "html": to_html, "png": to_png_zip}
MIME = {"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html": "text/html", "png": "application/zip"}
EXT = {"pptx": "pptx", "pdf": "pdf", "xlsx": "xlsx", "html": "html", "png": "zip"}


def _write(f: str, pack: Pack, catalog: Catalog, images: list[bytes] | None = None) -> bytes:
    """One format of the pack (`images`: every chart's PNG, for the formats that show them)."""
    if f not in NEEDS_IMAGES:
        return WRITERS[f](pack, catalog)
    if f == "png":
        return to_png_zip(pack, catalog, images)
    charts = pack_charts(pack, catalog)
    return WRITERS[f](pack, catalog, images=[im for c, im in zip(charts, images) if c.in_documents])


def _write_in_child(send, formats: list[str], pack: Pack, catalog: Catalog, images) -> dict[str, bytes]:
    """In a forked child (kpi.common.forked): each format written, and said when it is."""
    out = {}
    for f in formats:
        out[f] = _write(f, pack, catalog, images)
        send(f)
    return out


# The formats written in forked children, side by side (`write_all(apart=True)`): the workbook and the web page
# while chromium draws; then the PDF, the deck and the images, each in its own.
APART = (("xlsx", "html"), ("pdf",), ("pptx",), ("png",))
STALL_S = 180.0  # a child that says nothing for this long is stopped, and its formats written here


def write_all(pack: Pack, catalog: Catalog, formats=FORMATS, progress_cb=None,
              cache: ChartCache | None = None, apart: bool = False) -> dict[str, bytes]:
    """Every asked format from one pack, the charts drawn once (from the cache when drawn before), the XLSX and
    the HTML written while chromium draws. `progress_cb(fraction, message)` is told how far it is.

    `apart` (the Báo cáo page's pack, in a thread of a worker that serves everyone's pages): the formats are
    written in forked children (kpi.common.forked, groups of APART), each scheduled as a process of its own,
    not in this thread's share of the interpreter (issue 29: 20 s of a rush's 23 s went there). A child that
    fails abnormally leaves its formats to this thread. Without `apart`, in this thread: writing the formats
    side by side in threads, or stamping images while chromium draws, was slower on two cores."""
    formats = [f for f in FORMATS if f in set(formats)]
    say = progress_cb or (lambda f, m: None)
    out: dict[str, bytes] = {}
    charts = pack_charts(pack, catalog)  # here, through the view models' cache (a child must not take its lock)
    say(0.1, "Đã tổng hợp số liệu")
    apart = apart and forked.available()
    children: list = []
    written: list[str] = []

    def note(child, f) -> None:
        written.append(f)
        say(0.75 + 0.24 * len(written) / len(formats), f"Đã ghi tệp {FORMAT_LABELS[f]}")

    def begin(group, images=None) -> None:
        group = [f for f in group if f in formats]
        if group:
            try:
                children.append(forked.Child(_write_in_child, group, pack, catalog, images, name="kpi-pack",
                                                 own_session=True))
            except OSError:  # no fork now (memory, process limits): written here below
                pass

    images: list[bytes] = []
    errors: list[BaseException] = []

    def draw():
        try:
            images.extend(chart_images(charts, lambda f, m: say(0.1 + 0.6 * f, m), cache))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)

    drawer = threading.Thread(target=draw, name="kpi-charts", daemon=True) if NEEDS_IMAGES & set(formats) else None
    if drawer:
        drawer.start()
    if apart:
        begin(APART[0])
    else:
        for f in ("xlsx", "html"):
            if f in formats:
                out[f] = _write(f, pack, catalog)
    if drawer:
        drawer.join()
        if errors:
            for child in children:
                child.kill()
            raise errors[0]
        say(0.75, "Đã vẽ xong biểu đồ")
        if apart:
            for group in APART[1:]:
                begin(group, images)
    if children:
        forked.gather(children, note, stall=STALL_S)
        for child in children:
            try:
                out.update(child.result())
            except forked.ChildDied:
                pass  # its formats are written here below
    for i, f in enumerate(f for f in formats if f not in out):
        say(0.75 + 0.08 * i, f"Đang ghi tệp {FORMAT_LABELS[f]}")
        out[f] = _write(f, pack, catalog, images)
    say(1.0, "Xong")
    return {f: out[f] for f in formats}


_WARMED: set = set()
_WARMED_LOCK = threading.Lock()


def warm_pack(store, catalog: Catalog, scope: Scope, school_year: str, round: str,
              snapshot_id: str | None = None, ahead: bool = False) -> threading.Thread | None:
    """Compute a pack's view models, charts and chart images in the background, once per file version, scope
    and period (the Báo cáo page calls this when it opens, so the click mostly writes; `draw_ahead` when a
    worker warms a version, with `ahead`: chromium may stop after drawing them)."""
    key = (id(store), getattr(store, "identity", None), scope.with_snapshot(snapshot_id), school_year, round)
    with _WARMED_LOCK:
        if key in _WARMED:
            return None
        _WARMED.add(key)

    def run():
        try:
            charts = pack_charts(build_pack(store, catalog, scope, school_year, round, snapshot_id), catalog)
            # the images too: drawn by the renderer's chromium (another process), so the click finds them ready
            # or being drawn (kpi.exports.images.chart_images waits for those) instead of drawing them all anew
            chart_images(charts, ahead=ahead)
        except Exception:  # noqa: BLE001 - the click will build it and say what went wrong
            with _WARMED_LOCK:
                _WARMED.discard(key)

    t = threading.Thread(target=run, name="kpi-warm-pack", daemon=True)
    exiting.stop_at_exit(t)
    t.start()
    return t


def draw_ahead(v) -> list[threading.Thread]:
    """The chart images of the meeting packs a worker's warm-up gathered (kpi.views.warm: each office scope's
    pack on the period Báo cáo opens on, for a scope that lists schools), drawn in the background by the
    server's renderer, which stops its chromium afterwards (issue 29: the first pack of a version took 15 s
    under load from the click when its 35 charts were drawn then; a chromium kept running holds 400-500 MB).
    Only under `kpi serve` (a shared renderer): elsewhere a pack draws when asked."""
    period = warm.default_period(v.periods())
    if period is None or renderer.socket_path() is None:
        return []
    return [t for sc in warm.office_scopes(v) if warm.pack_warmed(v, sc)
            if (t := warm_pack(v, v.catalog, sc, *period, ahead=True)) is not None]


class PackJob:
    """A pack built in a background thread (the page stays usable): how far it is, then the files."""

    def __init__(self, build, label: str = ""):
        self.label = label
        self.fraction, self.message = 0.0, "Đang chuẩn bị…"
        self.files: dict[str, bytes] | None = None
        self.error: str | None = None
        self.started = time.monotonic()
        self.seconds: float | None = None
        self._build = build
        self.thread = threading.Thread(target=self._run, name="kpi-pack", daemon=True)

    def start(self) -> PackJob:
        exiting.stop_at_exit(self.thread)
        self.thread.start()
        return self

    def progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = max(self.fraction, min(1.0, fraction)), message

    def _run(self) -> None:
        try:
            self.files = self._build(self.progress)
        except ExportError as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 - shown to the user, not lost in a thread
            self.error = f"Không tạo được bộ báo cáo: {e}"
        finally:
            self.seconds = time.monotonic() - self.started

    @property
    def done(self) -> bool:
        return self.seconds is not None

    @property
    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started


def pack_timings(source, catalog: Catalog | None = None, school_year: str | None = None, round: str | None = None,
                 scope: Scope | None = None) -> dict[str, float]:
    """Seconds to make the meeting pack of a period (default: the latest; the whole unit), each
    format alone from a cold chart cache, then all five at once (cold, then again warm); the
    chart renderer already started (the Báo cáo page starts it when it opens):
    {"renderer_start", "pptx", "pdf", "xlsx", "html", "png", "all", "all_warm"}."""
    catalog = catalog or default_catalog()
    scope = scope or Scope.everything()
    out: dict[str, float] = {}
    t = time.perf_counter()
    start_renderer()
    out["renderer_start"] = time.perf_counter() - t
    v = source if isinstance(source, views.Views) else views.Views.of_connection(source, catalog)
    if school_year is None:
        p = v.periods()
        school_year = p["school_year"].iloc[0]
        round = "CN" if "CN" in set(p.loc[p["school_year"] == school_year, "round"]) else "HK1"
    with tempfile.TemporaryDirectory() as d:
        for f in (*FORMATS, "all"):
            cold = ChartCache(Path(d) / f)
            t = time.perf_counter()
            pack = build_pack(views.Views.of_connection(v.con, catalog), catalog, scope, school_year, round)
            write_all(pack, catalog, FORMATS if f == "all" else (f,), cache=cold)
            out[f] = time.perf_counter() - t
        t = time.perf_counter()
        pack = build_pack(views.Views.of_connection(v.con, catalog), catalog, scope, school_year, round)
        write_all(pack, catalog, FORMATS, cache=cold)
        out["all_warm"] = time.perf_counter() - t
    return out
