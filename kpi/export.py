"""Meeting packs: PPTX, PDF, XLSX, PNG and a self-contained HTML from the same figures as the screen.

`build_pack` gathers a period's figures (live, or from a snapshot) for the caller's scope; the
writers turn it into files. Every file carries the unit, period, snapshot id, generation time and
"Dữ liệu mẫu" when built from the sample. Chart images need chromium (kaleido); when it is
missing, `ExportError` says so and XLSX, CSV and HTML still work.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kpi import cells, figures, maturity, progress, snapshots, tables
from kpi.access import Scope
from kpi.catalog import TARGET_BASES, Catalog
from kpi.formatting import fmt_datetime, fmt_percent

FONTS = Path(__file__).resolve().parent / "assets" / "fonts"
SAMPLE_LABEL = "Dữ liệu mẫu (trường và số liệu giả định)"


class ExportError(RuntimeError):
    """An export that cannot be made, with a message for the user."""


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
    furthest: pd.DataFrame | None = None
    submissions: pd.DataFrame | None = None

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


def build_pack(source, catalog: Catalog, scope: Scope, school_year: str, round: str,
               snapshot_id: str | None = None) -> Pack:
    """Gather a period's district figures (from a snapshot when given) for a meeting pack.

    `source`: the `kpi.views.Views` of the file (the pages' own view models, so a pack shows exactly
    what the pages show, and reuses what they already computed) or a read-only connection."""
    from kpi import views

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
    rows = v.overview(sc, school_year, round).rows
    if "change" not in rows.columns:
        rows = progress.with_change(rows, None)
    prev = v.previous_period(school_year, round)
    pack = Pack(meta.get("unit_name", ""), school_year, round, snap, dt.datetime.now(),
                meta.get("is_sample") == "true", rows)
    for code in catalog.indicators:
        pack.trends[code] = v.indicator_trend(sc, code)
        pack.values[code] = v.school_values(sc, code, (school_year, round), prev)
    my = maturity.index_year_for(school_year, round)
    counts = v.maturity_counts(sc, (my,))
    if len(counts):
        pack.maturity_dist = maturity.distribution(counts, catalog)
        pack.maturity_year = my
    pack.furthest = furthest_schools(pack.values, catalog)
    pack.submissions = v.submission_status(sc, school_year, round)
    return pack


def furthest_schools(values: dict[str, pd.DataFrame], catalog: Catalog, limit: int = 15) -> pd.DataFrame:
    """Schools furthest from the targets: how many targets each misses, and the mean shortfall."""
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
    g = d.groupby(["school_id", "name"]).agg(n=("shortfall", "size"), mean=("shortfall", "mean"),
                                              clauses=("label", lambda s: ", ".join(sorted(set(s)))))
    g = g.sort_values(["n", "mean"], ascending=False).head(limit).reset_index()
    return pd.DataFrame({"Trường": g["name"], "Số chỉ tiêu chưa đạt": g["n"],
                         "Thiếu bình quân": g["mean"], "Các mục": g["clauses"]})


# ---- charts ------------------------------------------------------------------------------

def target_panel(trend: pd.DataFrame, values: pd.DataFrame, title: str) -> go.Figure:
    """One target on one image: district trend with the target line (left), schools (right)."""
    left, right = figures.trend_chart(trend), figures.school_bars(values)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.22,
                        subplot_titles=("Toàn đơn vị qua các kỳ", "Các trường kỳ này"))
    for t in left.data:
        fig.add_trace(t, row=1, col=1)
    for t in right.data:
        t.showlegend = False
        fig.add_trace(t, row=1, col=2)
    fig.update_layout(template=figures.TEMPLATE, title=title, height=560, width=1280, barmode="overlay",
                      legend=dict(orientation="h", y=-0.14, x=0), margin=dict(l=70, r=30, t=80, b=60))
    fig.update_yaxes(ticksuffix="%", row=1, col=1)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9), row=1, col=2)
    fig.update_xaxes(ticksuffix="%", row=1, col=2)
    for a in fig.layout.annotations:
        a.font = dict(color=figures.INK, size=13, family=figures.FONT)
    return fig


_KALEIDO_STARTED = False
_NO_CHROMIUM = ("Không tạo được hình biểu đồ: máy cần trình duyệt Chromium (Debian: apt-get install chromium). "
                "Tệp XLSX, CSV và HTML vẫn xuất được.")


_RENDERER_LOCK = threading.Lock()


def start_local_renderer() -> None:
    """Start kaleido driving chromium (two tabs) in this process, once; ~3 s.
    Raises ExportError when chromium is missing."""
    global _KALEIDO_STARTED
    with _RENDERER_LOCK:
        if _KALEIDO_STARTED:
            return
        try:
            import kaleido

            import tempfile

            kaleido.start_sync_server(n=2, mathjax=False, silence_warnings=True)
            with tempfile.TemporaryDirectory() as d:  # chromium starts on the first image: draw one now
                kaleido.write_fig_from_object_sync([{"fig": go.Figure(), "path": str(Path(d) / "warm.png"),
                                                     "opts": {"format": "png", "width": 64, "height": 64}}])
        except Exception as e:  # noqa: BLE001 - any failure here is "no chart images"
            raise ExportError(_NO_CHROMIUM) from e
        _KALEIDO_STARTED = True


def start_renderer() -> None:
    """Make sure charts can be drawn without waiting: under `kpi serve`, ask the server's one shared
    renderer to start chromium; elsewhere start it in this process. The Báo cáo page calls this in
    the background when it opens, so a pack does not wait for chromium."""
    from kpi import renderer

    path = renderer.socket_path()
    if path is None:
        start_local_renderer()
        return
    try:
        renderer.render_remote(path, [], 0)
    except (OSError, RuntimeError) as e:
        raise ExportError(_NO_CHROMIUM) from e


def render_local(figs: list, width: int = 1280) -> list[bytes]:
    """PNGs of the figures (go.Figure or plotly dicts), drawn in one batch by this process's kaleido."""
    import tempfile

    start_local_renderer()
    try:
        import kaleido

        with tempfile.TemporaryDirectory() as d:
            jobs = [{"fig": f, "path": str(Path(d) / f"{i:03d}.png"),
                     "opts": {"format": "png", "width": width, "height": _height(f)}}
                    for i, f in enumerate(figs)]
            kaleido.write_fig_from_object_sync(jobs)
            return [Path(j["path"]).read_bytes() for j in jobs]
    except Exception as e:  # noqa: BLE001 - any failure here is "no chart images"
        raise ExportError(_NO_CHROMIUM) from e


