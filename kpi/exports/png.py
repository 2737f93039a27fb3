"""The meeting pack's charts as a zip of PNG images, each with the stamp under it (an image leaves
the pack on its own), and a text file saying what they are."""

from __future__ import annotations

import io
import zipfile

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from kpi.catalog.model import Catalog
from kpi.display.measure import FONT_REGULAR, wrap_lines
from kpi.exports.images import chart_images
from kpi.views.pack import Chart, Pack, pack_charts


def stamped_png(png: bytes, stamp: str) -> bytes:
    """The image with the stamp written under it (an image leaves the pack on its own)."""
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

