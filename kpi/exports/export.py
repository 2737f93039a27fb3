"""Meeting packs: PPTX, PDF, XLSX, PNG and a self-contained HTML from the pages' own view models.

`build_pack` gathers a period's figures (live, or from a snapshot) for the caller's scope from
`kpi.views.models` (the overview with its sentences, every indicator's trend and schools), so a pack says
what the pages say. `pack_charts` turns it into the charts as exported (one image size for every
format, laid out for paper and slides), `chart_images` draws them once: in one kaleido batch, kept
by content (`ChartCache`: a figure that was drawn before is never drawn again, in this process or
another one reading the same data directory), and `write_all` writes every asked format from one
drawing, the formats that need no image while chromium draws.

Every file carries the unit, period, snapshot id, generation time and "Dữ liệu mẫu" when built
from the sample. Chart images need chromium (kaleido); when it is missing, `ExportError` says so
and XLSX, CSV and HTML still work. `tests/export_check.py` reads every format back the way a
person sees it (words inside the page, text inside its box, numbers stored as numbers, axes from 0).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import io
import json
import os
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kpi.catalog.model import LEVEL_LABELS, TARGET_BASES, Catalog
from kpi.common import cells
from kpi.common.access import Scope
from kpi.common.formatting import fmt_date, fmt_datetime, fmt_int, fmt_number, fmt_percent
from kpi.display import export_charts, figures, tables
from kpi.display.export_charts import legend_bar, legend_statuses, template
from kpi.display.measure import (
    FONT_BOLD,
    FONT_NAME,
    FONT_REGULAR,
    auto_widths,
    text_width,
    wrap_lines,
)
from kpi.domain import maturity, progress
from kpi.exports import renderer
from kpi.exports.chromium import (
    CHART_H,
    CHART_W,
    NO_CHROMIUM,
    ExportError,
    image_size,
    render_local,
    start_local_renderer,
)
from kpi.workflows import snapshots

SAMPLE_LABEL = "Dữ liệu mẫu (trường và số liệu giả định)"

# Every chart image of a pack has this size (CSS px, drawn at scale 1): one image serves the slide
# (about 10 in wide: 1 px ≈ 0,74 pt, so kpi.display.export_charts' 17 px text is ≥ 12 pt), the A4 page and
# the PNG zip.
MAX_SCHOOL_BARS = 15   # a chart names at most this many schools (the furthest from the target); XLSX has all
FORMATS = ("pptx", "pdf", "xlsx", "html", "png")
FORMAT_LABELS = {"pptx": "PowerPoint (PPTX)", "pdf": "PDF", "xlsx": "Excel (XLSX)",
                 "html": "HTML (một tệp, xem không cần mạng)", "png": "Ảnh PNG (zip)"}
NEEDS_IMAGES = {"pptx", "pdf", "png"}
NO_DATA = "Chưa có số liệu của kỳ này trong phạm vi được xem."


# ---- the pack ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One row of the overview as the pack shows it: its numbers and the page's own sentences."""

    theme: str        # the theme's label
    row: dict         # kpi.domain.progress.overview_rows' row, with change
    tile: object      # kpi.views.models.Tile: value, target, status, gap, change and reporting, as on the page

    @property
    def label(self) -> str:
        lv = self.row["level"]
        return self.row["label"] + ("" if lv == progress.ALL_LEVELS else f" ({lv})")


@dataclass
class Pack:
    """Everything a meeting pack shows."""

    unit: str
    school_year: str
    round: str
    snapshot: dict | None
    generated_at: dt.datetime
    is_sample: bool
    rows: pd.DataFrame
    trends: dict[str, pd.DataFrame] = field(default_factory=dict)
    values: dict[str, pd.DataFrame] = field(default_factory=dict)
    maturity_dist: pd.DataFrame | None = None
    maturity_year: str = ""
    maturity_published: str = ""  # the publication id of the year's results ("" = not published: tạm tính)
    furthest: pd.DataFrame | None = None
    submissions: pd.DataFrame | None = None
    lines: list[Line] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)
    catalog: Catalog | None = None
    views: object = None

    @property
    def period(self) -> str:
        return f"Năm học {self.school_year} · {self.round}"

    @property
    def source(self) -> str:
        if self.snapshot is None:
            return "Số liệu trực tiếp (chưa chốt)"
        return (f"Bản chốt {self.snapshot['snapshot_id']} ({self.snapshot['name']}, "
                f"{fmt_datetime(self.snapshot['created_at'])}) · mã băm {self.snapshot['content_hash'][:16]}")

    @property
    def stamp(self) -> str:
        """The line every page, slide and sheet carries."""
        parts = [self.unit, self.period, self.source, f"Tạo lúc {fmt_datetime(self.generated_at)}"]
        if self.is_sample:
            parts.append(SAMPLE_LABEL)
        return " · ".join(parts)

    @property
    def file_stem(self) -> str:
        """'bao_cao_2023-2024_CN' (+ '_<snapshot id>'): the downloads' name."""
        sid = self.snapshot["snapshot_id"] if self.snapshot else ""
        return f"bao_cao_{self.school_year}_{self.round}" + (f"_{sid}" if sid else "")


def build_pack(source, catalog: Catalog, scope: Scope, school_year: str, round: str,
               snapshot_id: str | None = None) -> Pack:
    """Gather a period's district figures (from a snapshot when given) for a meeting pack.

    `source`: the `kpi.views.models.Views` of the file (the pages' own view models, so a pack shows exactly
    what the pages show, and reuses what they already computed) or a read-only connection."""
    v = source if isinstance(source, views.Views) else views.Views.of_connection(source, catalog)
    snap = None
    if snapshot_id:
        snap = snapshots.snapshot_info(v.con, snapshot_id)
        if snap is None:
            raise ExportError(f"Không có bản chốt {snapshot_id}.")
        if (snap["school_year"], snap["round"]) != (school_year, round):
            raise ExportError(f"Bản chốt {snapshot_id} là của kỳ {snap['school_year']} {snap['round']}.")
    sc = scope.with_snapshot(snapshot_id)
    meta = v.meta()
    ov = v.overview(sc, school_year, round)
    rows = ov.rows
    if "change" not in rows.columns:
        rows = progress.with_change(rows, None)
    pack = Pack(meta.get("unit_name", ""), school_year, round, snap, dt.datetime.now(),
                meta.get("is_sample") == "true", rows, scope=sc, catalog=catalog, views=v)
    for code in catalog.indicators:
        ind = v.indicator(sc, code, school_year, round)
        pack.trends[code] = _until(ind.trend, school_year, round)
        pack.values[code] = ind.values
    my = maturity.index_year_for(school_year, round)
    counts = v.maturity_counts(sc, (my,))
    if len(counts):
        pack.maturity_dist = maturity.distribution(counts, catalog)
        pack.maturity_year = my

        done = publication.latest(v.publications(sc, my), my)
        pack.maturity_published = done["publication_id"] if done else ""
    pack.lines = _lines(ov, rows, catalog)
    pack.furthest = furthest_schools(pack.values, catalog)
    pack.submissions = v.submission_status(sc, school_year, round)
    return pack


def _until(trend: pd.DataFrame, school_year: str, round: str) -> pd.DataFrame:
    """The trend up to the pack's period (a pack of an earlier round does not show later ones)."""
    if trend.empty:
        return trend
    order = [(y, r != "HK1") for y, r in zip(trend["school_year"], trend["round"])]
    return trend[[o <= (school_year, round != "HK1") for o in order]].reset_index(drop=True)


