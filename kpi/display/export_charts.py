"""The meeting pack's chart images (kpi.views.pack lays them out, kpi.exports draws them): one per
target, sized for a slide; the overview and the maturity index are the screen's own figures
(`figures.progress_bars`, `figures.level_distribution`) restyled for print.

Every text of an image is at least `MIN_FONT_PX` px: placed on a 16:9 slide the image is about
10 in wide, so that is ≥ 12 pt there. A value label is never crossed by a target line: the
schools' values stand in a column right of their bars, and a trend label sits on the side of its
point away from the target. A yes/no target (each school has it or not) is drawn as what it is:
per cấp học, how many schools have it, and the names of those without it."""

from __future__ import annotations

import functools

import pandas as pd

from kpi.common.formatting import fmt_int, fmt_percent
from kpi.display import figures
from kpi.display.measure import fit_text, text_width, wrap_lines
from kpi.domain import progress

# Every chart image of a pack has this size (CSS px, drawn at scale 1): one image serves the slide
# (about 10 in wide: 1 px ≈ 0,74 pt, so the 17 px text is ≥ 12 pt), the A4 page and the PNG zip.
CHART_W, CHART_H = 1000, 500
MAX_SCHOOL_BARS = 15      # a chart names at most this many schools (the furthest from the target); XLSX has all
MIN_FONT_PX = 17          # the smallest text of an image (≥ 12 pt as placed on a slide)
TITLE_PX = 19
NO_NAMES = 24             # names of schools without a yes/no item listed on the image (the XLSX has all)


@functools.lru_cache(maxsize=1)
def template() -> dict:
    return figures.TEMPLATE.to_plotly_json()


