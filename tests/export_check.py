"""Read every exported file back the way a person sees it and list what is wrong with it.

Used by tests/test_export_check.py on every format of the meeting pack (and the school PDF), each
check paired there with a file made wrong on purpose. The rules are written out here, not imported
from the writers of kpi.exports, so a mistake in the writers cannot hide itself: text is measured with the font's
own metrics read by fontTools (the writers use PIL), PDFs are read by poppler, XLSX by openpyxl,
PPTX by python-pptx.

- every text: no "None", "nan", "NaN", "NaT", "<NA>", "null"; no English decimals (0.875, 17.5%);
  no internal code of the catalog (indicator, field, theme, status codes; any snake_case word);
- PDF: every word inside the page (pdftotext -bbox), every font embedded (pdffonts);
- PPTX: every shape inside the slide, every text inside its box (word-wrapped at the box width with
  the DejaVu metrics), every table's rows (grown to fit their text) above the slide's bottom and
  clear of the other shapes;
- XLSX: numbers stored as numbers with a number format, no number, percentage or date stored as
  text, dates as date cells shown dd/mm/yyyy, header row frozen, filters, column widths set;
- figures as exported: percentage axes from 0 up to at least the largest value, every target
  line inside the axis (not on its frame), bars coloured by status named in the legend in words
  and carrying their status icon or word.
"""

from __future__ import annotations

import functools
import html.parser
import io
import math
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FONTS = ROOT / "kpi" / "assets" / "fonts"
EMU_PER_PT = 12700


@dataclass(frozen=True)
class Problem:
    """Something a reader would see wrong: where, what, why."""

    where: str
    what: str
    why: str


# ---- text --------------------------------------------------------------------------------------

MISSING = re.compile(r"(?<![\w])(None|nan|NaN|NaT|null)(?![\w])|<NA>")
NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
VIETNAMESE_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?")
SNAKE = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w-])")


def catalog_codes(catalog) -> set[str]:
    """The internal codes a reader must never see (each has a Vietnamese label in the catalog)."""
    from kpi.catalog.model import OWNERSHIP_LABELS, TARGET_BASES
    from kpi.domain import progress

    codes = set(catalog.indicators) | set(catalog.fields) | set(catalog.themes) | set(progress.STATUS_LABELS)
    codes |= set(TARGET_BASES) | set(OWNERSHIP_LABELS) | {"dung_han", "tre", "chua_nop", "ratio", "bool"}
    return {c for c in codes if "_" in c or len(c) >= 4}


def text_problems(items, codes: set[str] = frozenset()) -> list[Problem]:
    """Every (where, text): missing-value words, English decimals, internal codes."""
    code_re = (re.compile(r"(?<![\w])(" + "|".join(map(re.escape, sorted(codes, key=len, reverse=True)))
                          + r")(?![\w])")
               if codes else None)
    out = []
    for where, text in items:
        if not isinstance(text, str) or not text:
            continue
        for m in MISSING.finditer(text):
            out.append(Problem(where, _around(text, m), f"giá trị thiếu viết thành {m.group(0)!r}"))
        for m in NUMBER.finditer(text):
            tok = m.group(0)
            if "." in tok and not VIETNAMESE_THOUSANDS.fullmatch(tok):
                out.append(Problem(where, _around(text, m), f"số viết kiểu tiếng Anh {tok!r}"))
        for m in SNAKE.finditer(text):
            out.append(Problem(where, _around(text, m), f"mã nội bộ {m.group(0)!r}"))
        if code_re:
            for m in code_re.finditer(text):
                if not SNAKE.fullmatch(m.group(0)):
                    out.append(Problem(where, _around(text, m), f"mã nội bộ {m.group(0)!r}"))
    return out


def _around(text: str, m) -> str:
    return text[max(0, m.start() - 30):m.end() + 30]


# ---- fonts -------------------------------------------------------------------------------------