def _lines(ov, rows: pd.DataFrame, catalog: Catalog) -> list[Line]:
    """The overview's rows in the page's order (by theme), each with the page's tile."""
    if rows.empty or ov.empty:
        return []
    out, themes = [], iter(ov.themes)
    for theme in catalog.themes.values():
        part = rows[rows["theme"] == theme.code].to_dict("records")
        if not part:
            continue
        label, tiles = next(themes)
        for row, tile in zip(part, tiles, strict=True):
            assert tile.code == row["indicator_code"]
            out.append(Line(label, row, tile))
    return out


def furthest_schools(values: dict[str, pd.DataFrame], catalog: Catalog, limit: int = 15) -> pd.DataFrame:
    """Schools furthest from the targets: how many targets each misses, and the mean shortfall
    (a share: 0.12 = 12 percentage points)."""
    parts = []
    for code, v in values.items():
        miss = v[(v["status"] == "chua_dat") & v["school_id"].notna()]
        if len(miss):
            parts.append(pd.DataFrame({"school_id": miss["school_id"], "name": miss["name"],
                                       "shortfall": miss["target"] - miss["value"],
                                       "label": catalog.indicators[code].clause}))
    if not parts:
        return pd.DataFrame(columns=["Trường", "Số chỉ tiêu chưa đạt", "Thiếu bình quân", "Các mục"])
    d = pd.concat(parts)
    order = {c: i for i, c in enumerate(dict.fromkeys(ind.clause for ind in catalog.indicators.values()))}
    g = d.groupby(["school_id", "name"]).agg(
        n=("shortfall", "size"), mean=("shortfall", "mean"),
        clauses=("label", lambda s: ", ".join(sorted(set(s), key=lambda c: order.get(c, 0)))))
    g = g.sort_values(["n", "mean"], ascending=False).head(limit).reset_index()
    return pd.DataFrame({"Trường": g["name"], "Số chỉ tiêu chưa đạt": g["n"],
                         "Thiếu bình quân": g["mean"], "Các mục": g["clauses"]})


# ---- measuring text (DejaVu, the font every file uses) -------------------------------------------

@functools.lru_cache(maxsize=8)
# ---- the charts as exported ----------------------------------------------------------------------

@dataclass
class Chart:
    """One image of the pack: its heading, the sentence under it, and the figure as drawn."""

    name: str          # the file name in the PNG zip (no extension)
    title: str         # "II.10 · Học sinh học Tin học theo chuẩn quốc tế"
    caption: str       # the page's sentences: value, target, status, gap, change, reporting
    figure: dict       # plotly figure dict, exactly what is drawn and put in the HTML
    in_documents: bool = True   # on a slide / page of its own (the overview chart is a table there)
    code: str = ""               # the indicator it draws ("" for the overview)

    @property
    def width(self) -> int:
        return int(self.figure["layout"].get("width") or CHART_W)

    @property
    def height(self) -> int:
        return int(self.figure["layout"].get("height") or CHART_H)


def indicator_figure(trend: pd.DataFrame, values: pd.DataFrame, width: int = CHART_W, height: int = CHART_H,
                     limit: int = MAX_SCHOOL_BARS) -> dict:
    """One share target on one image (`kpi.display.export_charts.indicator_figure`)."""
    return export_charts.indicator_figure(trend, values, width, height, limit)


def yes_no_figure(trend: pd.DataFrame, values: pd.DataFrame, width: int = CHART_W, height: int = CHART_H) -> dict:
    """One yes/no target on one image: counts by cấp học and the schools without it
    (`kpi.display.export_charts.yes_no_figure`)."""
    return export_charts.yes_no_figure(trend, values, width, height)


def overview_figure(rows: pd.DataFrame, title: str, width: int = CHART_W) -> dict:
    """Every target on one image (the page's `figures.progress_bars`), with the status icon on
    every bar and the status words in the legend."""
    fig = figures.progress_bars(rows, title).to_plotly_json()
    fig = {"data": [dict(t) for t in fig["data"]], "layout": dict(fig["layout"])}
    for t in fig["data"]:
        if t.get("name") in progress.STATUS_LABELS.values():
            st = next(k for k, v in progress.STATUS_LABELS.items() if v == t["name"])
            t["name"] = figures.status_text(st)
        elif t.get("name") == "Giá trị":
            t["text"] = [f"{fmt_percent(v)} {figures.STATUS_ICONS[s]}" for v, s in zip(rows["value"], rows["status"])]
            t["cliponaxis"] = False
    named = {t.get("name") for t in fig["data"]}
    for st in legend_statuses(rows["status"]):  # the page's legend names only đạt, gần đạt, chưa đạt
        if figures.status_text(st) not in named:
            fig["data"].insert(3, legend_bar(figures.status_text(st), figures.STATUS_COLORS[st], ("x", "y"),
                                              fig["data"][0]["y"][0]))
    lay = fig["layout"]
    lay.update(width=width, template=template(), title=None, margin={"l": 20, "r": 40, "t": 70, "b": 30},
               legend={"orientation": "h", "x": 0, "y": 1, "yref": "container", "yanchor": "top"})
    lay["xaxis"] = {**dict(lay.get("xaxis", {})), "range": [0, 118]}
    return fig


def maturity_figure(dist: pd.DataFrame, width: int = CHART_W, height: int = CHART_H) -> dict:
    """Schools at Mức 1/2/3 per group × cấp học (the page's `figures.level_distribution`), sized
    for the pack with the legend above the bars, every text at least the print size."""
    fig = figures.level_distribution(dist).to_plotly_json()
    fig = {"data": [dict(t) for t in fig["data"]], "layout": dict(fig["layout"])}
    for t in fig["data"]:
        t["textfont"] = {"size": MIN_FONT_PX, "color": "#FFFFFF"}
    fig["layout"].update(width=width, height=height, template=template(), title=None,
                         margin={"l": 20, "r": 30, "t": 80, "b": 60},
                         font={"family": figures.FONT, "size": MIN_FONT_PX, "color": figures.INK},
                         legend={"orientation": "h", "x": 0, "y": 1, "yref": "container", "yanchor": "top",
                                 "traceorder": "normal", "font": {"size": MIN_FONT_PX}})
    for ax in ("xaxis", "yaxis"):
        fig["layout"][ax] = {**dict(fig["layout"].get(ax, {})), "tickfont": {"size": MIN_FONT_PX}}
        if isinstance(fig["layout"][ax].get("title"), dict):
            fig["layout"][ax]["title"] = {**fig["layout"][ax]["title"], "font": {"size": MIN_FONT_PX}}
    return fig


def _slug(text: str) -> str:
    """'Học sinh sử dụng thẻ VSSID' → 'Hoc-sinh-su-dung-the-VSSID' (a file name any system keeps)."""
    import unicodedata

    t = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch == ".") else "-" for ch in t)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")[:70]


def indicator_caption(lines: list[Line]) -> str:
    """The page's sentences for one indicator (one line per cấp học when their targets differ)."""
    out = []
    for ln in lines:
        t = ln.tile
        lv = ln.row["level"]
        who = "Toàn đơn vị" if lv == progress.ALL_LEVELS else LEVEL_LABELS.get(lv, lv)
        parts = [f"{who} {t.value}", t.target, t.status_text, t.gap, t.change, t.reporting]
        out.append(" · ".join(p for p in parts if p))
    return "\n".join(out)


