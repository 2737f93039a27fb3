"""Where a chart is drawn: on the screen or in print. The chart builders of kpi.display take a
`Medium`, so a meeting pack's image is built by the same builder as the page's chart, in one pass,
never drawn for the screen and restyled afterwards.

SCREEN: as wide as the page's column, the chart's own height, text on the template's sizes, the
title inside the chart, details in the hover. PRINT: one image size for the slide, the A4 page
and the PNG zip (CHART_W × CHART_H, drawn at scale 1), every text at least `text_px`, the heading
outside the image (the slide's or the page's), the legend across the image's top, values in a
column where a hover would give them on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

# Placed on a 16:9 slide a pack's image is about 10 in wide: 1 px ≈ 0,74 pt, so 17 px text is ≥ 12 pt.
CHART_W, CHART_H = 1000, 500
MIN_FONT_PX = 17          # the smallest text of a print image (≥ 12 pt as placed on a slide)
TITLE_PX = 19             # a panel's heading inside a print image


@dataclass(frozen=True)
class Medium:
    """How a chart is drawn: its size, its text sizes and whether it is printed."""

    print: bool               # a pack's image (fixed size, no hover, heading outside) or the screen
    width: int | None = None  # px; None: as wide as the page's column
    height: int | None = None  # px; None: the chart's own height
    text_px: int | None = None  # the smallest text (None: the template's sizes)
    title_px: int | None = None  # a panel's heading inside the chart

    def legend(self, **extra) -> dict:
        """The print legend: one horizontal band from the image's top left corner."""
        return {"orientation": "h", "x": 0, "y": 1, "yref": "container", "yanchor": "top", **extra}


SCREEN = Medium(print=False)
PRINT = Medium(print=True, width=CHART_W, height=CHART_H, text_px=MIN_FONT_PX, title_px=TITLE_PX)
