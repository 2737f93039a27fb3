"""The meeting pack's print-only chart layouts (kpi.views.pack lays them out, kpi.exports draws them):
one image per target, built for a `Medium` (kpi.display.medium.PRINT: one size for the slide, the A4
page and the PNG zip, every text at least its `text_px`). The overview and the maturity index have
screen counterparts and are drawn by the screen's own builders given the print medium
(`figures.progress_bars`, `figures.level_distribution`); the two layouts here have none.

A value label is never crossed by a target line: the schools' values stand in a column right of
their bars, and a trend label sits on the side of its point away from the target (the trend panel
is the page's trend builder, `figures_trend.trend_traces`, given the medium). A yes/no target (each
school has it or not) is drawn as what it is: per cấp học, how many schools have it, and the names
of those without it."""

from __future__ import annotations

import functools

import pandas as pd

from kpi.common.formatting import fmt_int, fmt_percent
from kpi.display import figures
from kpi.display.figures_trend import pct_top, trend_panel, trend_panel_axes
from kpi.display.measure import fit_text, text_width, wrap_lines
from kpi.display.medium import PRINT, Medium

MAX_SCHOOL_BARS = 15      # a chart names at most this many schools (the furthest from the target); XLSX has all
NO_NAMES = 24             # names of schools without a yes/no item listed on the image (the XLSX has all)


@functools.lru_cache(maxsize=1)
def template() -> dict:
    """The project's template as a plotly dict (the print layouts here are dicts)."""
    return figures.TEMPLATE.to_plotly_json()