def pack_charts(pack: Pack, catalog: Catalog) -> list[Chart]:
    """Every chart of the pack, in the Tổng quan page's order (by theme, as `OverviewView.themes`;
    the Chỉ tiêu page lists its targets the same way): the overview, one per indicator, the index
    (kept with the view models: built once per pack identity)."""
    def build() -> list[Chart]:
        out = [Chart("00-tong-quan", f"Các chỉ tiêu · {pack.period}", "",
                     overview_figure(pack.rows, f"Các chỉ tiêu · {pack.period}"), in_documents=False)] \
            if pack.lines else []
        by_code: dict[str, list[Line]] = {}
        for ln in pack.lines:
            by_code.setdefault(ln.row["indicator_code"], []).append(ln)
        for code, lns in by_code.items():
            if code == maturity.INDEX_CODE:
                if pack.maturity_dist is None:
                    continue
                title = f"Mức độ chuyển đổi số · năm học {pack.maturity_year} " + (
                    f"(đã công bố, {pack.maturity_published})" if pack.maturity_published else "(tạm tính)")
                fig = maturity_figure(pack.maturity_dist)
            else:
                v = pack.values.get(code)
                if v is None or not v["value"].notna().any():
                    continue
                ind = catalog.indicators[code]
                title = f"{ind.clause} · {ind.label_vi}"
                fig = (yes_no_figure if ind.kind == "bool" else indicator_figure)(pack.trends[code], v)
            name = f"{len(out):02d}-" + (f"{catalog.indicators[code].clause}-{_slug(catalog.indicators[code].label_vi)}"
                                          if code in catalog.indicators else _slug(title))
            out.append(Chart(name, title, indicator_caption(lns), fig, code=code))
        return out

    if pack.views is None:
        return build()
    key = ("pack_charts", pack.scope, pack.school_year, pack.round, pack.unit)
    return pack.views.memo(key, build)


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


def render_pngs(figs: list, width: int = CHART_W) -> list[bytes]:
    """PNGs of the figures: by the server's shared renderer under `kpi serve` (one chromium for
    every worker), else by kaleido in this process (started once)."""
    path = renderer.socket_path()
    if path is None:
        return render_local(figs, width)
    try:
        # plain JSON for the socket (a figure dict may hold numpy arrays: plotly's encoder writes them)
        return renderer.render_remote(path, [json.loads(figure_json(f)) for f in figs], width)
    except (OSError, RuntimeError) as e:
        raise ExportError(NO_CHROMIUM) from e


def figure_json(fig) -> str:
    """The figure (a dict or a go.Figure) as plotly JSON (numpy arrays and dates as plotly writes them)."""
    import plotly.io as pio

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
        import importlib.metadata as md

        return "|".join(f"{p}={md.version(p)}" for p in ("plotly", "kaleido"))

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


def chart_images(charts: list[Chart], progress_cb=None, cache: ChartCache | None = None,
                 batch: int = 12) -> list[bytes]:
    """The PNG of every chart: from the cache, the others drawn in batches (progress between)."""
    cache = CHART_CACHE if cache is None else cache
    keys = [cache.key(c.figure) for c in charts]
    found = {k: cache.get(k) for k in dict.fromkeys(keys)}
    todo = [k for k, v in found.items() if v is None]
    figs = {k: c.figure for k, c in zip(keys, charts)}
    for start in range(0, len(todo), batch):
        part = todo[start:start + batch]
        if progress_cb:
            progress_cb(start / len(todo), f"Đang vẽ biểu đồ {start + 1}-{start + len(part)}/{len(todo)}")
        for k, png in zip(part, render_pngs([figs[k] for k in part])):
            cache.put(k, png)
            found[k] = png
    return [found[k] for k in keys]


# ---- tables shared by the writers ----------------------------------------------------------------

def _change_short(sentence: str) -> str:
    return sentence.replace(" so với kỳ trước", "").replace(" để so", "")


def summary_table(pack: Pack, catalog: Catalog | None = None) -> pd.DataFrame:
    """The summary of all targets for the PDF and the slides (text, the page's sentences)."""
    return pd.DataFrame({
        "Mục": [ln.row["clause"] for ln in pack.lines],
        "Chỉ tiêu": [ln.label for ln in pack.lines],
        "Giá trị": [ln.tile.value for ln in pack.lines],
        "Chỉ tiêu đặt ra": [fmt_percent(ln.row["target"]) for ln in pack.lines],
        "Tình trạng": [ln.tile.status_text for ln in pack.lines],
        "Khoảng cách": [ln.tile.gap or "—" for ln in pack.lines],
        "So với kỳ trước": [_change_short(ln.tile.change) for ln in pack.lines],
        "Trường báo cáo": [f"{fmt_int(ln.row['schools_reporting'])}/{fmt_int(ln.row['schools_expected'])}"
                           for ln in pack.lines],
    }, columns=["Mục", "Chỉ tiêu", "Giá trị", "Chỉ tiêu đặt ra", "Tình trạng", "Khoảng cách", "So với kỳ trước",
                "Trường báo cáo"])


def _status_of(text: str) -> str | None:
    for code, label in progress.STATUS_LABELS.items():
        if text.endswith(label):
            return code
    return None


def definitions_table(catalog: Catalog, school_year: str) -> pd.DataFrame:
    """Labels, clauses, targets of every indicator (the XLSX's definitions sheet; targets as shares)."""
    rows = []
    for ind in catalog.indicators.values():
        for lv in ind.levels:
            t = catalog.target_for(ind.code, lv, school_year)
            rows.append({"Mục": ind.clause, "Chỉ tiêu": ind.label_vi, "Nhóm": catalog.themes[ind.theme].label_vi,
                         "Cấp học": LEVEL_LABELS.get(lv, lv),
                         "Loại": "tỉ lệ" if ind.kind == "ratio" else "có/không (tỉ lệ trường có)",
                         "Tử số": catalog.fields[ind.numerator].label_vi,
                         "Mẫu số": catalog.fields[ind.denominator].label_vi if ind.denominator else "số trường báo cáo",
                         "Chỉ tiêu đặt ra": None if t is None else t.value,
                         "Gần đạt từ": None if t is None else t.near,
                         "Năm học của chỉ tiêu": "" if t is None else t.school_year,
                         "Căn cứ": "chưa có chỉ tiêu" if t is None else TARGET_BASES[t.basis]})
    return pd.DataFrame(rows)


def completeness_summary(pack: Pack) -> pd.DataFrame:
    s = pack.submissions
    counts = s["status"].value_counts()
    return pd.DataFrame({"Tình trạng": ["Đúng hạn", "Trễ hạn", "Chưa nộp", "Tổng số trường"],
                         "Số trường": [int(counts.get("dung_han", 0)), int(counts.get("tre", 0)),
                                       int(counts.get("chua_nop", 0)), len(s)]})


def furthest_text(df: pd.DataFrame) -> pd.DataFrame:
    """The furthest schools as text (the slides and the PDF)."""
    out = df.copy()
    out["Số chỉ tiêu chưa đạt"] = [fmt_int(v) for v in out["Số chỉ tiêu chưa đạt"]]
    out["Thiếu bình quân"] = [fmt_number(v * 100) + " điểm %" for v in out["Thiếu bình quân"]]
    return out