class Metrics:
    """Advance widths and line height of one TrueType font, read with fontTools."""

    def __init__(self, path: Path):
        from fontTools.ttLib import TTFont

        f = TTFont(str(path))
        self.cmap = f.getBestCmap()
        self.advance = {g: m[0] for g, m in f["hmtx"].metrics.items()}
        self.upm = f["head"].unitsPerEm
        hhea = f["hhea"]
        self.line = (hhea.ascent - hhea.descent + hhea.lineGap) / self.upm  # DejaVu Sans: 1,164

    def width(self, text: str, size: float) -> float:
        return sum(self.advance.get(self.cmap.get(ord(ch), ".notdef"), self.upm // 2) for ch in text) * size / self.upm

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        lines = []
        for para in text.split("\n"):
            line = ""
            for word in para.split():
                cand = f"{line} {word}" if line else word
                if line and self.width(cand, size) > width:
                    lines.append(line)
                    line = word
                else:
                    line = cand
            lines.append(line)
        return lines


@functools.lru_cache(maxsize=2)
def metrics(bold: bool = False) -> Metrics:
    return Metrics(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"))


# ---- PDF ---------------------------------------------------------------------------------------

WORD = re.compile(r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>')
PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')


MEDIABOX = re.compile(rb"(/MediaBox\s*)\[([^\]]*)\]")


def _grown(data: bytes) -> tuple[bytes, bool]:
    """The PDF with every page box grown by a page on each side. poppler drops characters that lie
    wholly outside the page, so a word that ran off it would otherwise go unseen (the xref offsets
    move; poppler rebuilds them)."""
    def grow(m):
        x0, y0, x1, y1 = (float(v) for v in m.group(2).split())
        w, h = x1 - x0, y1 - y0
        return m.group(1) + f"[{x0 - w:.3f} {y0 - h:.3f} {x1 + w:.3f} {y1 + h:.3f}]".encode()
    out, n = MEDIABOX.subn(grow, data)
    return out, n > 0


def pdf_words(data: bytes) -> list[tuple[int, float, float, tuple[float, float, float, float], str]]:
    """(page, page width, page height, (x0, y0, x1, y1), word) for every word drawn, also those
    outside the page, in points from the page's top left corner."""
    grown, moved = _grown(data)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.pdf"
        f.write_bytes(grown)
        out = subprocess.run(["pdftotext", "-bbox", str(f), "-"], capture_output=True, text=True, check=True).stdout
    words, page, size, shift = [], 0, (0.0, 0.0), (0.0, 0.0)
    for line in out.splitlines():
        if m := PAGE.search(line):
            page += 1
            w, h = float(m.group(1)), float(m.group(2))
            size, shift = ((w / 3, h / 3), (w / 3, h / 3)) if moved else ((w, h), (0.0, 0.0))
        elif m := WORD.search(line):
            x0, y0, x1, y1 = (float(m.group(i)) for i in range(1, 5))
            box = (x0 - shift[0], y0 - shift[1], x1 - shift[0], y1 - shift[1])
            words.append((page, *size, box, html.unescape(m.group(5))))
    return words


def pdf_problems(data: bytes, margin_mm: float = 2.0, codes: set[str] = frozenset()) -> list[Problem]:
    """Words outside the page (or within `margin_mm` of its edge), fonts not embedded, bad text."""
    m = margin_mm * 72 / 25.4
    out = []
    for page, w, h, (x0, y0, x1, y1), word in pdf_words(data):
        if x0 < m or y0 < m or x1 > w - m or y1 > h - m:
            out.append(Problem(f"trang {page}", word, f"chữ ra ngoài trang ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f})"
                                                      f" trên trang {w:.0f}×{h:.0f}"))
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.pdf"
        f.write_bytes(data)
        fonts = subprocess.run(["pdffonts", str(f)], capture_output=True, text=True, check=True).stdout
        text = subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True, check=True).stdout
    for line in fonts.splitlines()[2:]:
        cols = line.split()
        # name type [encoding] emb sub uni object ID: "emb" is the 5th field from the end
        if len(cols) >= 7 and cols[-5] != "yes":
            out.append(Problem("phông chữ", cols[0], "phông chữ không được nhúng"))
    pages = text.split("\f")
    out += text_problems(((f"trang {i + 1}", p) for i, p in enumerate(pages)), codes)
    return out


# ---- PPTX --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    name: str
    x0: float
    y0: float
    x1: float
    y1: float


def _runs_size(paragraph, default: float = 18.0) -> tuple[float, bool]:
    sizes = [(r.font.size.pt if r.font.size else default, bool(r.font.bold)) for r in paragraph.runs]
    return max(sizes) if sizes else (default, False)


def _needed_height(tf, width_pt: float, ins: tuple[float, float, float, float]) -> tuple[float, list[str]]:
    """Height (pt) the text frame's paragraphs need at this width, and lines wider than the box."""
    left, right, top, bottom = ins
    avail = width_pt - left - right
    total, too_wide = top + bottom, []
    wrap = tf.word_wrap is not False and tf._bodyPr.get("wrap") != "none"
    for p in tf.paragraphs:
        size, bold = _runs_size(p)
        text = "".join(r.text for r in p.runs)
        m = metrics(bold)
        lines = m.wrap(text, avail, size) if wrap else text.split("\n")
        too_wide += [ln for ln in lines if m.width(ln, size) > avail + 0.5]
        total += len(lines) * size * m.line
    return total, too_wide


def _insets(tf_or_cell, kind: str) -> tuple[float, float, float, float]:
    if kind == "cell":
        c = tf_or_cell
        return tuple((v if v is not None else d) / EMU_PER_PT for v, d in
                     ((c.margin_left, 91440), (c.margin_right, 91440), (c.margin_top, 45720), (c.margin_bottom, 45720)))
    tf = tf_or_cell
    return tuple((v if v is not None else d) / EMU_PER_PT for v, d in
                 ((tf.margin_left, 91440), (tf.margin_right, 91440), (tf.margin_top, 45720), (tf.margin_bottom, 45720)))


def pptx_problems(data: bytes, codes: set[str] = frozenset(), tolerance_pt: float = 0.5) -> list[Problem]:
    """Shapes outside the slide, text that does not fit its box, tables growing past the slide's
    bottom or into another shape, bad text."""
    from pptx import Presentation

    prs = Presentation(io.BytesIO(data))
    sw, sh = prs.slide_width / EMU_PER_PT, prs.slide_height / EMU_PER_PT
    out, texts = [], []
    for n, slide in enumerate(prs.slides, start=1):
        where = f"trang chiếu {n}"
        boxes = []
        for shape in slide.shapes:
            x0, y0 = shape.left / EMU_PER_PT, shape.top / EMU_PER_PT
            x1, y1 = x0 + shape.width / EMU_PER_PT, y0 + shape.height / EMU_PER_PT
            label = shape.name
            if shape.has_text_frame:
                tf = shape.text_frame
                texts.append((where, tf.text))
                label = tf.text[:40] or shape.name
                need, wide = _needed_height(tf, x1 - x0, _insets(tf, "box"))
                if need > (y1 - y0) + tolerance_pt:
                    out.append(Problem(where, tf.text[:80], f"chữ cần cao {need:.0f} pt, khung chỉ {y1 - y0:.0f} pt"))
                for ln in wide:
                    out.append(Problem(where, ln[:80], "dòng chữ rộng hơn khung"))
            if shape.has_table:
                t = shape.table
                widths = [c.width / EMU_PER_PT for c in t.columns]
                height = 0.0
                for r, row in enumerate(t.rows):
                    row_need = row.height / EMU_PER_PT
                    for c, cell in enumerate(row.cells):
                        texts.append((where, cell.text_frame.text))
                        need, wide = _needed_height(cell.text_frame, widths[c], _insets(cell, "cell"))
                        row_need = max(row_need, need)
                        for ln in wide:
                            out.append(Problem(where, ln[:80], f"chữ rộng hơn ô (hàng {r + 1}, cột {c + 1})"))
                    height += row_need
                y1 = y0 + height  # rows grow to fit their text when the slide is shown
                label = f"bảng {t.cell(0, 0).text_frame.text[:20]}"
            if x0 < -tolerance_pt or y0 < -tolerance_pt or x1 > sw + tolerance_pt or y1 > sh + tolerance_pt:
                out.append(Problem(where, label, f"ra ngoài trang chiếu: ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}) "
                                                 f"trên {sw:.0f}×{sh:.0f} pt"))
            boxes.append(Box(label, x0, y0, x1, y1))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                if (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance_pt
                        and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance_pt):
                    out.append(Problem(where, f"{a.name} / {b.name}", "hai khung chồng lên nhau"))
    return out + text_problems(texts, codes)


def pptx_texts(data: bytes) -> list[str]:
    from pptx import Presentation

    prs = Presentation(io.BytesIO(data))
    out = []
    for s in prs.slides:
        for sh in s.shapes:
            if sh.has_text_frame:
                out.append(sh.text_frame.text)
            if sh.has_table:
                out += [c.text_frame.text for row in sh.table.rows for c in row.cells]
    return out


# ---- XLSX --------------------------------------------------------------------------------------

NUMBER_AS_TEXT = re.compile(r"[+\-−]?\d[\d.,]*\s*%?|[+\-−]?\d[\d.,]*\s*(điểm %)")
DATE_AS_TEXT = re.compile(r"\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2})?|\d{4}-\d{2}-\d{2}.*")
PLACEHOLDERS = {"—", "-", "–", "N/A", "n/a"}


def xlsx_problems(data: bytes, codes: set[str] = frozenset()) -> list[Problem]:
    """Numbers, percentages and dates stored as text; numbers without a number format; dates not
    shown dd/mm/yyyy; sheets without a frozen header row, filters or column widths; bad text."""
    import datetime as dt

    import openpyxl
    from openpyxl.utils import get_column_letter, range_boundaries

    wb = openpyxl.load_workbook(io.BytesIO(data))
    out, texts = [], []
    for ws in wb.worksheets:
        texts.append((f"tên trang tính {ws.title}", ws.title))
        if not ws.freeze_panes:
            out.append(Problem(ws.title, "", "không cố định dòng tiêu đề"))
            header_row = 1
        else:
            header_row = ws[ws.freeze_panes].row - 1
        if not ws.auto_filter.ref:
            out.append(Problem(ws.title, "", "không có bộ lọc"))
        elif range_boundaries(ws.auto_filter.ref)[1] != header_row:
            out.append(Problem(ws.title, ws.auto_filter.ref, f"bộ lọc không ở dòng tiêu đề {header_row}"))
        headers, widths = {}, {}
        for dim in ws.column_dimensions.values():  # one <col> may cover several columns
            if dim.customWidth and dim.width and dim.min:
                widths.update({i: dim.width for i in range(dim.min, (dim.max or dim.min) + 1)})
        for c in range(1, ws.max_column + 1):
            v = ws.cell(header_row, c).value
            headers[c] = v
            letter = get_column_letter(c)
            if any(ws.cell(r, c).value not in (None, "") for r in range(header_row, ws.max_row + 1)) and \
                    not widths.get(c):
                out.append(Problem(ws.title, letter, "chưa đặt độ rộng cột"))
            if v in (None, "") and ws.max_row > header_row:
                out.append(Problem(ws.title, f"{letter}{header_row}", "cột không có tiêu đề"))
        for row in ws.iter_rows():
            for cell in row:
                v, where = cell.value, f"{ws.title}!{cell.coordinate}"
                if v is None:
                    continue
                if isinstance(v, str):
                    texts.append((where, v))
                    if cell.row <= header_row:
                        continue
                    header = str(headers.get(cell.column) or "")
                    s = v.strip()
                    if s in PLACEHOLDERS:
                        out.append(Problem(where, v, "ô trống ghi bằng ký hiệu (để trống ô)"))
                    elif DATE_AS_TEXT.fullmatch(s):
                        out.append(Problem(where, v, "ngày lưu dạng chữ"))
                    elif NUMBER_AS_TEXT.fullmatch(s) and not header.startswith("Mã"):
                        out.append(Problem(where, v, "số lưu dạng chữ"))
                elif isinstance(v, bool):
                    continue
                elif isinstance(v, (dt.datetime, dt.date)):
                    if "dd/mm/yyyy" not in cell.number_format.lower():
                        out.append(Problem(where, str(v),
                                           f"ngày hiển thị {cell.number_format!r}, không phải dd/mm/yyyy"))
                elif isinstance(v, (int, float)) and cell.row > header_row and cell.number_format in ("General", "@"):
                    out.append(Problem(where, str(v), "số không có định dạng số"))
    return out + text_problems(texts, codes)


# ---- HTML --------------------------------------------------------------------------------------

class _Visible(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def html_texts(data: bytes) -> list[str]:
    """The text a reader sees in the HTML (scripts and styles left out)."""
    p = _Visible()
    p.feed(data.decode("utf-8"))
    return p.texts


# ---- figures -----------------------------------------------------------------------------------

def figure_texts(fig: dict) -> list[str]:
    """Every text a figure shows: titles, legend names, tick texts, bar and point labels, notes."""
    out = []
    lay = fig.get("layout", {})

    def title(t):
        return t.get("text") if isinstance(t, dict) else t

    out.append(title(lay.get("title")))
    for k, ax in lay.items():
        if k.startswith(("xaxis", "yaxis")) and isinstance(ax, dict):
            out.append(title(ax.get("title")))
            out += [str(t) for t in ax.get("ticktext") or []]
    out += [a.get("text") for a in lay.get("annotations") or []]
    for t in fig.get("data", []):
        if t.get("showlegend") is not False:
            out.append(t.get("name"))
        for key in ("text", "y" if t.get("orientation") == "h" else "x"):
            out += [v for v in _array(t.get(key)) if isinstance(v, str)]
    return [re.sub(r"<[^>]+>", " ", s) for s in out if isinstance(s, str) and s]


def _array(v) -> list:
    """A trace's data as a list (plotly writes numpy data as {"dtype", "bdata"}: base64 of the array)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    if v is None or isinstance(v, str):
        return [] if v is None else [v]
    return list(v)


def _axis_values(fig: dict, axis: str) -> list[float]:
    """Numbers drawn against an axis ('xaxis2' ...) by every trace."""
    letter, ref = axis[0], "x" + axis[5:] if axis.startswith("x") else "y" + axis[5:]
    vals = []
    for t in fig.get("data", []):
        if (t.get(f"{letter}axis") or letter) != ref:
            continue
        if t.get("orientation") == "h" and letter == "y" or t.get("orientation") != "h" and letter == "x" and \
                t.get("type", "scatter") == "bar":
            continue  # categories
        for v in _array(t.get(letter)):
            try:
                if v is not None and not math.isnan(float(v)):
                    vals.append(float(v))
            except (TypeError, ValueError):
                pass
    return vals


def _is_percent_axis(ax: dict) -> bool:
    return ax.get("ticksuffix") == "%" or "%" in str(ax.get("tickformat") or "")


def figure_problems(fig: dict, name: str = "") -> list[Problem]:
    """Percentage axes not starting at 0 or cut below the largest value; target lines outside the
    axis or on its frame; bars coloured by status without the status in words."""
    from kpi.display.figures import STATUS_COLORS, STATUS_ICONS
    from kpi.domain.progress import STATUS_LABELS

    out = []
    lay = fig.get("layout", {})
    for key, ax in lay.items():
        if not (key.startswith(("xaxis", "yaxis")) and isinstance(ax, dict) and _is_percent_axis(ax)):
            continue
        rng = ax.get("range")
        vals = _axis_values(fig, key)
        if not rng or ax.get("autorange") not in (None, False):
            out.append(Problem(name, key, "trục phần trăm tự co giãn (không bắt đầu từ 0%)"))
            continue
        lo, hi = float(rng[0]), float(rng[1])
        if lo != 0:
            out.append(Problem(name, key, f"trục phần trăm bắt đầu từ {lo:g}%"))
        if vals and hi < max(vals):
            out.append(Problem(name, key, f"trục phần trăm dừng ở {hi:g}% dưới giá trị lớn nhất {max(vals):g}%"))
        letter = key[0]
        for t in fig.get("data", []):
            if not str(t.get("name", "")).startswith("Chỉ tiêu"):
                continue
            if (t.get(f"{letter}axis") or letter) != letter + key[5:]:
                continue
            for v in _array(t.get(letter)):
                if v is None or isinstance(v, str) or math.isnan(float(v)):
                    continue
                if not lo < float(v) < hi - (hi - lo) * 0.01:
                    out.append(Problem(name, f"{t.get('name')} = {v:g}%",
                                       f"đường chỉ tiêu không thấy trên trục {lo:g}-{hi:g}%"))
    legend = {}
    for t in fig.get("data", []):
        colour = (t.get("marker") or {}).get("color")
        if isinstance(colour, str) and t.get("showlegend") is not False and t.get("name"):
            legend.setdefault(colour.upper(), t["name"])
    words = {c.upper(): (STATUS_LABELS[s], STATUS_ICONS[s]) for s, c in STATUS_COLORS.items()}
    for t in fig.get("data", []):
        if t.get("type") != "bar":
            continue
        colour = (t.get("marker") or {}).get("color")
        colours = [colour] if isinstance(colour, str) else list(colour or [])
        texts = t.get("text")
        texts = [texts] * len(colours) if isinstance(texts, str) or texts is None else _array(texts)
        for i, c in enumerate(colours):
            if not isinstance(c, str) or c.upper() not in words:
                continue
            if c.upper() not in legend:
                out.append(Problem(name, f"{t.get('name')} {c}", "màu tình trạng không có chú thích bằng chữ"))
            if not isinstance(colour, str):  # coloured bar by bar: each bar says its status
                label, icon = words[c.upper()]
                text = texts[i] if i < len(texts) else None
                if not (isinstance(text, str) and (icon in text or label in text)):
                    out.append(Problem(name, f"{t.get('name')} thanh {i + 1}",
                                       "thanh tô màu tình trạng không ghi tình trạng"))
    return out


# ---- the meeting pack's charts as a person meets them (issue 25 item 6) -------------------------

def _bar_lengths(t: dict) -> list[float]:
    """The drawn lengths of a bar trace's bars (a legend-only bar holds None)."""
    axis = "x" if t.get("orientation") == "h" else "y"
    out = []
    for v in _array(t.get(axis)):
        if v is None or isinstance(v, str):
            continue
        v = float(v)
        if not math.isnan(v):
            out.append(v)
    return out


def chart_bar_problems(fig: dict, name: str = "", yes_no: bool = False) -> list[Problem]:
    """A chart page holding labels and no bar (every bar of zero length); for a yes/no target (0/1
    per school), any percent bar (its schools at 0% or 100%) or no bar at all: it is drawn as
    counts of the schools that have it."""
    lay = fig.get("layout", {})
    bars = [t for t in fig.get("data", []) if t.get("type") == "bar" and _bar_lengths(t)]
    out = []
    if bars and not any(abs(v) > 1e-9 for t in bars for v in _bar_lengths(t)):
        out.append(Problem(name, f"{len(bars)} dãy thanh", "biểu đồ không có thanh nào (chỉ có nhãn)"))
    if yes_no:
        if not bars:
            out.append(Problem(name, "", "chỉ tiêu có/không không có thanh số trường"))
        for t in bars:
            key = (t.get("xaxis") or "x") if t.get("orientation") == "h" else (t.get("yaxis") or "y")
            ax = lay.get(key[0] + "axis" + key[1:], {})
            if isinstance(ax, dict) and _is_percent_axis(ax):
                out.append(Problem(name, str(t.get("name")),
                                   "chỉ tiêu có/không vẽ thành thanh phần trăm của giá trị 0/1"))
    return out


def figure_font_sizes(fig: dict) -> list[tuple[str, float]]:
    """Every text size (CSS px) a figure draws with: where, and the size (what is not set is the
    layout's font, plotly's 12 px when that is not set either)."""
    lay = fig.get("layout", {})
    base = float((lay.get("font") or {}).get("size") or 12)

    def size(font) -> float:
        return float((font or {}).get("size") or base) if isinstance(font, dict) else base

    out = []
    for key, ax in lay.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(ax, dict):
            if ax.get("showticklabels", True) is not False:
                out.append((f"{key} nhãn trục", size(ax.get("tickfont"))))
            title = ax.get("title")
            if isinstance(title, dict) and title.get("text"):
                out.append((f"{key} tiêu đề", size(title.get("font"))))
    if lay.get("showlegend", True) is not False and any(t.get("name") and t.get("showlegend", True) is not False
                                                        for t in fig.get("data", [])):
        out.append(("chú giải", size((lay.get("legend") or {}).get("font"))))
    title = lay.get("title")
    if isinstance(title, dict) and title.get("text"):
        out.append(("tiêu đề", size(title.get("font"))))
    for a in lay.get("annotations") or []:
        if a.get("text"):
            out.append((f"chú thích «{str(a['text'])[:30]}»", size(a.get("font"))))
    for t in fig.get("data", []):
        texts = [x for x in _array(t.get("text")) if x] if not isinstance(t.get("text"), str) else [t["text"]]
        drawn = ("text" in t.get("mode", "") if t.get("type", "scatter") == "scatter"
                 else t.get("textposition") != "none")
        if texts and drawn:
            out.append((f"chữ trên «{t.get('name')}»", size(t.get("textfont"))))
    return out


def pptx_font_problems(data: bytes, figures: list[dict], min_pt: float = 12.0) -> list[Problem]:
    """Text smaller than `min_pt` on any slide: text boxes and table cells by their runs, and the
    chart images as placed: a figure's smallest font (px) × the picture's width on the slide (pt)
    / the figure's width (px). `figures`: the figures of the deck's pictures, in order."""
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = Presentation(io.BytesIO(data))
    out, k = [], 0
    for n, slide in enumerate(prs.slides, start=1):
        where = f"trang chiếu {n}"
        for shape in slide.shapes:
            frames = []
            if shape.has_text_frame:
                frames.append(shape.text_frame)
            if shape.has_table:
                frames += [c.text_frame for row in shape.table.rows for c in row.cells]
            for tf in frames:
                for para in tf.paragraphs:
                    for r in para.runs:
                        if r.text.strip() and r.font.size is not None and r.font.size.pt < min_pt - 1e-6:
                            out.append(Problem(where, r.text[:40], f"chữ {r.font.size.pt:g} pt (dưới {min_pt:g} pt)"))
            if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
                if k >= len(figures):
                    out.append(Problem(where, "hình", "hình không có biểu đồ tương ứng để đo chữ"))
                    continue
                fig = figures[k]
                k += 1
                fig_w = float(fig.get("layout", {}).get("width") or 700)
                placed = shape.width / EMU_PER_PT
                for what, px in figure_font_sizes(fig):
                    pt = px * placed / fig_w
                    if pt < min_pt - 1e-6:
                        out.append(Problem(where, f"hình: {what}", f"chữ {px:g} px, đặt vào trang thành {pt:.1f} pt "
                                                                  f"(dưới {min_pt:g} pt)"))
    return out


def order_problems(shown: list[str], screen: list[str]) -> list[Problem]:
    """The pack's indicators (`shown`, in its order) in another order than the screen's."""
    common = [c for c in screen if c in set(shown)]
    mine = [c for c in dict.fromkeys(shown) if c in set(screen)]
    if mine == common:
        return []
    i = next(i for i, (a, b) in enumerate(zip(mine, common)) if a != b)
    return [Problem("thứ tự chỉ tiêu", f"vị trí {i + 1}", f"bộ báo cáo có «{mine[i]}» ở chỗ màn hình có «{common[i]}»")]


def label_crossing_problems(fig: dict, name: str = "") -> list[Problem]:
    """A value label a target line passes through ("15,6%" read as "−15,6%"): on a trend, a label
    ("top/bottom center", a line of its font + 10 px above or below its point) whose band holds the
    target of its period or of the one before (the step line holds it until the next period); on
    bars, a target mark of the same row within the label's reach from the bar's end."""
    lay = fig.get("layout", {})
    base = float((lay.get("font") or {}).get("size") or 12)
    margin = lay.get("margin") or {}
    plot_h = float(lay.get("height") or 450) - float(margin.get("t", 80)) - float(margin.get("b", 80))
    data = fig.get("data", [])
    out = []
    targets = [t for t in data if str(t.get("name", "")).startswith("Chỉ tiêu")]
    for t in data:
        if t.get("type", "scatter") != "scatter" or "text" not in t.get("mode", ""):
            continue
        ya = t.get("yaxis") or "y"
        ax = lay.get("yaxis" + ya[1:], {})
        rng = ax.get("range") if isinstance(ax, dict) else None
        if not rng:
            continue
        dom = ax.get("domain") or [0, 1]
        px = plot_h * (dom[1] - dom[0]) / (float(rng[1]) - float(rng[0]))
        size = float((t.get("textfont") or {}).get("size") or base)
        xs, ys, texts = _array(t.get("x")), _array(t.get("y")), _array(t.get("text"))
        pos = t.get("textposition")
        pos = [pos] * len(xs) if isinstance(pos, str) or pos is None else _array(pos)
        order = list(dict.fromkeys(x for tr in data if (tr.get("xaxis") or "x") == (t.get("xaxis") or "x")
                                   for x in _array(tr.get("x"))))
        for i, (x, y) in enumerate(zip(xs, ys)):
            text = texts[i] if i < len(texts) else ""
            p = pos[i] if i < len(pos) else "top center"
            if not text or y is None or not isinstance(p, str) or p.startswith("middle"):
                continue
            band = (size + 10) / px
            lo, hi = (y, y + band) if p.startswith("top") else (y - band, y)
            k = order.index(x) if x in order else -1
            here = {x} | ({order[k - 1]} if k > 0 else set())
            for tt in targets:
                if (tt.get("yaxis") or "y") != ya:
                    continue
                for tx, ty in zip(_array(tt.get("x")), _array(tt.get("y"))):
                    if tx in here and ty is not None and not isinstance(ty, str) and lo <= float(ty) <= hi:
                        out.append(Problem(name, f"«{text}» ({x})", f"đường {tt.get('name')} cắt qua nhãn giá trị"))
    for t in data:
        if t.get("type") != "bar" or t.get("textposition") == "none" or t.get("orientation") != "h":
            continue
        texts = _array(t.get("text"))
        size = float((t.get("textfont") or {}).get("size") or base)
        xa = t.get("xaxis") or "x"
        ax = lay.get("xaxis" + xa[1:], {})
        rng = ax.get("range") if isinstance(ax, dict) else None
        if not rng or not texts:
            continue
        dom = ax.get("domain") or [0, 1]
        plot_w = float(lay.get("width") or 700) - float(margin.get("l", 80)) - float(margin.get("r", 80))
        per = (float(rng[1]) - float(rng[0])) / (plot_w * (dom[1] - dom[0]))
        marks = {}
        for tt in targets:
            if (tt.get("xaxis") or "x") == xa:
                for tx, ty in zip(_array(tt.get("x")), _array(tt.get("y"))):
                    marks.setdefault(ty, []).append(float(tx))
        for v, row, text in zip(_array(t.get("x")), _array(t.get("y")), texts):
            if v is None or not text:
                continue
            reach = (metrics().width(str(text), size) + 8) * per
            for m in marks.get(row, []):
                if float(v) - reach <= m <= float(v) + reach:
                    out.append(Problem(name, f"«{text}» ({row})", "vạch chỉ tiêu cắt qua nhãn giá trị"))
    return out
