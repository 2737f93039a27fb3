"""Exports as a person sees them: the meeting pack in every format and one school's PDF made by
`kpi.exports.export`'s writers and drawn as images: PDF pages by poppler's pdftoppm, PPTX slides by
LibreOffice when it is installed (else the slides' texts), XLSX sheets as HTML tables of their first
rows, the HTML export in the browser; with what `kpi.tools.look` finds in their text.
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from pptx import Presentation

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.common.formatting import fmt_int, fmt_number
from kpi.exports import export, school_pdf
from kpi.store import db
from kpi.tools import look
from kpi.views import cache as views
from kpi.views.pack import build_pack


@dataclass
class ExportView:
    """One exported file as a person sees it: page images, or tables / texts when no image can be made."""

    title: str
    file_name: str
    size: int = 0
    seconds: float = 0.0
    images: list[bytes] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)   # (sheet or slide name, HTML)
    note: str = ""
    problems: list = field(default_factory=list)


def pdf_pages(data: bytes, dpi: int = 70) -> list[bytes]:
    """Every page of a PDF as a PNG (poppler's pdftoppm)."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "f.pdf"
        src.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(src), str(Path(d) / "p")], check=True,
                       capture_output=True, timeout=300)
        return [p.read_bytes() for p in sorted(Path(d).glob("p*.png"), key=lambda p: int(p.stem.split("-")[-1]))]


def pdf_text(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "f.pdf"
        src.write_bytes(data)
        return subprocess.run(["pdftotext", "-layout", str(src), "-"], check=True, capture_output=True,
                              timeout=120).stdout.decode("utf-8", "replace")


def office() -> str | None:
    """LibreOffice's command, when installed (Debian: libreoffice-impress; `make test` or `make gallery` as root)."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def pptx_as_pdf(data: bytes, timeout: float = 240) -> bytes | None:
    """The slides as a PDF through LibreOffice (None when it is not installed)."""
    cmd = office()
    if cmd is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "bao_cao.pptx"
        src.write_bytes(data)
        env = dict(os.environ, HOME=d)  # a profile of its own: never the user's, never locked by another run
        subprocess.run([cmd, "--headless", "--norestore", "--convert-to", "pdf", "--outdir", d, str(src)],
                       check=True, capture_output=True, timeout=timeout, env=env)
        out = Path(d) / "bao_cao.pdf"
        return out.read_bytes() if out.exists() else None


def pptx_texts(data: bytes) -> list[tuple[str, str]]:
    """Each slide's texts (when LibreOffice cannot draw them)."""
    out = []
    for i, slide in enumerate(Presentation(io.BytesIO(data)).slides, 1):
        lines = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                lines += [p.text for p in shape.text_frame.paragraphs if p.text.strip()]
            if getattr(shape, "has_table", False) and shape.has_table:
                lines += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
            if shape.shape_type == 13:  # a picture: a chart image
                lines.append("[hình biểu đồ]")
        out.append((f"Trang chiếu {i}", "<pre>" + html.escape("\n".join(lines)) + "</pre>"))
    return out


def xlsx_tables(data: bytes, rows: int = 15) -> list[tuple[str, str]]:
    """The first rows of every sheet of a workbook, as HTML tables (values as Excel would show
    them: numbers with their number format)."""
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out = []
    for ws in wb.worksheets:
        body = []
        for r, row in enumerate(ws.iter_rows(max_row=rows)):
            cells = []
            for c in row:
                v = c.value
                shown = "" if v is None else _excel_shown(v, getattr(c, "number_format", "General"))
                kind = "num" if isinstance(v, (int, float)) and not isinstance(v, bool) else "txt"
                cells.append(f'<td class="{kind}">{html.escape(shown)}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        out.append((ws.title, f'<table class="sheet">{"".join(body)}</table>'
                              f'<p class="small">{ws.max_row or 0} dòng · {ws.max_column or 0} cột</p>'))
    return out