def submission_text(status: pd.DataFrame) -> pd.DataFrame:
    """The submissions as text (the PDF): dates dd/mm/yyyy, nothing where nothing happened."""
    t = tables.submission_table(status)
    return pd.DataFrame({
        "Mã trường": t["Mã trường"], "Trường": t["Trường"], "Cấp học": t["Cấp học"], "Tình trạng": t["Tình trạng"],
        "Ngày nộp": [fmt_date(v) if pd.notna(v) else "" for v in status["received_at"]],
        "Trễ (ngày)": ["" if pd.isna(v) else fmt_int(int(v)) for v in t["Trễ (ngày)"]],
        "Tệp": t["Tệp"],
    })


# ---- XLSX --------------------------------------------------------------------------------------

# column kinds → number formats (Excel shows them in the reader's locale: 17,5% and 1.234 in Vietnamese)
XLSX_FORMATS = {"pct": "0.0%", "int": "#,##0", "pts": "+0.0;-0.0;0.0", "num": "#,##0.0", "date": "dd/mm/yyyy",
                "datetime": "dd/mm/yyyy hh:mm"}


def _xlsx_summary(pack: Pack) -> tuple[pd.DataFrame, dict]:
    L = pack.lines
    df = pd.DataFrame({
        "Nhóm": [ln.theme for ln in L], "Mục": [ln.row["clause"] for ln in L], "Chỉ tiêu": [ln.row["label"] for ln in L],
        "Cấp học": [ln.row["level"] for ln in L],
        "Giá trị": [ln.row["value"] for ln in L], "Chỉ tiêu đặt ra": [ln.row["target"] for ln in L],
        "Tình trạng": [ln.tile.status_text for ln in L],
        "Còn thiếu": [None if ln.row["status"] == "dat" or pd.isna(ln.row["gap"]) else ln.row["gap"] for ln in L],
        "Đơn vị tính của phần còn thiếu": [ln.row["gap_unit"] for ln in L],
        "Thay đổi so với kỳ trước (điểm %)": [None if pd.isna(ln.row["change"]) else ln.row["change"] * 100 for ln in L],
        "Trường đạt": [ln.row["schools_meeting"] for ln in L],
        "Trường đã báo cáo": [ln.row["schools_reporting"] for ln in L],
        "Trường phải báo cáo": [ln.row["schools_expected"] for ln in L],
    })
    kinds = {"Giá trị": "pct", "Chỉ tiêu đặt ra": "pct", "Còn thiếu": "int", "Thay đổi so với kỳ trước (điểm %)": "pts",
             "Trường đạt": "int", "Trường đã báo cáo": "int", "Trường phải báo cáo": "int"}
    return df, kinds