def _height(fig) -> int:
    layout = fig.get("layout", {}) if isinstance(fig, dict) else fig.layout.to_plotly_json()
    return int(layout.get("height") or 500)


def render_pngs(figs: list[go.Figure], width: int = 1280) -> list[bytes]:
    """PNGs of the figures: by the server's shared renderer under `kpi serve` (one chromium for
    every worker), else by kaleido in this process (started once)."""
    import json

    from kpi import renderer

    path = renderer.socket_path()
    if path is None:
        return render_local(figs, width)
    try:
        return renderer.render_remote(path, [json.loads(f.to_json()) for f in figs], width)
    except (OSError, RuntimeError) as e:
        raise ExportError(_NO_CHROMIUM) from e


def chart_figures(pack: Pack, catalog: Catalog) -> list[tuple[str, go.Figure]]:
    """Every chart of the pack, named, in order."""
    out = [("00_tong_quan", figures.progress_bars(pack.rows, f"Các chỉ tiêu · {pack.period}"))]
    for code, ind in catalog.indicators.items():
        v = pack.values[code]
        if v["value"].notna().any():
            out.append((f"{ind.clause.replace('.', '_')}_{code}",
                        target_panel(pack.trends[code], v, f"{ind.clause} · {ind.label_vi}")))
    if pack.maturity_dist is not None:
        out.append(("muc_do_cds", figures.level_distribution(
            pack.maturity_dist, f"Mức độ chuyển đổi số · năm học {pack.maturity_year} (tạm tính)")))
    return out


# ---- tables shared by the writers --------------------------------------------------------

def summary_table(pack: Pack, catalog: Catalog) -> pd.DataFrame:
    """The summary of all targets (formatted text)."""
    return progress.overview_table(pack.rows, catalog)


def definitions_table(catalog: Catalog, school_year: str) -> pd.DataFrame:
    """Labels, clauses, targets of every indicator (the XLSX's definitions sheet)."""
    rows = []
    for ind in catalog.indicators.values():
        for lv in ind.levels:
            t = catalog.target_for(ind.code, lv, school_year)
            rows.append({"Mã": ind.code, "Mục": ind.clause, "Chỉ tiêu": ind.label_vi, "Cấp học": lv,
                         "Loại": "tỉ lệ" if ind.kind == "ratio" else "có/không",
                         "Tử số": catalog.fields[ind.numerator].label_vi,
                         "Mẫu số": catalog.fields[ind.denominator].label_vi if ind.denominator else "số trường báo cáo",
                         "Chỉ tiêu đặt ra": None if t is None else t.value,
                         "Gần đạt từ": None if t is None else t.near,
                         "Năm học của chỉ tiêu": None if t is None else t.school_year,
                         "Căn cứ": None if t is None else TARGET_BASES[t.basis]})
    return pd.DataFrame(rows)