def _excel_shown(v, number_format: str) -> str:
    """A cell as Excel shows it in a Vietnamese locale (numbers: , for decimals, . for thousands)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v.strftime("%d/%m/%Y") if hasattr(v, "strftime") else str(v)
    if "%" in number_format:
        decimals = len(number_format.split(".")[1].rstrip("%")) if "." in number_format else 0
        return fmt_number(v * 100, decimals) + "%"
    if number_format in ("General", "") and float(v) != int(v):
        return fmt_number(v, 2)
    return fmt_int(v) if float(v) == int(v) else fmt_number(v, 2)


def html_page(data: bytes, browser) -> tuple[list[bytes], str]:
    """The HTML export as a person sees it in a browser, offline: one full-page image at 1280 px,
    and its visible text."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.route("**/*", lambda r: r.abort() if not r.request.url.startswith(("about:", "data:")) else r.continue_())
        page.set_content(data.decode("utf-8"), wait_until="load")
        page.wait_for_timeout(800)
        return [page.screenshot(full_page=True)], page.inner_text("body")
    finally:
        page.close()


def make_exports(db_path: Path, browser=None, codes=frozenset(), log=print) -> list[ExportView]:
    """Every export the Báo cáo page and the CLI make for the newest period (and one school's PDF),
    each drawn as images; what `kpi.tools.look` finds in their text is listed with them."""
    cat = default_catalog()
    con = db.connect(db_path)
    out = []
    try:
        v = views.Views.of_connection(con, cat)
        p = v.periods()
        year = p["school_year"].iloc[0]
        rnd = "CN" if "CN" in set(p.loc[p["school_year"] == year, "round"]) else "HK1"
        t = time.perf_counter()
        pack = build_pack(v, cat, Scope.everything(), year, rnd)
        log(f"  bộ số liệu {year} {rnd}: {fmt_number(time.perf_counter() - t, 1)} s")
        jobs = [(f"Bộ báo cáo họp · {fmt.upper()}", fmt, f"bao_cao_{year}_{rnd}.{export.EXT[fmt]}",
                 (lambda f=fmt: export.WRITERS[f](pack, cat))) for fmt in export.WRITERS]
        jobs.append(("Phiếu của trường TH001 · PDF", "pdf", f"phieu_TH001_{year}_{rnd}.pdf",
                     lambda: school_pdf.school_pdf(v, cat, Scope.everything(), "TH001", year, rnd)))
        for title, fmt, name, make in jobs:
            view = ExportView(title, name)
            t = time.perf_counter()
            try:
                data = make()
                view.size = len(data)
                text = ""
                if fmt == "pdf":
                    view.images = pdf_pages(data)
                    text = pdf_text(data)
                elif fmt == "pptx":
                    drawn = None
                    try:
                        drawn = pptx_as_pdf(data)
                    except (OSError, subprocess.SubprocessError) as e:
                        view.note = f"LibreOffice không vẽ được các trang chiếu ({e.__class__.__name__})."
                    if drawn:
                        view.images = pdf_pages(drawn)
                        view.note = "Vẽ bằng LibreOffice (phông và vị trí có thể khác PowerPoint đôi chút)."
                    else:
                        view.note = view.note or ("Máy không có LibreOffice (Debian: libreoffice-impress): chỉ hiện "
                                                  "chữ của từng trang chiếu.")
                    view.tables = [] if drawn else pptx_texts(data)
                    text = "\n".join(t for _, t in pptx_texts(data))
                elif fmt == "xlsx":
                    view.tables = xlsx_tables(data)
                    text = "\n".join(t for _, t in view.tables)
                elif fmt == "html" and browser is not None:
                    view.images, text = html_page(data, browser)
                elif fmt == "png":
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        view.images = [z.read(n) for n in sorted(z.namelist()) if n.endswith(".png")]
                if text:
                    plain = html.unescape(re.sub(r"<[^>]+>", " ", text)) if fmt in ("xlsx", "pptx") else text
                    view.problems = look.text_problems(plain, codes, title)
            except Exception as e:  # noqa: BLE001 - a broken writer is shown in the gallery, not hidden
                view.note = f"Không tạo được: {e.__class__.__name__}: {e}"
            view.seconds = time.perf_counter() - t
            log(f"  {title}: {fmt_number(view.seconds, 1)} s, {len(view.images)} hình")
            out.append(view)
    finally:
        con.close()
    return out