def _xlsx_schools(v: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    df = pd.DataFrame({
        "Mã trường": v["school_id"].fillna(""), "Trường": v["name"].fillna("Trường khác"),
        "Cấp học": v["level"], "Tử số": v["numerator"], "Mẫu số": v["denominator"], "Giá trị": v["value"],
        "Chỉ tiêu": v["target"], "Tình trạng": [figures.status_text(s) for s in v["status"]],
        "Thay đổi so với kỳ trước (điểm %)": v["change"] * 100,
    })
    return df, {"Tử số": "int", "Mẫu số": "int", "Giá trị": "pct", "Chỉ tiêu": "pct",
                "Thay đổi so với kỳ trước (điểm %)": "pts"}


def _xlsx_wide(pack: Pack, catalog: Catalog) -> tuple[pd.DataFrame, dict]:
    cols, names = {}, {}
    for ln in pack.lines:
        code = ln.row["indicator_code"]
        v = pack.values.get(code)
        if v is None or v.empty or code in cols:
            continue
        ind = catalog.indicators[code]
        cols[code] = v.set_index(v["school_id"].fillna("") + "|" + v["name"].fillna(""))["value"]
        names[code] = f"{ind.clause} · {ind.label_vi}"
    if not cols:
        return pd.DataFrame(), {}
    idx = list(dict.fromkeys(k for s in cols.values() for k in s.index))
    levels = {}
    for v in pack.values.values():
        for sid, nm, lv in zip(v["school_id"].fillna(""), v["name"].fillna(""), v["level"]):
            levels.setdefault(f"{sid}|{nm}", lv)
    idx.sort()
    df = pd.DataFrame({"Mã trường": [k.split("|", 1)[0] for k in idx],
                       "Trường": [k.split("|", 1)[1] or "Trường khác" for k in idx],
                       "Cấp học": [levels.get(k, "") for k in idx]})
    for code, s in cols.items():
        s = s[~s.index.duplicated()]
        df[names[code]] = s.reindex(idx).to_numpy()
    return df, {names[c]: "pct" for c in cols}


def _xlsx_submissions(status: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    t = tables.submission_table(status)
    received = pd.to_datetime(status["received_at"])
    df = pd.DataFrame({
        "Mã trường": t["Mã trường"], "Trường": t["Trường"], "Cấp học": t["Cấp học"], "Tình trạng": t["Tình trạng"],
        "Ngày nộp": [None if pd.isna(r) else r.date() for r in received],
        "Trễ (ngày)": [None if pd.isna(v) else int(v) for v in t["Trễ (ngày)"]],
        "Tệp": t["Tệp"],
    })
    return df, {"Ngày nộp": "date", "Trễ (ngày)": "int"}


def _sheet_name(title: str, used: set[str]) -> str:
    bad = '[]:*?/\\'
    base = "".join("-" if ch in bad else ch for ch in title).strip()
    name = base[:31]
    if len(base) > 31:
        name = base[:30].rstrip() + "…"
    i = 2
    while name in used:
        suffix = f" ({i})"
        name = base[:31 - len(suffix) - 1].rstrip() + "…" + suffix
        i += 1
    used.add(name)
    return name


def _xlsx_sheet(xw, df: pd.DataFrame, name: str, title: str, stamp: str, kinds: dict, freeze_cols: int = 0,
                wrap_header: bool = False) -> None:
    """A sheet: title (row 1), stamp (row 2), the table's header on row 4 (frozen, filtered,
    wrapped when long), numbers with their formats, widths to fit."""
    header_row = 3
    data = cells.write_frame(xw, df, name, startrow=header_row)
    ws, wb = xw.sheets[name], xw.book
    fmts = _formats(wb)
    cells.write_cell(ws, 0, 0, title, fmts["title"])
    cells.write_cell(ws, 1, 0, stamp, fmts["stamp"])
    lines = 1
    for i, c in enumerate(df.columns):
        kind = kinds.get(c, "text")
        col = data.iloc[:, i]
        if kind == "text":
            longest = tables.column_width(col.fillna(""))
        elif kind in ("date", "datetime"):
            longest = 12 if kind == "date" else 18
        else:
            longest = 12
        header_words = max((len(w) for w in str(c).split()), default=4) + 2
        if wrap_header:
            width = min(60, max(12, header_words, longest))
        else:
            width = min(60, max(8, len(str(c)) + 3, longest))
        lines = max(lines, -(-(len(str(c)) + 2) // max(1, int(width))))
        ws.set_column(i, i, width, fmts.get(kind))
        cells.write_cell(ws, header_row, i, str(c), fmts["header"])
    if lines > 1:
        ws.set_row(header_row, 15 * lines + 3)
    ws.freeze_panes(header_row + 1, freeze_cols)
    ws.autofilter(header_row, 0, header_row + max(len(df), 1), len(df.columns) - 1)


def _formats(wb) -> dict:
    cache = getattr(wb, "_kpi_formats", None)
    if cache is None:
        cache = {k: wb.add_format({"num_format": v}) for k, v in XLSX_FORMATS.items()}
        cache["title"] = wb.add_format({"bold": True, "font_size": 13})
        cache["stamp"] = wb.add_format({"italic": True, "font_color": "#555555"})
        cache["header"] = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1,
                                         "bg_color": "#F3F4F6"})
        wb._kpi_formats = cache
    return cache


def to_xlsx(pack: Pack, catalog: Catalog) -> bytes:
    """Information, summary, definitions, one sheet per target, every school × target, furthest
    schools and submissions: numbers as numbers with their formats, dates as dates, Vietnamese
    headers frozen with filters; text cells neutralised (kpi.common.cells)."""
    buf = io.BytesIO()
    used: set[str] = set()
    with cells.excel_writer(buf) as xw:
        info = pd.DataFrame({"Mục": ["Đơn vị", "Kỳ báo cáo", "Nguồn số liệu", "Mã bản chốt", "Mã băm (SHA-256)",
                                     "Tạo lúc", "Ghi chú"],
                             "Nội dung": [pack.unit, pack.period, pack.source,
                                          pack.snapshot["snapshot_id"] if pack.snapshot else "chưa chốt (số liệu trực tiếp)",
                                          pack.snapshot["content_hash"] if pack.snapshot else "không có (chưa chốt)",
                                          pack.generated_at.replace(microsecond=0),
                                          SAMPLE_LABEL if pack.is_sample else "Số liệu các trường đã báo cáo"]})
        _xlsx_sheet(xw, info, _sheet_name("Thông tin", used), "Bộ báo cáo họp · thông tin", pack.stamp, {})
        df, kinds = _xlsx_summary(pack)
        _xlsx_sheet(xw, df, _sheet_name("Tổng hợp", used), f"Tổng hợp các chỉ tiêu · {pack.period}", pack.stamp, kinds,
                    freeze_cols=3)
        _xlsx_sheet(xw, definitions_table(catalog, pack.school_year), _sheet_name("Định nghĩa", used),
                    "Định nghĩa các chỉ tiêu", pack.stamp, {"Chỉ tiêu đặt ra": "pct", "Gần đạt từ": "pct"})
        seen = set()
        for ln in pack.lines:
            code = ln.row["indicator_code"]
            v = pack.values.get(code)
            if code in seen or v is None or v.empty:
                continue
            seen.add(code)
            ind = catalog.indicators[code]
            df, kinds = _xlsx_schools(v)
            _xlsx_sheet(xw, df, _sheet_name(f"{ind.clause} {ind.label_vi}", used), f"{ind.clause} · {ind.label_vi}",
                        pack.stamp, kinds, freeze_cols=2)
        wide, kinds = _xlsx_wide(pack, catalog)
        if not wide.empty:
            _xlsx_sheet(xw, wide, _sheet_name("Theo trường", used), "Giá trị của từng trường theo từng chỉ tiêu",
                        pack.stamp, kinds, freeze_cols=2, wrap_header=True)
        if pack.furthest is not None and len(pack.furthest):
            far = pack.furthest.assign(**{"Thiếu bình quân": pack.furthest["Thiếu bình quân"] * 100}).rename(
                columns={"Thiếu bình quân": "Thiếu bình quân (điểm %)"})
            _xlsx_sheet(xw, far, _sheet_name("Trường còn xa chỉ tiêu", used), "Các trường còn xa chỉ tiêu nhất",
                        pack.stamp, {"Số chỉ tiêu chưa đạt": "int", "Thiếu bình quân (điểm %)": "num"})
        if pack.submissions is not None:
            df, kinds = _xlsx_submissions(pack.submissions)
            _xlsx_sheet(xw, df, _sheet_name("Nộp báo cáo", used), f"Tình hình nộp báo cáo · {pack.period}",
                        pack.stamp, kinds, freeze_cols=2)
    return buf.getvalue()


# ---- HTML --------------------------------------------------------------------------------------

def _status_css(code: str | None) -> str:
    if code is None:
        return ""
    return f" style='background:{_tint(figures.STATUS_COLORS[code], 0.25)};white-space:nowrap'"


def _tint(hex_colour: str, strength: float) -> str:
    """The colour mixed with white (a background behind dark text)."""
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * strength):02X}" for c in rgb)