def pct_top(values) -> float:
    """Upper end of a percent axis that starts at 0: room above the largest value or target for
    its label (a target at 100% is never drawn on the frame)."""
    peak = pd.Series(list(values), dtype="float64").max()
    if pd.isna(peak):
        return 100.0
    return float(min(118.0, max(10.0, -(-peak * 100 * 1.18 // 5) * 5)))


def period_ticks(periods: list[str]) -> list[str]:
    """Two-line period labels that never need rotating: the round, and under the first round of
    each school year its year ('HK1<br>2021-2022', 'CN')."""
    out, seen = [], set()
    for p in periods:
        year, _, rnd = p.partition(" · ")
        out.append(f"{rnd or year}<br>{year if year not in seen and rnd else ''}")
        seen.add(year)
    return out


def legend_bar(name: str, color: str, axes: tuple[str, str], y0) -> dict:
    """A legend entry for a colour (an empty bar): status by colour and by word."""
    return {"type": "bar", "orientation": "h", "x": [None], "y": [y0], "name": name, "showlegend": True,
            "marker": {"color": color}, "hoverinfo": "skip", "xaxis": axes[0], "yaxis": axes[1]}


def legend_statuses(statuses) -> list[str]:
    """The statuses a legend names: đạt, gần đạt, chưa đạt, and any other that is drawn."""
    present = set(statuses)
    return [st for st in figures.STATUS_COLORS if st in ("dat", "gan_dat", "chua_dat") or st in present]



def _trend(trend: pd.DataFrame, plot_h: float, plot_w: float) -> tuple[list[dict], list[str], list]:
    """The district's trend traces (the page's `figures.trend_chart`), labels clear of the target
    and of each other (`plot_w`: the trend's width in px)."""
    if trend.empty or not trend["value"].notna().any():
        return [], [], []
    placed: list = []
    drawn = figures.trend_chart(trend)
    src = drawn.to_plotly_json()["data"]
    series = list(dict.fromkeys(trend["series"]))
    periods = list(dict.fromkeys(trend["period"]))
    vals = list(trend["value"]) + list(trend["target"])
    top = pct_top(vals)
    targets = {}  # series name → {period: target %}
    for s, g in trend.groupby("series", sort=False):
        name = "Toàn đơn vị" if s == "Tất cả" else s
        targets[name] = dict(zip(g["period"], g["target"] * 100))
    every_target = [t for m in targets.values() for t in m.items()]
    points = list(zip(trend["period"], trend["value"] * 100))  # the other series' points are in the way too
    slot_px = plot_w / (len(periods) + 0.2)  # the axis spans the periods and 0,6 of one on either side
    out = []
    for t, tr in zip(src, drawn.data):
        t = dict(t)
        if t.get("name", "").startswith("Chỉ tiêu") and len(series) == 1:
            t["name"] = "Chỉ tiêu"
        if "text" in t and t.get("mode", "").endswith("text"):
            t["textfont"] = {"color": figures.INK, "size": MIN_FONT_PX}
            t["cliponaxis"] = False
            where = clear_positions(list(tr.x), list(tr.y), list(tr.textposition), every_target, periods, top,
                                    plot_h, list(tr.text), slot_px, placed, points)
            t["text"] = [txt if w else "" for txt, w in zip(tr.text, where)]
            t["textposition"] = [w or "top center" for w in where]
        t["xaxis"], t["yaxis"] = "x", "y"
        out.append(t)
    return out, periods, vals


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


def _trend_layout(layout: dict, periods: list, vals: list, left_w: float, notes: list) -> None:
    if not periods:
        return
    layout["xaxis"] = {"domain": [0, left_w], "anchor": "y", "type": "category", "tickangle": 0,
                       "tickvals": periods, "ticktext": period_ticks(periods), "range": [-0.6, len(periods) - 0.4],
                       "tickfont": {"size": MIN_FONT_PX}, "automargin": True, "title": None}
    layout["yaxis"] = {"domain": [0, 1], "anchor": "x", "range": [0, pct_top(vals)], "ticksuffix": "%",
                       "title": None, "gridcolor": figures.GRID, "tickfont": {"size": MIN_FONT_PX}}
    notes.append({"text": "<b>Toàn đơn vị qua các kỳ</b>", "x": 0, "y": 1, "xref": "paper", "yref": "paper",
                  "xanchor": "left", "yanchor": "bottom", "yshift": 8, "showarrow": False,
                  "font": {"size": TITLE_PX, "color": figures.INK}})


def legend_top(data: list[dict], width: int, heading_lines: int = 2) -> int:
    """The top margin: the legend's rows (entries measured as plotly lays them out: symbol, text,
    gap) and the two lines of the panels' headings under it."""
    names = [t["name"] for t in data if t.get("showlegend", True) is not False and t.get("name")]
    # a legend that wraps puts its entries in columns as wide as the widest entry
    widest = max([40 + text_width(nm, MIN_FONT_PX) + 10 for nm in names] + [1.0])
    total = sum(40 + text_width(nm, MIN_FONT_PX) + 10 for nm in names)
    rows = 1 if total <= width - 20 else -(-len(names) // max(1, int((width - 20) // widest)))
    return int(rows * MIN_FONT_PX * 1.55 + heading_lines * MIN_FONT_PX * 1.3 + 30)


def _retop(data: list[dict], trend: pd.DataFrame, margin: dict, width: int, height: int, trend_w: float,
           heading_lines: int) -> None:
    """The top margin the legend and the headings need; the trend's labels placed again for the
    plot's height that leaves."""
    margin["t"] = legend_top(data, width, heading_lines)
    again, _, _ = _trend(trend, height - margin["t"] - margin["b"], trend_w)
    data[:len(again)] = again


def _base_layout(width: int, height: int, margin: dict, notes: list) -> dict:
    return {"template": template(), "width": width, "height": height, "margin": margin,
            "font": {"family": figures.FONT, "size": MIN_FONT_PX, "color": figures.INK}, "separators": ",.",
            "barmode": "overlay", "bargap": 0.25, "showlegend": True,
            "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top",
                       "font": {"size": MIN_FONT_PX}, "traceorder": "normal"},
            "annotations": notes}


def indicator_figure(trend: pd.DataFrame, values: pd.DataFrame, width: int = CHART_W, height: int = CHART_H,
                     limit: int = MAX_SCHOOL_BARS) -> dict:
    """One share target on one image: the district's trend with the target line (left), its
    schools coloured by status (right), each value with its status icon in a column right of the
    bars (never crossed by a target line).

    The trend's traces are the page's (`figures.trend_chart`); the layout is the print one: axes
    from 0, period labels on two lines, the legend above the plots, the schools' names measured so
    none is cut, at most `limit` schools named (those furthest from their target; the own school
    always)."""
    left_w = 0.38
    d = values[values["value"].notna()].sort_values("value", ascending=False, kind="stable").reset_index(drop=True)
    d["rank"] = range(1, len(d) + 1)
    reporting = len(d)
    has_target = bool(d["target"].notna().any())
    below = (d["value"] - d["target"])[lambda x: x < -1e-9]  # short of their target, most first
    # the sentence counts by the bars' own status: "chưa đạt" is never "gần đạt"
    short = f"{fmt_int((d['status'] == 'chua_dat').sum())} trường chưa đạt" + (
        f", {fmt_int((d['status'] == 'gan_dat').sum())} trường gần đạt" if (d["status"] == "gan_dat").any() else "")
    if reporting > limit:
        if not has_target:
            keep = set(d["value"].nsmallest(limit).index)
        elif len(below):
            keep = set(below.nsmallest(limit).index)  # only schools short of their target
        else:
            keep = set(d.index[:limit])  # every school reached its target: the head of the ranking
        d = d.loc[sorted(keep | set(d.index[d["is_own"]]))].reset_index(drop=True)
    icons = [figures.STATUS_ICONS[s] for s in d["status"]]
    texts = [f"{fmt_percent(v)} {i}" for v, i in zip(d["value"], icons)]
    value_w = max([text_width(s, MIN_FONT_PX) for s in texts] + [40.0]) + 14
    margin = {"l": 64, "r": int(value_w) + 8, "t": 124, "b": 58}
    plot_w, plot_h = width - margin["l"] - margin["r"], height - margin["t"] - margin["b"]
    data, periods, trend_vals = _trend(trend, plot_h, plot_w * left_w)

    n = max(len(d), 1)
    tick = MIN_FONT_PX
    max_label = plot_w * 0.34
    labels = [fit_text(f"{r}. {nm}" + (" ◀ trường của bạn" if own else ""), max_label, tick)
              for r, nm, own in zip(d["rank"], d["name"].fillna("Trường khác"), d["is_own"])]
    label_w = max([text_width(s, tick) for s in labels] + [40.0]) + 12
    right_x0 = left_w + (44 + label_w) / plot_w if periods else label_w / plot_w
    axes_r = ("x2", "y2")
    peak = pd.Series(list(d["value"]) + list(d["target"]), dtype="float64").max()
    right_top = float(max(10.0, min(100.0, pct_top([peak])), (0 if pd.isna(peak) else peak * 100) * 1.06))
    for st in legend_statuses(d["status"]):
        data.append(legend_bar(figures.status_text(st), figures.STATUS_COLORS[st], axes_r,
                                   labels[0] if labels else ""))
    data.append({
        "type": "bar", "orientation": "h", "x": [v * 100 for v in d["value"]], "y": labels, "showlegend": False,
        "name": "Trường", "xaxis": "x2", "yaxis": "y2", "cliponaxis": False,
        "marker": {"color": [figures.STATUS_COLORS[s] for s in d["status"]],
                   "line": {"color": [figures.INK if own else "rgba(0,0,0,0)" for own in d["is_own"]], "width": 2}},
        "text": texts, "textposition": "none",
        "hovertemplate": "%{y}<br>%{text}<extra></extra>"})
    # the values: a column right of the plot, where no bar and no target line reaches
    data.append({"type": "scatter", "mode": "text", "x": [right_top] * len(d), "y": labels, "text": texts,
                 "textposition": "middle right", "cliponaxis": False, "showlegend": False, "hoverinfo": "skip",
                 "name": "Giá trị", "xaxis": "x2", "yaxis": "y2",
                 "textfont": {"color": figures.INK, "size": MIN_FONT_PX}})
    with_target = d[d["target"].notna()]
    groups = list(with_target.groupby(with_target["target"].round(9), sort=True))
    for t, g in groups:  # one line per target value (levels sharing a target share its line)
        t = float(t)
        lvs = ", ".join(dict.fromkeys(g["level"]))
        name = "Chỉ tiêu" + (f" {lvs}" if len(groups) > 1 else "") + f" {fmt_percent(t)}"
        data.append({"type": "scatter", "mode": "markers", "x": [t * 100] * len(g), "y": [labels[i] for i in g.index],
                     "name": name, "xaxis": "x2", "yaxis": "y2", "cliponaxis": False,
                     "marker": {"symbol": "line-ns", "size": max(8.0, min(24.0, plot_h / n * 0.9)),
                                "color": figures.TARGET_COLOR, "line": {"width": 3, "color": figures.TARGET_COLOR}},
                     "hovertemplate": name + "<extra></extra>"})
    if reporting <= len(d):
        shown = f"{fmt_int(reporting)} trường đã báo cáo"
    elif not has_target:
        shown = f"{fmt_int(len(d))} trường có giá trị thấp nhất / {fmt_int(reporting)} trường đã báo cáo"
    elif len(below) > limit:
        shown = f"{fmt_int(limit)} trường xa chỉ tiêu nhất · {short} / {fmt_int(reporting)} trường đã báo cáo"
    elif len(below):
        shown = f"{short} / {fmt_int(reporting)} trường đã báo cáo"
    else:
        shown = f"cả {fmt_int(reporting)} trường đã báo cáo đều đạt chỉ tiêu; {fmt_int(limit)} trường đầu"
    head = wrap_lines(shown, plot_w * (1 - right_x0) + label_w + margin["r"] - 8, MIN_FONT_PX)
    notes = [{"text": "<b>Các trường kỳ này</b><br>" + "<br>".join(head), "x": right_x0 - label_w / plot_w, "y": 1,
              "xref": "paper", "yref": "paper", "xanchor": "left", "yanchor": "bottom", "yshift": 8,
              "showarrow": False, "align": "left", "font": {"size": MIN_FONT_PX, "color": figures.INK}}]
    _retop(data, trend, margin, width, height, plot_w * left_w, 1 + len(head))
    layout = _base_layout(width, height, margin, notes)
    layout["xaxis2"] = {"domain": [min(right_x0, 0.95), 1], "anchor": "y2", "range": [0, right_top],
                        "ticksuffix": "%", "title": None, "gridcolor": figures.GRID, "tickfont": {"size": MIN_FONT_PX}}
    layout["yaxis2"] = {"domain": [0, 1], "anchor": "x2", "autorange": "reversed", "type": "category",
                        "tickmode": "array", "tickvals": labels, "ticktext": labels,  # every school named, none skipped
                        "automargin": False, "tickfont": {"size": tick}, "title": None}
    _trend_layout(layout, periods, trend_vals, left_w, notes)
    return {"data": data, "layout": layout}


def yes_no_figure(trend: pd.DataFrame, values: pd.DataFrame, width: int = CHART_W, height: int = CHART_H,
                  names: int = NO_NAMES) -> dict:
    """A yes/no target (each school has it or not): the district's share over the periods with its
    target (left); per cấp học, how many of the reporting schools have it ("18 / 25 trường có",
    bars of counts, never a percent bar of 0/1 values), and the names of the schools without it
    (right)."""
    left_w = 0.38
    margin = {"l": 64, "r": 24, "t": 124, "b": 40}
    plot_w, plot_h = width - margin["l"] - margin["r"], height - margin["t"] - margin["b"]
    data, periods, trend_vals = _trend(trend, plot_h, plot_w * left_w)
    d = values[values["value"].notna()].copy()
    d["has"] = d["value"] >= 0.5
    levels = list(dict.fromkeys(d["level"]))
    counts = [(lv, int(d.loc[d["level"] == lv, "has"].sum()), int((d["level"] == lv).sum())) for lv in levels]
    rows = [f"{lv}" for lv, _, _ in counts]
    texts = [f"{fmt_int(h)} / {fmt_int(n)} trường có" for _, h, n in counts]
    text_w = max([text_width(t, MIN_FONT_PX) for t in texts] + [60.0])
    label_w = max([text_width(r, MIN_FONT_PX) for r in rows] + [30.0]) + 12
    right_x0 = left_w + (44 + label_w) / plot_w if periods else label_w / plot_w
    right_px = plot_w * (1 - right_x0)
    top = max([n for _, _, n in counts] + [1]) * (right_px / max(right_px - text_w - 16, right_px * 0.3))
    # counts: the upper part of the right side; the list of schools without it under it
    split = 1 - min(0.55, 0.12 + 0.11 * len(rows))
    data.append({"type": "bar", "orientation": "h", "y": rows, "x": [h for _, h, _ in counts], "name": "Có",
                 "marker": {"color": figures.STATUS_COLORS["dat"]}, "xaxis": "x2", "yaxis": "y2",
                 "hovertemplate": "%{y}: %{x} trường có<extra></extra>"})
    data.append({"type": "bar", "orientation": "h", "y": rows, "x": [n - h for _, h, n in counts], "name": "Chưa có",
                 "marker": {"color": figures.STATUS_COLORS["chua_dat"]}, "xaxis": "x2", "yaxis": "y2",
                 "text": texts, "textposition": "outside", "cliponaxis": False, "constraintext": "none",
                 "textfont": {"color": figures.INK, "size": MIN_FONT_PX},
                 "hovertemplate": "%{y}: %{x} trường chưa có<extra></extra>"})
    have = int(d["has"].sum())
    notes = [{"text": f"<b>Các trường kỳ này</b><br>{fmt_int(have)} / {fmt_int(len(d))} trường đã báo cáo có",
              "x": right_x0 - label_w / plot_w, "y": 1, "xref": "paper", "yref": "paper", "xanchor": "left",
              "yanchor": "bottom", "yshift": 8, "showarrow": False, "align": "left",
              "font": {"size": MIN_FONT_PX, "color": figures.INK}}]
    missing = d[~d["has"]].sort_values(["level", "name"], kind="stable")
    list_x = right_x0 - label_w / plot_w
    avail_w = plot_w * (1 - list_x)
    if len(missing):
        shown = [("◀ " if own else "") + str(nm) for nm, own in zip(missing["name"].fillna("Trường khác"),
                                                                     missing["is_own"])]
        head = f"<b>Trường chưa có ({fmt_int(len(missing))})</b>"
        line_h = MIN_FONT_PX * 1.35
        room = int((split * plot_h - 30) // line_h)
        body = wrap_lines(", ".join(shown[:names]) + (f" và {fmt_int(len(shown) - names)} trường khác"
                                                           if len(shown) > names else ""), avail_w - 8, MIN_FONT_PX)
        if len(body) > room:
            body = body[:max(room, 1)]
            body[-1] = fit_text(body[-1] + " …", avail_w - 8, MIN_FONT_PX)
        text = head + "<br>" + "<br>".join(body)
    else:
        text = "<b>Trường nào đã báo cáo cũng có</b>"
    notes.append({"text": text, "x": list_x, "y": split - 0.06, "xref": "paper", "yref": "paper", "xanchor": "left",
                  "yanchor": "top", "align": "left", "showarrow": False,
                  "font": {"size": MIN_FONT_PX, "color": figures.INK}})
    _retop(data, trend, margin, width, height, plot_w * left_w, 2)
    layout = _base_layout(width, height, margin, notes)
    layout["barmode"] = "stack"
    layout["xaxis2"] = {"domain": [min(right_x0, 0.95), 1], "anchor": "y2", "range": [0, top], "title": None,
                        "showticklabels": False, "showgrid": False, "zeroline": False}
    layout["yaxis2"] = {"domain": [split, 1], "anchor": "x2", "autorange": "reversed", "type": "category",
                        "automargin": False, "tickfont": {"size": MIN_FONT_PX}, "title": None}
    _trend_layout(layout, periods, trend_vals, left_w, notes)
    return {"data": data, "layout": layout}


def _as_dict(fig) -> dict:
    """A screen figure as a plotly dict whose traces and layout may be changed."""
    fig = fig.to_plotly_json()
    return {"data": [dict(t) for t in fig["data"]], "layout": dict(fig["layout"])}


def overview_figure(rows: pd.DataFrame, title: str, width: int = CHART_W) -> dict:
    """Every target on one image (the page's `figures.progress_bars`), with the status icon on
    every bar and the status words in the legend."""
    fig = _as_dict(figures.progress_bars(rows, title))
    for t in fig["data"]:
        if t.get("name") in progress.STATUS_LABELS.values():
            st = next(k for k, v in progress.STATUS_LABELS.items() if v == t["name"])
            t["name"] = figures.status_text(st)
        elif t.get("name") == "Giá trị":
            t["text"] = [f"{fmt_percent(v)} {figures.STATUS_ICONS[s]}" for v, s in zip(rows["value"], rows["status"])]
            t["cliponaxis"] = False
    named = {t.get("name") for t in fig["data"]}
    for st in legend_statuses(rows["status"]):  # the page's legend names only đạt, gần đạt, chưa đạt
        if figures.status_text(st) not in named:
            fig["data"].insert(3, legend_bar(figures.status_text(st), figures.STATUS_COLORS[st], ("x", "y"),
                                             fig["data"][0]["y"][0]))
    lay = fig["layout"]
    lay.update(width=width, template=template(), title=None, margin={"l": 20, "r": 40, "t": 70, "b": 30},
               legend={"orientation": "h", "x": 0, "y": 1, "yref": "container", "yanchor": "top"})
    lay["xaxis"] = {**dict(lay.get("xaxis", {})), "range": [0, 118]}
    return fig


def maturity_figure(dist: pd.DataFrame, width: int = CHART_W, height: int = CHART_H) -> dict:
    """Schools at Mức 1/2/3 per group × cấp học (the page's `figures.level_distribution`), sized
    for the pack with the legend above the bars, every text at least the print size."""
    fig = _as_dict(figures.level_distribution(dist))
    for t in fig["data"]:
        t["textfont"] = {"size": MIN_FONT_PX, "color": "#FFFFFF"}
    fig["layout"].update(width=width, height=height, template=template(), title=None,
                         margin={"l": 20, "r": 30, "t": 80, "b": 60},
                         font={"family": figures.FONT, "size": MIN_FONT_PX, "color": figures.INK},
                         legend={"orientation": "h", "x": 0, "y": 1, "yref": "container", "yanchor": "top",
                                 "traceorder": "normal", "font": {"size": MIN_FONT_PX}})
    for ax in ("xaxis", "yaxis"):
        fig["layout"][ax] = {**dict(fig["layout"].get(ax, {})), "tickfont": {"size": MIN_FONT_PX}}
        if isinstance(fig["layout"][ax].get("title"), dict):
            fig["layout"][ax]["title"] = {**fig["layout"][ax]["title"], "font": {"size": MIN_FONT_PX}}
    return fig