def completeness_summary(pack: Pack) -> pd.DataFrame:
    s = pack.submissions
    counts = s["status"].value_counts()
    return pd.DataFrame({"Tình trạng": ["Đúng hạn", "Trễ hạn", "Chưa nộp", "Tổng số trường"],
                         "Số trường": [int(counts.get("dung_han", 0)), int(counts.get("tre", 0)),
                                       int(counts.get("chua_nop", 0)), len(s)]})


# ---- writers -----------------------------------------------------------------------------

def to_xlsx(pack: Pack, catalog: Catalog) -> bytes:
    """Data sheets (per target, per school), definitions and metadata; text cells neutralised (kpi.cells)."""
    buf = io.BytesIO()
    with cells.excel_writer(buf) as xw:
        meta = pd.DataFrame({"Mục": ["Đơn vị", "Kỳ", "Nguồn số liệu", "Mã bản chốt", "Mã băm (SHA-256)",
                                     "Tạo lúc", "Ghi chú"],
                             "Giá trị": [pack.unit, pack.period, pack.source,
                                         pack.snapshot["snapshot_id"] if pack.snapshot else "(chưa chốt)",
                                         pack.snapshot["content_hash"] if pack.snapshot else "",
                                         fmt_datetime(pack.generated_at), SAMPLE_LABEL if pack.is_sample else ""]})
        _sheet(xw, meta, "Thông tin", pack.stamp)
        _sheet(xw, summary_table(pack, catalog), "Tổng hợp", pack.stamp)
        _sheet(xw, definitions_table(catalog, pack.school_year), "Định nghĩa", pack.stamp,
               percent=("Chỉ tiêu đặt ra", "Gần đạt từ"))
        wide = []
        for code, ind in catalog.indicators.items():
            v = pack.values[code]
            if v.empty:
                continue
            _sheet(xw, tables.school_table(v), f"{ind.clause} {code}"[:31], f"{ind.clause} {ind.label_vi} · {pack.stamp}",
                   percent=tables.SCHOOL_TABLE_PERCENT, ints=tables.SCHOOL_TABLE_INT)
            wide.append(v[["school_id", "name", "value"]].assign(indicator=f"{ind.clause} {code}"))
        if wide:
            w = pd.concat(wide).pivot_table(index=["school_id", "name"], columns="indicator", values="value",
                                            aggfunc="first").reset_index()
            w = w.rename(columns={"school_id": "Mã trường", "name": "Trường"})
            _sheet(xw, w, "Theo trường", pack.stamp, percent=tuple(c for c in w.columns if c not in ("Mã trường", "Trường")))
        if pack.submissions is not None:
            _sheet(xw, tables.submission_table(pack.submissions), "Nộp báo cáo", pack.stamp)
    return buf.getvalue()


def _sheet(xw, df: pd.DataFrame, name: str, stamp: str, percent=(), ints=()) -> None:
    data = cells.write_frame(xw, df, name, startrow=2)
    ws, wb = xw.sheets[name], xw.book
    cells.write_cell(ws, 0, 0, stamp, wb.add_format({"italic": True, "font_color": "#555555"}))
    pct, whole = wb.add_format({"num_format": "0.0%"}), wb.add_format({"num_format": "#,##0"})
    for i, c in enumerate(df.columns):
        width = min(60, max(10, len(str(c)) + 2, tables.column_width(data.iloc[:, i])))
        ws.set_column(i, i, width, pct if c in percent else whole if c in ints else None)
    ws.freeze_panes(3, 0)


