"""The meeting pack as an A4 landscape PDF: the deck's sections, one page per target with its chart
under the page's sentence, tables paginated, the Vietnamese font embedded. `Document` is the page
frame the school's PDF (kpi.exports.school_pdf) shares."""

from __future__ import annotations

import io

import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_datetime
from kpi.display import figures
from kpi.display.measure import FONT_BOLD, FONT_REGULAR, auto_widths, wrap_lines
from kpi.exports.images import chart_images
from kpi.exports.text import (
    NO_DATA,
    completeness_text,
    furthest_text,
    status_of,
    submissions_list,
    summary_table,
    tint,
)
from kpi.views.pack import SAMPLE_LABEL, Pack, pack_charts


class Document:
    """fpdf2 with the embedded DejaVu font and the stamp in every footer (wrapped inside the page)."""

    MARGIN = 12.0

    def __init__(self, stamp: str):
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
                    st = status_of(text) if c == status_col else None
                    style = FontFace(fill_color=tint(figures.STATUS_COLORS[st], 0.3)) if st else None
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


def to_pdf(pack: Pack, catalog: Catalog, progress_cb=None, images: list[bytes] | None = None) -> bytes:
    """A4 landscape: the same sections as the deck, one page per target with its chart filling the
    page under the page's sentence, tables paginated, the Vietnamese font embedded."""
    charts = [c for c in pack_charts(pack, catalog) if c.in_documents]
    if images is None:
        images = chart_images(charts, progress_cb)
    pdf = Document(pack.stamp)
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
    pdf.table(completeness_text(pack), 10)
    if pack.units_note:
        pdf.text(pack.units_note, 10)
    pdf.table(submissions_list(pack), status_col=None)
    return pdf.bytes()

