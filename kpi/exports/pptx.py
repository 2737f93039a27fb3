"""The meeting pack as a 16:9 deck: every text measured with the font it is set in, so it fits
its box; tables spread over as many slides as they need."""

from __future__ import annotations

import io

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.util import Emu, Inches, Pt

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_datetime
from kpi.display import figures
from kpi.display.measure import FONT_NAME, auto_widths, text_width, wrap_lines
from kpi.exports.images import chart_images
from kpi.exports.text import NO_DATA, completeness_text, furthest_text, status_of, summary_table, tint
from kpi.views.pack import SAMPLE_LABEL, Pack, pack_charts

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
                st = status_of(text) if c == status_col else None
                if st:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = RGBColor.from_string(tint(figures.STATUS_COLORS[st], 0.3).lstrip("#"))


def _pptx_cell(cell, text: str, size: float, bold: bool = False) -> None:
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
    _pptx_tables(new_slide, "Tình hình nộp báo cáo", completeness_text(pack), size=14)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