def to_html(pack: Pack, catalog: Catalog) -> bytes:
    """One self-contained, offline HTML file: plotly.js inlined once, every chart and table."""
    from plotly.offline import get_plotlyjs

    parts = [f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>{html.escape(pack.period)}</title>",
             "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1f2937;margin:24px}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px}"
             ".stamp{color:#555;font-style:italic}.sample{background:#fff3cd;padding:4px 8px}</style>",
             f"<script>{get_plotlyjs()}</script></head><body>",
             f"<h1>Báo cáo chuyển đổi số · {html.escape(pack.period)}</h1>",
             f"<p class='stamp'>{html.escape(pack.stamp)}</p>"]
    if pack.is_sample:
        parts.append(f"<p class='sample'>{SAMPLE_LABEL}</p>")
    parts.append("<h2>Tổng hợp các chỉ tiêu</h2>" + summary_table(pack, catalog).to_html(index=False, escape=True))
    for name, fig in chart_figures(pack, catalog):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
    parts.append("<h2>Các trường còn xa chỉ tiêu nhất</h2>" + _fmt_furthest(pack.furthest).to_html(index=False))
    parts.append("<h2>Tình hình nộp báo cáo</h2>" + completeness_summary(pack).to_html(index=False))
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _fmt_furthest(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if len(out):
        out["Thiếu bình quân"] = [fmt_percent(v).replace("%", " điểm %") for v in out["Thiếu bình quân"]]
    return out


def to_png_zip(pack: Pack, catalog: Catalog) -> bytes:
    """A zip with one PNG per chart."""
    buf = io.BytesIO()
    charts = chart_figures(pack, catalog)
    images = render_pngs([f for _, f in charts])
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for (name, _), image in zip(charts, images):
            z.writestr(f"{name}.png", image)
    return buf.getvalue()


def to_pptx(pack: Pack, catalog: Catalog, progress_cb=None) -> bytes:
    """A 16:9 deck: title, summary table, one slide per target, maturity, furthest schools,
    completeness; each slide carries the stamp."""
    from pptx import Presentation
    from pptx.util import Emu, Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)  # 16:9, 13,333 × 7,5 in
    blank = prs.slide_layouts[6]

    def slide(title: str):
        s = prs.slides.add_slide(blank)
        tb = s.shapes.add_textbox(Inches(0.4), Inches(0.2), Inches(12.5), Inches(0.8)).text_frame
        tb.text = title
        tb.paragraphs[0].runs[0].font.size = Pt(26)
        tb.paragraphs[0].runs[0].font.bold = True
        foot = s.shapes.add_textbox(Inches(0.4), Inches(7.0), Inches(12.5), Inches(0.4)).text_frame
        foot.text = pack.stamp
        foot.paragraphs[0].runs[0].font.size = Pt(9)
        return s

    s = prs.slides.add_slide(blank)
    box = s.shapes.add_textbox(Inches(0.8), Inches(2.0), Inches(11.7), Inches(4)).text_frame
    box.text = "Chuyển đổi số trong các trường"
    box.paragraphs[0].runs[0].font.size = Pt(40)
    box.paragraphs[0].runs[0].font.bold = True
    for line in (pack.unit, pack.period, pack.source, f"Ngày {pack.generated_at:%d/%m/%Y}",
                 SAMPLE_LABEL if pack.is_sample else ""):
        if line:
            p = box.add_paragraph()
            p.text = line
            p.runs[0].font.size = Pt(20)

    summary = summary_table(pack, catalog)[["Mục", "Chỉ tiêu", "Cấp học", "Giá trị", "Chỉ tiêu đặt ra",
                                             "Tình trạng", "Khoảng cách"]]
    for start in range(0, len(summary), 12):
        _pptx_table(slide(f"Tổng hợp các chỉ tiêu ({start // 12 + 1})"), summary.iloc[start:start + 12], Inches, Pt)
    charts = chart_figures(pack, catalog)[1:]
    if progress_cb:
        progress_cb(0.2, f"Đang vẽ {len(charts)} biểu đồ")
    for (name, fig), image in zip(charts, render_pngs([f for _, f in charts])):
        s = slide(fig.layout.title.text or name)
        s.shapes.add_picture(io.BytesIO(image), Inches(0.4), Inches(1.1), width=Inches(12.5))
    _pptx_table(slide("Các trường còn xa chỉ tiêu nhất"), _fmt_furthest(pack.furthest).head(12), Inches, Pt)
    _pptx_table(slide("Tình hình nộp báo cáo"), completeness_summary(pack), Inches, Pt)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def _pptx_table(s, df: pd.DataFrame, Inches, Pt) -> None:
    rows, cols = len(df) + 1, len(df.columns)
    shape = s.shapes.add_table(rows, cols, Inches(0.4), Inches(1.1), Inches(12.5), Inches(0.4) * rows)
    t = shape.table
    for j, c in enumerate(df.columns):
        t.cell(0, j).text = str(c)
    for i, row in enumerate(df.itertuples(index=False), start=1):
        for j, v in enumerate(row):
            t.cell(i, j).text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
    for i in range(rows):
        for j in range(cols):
            for p in t.cell(i, j).text_frame.paragraphs:
                for r in p.runs:
                    r.font.size = Pt(11)


