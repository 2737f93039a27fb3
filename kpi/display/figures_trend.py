"""The trend of a target over the periods: the Chỉ tiêu page's chart and the trend panel of the
meeting pack's image of a target, built by one builder (`trend_traces`) for either medium.

On screen each period's highest series is labelled above its point and the lowest below it, the
rest read from the hover. In print (no hover) a label stands on the side of its point that no
target line passes through, clear of the other series' points and labels (`clear_positions`),
the axes run from 0 with room for the labels, and the periods are named on two lines.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64

from kpi.common.formatting import fmt_int, fmt_number, fmt_percent
from kpi.display.figures import (
    GRID,
    INK,
    TARGET_COLOR,
    Sketch,
    percent_range,
    percent_ticks,
    title_and_legend,
    unset_none,
)
from kpi.display.measure import text_width
from kpi.display.medium import MIN_FONT_PX, SCREEN, Medium

SCREEN_PERIODS = 6  # the screen trend draws the latest six periods (they fit a phone); its table has every one
SERIES_COLORS = {"Tất cả": "#0072B2", "MN": "#A8498A", "TH": "#0072B2", "THCS": "#00795C", "GDTX": "#A86200"}
TARGET_DASHES = ("dash", "dot", "dashdot", "longdash")


def period_ticks(periods: list[str], medium: Medium = SCREEN) -> list[str]:
    """Tick labels of periods ('2023-2024 · HK1'), never turned: the round, and the school year under
    the first round of each year only (six periods fit a phone); in print always two lines
    ('HK1<br>2021-2022', 'CN<br>'), so every axis of a pack is as tall."""
    out, seen = [], set()
    for p in periods:
        year, _, rnd = p.partition(" · ")
        if medium.print:
            out.append(f"{rnd or year}<br>{year if year not in seen and rnd else ''}")
        else:
            out.append(rnd if year in seen else f"{rnd}<br>{year}")
        seen.add(year)
    return out


def pct_top(values) -> float:
    """Upper end of a print percent axis that starts at 0: room above the largest value or target
    for its label (a target at 100% is never drawn on the frame)."""
    peak = pd.Series(list(values), dtype="float64").max()
    if pd.isna(peak):
        return 100.0
    return float(min(118.0, max(10.0, -(-peak * 100 * 1.18 // 5) * 5)))


def _series_name(series: str) -> str:
    return "Toàn đơn vị" if series == "Tất cả" else series


def _preferred_sides(series: str, g: pd.DataFrame, by_period, many: bool) -> tuple[list, list]:
    """Each point's label and side: the period's highest series above, the lowest below, none between."""
    positions, texts = [], []
    for p, v in zip(g["period"], g["value"]):
        others = by_period.loc[p].drop(series, errors="ignore").dropna() if many else []
        if pd.isna(v):
            positions.append("top center")
            texts.append("")
        elif len(others) == 0 or v >= max(others):
            positions.append("top center")
            texts.append(fmt_percent(v))
        elif v <= min(others):
            positions.append("bottom center")
            texts.append(fmt_percent(v))
        else:
            positions.append("top center")
            texts.append("")
    return positions, texts


def trend_traces(rows: pd.DataFrame, medium: Medium = SCREEN, plot: tuple[float, float] | None = None) -> list:
    """District value over all periods, one line per series (plotly trace dicts), each with its target
    as a dark dashed step drawn over the values (visible even where a value equals its target).

    `rows` is kpi.domain.progress.trend_rows' frame (period, series, value, target). A target that
    changes by school year is drawn as it was in force each period; no target, no line. In print
    `plot` is the panel's (height, width) in px, by which the labels are placed clear of the target
    lines, of the other series' points and of each other; one series' target is named "Chỉ tiêu".
    """
    periods = list(dict.fromkeys(rows["period"]))
    by_period = rows.pivot_table(index="period", columns="series", values="value", aggfunc="first", sort=False)
    series_names = list(dict.fromkeys(rows["series"]))
    groups = list(rows.groupby("series", sort=False))
    if medium.print:
        top = pct_top(list(rows["value"]) + list(rows["target"]))
        every_target = [pt for _, g in groups for pt in dict(zip(g["period"], g["target"] * 100)).items()]
        points = list(zip(rows["period"], rows["value"] * 100))  # the other series' points are in the way too
        plot_h, plot_w = plot
        slot_px = plot_w / (len(periods) + 0.2)  # the axis spans the periods and 0,6 of one on either side
        placed: list = []
    out = []
    for series, g in groups:
        color = SERIES_COLORS.get(series, "#0072B2")
        name = _series_name(series)
        positions, texts = _preferred_sides(series, g, by_period, len(series_names) > 1)
        if medium.print:
            where = clear_positions(list(g["period"]), list(g["value"] * 100), positions, every_target, periods, top,
                                    plot_h, texts, slot_px, placed, points, font=medium.text_px)
            texts = [txt if w else "" for txt, w in zip(texts, where)]
            positions = [w or "top center" for w in where]
        out.append(dict(
            type="scatter", x=g["period"], y=g["value"] * 100, mode="lines+markers+text", name=name,
            line=dict(color=color, width=3), marker=dict(color=color, size=8),
            text=texts, textposition=positions, textfont=dict(color=INK, size=medium.text_px or 12), cliponaxis=False,
            customdata=[[fmt_percent(v), f"{fmt_int(r)}/{fmt_int(e)}"]
                        for v, r, e in zip(g["value"], g["schools_reporting"], g["schools_expected"])],
            hovertemplate="%{x}<br>" + name + ": %{customdata[0]}<br>Trường báo cáo: %{customdata[1]}<extra></extra>",
        ))
    for i, (series, g) in enumerate(groups):
        if g["target"].notna().any():
            name = _series_name(series)
            out.append(dict(
                type="scatter", x=g["period"], y=g["target"] * 100, mode="lines",
                name="Chỉ tiêu" if medium.print and len(series_names) == 1 else f"Chỉ tiêu {name}",
                line=dict(color=TARGET_COLOR, width=2, dash=TARGET_DASHES[i % len(TARGET_DASHES)], shape="hv"),
                hovertemplate="%{x}<br>Chỉ tiêu " + name + ": %{y:.1f}%<extra></extra>",
            ))
    return out


def latest_periods(rows: pd.DataFrame, n: int = SCREEN_PERIODS) -> pd.DataFrame:
    """The rows of the latest `n` periods (rows in time order, as kpi.domain.progress.trend_rows gives them)."""
    periods = list(dict.fromkeys(rows["period"]))
    return rows if len(periods) <= n else rows[rows["period"].isin(periods[-n:])].reset_index(drop=True)


def trend_chart(rows: pd.DataFrame, title: str = "") -> go.Figure:
    """The Chỉ tiêu page's trend (`trend_traces` on screen) over the latest SCREEN_PERIODS periods (ten
    periods on a phone: the school years under the ticks and the labels ran into each other; the page's
    table has every period): each period's highest series labelled above its point and the lowest
    below it (labels of two series never meet); a series in between is read from the hover and the
    table. A label stands on a white ground (`value_labels`): a target line a few points from the
    value would otherwise run through its digits."""
    rows = latest_periods(rows)
    fig = Sketch()
    periods = list(dict.fromkeys(rows["period"]))
    traces = trend_traces(rows, SCREEN)
    notes = value_labels(traces)
    fig.add_traces(traces)
    y_range = percent_range(list(rows["value"]) + list(rows["target"]), room=0.12)
    ticks = percent_ticks(y_range[1] / 1.12)
    fig.update_layout(
        annotations=notes, height=400, margin=dict(l=8, r=12, t=(34 if title else 0) + 34, b=8),
        **title_and_legend(title, 400),
        yaxis=dict(range=y_range, tickvals=ticks, ticktext=[fmt_number(t) + "%" for t in ticks], title=None,
                   automargin=True, fixedrange=True),
        xaxis=dict(title=None, type="category", range=[-0.75, len(periods) - 0.5], tickvals=periods,
                   ticktext=period_ticks(periods), tickangle=0, automargin=True, fixedrange=True))
    return fig.figure()


LABEL_GROUND = "rgba(255,255,255,0.9)"


def value_labels(traces: list[dict]) -> list[dict]:
    """The traces' point labels as annotations on a white ground, taken off the traces (whose
    hover is unchanged): above or below the point as `trend_traces` placed them."""
    notes = []
    for t in traces:
        if "text" not in t.get("mode", ""):
            continue
        for x, y, text, pos in zip(t["x"], t["y"], t["text"], t["textposition"]):
            if text and pd.notna(y):
                above = pos.startswith("top")
                notes.append(dict(x=x, y=y, xref="x", yref="y", text=text, showarrow=False,
                                  yanchor="bottom" if above else "top", yshift=6 if above else -6,
                                  font=t["textfont"], bgcolor=LABEL_GROUND, borderpad=1))
        t["mode"] = t["mode"].replace("+text", "")
        for key in ("text", "textposition", "textfont"):
            t.pop(key, None)
    return notes


def trend_panel(trend: pd.DataFrame, medium: Medium, plot_h: float, plot_w: float) -> tuple[list[dict], list, list]:
    """The trend as the left panel of a print image (axes x, y): its traces as plotly dicts, its
    periods and the values its axis must hold (nothing when no period has a value)."""
    if trend.empty or not trend["value"].notna().any():
        return [], [], []
    # the traces as a figure writes them (columns as arrays, typed as plotly.js reads them), without
    # plotly's per-property checks (figures.Sketch: the same JSON; 18 ms a panel, 64 panels a pack)
    traces = [{**unset_none(t), "xaxis": "x", "yaxis": "y"} for t in trend_traces(trend, medium, (plot_h, plot_w))]
    convert_to_base64(traces)
    return traces, list(dict.fromkeys(trend["period"])), list(trend["value"]) + list(trend["target"])


def trend_panel_axes(layout: dict, periods: list, vals: list, left_w: float, notes: list, medium: Medium) -> None:
    """The print trend panel's axes (from 0, periods on two lines, text at the medium's size) and its
    heading, on the left `left_w` of the image."""
    if not periods:
        return
    layout["xaxis"] = {"domain": [0, left_w], "anchor": "y", "type": "category", "tickangle": 0,
                       "tickvals": periods, "ticktext": period_ticks(periods, medium),
                       "range": [-0.6, len(periods) - 0.4],
                       "tickfont": {"size": medium.text_px}, "automargin": True, "title": None}
    layout["yaxis"] = {"domain": [0, 1], "anchor": "x", "range": [0, pct_top(vals)], "ticksuffix": "%",
                       "title": None, "gridcolor": GRID, "tickfont": {"size": medium.text_px}}
    notes.append({"text": "<b>Toàn đơn vị qua các kỳ</b>", "x": 0, "y": 1, "xref": "paper", "yref": "paper",
                  "xanchor": "left", "yanchor": "bottom", "yshift": 8, "showarrow": False,
                  "font": {"size": medium.title_px, "color": INK}})


def clear_positions(xs: list, ys: list, positions: list, targets: list, periods: list, top: float,
                    plot_h: float, texts: list | None = None, slot_px: float = 1e9, placed: list | None = None,
                    points: list | None = None, font: float = MIN_FONT_PX) -> list[str]:
    """Each label above or below its point ("" = no label), on a side that no target line passes
    through, no other series' point at its period is in, and no label already placed (`placed`,
    shared by the series of a chart) covers: a label spans `font` + 10 px above or below its point
    and its measured width around it (`slot_px` apart from period to period), the latest period
    placed first. The target's step line (shape hv) holds a period's target from its point to the
    next, so a label meets the target of its own period and of the one before."""
    px = plot_h / top if top else 1.0
    placed = [] if placed is None else placed
    texts = texts or [""] * len(xs)
    by_period: dict = {}
    for p, v in targets:
        if pd.notna(v):
            by_period.setdefault(p, []).append(float(v))
    out = [""] * len(xs)
    band = (font + 10) / px
    # the latest period first: when two labels cannot both stand, the newer value keeps its label
    for i in reversed(range(len(xs))):
        x, y, pos, text = xs[i], ys[i], positions[i], texts[i]
        if y is None or pd.isna(y) or not text:
            out[i] = pos if text else ""
            continue
        k = periods.index(x) if x in periods else 0
        near = by_period.get(x, []) + (by_period.get(periods[k - 1], []) if k > 0 else [])
        near += [v for p, v in (points or []) if p == x and pd.notna(v) and abs(v - y) > 1e-9]
        half = (text_width(text, font) / 2 + 3) / slot_px  # in periods

        def box(side: str) -> tuple[float, float, float, float]:
            lo, hi = (y, y + band) if side == "top" else (y - band, y)
            return k - half, k + half, lo, hi

        def clear(side: str) -> bool:
            x0, x1, lo, hi = box(side)
            if side == "bottom" and lo < 0:
                return False
            if any(lo - 1 / px <= t <= hi + 1 / px for t in near):
                return False
            return not any(x0 < b1 and b0 < x1 and lo < c1 and c0 < hi for b0, b1, c0, c1 in placed)

        first = "top" if pos.startswith("top") else "bottom"
        side = next((sd for sd in (first, "bottom" if first == "top" else "top") if clear(sd)), "")
        if side:  # else crossed or covered on either side: no label (the table and the sentence give the value)
            placed.append(box(side))
        out[i] = f"{side} center" if side else ""
    return out