def _html_table(df: pd.DataFrame, status_col: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        tds = []
        for c, v in zip(df.columns, row):
            text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
            style = _status_css(_status_of(text)) if c == status_col else ""
            tds.append(f"<td{style}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(pack: Pack, catalog: Catalog) -> bytes:
    """One self-contained, offline HTML file: plotly.js inlined once, every chart and table, with
    the page's sentences (value, target, status, change since the previous round)."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    summary = pd.DataFrame({
        "Mục": [ln.row["clause"] for ln in pack.lines], "Chỉ tiêu": [ln.label for ln in pack.lines],
        "Giá trị": [ln.tile.value for ln in pack.lines], "Chỉ tiêu đặt ra": [fmt_percent(ln.row["target"]) for ln in pack.lines],
        "Tình trạng": [ln.tile.status_text for ln in pack.lines], "Khoảng cách": [ln.tile.gap for ln in pack.lines],
        "Thay đổi": [ln.tile.change for ln in pack.lines], "Báo cáo": [ln.tile.reporting for ln in pack.lines]},
        columns=["Mục", "Chỉ tiêu", "Giá trị", "Chỉ tiêu đặt ra", "Tình trạng", "Khoảng cách", "Thay đổi", "Báo cáo"])
    parts = [f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>{html.escape(pack.period)}</title>",
             "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1f2937;margin:24px;max-width:1260px}"
             "table{border-collapse:collapse;font-size:13px;margin:8px 0 24px}td,th{border:1px solid #ddd;"
             "padding:4px 8px;vertical-align:top;text-align:left}th{background:#f3f4f6}"
             ".stamp{color:#555;font-style:italic}.sample{background:#fff3cd;padding:4px 8px}"
             ".caption{white-space:pre-line;margin:4px 0 8px}section{margin:28px 0}</style>",
             f"<script>{get_plotlyjs()}</script></head><body>",
             f"<h1>Báo cáo chuyển đổi số · {html.escape(pack.period)}</h1>",
             f"<p class='stamp'>{html.escape(pack.stamp)}</p>"]
    if pack.is_sample:
        parts.append(f"<p class='sample'>{SAMPLE_LABEL}</p>")
    parts.append("<h2>Tổng hợp các chỉ tiêu</h2>" + (_html_table(summary, "Tình trạng") if pack.lines
                                                       else f"<p>{NO_DATA}</p>"))
    for chart in pack_charts(pack, catalog):
        parts.append(f"<section><h2>{html.escape(chart.title)}</h2>")
        if chart.caption:
            parts.append(f"<p class='caption'>{html.escape(chart.caption)}</p>")
        parts.append(pio.to_html(chart.figure, full_html=False, include_plotlyjs=False, validate=False,
                                 config={"displaylogo": False, "responsive": False}))
        parts.append("</section>")
    parts.append("<h2>Các trường còn xa chỉ tiêu nhất</h2>" + _html_table(furthest_text(pack.furthest)))
    parts.append("<h2>Tình hình nộp báo cáo</h2>" + _html_table(completeness_summary(pack)))
    parts.append(_html_table(submission_text(pack.submissions), "Tình trạng"))
    parts.append(f"<p class='stamp'>{html.escape(pack.stamp)}</p></body></html>")
    return "\n".join(parts).encode("utf-8")


# ---- PNG zip -----------------------------------------------------------------------------------

def stamped_png(png: bytes, stamp: str) -> bytes:
    """The image with the stamp written under it (an image leaves the pack on its own)."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.open(io.BytesIO(png)).convert("RGB")
    size = 13
    font = ImageFont.truetype(str(FONT_REGULAR), size)
    lines = wrap_lines(stamp, im.width - 24, size)
    strip = 10 + len(lines) * (size + 5)
    out = Image.new("RGB", (im.width, im.height + strip), "white")
    out.paste(im, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((12, im.height + 4 + i * (size + 5)), line, fill="#555555", font=font)
    buf = io.BytesIO()
    out.save(buf, "PNG", compress_level=1, pnginfo=_png_info(stamp))  # fast: the zip is not compressed again
    return buf.getvalue()


def _png_info(stamp: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("Description", stamp)
    return info


def to_png_zip(pack: Pack, catalog: Catalog, images: list[bytes] | None = None) -> bytes:
    """A zip with one PNG per chart (the stamp under each) and a text file saying what they are."""
    charts = pack_charts(pack, catalog)
    images = images if images is not None else chart_images(charts)
    return png_zip(pack, charts, [stamped_png(im, f"{c.title} · {pack.stamp}") for c, im in zip(charts, images)])


def png_zip(pack: Pack, charts: list[Chart], stamped: list[bytes]) -> bytes:
    """The zip of the stamped images (stored: a PNG does not compress again)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        listing = [pack.stamp, ""] + [f"{c.name}.png: {c.title}" for c in charts]
        z.writestr("Thông tin.txt", "\r\n".join(listing).encode("utf-8-sig"))
        for c, image in zip(charts, stamped):
            z.writestr(f"{c.name}.png", image)
    return buf.getvalue()


# ---- PPTX --------------------------------------------------------------------------------------

SLIDE_W_IN, SLIDE_H_IN = 13.333, 7.5
PPTX_MARGIN_IN = 0.4
MIN_SLIDE_PT = 12                 # the smallest text on a slide (chart images measured as placed)
PPTX_FOOT_TOP_IN = 6.88           # the stamp's box starts here; nothing else may reach below
PPTX_INSET_PT = (7.2, 3.6)        # text box / table cell insets (left-right, top-bottom), python-pptx's defaults
LINE_FACTOR = 1.2                 # line height / font size used to size boxes (DejaVu's own is 1,164)


def _pptx_text_height(text: str, width_pt: float, size: float, bold: bool = False) -> float:
    # wrapped 3% short of the box: PIL kerns, a slide program may not (its line is then a bit wider)
    return len(wrap_lines(text, (width_pt - 2 * PPTX_INSET_PT[0]) * 0.97, size, bold)) * size * LINE_FACTOR \
        + 2 * PPTX_INSET_PT[1]


def _pptx_box(slide, left_in, top_in, width_in, text: str, size: float, bold=False, color=None,
              max_height_in: float | None = None, min_size: float = MIN_SLIDE_PT, align=None):
    """A text box that fits its text: wrapped at the box width, font shrunk (down to `min_size`)
    until the text fits `max_height_in`, the box as tall as the text."""
    from pptx.dml.color import RGBColor
    from pptx.enum.text import MSO_AUTO_SIZE
    from pptx.util import Inches, Pt

    width_pt = width_in * 72
    while max_height_in and size > min_size and _pptx_text_height(text, width_pt, size, bold) > max_height_in * 72:
        size -= 1
    height_pt = _pptx_text_height(text, width_pt, size, bold)
    shape = slide.shapes.add_textbox(Inches(left_in), Inches(top_in), Inches(width_in), Pt(height_pt))
    tf = shape.text_frame
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    for i, para in enumerate(str(text).split("\n")):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        if align is not None:
            p.alignment = align
        r = p.add_run()
        r.text = para
        r.font.size, r.font.bold, r.font.name = Pt(size), bold, FONT_NAME
        if color:
            r.font.color.rgb = RGBColor.from_string(color.lstrip("#"))
    return shape


def _pptx_table_pages(df: pd.DataFrame, width_pt: float, avail_pt: float, size: float) -> tuple[list[float], list]:
    """Column widths and the rows of each slide, so that every slide's table fits `avail_pt`."""
    cols = [[str(c)] + ["" if v is None else str(v) for v in df[c]] for c in df.columns]
    widths = auto_widths(cols, width_pt, lambda t: text_width(t, size, True), 2 * PPTX_INSET_PT[0] + 2)

    def row_h(values, bold=False):
        return max(_pptx_text_height(v, w, size, bold) for v, w in zip(values, widths))

    header = row_h([str(c) for c in df.columns], True)
    heights = [row_h([c[i + 1] for c in cols]) for i in range(len(df))]

    def split(limit):
        pages, cur, used = [], [], header
        for i, h in enumerate(heights):
            if cur and used + h > limit:
                pages.append(cur)
                cur, used = [], header
            cur.append((i, h))
            used += h
        return pages + [cur]

    pages = split(avail_pt)
    lo, hi = header, avail_pt  # the same number of slides, rows spread evenly over them
    while hi - lo > 2:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if len(split(mid)) <= len(pages) else (mid, hi)
    return widths, [(header, p) for p in split(hi)]


def _pptx_tables(new_slide, title: str, df: pd.DataFrame, status_col: str | None = None, size: float = 12) -> None:
    """The table over as many slides as it needs, each fitting above the footer."""
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    width_pt = (SLIDE_W_IN - 2 * PPTX_MARGIN_IN) * 72
    top_in = 1.15
    avail = (PPTX_FOOT_TOP_IN - 0.1 - top_in) * 72
    widths, pages = _pptx_table_pages(df, width_pt, avail, size)
    for k, (header_h, rows) in enumerate(pages):
        s = new_slide(title + (f" ({k + 1}/{len(pages)})" if len(pages) > 1 else ""))
        shape = s.shapes.add_table(len(rows) + 1, len(df.columns), Pt(PPTX_MARGIN_IN * 72), Pt(top_in * 72),
                                   Pt(width_pt), Pt(header_h + sum(h for _, h in rows)))
        t = shape.table
        for j, w in enumerate(widths):
            t.columns[j].width = Pt(w)
        t.rows[0].height = Pt(header_h)
        for j, c in enumerate(df.columns):
            _pptx_cell(t.cell(0, j), str(c), size, True)
        for r, (i, h) in enumerate(rows, start=1):
            t.rows[r].height = Pt(h)
            for j, c in enumerate(df.columns):
                v = df.iloc[i, j]
                text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
                cell = t.cell(r, j)
                _pptx_cell(cell, text, size)
                st = _status_of(text) if c == status_col else None
                if st:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = RGBColor.from_string(_tint(figures.STATUS_COLORS[st], 0.3).lstrip("#"))


def _pptx_cell(cell, text: str, size: float, bold: bool = False) -> None:
    from pptx.util import Pt

    tf = cell.text_frame
    tf.word_wrap = True
    tf.text = text
    for p in tf.paragraphs:
        for r in p.runs:
            r.font.size, r.font.bold, r.font.name = Pt(size), bold, FONT_NAME


def to_pptx(pack: Pack, catalog: Catalog, progress_cb=None, images: list[bytes] | None = None) -> bytes:
    """A 16:9 deck: title, summary table, one slide per target (title, the page's sentence, the
    chart), the index, furthest schools, submissions; every slide carries the stamp. Every text is
    measured with the font it is set in, so it fits its box."""
    from pptx import Presentation
    from pptx.util import Emu, Inches

    charts = [c for c in pack_charts(pack, catalog) if c.in_documents]
    if images is None:
        images = chart_images(charts, progress_cb)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)  # 16:9, 13,333 × 7,5 in
    blank = prs.slide_layouts[6]
    body_w = SLIDE_W_IN - 2 * PPTX_MARGIN_IN

    def new_slide(title: str):
        s = prs.slides.add_slide(blank)
        _pptx_box(s, PPTX_MARGIN_IN, 0.25, body_w, title, 26, bold=True, max_height_in=0.85, min_size=16)
        _pptx_box(s, PPTX_MARGIN_IN, PPTX_FOOT_TOP_IN, body_w, pack.stamp, MIN_SLIDE_PT, color="#555555")
        return s

    s = prs.slides.add_slide(blank)
    _pptx_box(s, 0.8, 1.6, SLIDE_W_IN - 1.6, "Chuyển đổi số trong các trường", 40, bold=True)
    lines = [pack.unit, pack.period, pack.source, f"Tạo lúc {fmt_datetime(pack.generated_at)}"]
    _pptx_box(s, 0.8, 2.6, SLIDE_W_IN - 1.6, "\n".join(lines), 20, max_height_in=3.2, min_size=12)
    if pack.is_sample:
        _pptx_box(s, 0.8, 6.0, SLIDE_W_IN - 1.6, SAMPLE_LABEL, 20, bold=True, color="#B45309")

    if pack.lines:
        _pptx_tables(new_slide, "Tổng hợp các chỉ tiêu", summary_table(pack), "Tình trạng", size=MIN_SLIDE_PT)
    else:
        _pptx_box(new_slide("Tổng hợp các chỉ tiêu"), PPTX_MARGIN_IN, 1.15, body_w, NO_DATA, 20)
    if progress_cb:
        progress_cb(0.9, "Đang dựng các trang chiếu")
    for chart, image in zip(charts, images):
        s = new_slide(chart.title)
        top = 1.15
        if chart.caption:
            box = _pptx_box(s, PPTX_MARGIN_IN, top, body_w, chart.caption, 14, max_height_in=0.9, min_size=MIN_SLIDE_PT)
            top += box.height / 914400 + 0.05
        avail_h, aspect = PPTX_FOOT_TOP_IN - 0.08 - top, chart.width / chart.height
        w = min(body_w, avail_h * aspect)
        s.shapes.add_picture(io.BytesIO(image), Inches(PPTX_MARGIN_IN + (body_w - w) / 2), Inches(top),
                             width=Inches(w), height=Inches(w / aspect))
    if pack.furthest is not None and len(pack.furthest):
        _pptx_tables(new_slide, "Các trường còn xa chỉ tiêu nhất", furthest_text(pack.furthest).head(15))
    _pptx_tables(new_slide, "Tình hình nộp báo cáo", completeness_summary(pack).astype({"Số trường": str}), size=14)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


# ---- PDF ---------------------------------------------------------------------------------------

class _PDF:
    """fpdf2 with the embedded DejaVu font and the stamp in every footer (wrapped inside the page)."""

    MARGIN = 12.0

    def __init__(self, stamp: str):
        from fpdf import FPDF

        margin = self.MARGIN

        class Doc(FPDF):
            def footer(self):
                self.set_font("DejaVu", "", 7)
                text = f"{stamp} · trang {self.page_no()}/{{nb}}"
                lines = len(wrap_lines(text, self.epw - 2, 7 * 0.3528))
                self.set_y(-(6 + 3.2 * lines))
                self.set_text_color(85, 85, 85)
                self.multi_cell(self.epw, 3.2, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                self.set_text_color(0, 0, 0)

        self.doc = Doc(orientation="L", format="A4")
        self.doc.set_margins(margin, 10, margin)
        self.doc.add_font("DejaVu", "", str(FONT_REGULAR))
        self.doc.add_font("DejaVu", "B", str(FONT_BOLD))
        self.doc.set_auto_page_break(True, margin=16)
        self.doc.alias_nb_pages()

    def heading(self, text: str, size: int = 16, new_page: bool = True) -> None:
        if new_page:
            self.doc.add_page()
        else:
            self.doc.ln(3)
        self.doc.set_font("DejaVu", "B", size)
        self.doc.multi_cell(0, size * 0.45, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.doc.ln(2)

    def text(self, text: str, size: int = 10) -> None:
        self.doc.set_font("DejaVu", "", size)
        self.doc.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(self, df: pd.DataFrame, size: int = 8, status_col: str | None = None) -> None:
        """A table whose columns share the page by what they hold (a long name gets the room)."""
        from fpdf.fonts import FontFace

        d = self.doc
        d.set_font("DejaVu", "", size)
        texts = [[str(c)] + ["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in df[c]]
                 for c in df.columns]
        pad = 1.2

        def measure(t):
            d.set_font("DejaVu", "B", size)
            w = d.get_string_width(t)
            d.set_font("DejaVu", "", size)
            return w

        natural = sum(max(measure(t) for t in col) + 2 * pad + 1 for col in texts)
        width = d.epw if natural > d.epw * 0.6 else natural * 1.2  # a small table stays small
        widths = auto_widths(texts, width, measure, 2 * pad + 1)
        with d.table(col_widths=widths, width=width, align="LEFT", text_align="LEFT", line_height=size * 0.5,
                     padding=(0.8, pad), repeat_headings=1,
                     headings_style=FontFace(emphasis="BOLD", fill_color=(243, 244, 246))) as t:
            t.row([str(c) for c in df.columns])
            for i in range(len(df)):
                row = t.row()
                for j, c in enumerate(df.columns):
                    text = texts[j][i + 1]
                    st = _status_of(text) if c == status_col else None
                    style = FontFace(fill_color=_tint(figures.STATUS_COLORS[st], 0.3)) if st else None
                    row.cell(text, style=style)
        d.ln(3)

    def image(self, data: bytes, aspect: float) -> None:
        """The image as large as the rest of the page allows, centred."""
        d = self.doc
        avail_h = d.h - d.b_margin - d.get_y() - 1
        w = min(d.epw, avail_h * aspect)
        d.image(io.BytesIO(data), x=d.l_margin + (d.epw - w) / 2, w=w, h=w / aspect)

    def bytes(self) -> bytes:
        return bytes(self.doc.output())


from fpdf.enums import XPos, YPos  # noqa: E402

from kpi.catalog.model import default_catalog
from kpi.display.export_charts import MIN_FONT_PX
from kpi.store import db
from kpi.views import cache as views
from kpi.workflows import publication


def to_pdf(pack: Pack, catalog: Catalog, progress_cb=None, images: list[bytes] | None = None) -> bytes:
    """A4 landscape: the same sections as the deck, one page per target with its chart filling the
    page under the page's sentence, tables paginated, the Vietnamese font embedded."""
    charts = [c for c in pack_charts(pack, catalog) if c.in_documents]
    if images is None:
        images = chart_images(charts, progress_cb)
    pdf = _PDF(pack.stamp)
    pdf.heading("Chuyển đổi số trong các trường", 22)
    pdf.text(pack.period, 14)
    for line in (pack.unit, pack.source, f"Tạo lúc {fmt_datetime(pack.generated_at)}",
                 SAMPLE_LABEL if pack.is_sample else ""):
        if line:
            pdf.text(line, 12)
    pdf.heading("Tổng hợp các chỉ tiêu")
    if pack.lines:
        pdf.table(summary_table(pack), status_col="Tình trạng")
    else:
        pdf.text(NO_DATA, 12)
    for chart, image in zip(charts, images):
        pdf.heading(chart.title, 15)
        if chart.caption:
            pdf.text(chart.caption, 10)
            pdf.doc.ln(1)
        pdf.image(image, chart.width / chart.height)
    if pack.furthest is not None and len(pack.furthest):
        pdf.heading("Các trường còn xa chỉ tiêu nhất")
        pdf.table(furthest_text(pack.furthest), 9)
    pdf.heading("Tình hình nộp báo cáo")
    pdf.table(completeness_summary(pack).astype({"Số trường": str}), 10)
    pdf.table(submission_text(pack.submissions), status_col=None)
    return pdf.bytes()


def school_pdf(source, catalog: Catalog, scope: Scope, school_id: str, school_year: str, round: str,
               snapshot_id: str | None = None) -> bytes:
    """One school's scorecard as a PDF, from the same view model as the Trường page (a principal
    can only ask for their own school). `source`: a `kpi.views.models.Views` or a read-only connection."""
    v = source if isinstance(source, views.Views) else views.Views.of_connection(source, catalog)
    sc = scope.with_snapshot(snapshot_id)
    card = v.scorecard(sc, school_id, school_year, round)
    if card is None:
        raise ExportError("Bạn không có quyền xuất số liệu của trường này.")
    meta = v.meta()
    snap = snapshots.snapshot_info(v.con, snapshot_id) if snapshot_id else None
    stamp = " · ".join(x for x in (meta.get("unit_name", ""), f"Năm học {school_year} · {round}",
                                    f"Bản chốt {snap['snapshot_id']}" if snap else "Số liệu trực tiếp (chưa chốt)",
                                    f"Tạo lúc {fmt_datetime(dt.datetime.now())}",
                                    SAMPLE_LABEL if meta.get("is_sample") == "true" else "") if x)
    pdf = _PDF(stamp)
    pdf.heading(card.name, 20)
    pdf.text(f"{card.caption} · {card.submission}", 11)
    if card.returned:
        pdf.text(f"Lý do Phòng trả lại: {card.return_reason or '(Phòng không ghi lý do)'}", 11)
    if card.has_data:
        pdf.heading("Việc cần làm tiếp", 14, new_page=False)
        for line in card.next_steps:
            pdf.text("• " + line.replace("**", ""), 10)
        pdf.heading("Các chỉ tiêu", 14, new_page=False)
        pdf.table(pd.DataFrame({
            "Chỉ tiêu": [c.heading for c in card.cards], "Giá trị": [c.value for c in card.cards],
            "Chỉ tiêu đặt ra": [c.target for c in card.cards],
            "Tình trạng": [c.status_text for c in card.cards],
            "So với toàn đơn vị": [c.peers for c in card.cards]}), 9, status_col="Tình trạng")
    else:
        pdf.text("Trường chưa có số liệu kỳ này.", 11)
    if card.maturity is not None:
        m = card.maturity

        done, said = publication.sentence(v.publications(Scope(sc.unit_id, school_id), m.school_year), m.school_year,
                                          school=True)
        pdf.heading(f"Mức độ chuyển đổi số · năm học {m.school_year} " + ("(đã công bố)" if done else "(tạm tính)"),
                    14, new_page=False)
        pdf.text(said, 10)
        pdf.text(m.sources, 10)
        pdf.text(f"Mức của trường (điểm chỉ số): Mức {m.level} · "
                 + " · ".join(f"{g} {p} ({lv})" for g, p, lv in m.groups), 11)
        for road in m.roads:
            pdf.text("• " + road, 10)
    return pdf.bytes()


# ---- every format at once ----------------------------------------------------------------------

def write_all(pack: Pack, catalog: Catalog, formats=FORMATS, progress_cb=None,
              cache: ChartCache | None = None) -> dict[str, bytes]:
    """Every asked format from one pack, the charts drawn once (from the cache when drawn before),
    the XLSX and the HTML written while chromium draws. `progress_cb(fraction, message)` is told
    how far it is. (Writing the other formats side by side, or stamping images while chromium
    draws, was slower on two cores: the threads only fight over the interpreter and the CPU.)"""
    formats = [f for f in FORMATS if f in set(formats)]
    say = progress_cb or (lambda f, m: None)
    out: dict[str, bytes] = {}
    charts = pack_charts(pack, catalog)
    say(0.1, "Đã tổng hợp số liệu")
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
    for f in ("xlsx", "html"):
        if f in formats:
            out[f] = WRITERS[f](pack, catalog)
    if drawer:
        drawer.join()
        if errors:
            raise errors[0]
        say(0.75, "Đã vẽ xong biểu đồ")
        doc_images = [im for c, im in zip(charts, images) if c.in_documents]
        for i, f in enumerate(f for f in ("pptx", "pdf", "png") if f in formats):
            say(0.75 + 0.08 * i, f"Đang ghi tệp {FORMAT_LABELS[f]}")
            out[f] = to_png_zip(pack, catalog, images) if f == "png" else WRITERS[f](pack, catalog, images=doc_images)
    say(1.0, "Xong")
    return {f: out[f] for f in formats}


_WARMED: set = set()
_WARMED_LOCK = threading.Lock()


def warm_pack(store, catalog: Catalog, scope: Scope, school_year: str, round: str,
              snapshot_id: str | None = None) -> threading.Thread | None:
    """Compute a pack's view models and charts in the background, once per file version, scope and
    period (the Báo cáo page calls this when it opens, so the click only draws and writes)."""
    key = (id(store), getattr(store, "identity", None), scope.with_snapshot(snapshot_id), school_year, round)
    with _WARMED_LOCK:
        if key in _WARMED:
            return None
        _WARMED.add(key)

    def run():
        try:
            pack_charts(build_pack(store, catalog, scope, school_year, round, snapshot_id), catalog)
        except Exception:  # noqa: BLE001 - the click will build it and say what went wrong
            with _WARMED_LOCK:
                _WARMED.discard(key)

    t = threading.Thread(target=run, name="kpi-warm-pack", daemon=True)
    t.start()
    return t


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
    import tempfile


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


WRITERS = {"pptx": to_pptx, "pdf": to_pdf, "xlsx": to_xlsx, "html": to_html, "png": to_png_zip}
MIME = {"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html": "text/html", "png": "application/zip"}
EXT = {"pptx": "pptx", "pdf": "pdf", "xlsx": "xlsx", "html": "html", "png": "zip"}