class _PDF:
    """fpdf2 with the embedded DejaVu font and the stamp in every footer."""

    def __init__(self, stamp: str):
        from fpdf import FPDF

        class Doc(FPDF):
            def footer(self):
                self.set_y(-12)
                self.set_font("DejaVu", "", 7)
                self.cell(0, 8, f"{stamp} · trang {self.page_no()}", align="L")

        self.doc = Doc(orientation="L", format="A4")
        self.doc.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        self.doc.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.doc.set_auto_page_break(True, margin=15)

    def heading(self, text: str, size: int = 16, new_page: bool = True) -> None:
        if new_page:
            self.doc.add_page()
        self.doc.set_font("DejaVu", "B", size)
        self.doc.multi_cell(0, 9, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.doc.ln(2)

    def text(self, text: str, size: int = 10) -> None:
        self.doc.set_font("DejaVu", "", size)
        self.doc.multi_cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(self, df: pd.DataFrame, size: int = 8) -> None:
        self.doc.set_font("DejaVu", "", size)
        with self.doc.table(text_align="LEFT", line_height=4.5, repeat_headings=1) as t:
            t.row([str(c) for c in df.columns])
            for row in df.itertuples(index=False):
                t.row(["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in row])
        self.doc.ln(3)

    def image(self, data: bytes, width: float = 270) -> None:
        self.doc.image(io.BytesIO(data), w=width)

    def bytes(self) -> bytes:
        return bytes(self.doc.output())


from fpdf.enums import XPos, YPos  # noqa: E402


def to_pdf(pack: Pack, catalog: Catalog) -> bytes:
    """A4 landscape: the same sections as the deck, tables paginated, Vietnamese font embedded."""
    pdf = _PDF(pack.stamp)
    pdf.heading(f"Chuyển đổi số trong các trường · {pack.period}", 20)
    for line in (pack.unit, pack.source, f"Tạo lúc {fmt_datetime(pack.generated_at)}",
                 SAMPLE_LABEL if pack.is_sample else ""):
        if line:
            pdf.text(line, 12)
    pdf.heading("Tổng hợp các chỉ tiêu")
    pdf.table(summary_table(pack, catalog)[["Mục", "Chỉ tiêu", "Cấp học", "Giá trị", "Chỉ tiêu đặt ra",
                                             "Tình trạng", "Khoảng cách", "Trường báo cáo"]])
    charts = chart_figures(pack, catalog)[1:]
    for (name, fig), image in zip(charts, render_pngs([f for _, f in charts])):
        pdf.heading(fig.layout.title.text or name, 13)
        pdf.image(image)
    pdf.heading("Các trường còn xa chỉ tiêu nhất")
    pdf.table(_fmt_furthest(pack.furthest))
    pdf.heading("Tình hình nộp báo cáo")
    pdf.table(completeness_summary(pack), 10)
    pdf.table(tables.submission_table(pack.submissions))
    return pdf.bytes()


def school_pdf(source, catalog: Catalog, scope: Scope, school_id: str, school_year: str, round: str,
               snapshot_id: str | None = None) -> bytes:
    """One school's scorecard as a PDF, from the same view model as the Trường page (a principal
    can only ask for their own school). `source`: a `kpi.views.Views` or a read-only connection."""
    from kpi import views

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
    if card.has_data:
        pdf.heading("Việc cần làm tiếp", 14, new_page=False)
        for line in card.next_steps:
            pdf.text("• " + line.replace("**", ""), 10)
        pdf.heading("Các chỉ tiêu", 14, new_page=False)
        pdf.table(pd.DataFrame({
            "Chỉ tiêu": [c.heading for c in card.cards], "Giá trị": [c.value for c in card.cards],
            "Chỉ tiêu đặt ra": [c.target for c in card.cards],
            "Tình trạng": [progress.STATUS_LABELS[c.status] for c in card.cards],
            "So với toàn đơn vị": [c.peers for c in card.cards]}))
    else:
        pdf.text("Trường chưa có số liệu kỳ này.", 11)
    if card.maturity is not None:
        m = card.maturity
        pdf.heading(f"Mức độ chuyển đổi số · năm học {m.school_year} (tạm tính)", 14, new_page=False)
        pdf.text(f"Mức của trường: Mức {m.level} · " + " · ".join(f"{g} {p} ({lv})" for g, p, lv in m.groups), 11)
        for road in m.roads:
            pdf.text("• " + road, 10)
    return pdf.bytes()


WRITERS = {"pptx": to_pptx, "pdf": to_pdf, "xlsx": to_xlsx, "html": to_html, "png": to_png_zip}
MIME = {"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html": "text/html", "png": "application/zip"}
EXT = {"pptx": "pptx", "pdf": "pdf", "xlsx": "xlsx", "html": "html", "png": "zip"}