def legend_top(data: list[dict], heading_lines: int = 2, medium: Medium = PRINT) -> int:
    """The top margin: the legend's rows (entries measured as plotly lays them out: symbol, text,
    gap) and the two lines of the panels' headings under it, on an image of the medium's width."""
    width = medium.width
    names = [t["name"] for t in data if t.get("showlegend", True) is not False and t.get("name")]
    # a legend that wraps puts its entries in columns as wide as the widest entry
    widest = max([40 + text_width(nm, medium.text_px) + 10 for nm in names] + [1.0])
    total = sum(40 + text_width(nm, medium.text_px) + 10 for nm in names)
    rows = 1 if total <= width - 20 else -(-len(names) // max(1, int((width - 20) // widest)))
    return int(rows * medium.text_px * 1.55 + heading_lines * medium.text_px * 1.3 + 30)


def _retop(data: list[dict], trend: pd.DataFrame, margin: dict, medium: Medium, trend_w: float,
           heading_lines: int) -> None:
    """The top margin the legend and the headings need; the trend's labels placed again for the
    plot's height that leaves."""
    margin["t"] = legend_top(data, heading_lines, medium)
    again, _, _ = trend_panel(trend, medium, medium.height - margin["t"] - margin["b"], trend_w)
    data[:len(again)] = again


def _base_layout(medium: Medium, margin: dict, notes: list) -> dict:
    return {"template": template(), "width": medium.width, "height": medium.height, "margin": margin,
            "font": {"family": figures.FONT, "size": medium.text_px, "color": figures.INK}, "separators": ",.",
            "barmode": "overlay", "bargap": 0.25, "showlegend": True,
            "legend": medium.legend(xanchor="left", font={"size": medium.text_px}, traceorder="normal"),
            "annotations": notes}


def indicator_figure(trend: pd.DataFrame, values: pd.DataFrame, medium: Medium = PRINT,
                     limit: int = MAX_SCHOOL_BARS) -> dict:
    """One share target on one image: the district's trend with the target line (left), its
    schools coloured by status (right), each value with its status icon in a column right of the
    bars (never crossed by a target line).

    The trend panel is the page's trend builder given `medium` (`figures_trend.trend_traces`: axes
    from 0, period labels on two lines, labels clear of the target). The schools' panel is a
    print-only layout with no screen counterpart (the page's `figures.school_bars` puts each name
    above its bar for a phone and gives the rest in the hover): the schools' names measured so none
    is cut, at most `limit` schools named (those furthest from their target; the own school always),
    the legend above the plots; size and every text from `medium`."""
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
    value_w = max([text_width(s, medium.text_px) for s in texts] + [40.0]) + 14
    margin = {"l": 64, "r": int(value_w) + 8, "t": 124, "b": 58}
    plot_w, plot_h = medium.width - margin["l"] - margin["r"], medium.height - margin["t"] - margin["b"]
    data, periods, trend_vals = trend_panel(trend, medium, plot_h, plot_w * left_w)

    n = max(len(d), 1)
    tick = medium.text_px
    max_label = plot_w * 0.34
    labels = [fit_text(f"{r}. {nm}" + (" ◀ trường của bạn" if own else ""), max_label, tick)
              for r, nm, own in zip(d["rank"], d["name"].fillna("Trường khác"), d["is_own"])]
    label_w = max([text_width(s, tick) for s in labels] + [40.0]) + 12
    right_x0 = left_w + (44 + label_w) / plot_w if periods else label_w / plot_w
    axes_r = ("x2", "y2")
    peak = pd.Series(list(d["value"]) + list(d["target"]), dtype="float64").max()
    right_top = float(max(10.0, min(100.0, pct_top([peak])), (0 if pd.isna(peak) else peak * 100) * 1.06))
    for st in figures.legend_statuses(d["status"]):
        data.append(figures.legend_bar(figures.status_text(st), figures.STATUS_COLORS[st], axes_r,
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
                 "textfont": {"color": figures.INK, "size": medium.text_px}})
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
    head = wrap_lines(shown, plot_w * (1 - right_x0) + label_w + margin["r"] - 8, medium.text_px)
    notes = [{"text": "<b>Các trường kỳ này</b><br>" + "<br>".join(head), "x": right_x0 - label_w / plot_w, "y": 1,
              "xref": "paper", "yref": "paper", "xanchor": "left", "yanchor": "bottom", "yshift": 8,
              "showarrow": False, "align": "left", "font": {"size": medium.text_px, "color": figures.INK}}]
    _retop(data, trend, margin, medium, plot_w * left_w, 1 + len(head))
    layout = _base_layout(medium, margin, notes)
    layout["xaxis2"] = {"domain": [min(right_x0, 0.95), 1], "anchor": "y2", "range": [0, right_top],
                        "ticksuffix": "%", "title": None, "gridcolor": figures.GRID,
                        "tickfont": {"size": medium.text_px}}
    layout["yaxis2"] = {"domain": [0, 1], "anchor": "x2", "autorange": "reversed", "type": "category",
                        "tickmode": "array", "tickvals": labels, "ticktext": labels,  # every school named, none skipped
                        "automargin": False, "tickfont": {"size": tick}, "title": None}
    trend_panel_axes(layout, periods, trend_vals, left_w, notes, medium)
    return {"data": data, "layout": layout}


def yes_no_figure(trend: pd.DataFrame, values: pd.DataFrame, medium: Medium = PRINT,
                  names: int = NO_NAMES) -> dict:
    """A yes/no target (each school has it or not): the district's share over the periods with its
    target (left); per cấp học, how many of the reporting schools have it ("18 / 25 trường có",
    bars of counts, never a percent bar of 0/1 values), and the names of the schools without it
    (right). The trend panel is the page's trend builder given `medium`; the right side is a
    print-only layout with no screen counterpart; size and every text from `medium`."""
    left_w = 0.38
    margin = {"l": 64, "r": 24, "t": 124, "b": 40}
    plot_w, plot_h = medium.width - margin["l"] - margin["r"], medium.height - margin["t"] - margin["b"]
    data, periods, trend_vals = trend_panel(trend, medium, plot_h, plot_w * left_w)
    d = values[values["value"].notna()].copy()
    d["has"] = d["value"] >= 0.5
    levels = list(dict.fromkeys(d["level"]))
    counts = [(lv, int(d.loc[d["level"] == lv, "has"].sum()), int((d["level"] == lv).sum())) for lv in levels]
    rows = [f"{lv}" for lv, _, _ in counts]
    texts = [f"{fmt_int(h)} / {fmt_int(n)} trường có" for _, h, n in counts]
    text_w = max([text_width(t, medium.text_px) for t in texts] + [60.0])
    label_w = max([text_width(r, medium.text_px) for r in rows] + [30.0]) + 12
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
                 "textfont": {"color": figures.INK, "size": medium.text_px},
                 "hovertemplate": "%{y}: %{x} trường chưa có<extra></extra>"})
    have = int(d["has"].sum())
    notes = [{"text": f"<b>Các trường kỳ này</b><br>{fmt_int(have)} / {fmt_int(len(d))} trường đã báo cáo có",
              "x": right_x0 - label_w / plot_w, "y": 1, "xref": "paper", "yref": "paper", "xanchor": "left",
              "yanchor": "bottom", "yshift": 8, "showarrow": False, "align": "left",
              "font": {"size": medium.text_px, "color": figures.INK}}]
    missing = d[~d["has"]].sort_values(["level", "name"], kind="stable")
    list_x = right_x0 - label_w / plot_w
    avail_w = plot_w * (1 - list_x)
    if len(missing):
        shown = [("◀ " if own else "") + str(nm) for nm, own in zip(missing["name"].fillna("Trường khác"),
                                                                     missing["is_own"])]
        head = f"<b>Trường chưa có ({fmt_int(len(missing))})</b>"
        line_h = medium.text_px * 1.35
        room = int((split * plot_h - 30) // line_h)
        body = wrap_lines(", ".join(shown[:names]) + (f" và {fmt_int(len(shown) - names)} trường khác"
                                                           if len(shown) > names else ""), avail_w - 8, medium.text_px)
        if len(body) > room:
            body = body[:max(room, 1)]
            body[-1] = fit_text(body[-1] + " …", avail_w - 8, medium.text_px)
        text = head + "<br>" + "<br>".join(body)
    else:
        text = "<b>Trường nào đã báo cáo cũng có</b>"
    notes.append({"text": text, "x": list_x, "y": split - 0.06, "xref": "paper", "yref": "paper", "xanchor": "left",
                  "yanchor": "top", "align": "left", "showarrow": False,
                  "font": {"size": medium.text_px, "color": figures.INK}})
    _retop(data, trend, margin, medium, plot_w * left_w, 2)
    layout = _base_layout(medium, margin, notes)
    layout["barmode"] = "stack"
    layout["xaxis2"] = {"domain": [min(right_x0, 0.95), 1], "anchor": "y2", "range": [0, top], "title": None,
                        "showticklabels": False, "showgrid": False, "zeroline": False}
    layout["yaxis2"] = {"domain": [split, 1], "anchor": "x2", "autorange": "reversed", "type": "category",
                        "automargin": False, "tickfont": {"size": medium.text_px}, "title": None}
    trend_panel_axes(layout, periods, trend_vals, left_w, notes, medium)
    return {"data": data, "layout": layout}
