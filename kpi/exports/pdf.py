"""The meeting pack as an A4 landscape PDF: the deck's sections, one page per target with its chart
under the page's sentence, tables paginated, the Vietnamese font embedded. `Document` is the page
frame the school's PDF (kpi.exports.school_pdf) shares."""

from __future__ import annotations

import io

import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_datetime
from kpi.display import figures
from kpi.display.measure import FONT_BOLD, FONT_REGULAR, auto_widths, text_width, wrap_lines
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


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def _wrapped(text: str, width: float, size: float, bold: bool) -> list[str]:
    """`text` wrapped at words into lines of `width` (mm, at `size` mm); a word wider than that is cut."""
    out = []
    for line in wrap_lines(text, width, size, bold):
        while len(line) > 1 and text_width(line, size, bold) > width:
            n = len(line) - 1
            while n > 1 and text_width(line[:n], size, bold) > width:
                n -= 1
            out.append(line[:n])
            line = line[n:]
        out.append(line)
    return out


class Document:
    """fpdf2 with the embedded DejaVu font and the stamp in every footer (wrapped inside the page)."""

    MARGIN = 12.0

    def __init__(self, stamp: str):
        margin = self.MARGIN

        class Doc(FPDF):
            lines: list[str] = []

            def footer(self):
                # wrapped once (the stamp and "trang 999/999" at its widest), each line a plain cell: fpdf's own
                # line breaking cost the pack 13 ms a page
                if not self.lines:
                    self.lines = wrap_lines(f"{stamp} · trang 999/999", self.epw - 2, 7 * 0.3528)
                    self.lines[-1] = self.lines[-1].removesuffix("999/999").rstrip()
                self.set_font("DejaVu", "", 7)
                self.set_y(-(6 + 3.2 * len(self.lines)))
                self.set_text_color(85, 85, 85)
                last = len(self.lines) - 1
                for i, line in enumerate(self.lines):
                    text = f"{line} {self.page_no()}/{{nb}}".lstrip() if i == last else line
                    self.cell(self.epw, 3.2, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
        """A table whose columns share the page by what they hold (a long name gets the room), its heading
        row again at the top of every page it runs onto. Laid out here (each cell wrapped with the font's
        own widths, each line a plain cell): fpdf's table broke every cell's lines character by character,
        a second of the pack's CPU on the clicks of a deadline rush."""
        d = self.doc
        mm = size * 0.3528  # the font size in mm, as kpi.display.measure measures
        texts = [[str(c)] + ["" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in df[c]]
                 for c in df.columns]
        pad, vpad, line_h = 1.2, 0.8, size * 0.5

        def measure(t):
            return text_width(t, mm, bold=True)

        natural = sum(max(measure(t) for t in col) + 2 * pad + 1 for col in texts)
        width = d.epw if natural > d.epw * 0.6 else natural * 1.2  # a small table stays small
        widths = auto_widths(texts, width, measure, 2 * pad + 1)
        status_j = list(df.columns).index(status_col) if status_col in df.columns else None
        header_fill = (243, 244, 246)

        def row(cells: list[str], bold: bool, fills: list) -> None:
            lines = [_wrapped(t, w - 2 * pad, mm, bold) for t, w in zip(cells, widths)]
            h = max(map(len, lines)) * line_h + 2 * vpad
            if d.get_y() + h > d.page_break_trigger and not bold:
                d.add_page()
                heading_row()
            x0, y0 = d.l_margin, d.get_y()
            d.set_font("DejaVu", "B" if bold else "", size)
            x = x0
            for cell_lines, w, fill in zip(lines, widths, fills):
                if fill:
                    d.set_fill_color(*fill)
                d.rect(x, y0, w, h, style="DF" if fill else "D")
                top = y0 + (h - len(cell_lines) * line_h) / 2  # the lines in the middle of the row's height
                for k, line in enumerate(cell_lines):
                    d.set_xy(x + pad, top + k * line_h)
                    d.cell(w - 2 * pad, line_h, line, align="L")
                x += w
            d.set_xy(x0, y0 + h)

        def heading_row() -> None:
            row([col[0] for col in texts], True, [header_fill] * len(texts))

        auto, margin = d.auto_page_break, d.b_margin
        c_margin, d.c_margin = d.c_margin, 0
        d.set_auto_page_break(False, margin=margin)  # rows break the page here, whole, with the heading row again
        try:
            if d.get_y() + 3 * line_h > d.page_break_trigger:
                d.add_page()
            heading_row()
            for i in range(1, len(texts[0])):
                cells = [col[i] for col in texts]
                st = status_of(cells[status_j]) if status_j is not None else None
                fills = [_rgb(tint(figures.STATUS_COLORS[st], 0.3)) if st and j == status_j else None
                         for j in range(len(cells))]
                row(cells, False, fills)
        finally:
            d.c_margin = c_margin
            d.set_auto_page_break(auto, margin=margin)
            d.set_font("DejaVu", "", size)
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

