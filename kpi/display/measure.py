"""Text as it will be set in the exports: widths in DejaVu Sans (the embedded font), wrapping,
cutting with '…', and table column widths a browser would choose. No I/O beyond the font files."""

from __future__ import annotations

import functools
from pathlib import Path

from PIL import ImageFont

FONTS = Path(__file__).resolve().parents[1] / "assets" / "fonts"
FONT_REGULAR, FONT_BOLD = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"
FONT_NAME = "DejaVu Sans"


@functools.lru_cache(maxsize=8)
def _font(bold: bool):
    return ImageFont.truetype(str(FONT_BOLD if bold else FONT_REGULAR), 1000)


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of one line of text set in DejaVu Sans at `size` (result in the unit of `size`)."""
    return _font(bold).getlength(str(text)) * size / 1000


def wrap_lines(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap of every paragraph of `text` into lines no wider than `width` (a word wider
    than the width stays whole on its own line)."""
    out = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split():
            cand = f"{line} {word}" if line else word
            if line and text_width(cand, size, bold) > width:
                out.append(line)
                line = word
            else:
                line = cand
        out.append(line)
    return out


def fit_text(text: str, width: float, size: float, bold: bool = False) -> str:
    """`text` cut with '…' to fit one line of `width`."""
    if text_width(text, size, bold) <= width:
        return text
    while text and text_width(text + "…", size, bold) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def auto_widths(columns: list[list[str]], total: float, measure, pad: float, short: float = 0.15) -> list[float]:
    """Column widths filling `total`, the way a browser lays out a table: each column at least as
    wide as its longest word, the rest of the room shared by how much more each column's longest
    text needs (so a long name gets the room and short columns stay narrow)."""
    words_min, wants = [], []
    for texts in columns:
        texts = [str(t) for t in texts] or [""]
        words = [w for t in texts for w in t.split()] or [""]
        words_min.append(max(measure(w) for w in words) + pad)
        wants.append(max(max(measure(line) for line in t.split("\n")) for t in texts) + pad)
    # a column whose longest text is short ("✖ Chưa đạt", "tăng 12,5 điểm %") is not wrapped at all
    mins = [w if w <= total * short else m for w, m in zip(wants, words_min)]
    if sum(mins) > total:
        mins = words_min
    if sum(wants) <= total:
        extra = total - sum(wants)
        return [w + extra * w / sum(wants) for w in wants]
    if sum(mins) >= total:
        return [m * total / sum(mins) for m in mins]
    room, need = total - sum(mins), [w - m for w, m in zip(wants, mins)]
    return [m + room * n / sum(need) for m, n in zip(mins, need)]
