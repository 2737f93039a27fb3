"""Figure builders: prepared frame in, plotly Figure out, no I/O.

One template (`TEMPLATE`) for colours, font and Vietnamese number format, used on screen and in
exports; a builder given the print `Medium` (kpi.display.medium) builds the pack's image itself.
Every colour is explicit: `import streamlit` changes plotly's default template to one
whose colours only the browser fills in, which would make exported images black.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from kpi.common.formatting import fmt_int, fmt_number, fmt_percent
from kpi.display.medium import SCREEN, Medium
from kpi.domain.progress import STATUS_LABELS

# Okabe-Ito hues darkened to at least 4.5:1 on white (WCAG AA for text; white numbers on a bar in
# these colours reach the same ratio): "Đạt" green, "Gần đạt" ochre and "Chưa đạt" crimson stay
# apart with every common colour-vision deficiency. Status is always also given as text and an icon.
STATUS_COLORS = {
    "dat": "#00795C",
    "gan_dat": "#8A6100",
    "chua_dat": "#C0264E",
    "khong_chi_tieu": "#6B6B6B",
    "thieu_so_lieu": "#767676",
}
STATUS_ICONS = {"dat": "✔", "gan_dat": "◐", "chua_dat": "✖", "khong_chi_tieu": "○", "thieu_so_lieu": "…"}
LEGEND_STATUSES = ("dat", "gan_dat", "chua_dat")  # a legend names these always, any other when drawn
TARGET_COLOR = "#222222"
INK = "#1F2937"
GRID = "#E5E7EB"
FONT = "DejaVu Sans, Arial, sans-serif"

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family=FONT, size=13, color=INK),
        paper_bgcolor="#FFFFFF",
        plot_bgcolor="#FFFFFF",
        colorway=["#0072B2", "#A86200", "#00795C", "#A8498A", "#3A6E8F", "#C0264E", "#7A6A00", "#000000"],
        separators=",.",
        hoverlabel=dict(font=dict(family=FONT, color=INK), bgcolor="#FFFFFF", bordercolor=GRID),
        xaxis=dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, tickfont=dict(color=INK)),
        yaxis=dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, tickfont=dict(color=INK)),
        legend=dict(font=dict(color=INK), bgcolor="rgba(255,255,255,0)"),
        margin=dict(l=10, r=20, t=40, b=30),
        title=dict(font=dict(size=15, color=INK), x=0, xanchor="left"),
    )
)


def new_figure() -> go.Figure:
    """An empty figure on the project template."""
    return go.Figure(layout=go.Layout(template=TEMPLATE))


TEMPLATE_JSON = TEMPLATE.to_plotly_json()


class Trace(dict):
    """A trace as plotly's JSON, also read and set by attribute as a graph object is (t.type, t.name)."""

    def __getattr__(self, name):
        return self.get(name)

    def __setattr__(self, name, value):
        self[name] = value


def unset_none(value):
    """`value` without the properties given as None (plotly leaves a property set to None unset)."""
    if isinstance(value, dict):
        return {k: unset_none(v) for k, v in value.items() if v is not None}
    return value


def _merge(into: dict, changes: dict) -> None:
    """`changes` laid over `into` as plotly's update does: a dict into a dict, anything else replaced,
    None unset."""
    for k, v in changes.items():
        if v is None:
            into.pop(k, None)
        elif isinstance(v, dict) and isinstance(into.get(k), dict):
            into[k] = dict(into[k])
            _merge(into[k], v)
        else:
            into[k] = unset_none(v)


class Sketch:
    """A figure being drawn, kept as plotly's JSON (traces and layout as plain dicts) with the few
    methods the builders use (add_bar, add_scatter, add_heatmap, add_trace(s), update_layout), made
    a go.Figure once at the end (`figure`) without plotly's checks.

    A graph object checks and converts each property as it is set: a rows chart's labels (two
    annotations per row) cost 20-40 ms that way, most of a principal's first visit to Chỉ tiêu or
    Trường after its queries (issue 29). The JSON is the same; tests/test_figures has plotly check
    every builder's output (a misspelt property fails there)."""

    def __init__(self):
        self.data: list[Trace] = []
        self.layout: dict = {"template": TEMPLATE_JSON}

    def add_trace(self, trace: dict) -> None:
        self.data.append(Trace(unset_none(trace)))

    def add_traces(self, traces) -> None:
        for t in traces:
            self.add_trace(t)

    def add_bar(self, **props) -> None:
        self.add_trace({"type": "bar", **props})

    def add_scatter(self, **props) -> None:
        self.add_trace({"type": "scatter", **props})

    def add_heatmap(self, **props) -> None:
        self.add_trace({"type": "heatmap", **props})

    def update_layout(self, **props) -> None:
        _merge(self.layout, props)

    def figure(self) -> go.Figure:
        return go.Figure({"data": [dict(t) for t in self.data], "layout": self.layout}, _validate=False)


def status_text(status: str) -> str:
    """'✔ Đạt', '◐ Gần đạt', '✖ Chưa đạt', ..."""
    return f"{STATUS_ICONS[status]} {STATUS_LABELS[status]}"


def _wrap(label: str, width: int = 48) -> str:
    words, lines, line = label.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    if len(lines) > 1 and len(lines[-1]) <= 6 and " " in lines[-2]:  # no lonely "2" or "tính)" on a line
        head, _, moved = lines[-2].rpartition(" ")
        lines[-2:] = [head, f"{moved} {lines[-1]}"]
    return "<br>".join(lines)


def percent_range(values, room: float = 0.0) -> list[float]:
    """A percent axis [0, top]: to 100% once the largest value or target reaches half of it (so a
    target of 100% is drawn inside, never on the frame), else to the largest value plus a fifth;
    `room`: a share of the axis kept free beyond the top (for labels)."""
    peak = pd.Series(values, dtype="float64").max()
    peak = 0.0 if pd.isna(peak) else float(peak) * 100
    top = max(100.0, peak) if peak >= 50 else max(5.0, math.ceil(peak * 1.2 / 5) * 5)
    return [0.0, top * (1 + room)]


def percent_ticks(top: float) -> list[float]:
    """Tick values of a percent axis up to `top` (never beyond 100%)."""
    step = next(s for s in (1, 2, 5, 10, 20, 25) if top / s <= 6)
    return [i * step for i in range(int(min(top, 100) // step) + 1)]


# ---- rows of bars, each with its label above it -------------------------------------------------
# A label on the left of a bar takes half of a phone's width; above the bar it takes none. Every
# chart with one bar per indicator, school or criterion draws its rows this way: the label on its
# own line(s), the value with its status icon at the right end of the label's last line, the bar
# below. The rows are categories of the y axis (the wrapped labels), each exactly `Rows.row` pixels
# high; labels and values are annotations shifted above the bars. A figure whose traces are copied
# into another (a subplot) keeps its bars, targets and category labels.

LINE = 16      # px per label line
BAR = 14       # bar thickness, px
ROW_GAP = 10   # px between a bar and the next label
WRAP = 40      # characters per label line (a 390 px phone keeps the value beside the label)
TRACK = "#E9ECEF"
LEGEND_ROW = 26


@dataclass(frozen=True)
class Rows:
    """The rows of a rows chart: their labels (wrapped, unique: the y categories) and sizes in px."""

    labels: list[str]
    row: float       # px from one bar's centre to the next
    above: float     # px above the first bar's centre (its label)
    below: float     # px below the last bar's centre
    height: float    # px of the plot area

    @property
    def width(self) -> float:
        """A bar's thickness in category units."""
        return BAR / self.row

    @property
    def y_range(self) -> list[float]:
        """The y axis range (categories reversed: the first row on top), one category = `row` px."""
        return [len(self.labels) - 1 + self.below / self.row, -self.above / self.row]


def rows_geometry(labels: list[str], wrap: int = WRAP, max_lines: int = 2) -> Rows:
    """Wrap the labels (at most `max_lines` lines, the rest in the hover; each unique) and size the
    rows for the longest one."""
    wrapped, seen = [], set()
    for lbl in labels:
        w = _wrap(lbl, wrap)
        if w.count("<br>") >= max_lines:
            w = "<br>".join(w.split("<br>")[:max_lines]) + "…"
        while w in seen:  # two rows with one label would merge into one category
            w += "\u200b"
        seen.add(w)
        wrapped.append(w)
    lines = max((w.count("<br>") + 1 for w in wrapped), default=1)
    row = LINE * lines + 4 + BAR + ROW_GAP
    above, below = LINE * lines + 4 + BAR / 2 + 4, BAR / 2 + 6
    return Rows(wrapped, row, above, below, above + row * max(len(wrapped) - 1, 0) + below)


def _rows_layout(fig: Sketch, geo: Rows, values: list[str], title: str, x_range: list[float],
                 ticks: list[float] | None = None, tick_text: list[str] | None = None, medium: Medium = SCREEN,
                 legend_names: list[str] | None = None) -> None:
    """Labels and values as annotations above the bars, the legend (and ticks) on top; the height
    counts the rows of a phone's legend of `legend_names` (default: the figure's).

    In print the image is the medium's width and as tall as on screen; the heading is the slide's or
    the page's (not drawn, its room kept), the legend runs across the image's top."""
    for t in fig.data:  # legend-only entries sit on a category too, so the y axis is read as categories
        if t.type == "scatter" and t.x is not None and list(t.x) == [None] and geo.labels:
            t.y = [geo.labels[0]]
    shift = BAR / 2 + 3
    notes = [dict(x=0, y=lbl, xref="paper", yref="y", yshift=shift, text=lbl, showarrow=False, xanchor="left",
                  yanchor="bottom", align="left", font=dict(size=12, color=INK)) for lbl in geo.labels]
    notes += [dict(x=1, y=lbl, xref="paper", yref="y", yshift=shift, text=v, showarrow=False, xanchor="right",
                   yanchor="bottom", align="right", font=dict(size=12, color=INK))
              for v, lbl in zip(values, geo.labels) if v]
    ticks_h = 22 if ticks else 0
    legend_h = LEGEND_ROW * _legend_rows(_legend_names(fig) if legend_names is None else legend_names)
    title_h = 34 if title else 0
    top = title_h + legend_h + ticks_h + 6
    height = int(round(geo.height + top + 8))
    if medium.print:
        top_of = dict(width=medium.width, title=None, margin=dict(l=20, r=40, t=70, b=30), legend=medium.legend())
    else:  # room on the right for half of the last tick's label ("15", "100%"): plotly hides a label
        # that would pass the figure's edge, so the axis would seem to stop short of its range
        top_of = dict(margin=dict(l=6, r=20 if ticks else 6, t=top, b=height - top - geo.height),
                      **title_and_legend(title, height))
    fig.update_layout(
        annotations=notes, barmode="overlay", height=height, showlegend=legend_h > 0,
        yaxis=dict(type="category", range=geo.y_range, showticklabels=False, showgrid=False, zeroline=False,
                   ticks="", fixedrange=True, automargin=False, title=None),
        xaxis=dict(range=x_range, side="top", fixedrange=True, automargin=False, zeroline=False,
                   showticklabels=bool(ticks), showgrid=False, ticks="outside" if ticks else "", ticklen=4,
                   tickcolor=GRID, tickvals=ticks or [],
                   ticktext=tick_text or [fmt_number(t) + "%" for t in ticks or []], title=None),
        **top_of,
    )


def _legend_names(fig: Sketch) -> list[str]:
    return [t.name for t in fig.data if t.showlegend is not False and t.name]


def _legend_rows(names: list[str], width: int = 340) -> int:
    """Rows a horizontal legend of `names` needs on a phone, as plotly lays it out: one row when
    every entry fits, else a grid of columns as wide as the widest entry."""
    if not names:
        return 0
    widths = [40 + 7 * len(n) for n in names]
    if sum(widths) <= width:
        return 1
    cols = max(1, width // max(widths))
    return -(-len(names) // cols)


def title_and_legend(title: str, height: int) -> dict:
    """Layout of a chart's top: its title, and right under it the legend, which grows downward
    (plotly moves the plot area down when a narrow screen wraps the legend into more rows): a
    legend never meets an axis title, tick labels or the chart's title."""
    title_h = 34 if title else 0
    return dict(title=dict(text=title, x=0, xanchor="left", y=1, yref="container", yanchor="top",
                           pad=dict(t=8, l=4)) if title else None,
                legend=dict(orientation="h", xref="container", x=0, xanchor="left", yref="container",
                            y=1 - (title_h + 2) / height,
                            yanchor="top", traceorder="normal", itemwidth=30, font=dict(size=12)))


def _legend_entry(fig: Sketch, name: str, color: str, symbol: str = "square") -> None:
    """A legend entry with nothing drawn (status colours named in words)."""
    fig.add_scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                    marker=dict(symbol=symbol, size=12, color=color, line=dict(width=3, color=color)))


def _status_legend(fig: Sketch, medium: Medium = SCREEN) -> None:
    """The status colours named: in words on screen, in words with their icons in print."""
    for st in LEGEND_STATUSES:
        _legend_entry(fig, status_text(st) if medium.print else STATUS_LABELS[st], STATUS_COLORS[st])


def legend_statuses(statuses) -> list[str]:
    """The statuses a legend names: đạt, gần đạt, chưa đạt, and any other that is drawn."""
    present = set(statuses)
    return [st for st in STATUS_COLORS if st in LEGEND_STATUSES or st in present]


def legend_bar(name: str, color: str, axes: tuple[str, str], y0) -> dict:
    """A legend entry for a colour (an empty bar): status by colour and by word."""
    return {"type": "bar", "orientation": "h", "x": [None], "y": [y0], "name": name, "showlegend": True,
            "marker": {"color": color}, "hoverinfo": "skip", "xaxis": axes[0], "yaxis": axes[1]}


def _value_text(value: str, status: str | None = None) -> str:
    """'✔ 93,4%' with the status icon in its colour (status in colour and in a shape)."""
    if status is None or status not in STATUS_ICONS:
        return f"<b>{value}</b>"
    return f"<span style='color:{STATUS_COLORS[status]}'>{STATUS_ICONS[status]}</span> <b>{value}</b>"


def _target_marks(fig: Sketch, xs: list, ys: list, name: str, show: bool = True) -> None:
    """The target of each row: a dark upright mark across its bar, never clipped at the frame."""
    fig.add_scatter(x=xs, y=ys, mode="markers", name=name, showlegend=show, cliponaxis=False,
                    marker=dict(symbol="line-ns", size=BAR + 6, color=TARGET_COLOR,
                                line=dict(width=3, color=TARGET_COLOR)),
                    hovertemplate=name + ": %{x:.1f}%<extra></extra>")


def progress_bars(rows: pd.DataFrame, title: str = "", medium: Medium = SCREEN) -> go.Figure:
    """One row per indicator: its pooled value as a bar on a 0-100% track, coloured by status, its
    target as a mark, the value and a status icon on the right; the legend names the colours.

    `rows` is kpi.domain.progress.overview_rows' frame (columns label, level, value, target, status,
    schools_reporting, schools_expected). In print (the pack's overview image, in the PNG zip and
    the HTML; the documents give it as a table) the legend names every status drawn with its icon,
    the axis leaves room right of 100%, and the image keeps the screen chart's rows and height.
    """
    rows = rows.reset_index(drop=True)
    labels = [f"{cl} · {lbl}" + ("" if lv == "Tất cả" else f" ({lv})")
              for cl, lbl, lv in zip(rows["clause"], rows["label"], rows["level"])]
    geo = rows_geometry(labels)
    values = [None if pd.isna(v) else v * 100 for v in rows["value"]]
    fig = Sketch()
    _status_legend(fig, medium)
    if medium.print:  # any other status drawn is named too (the last first, as the pack's legend has it)
        for st in reversed(legend_statuses(rows["status"])[len(LEGEND_STATUSES):]):
            fig.add_trace(legend_bar(status_text(st), STATUS_COLORS[st], ("x", "y"), geo.labels[0]))
    fig.add_bar(x=[100] * len(rows), y=geo.labels, width=geo.width, orientation="h", marker=dict(color=TRACK),
                hoverinfo="skip", showlegend=False, name="Thang 100%")
    fig.add_bar(
        x=values, y=geo.labels, width=geo.width, orientation="h", name="Giá trị", showlegend=False,
        marker=dict(color=[STATUS_COLORS[s] for s in rows["status"]]),
        text=[f"{fmt_percent(v)} {STATUS_ICONS[s]}" if medium.print else fmt_percent(v)
              for v, s in zip(rows["value"], rows["status"])], textposition="none",
        cliponaxis=False if medium.print else None,
        customdata=[[lbl.replace("<br>", " "), status_text(s), fmt_percent(t), f"{fmt_int(r)}/{fmt_int(e)}"]
                    for lbl, s, t, r, e in zip(labels, rows["status"], rows["target"], rows["schools_reporting"],
                                               rows["schools_expected"])],
        hovertemplate="%{customdata[0]}<br>Giá trị: %{text}<br>Chỉ tiêu: %{customdata[2]}<br>%{customdata[1]}"
                      "<br>Trường báo cáo: %{customdata[3]}<extra></extra>",
    )
    has_target = rows["target"].notna()
    _target_marks(fig, (rows.loc[has_target, "target"] * 100).tolist(),
                  [b for b, h in zip(geo.labels, has_target) if h], "Chỉ tiêu")
    _rows_layout(fig, geo, [_value_text(fmt_percent(v), s) for v, s in zip(rows["value"], rows["status"])],
                 title, [0, 118] if medium.print else [0, 100], medium=medium,
                 legend_names=[STATUS_LABELS[st] for st in LEGEND_STATUSES] + ["Chỉ tiêu"])
    return fig.figure()


def school_bars(df: pd.DataFrame, title: str = "") -> go.Figure:
    """One row per school, sorted by value, coloured by status, with its level's target as a mark.

    `df` is kpi.store.queries.school_values' frame (name, level, value, target, status, is_own,
    school_id). Bars carry the school id in customdata so a click can open the school.
    """
    d = df[df["value"].notna()].sort_values("value", ascending=False).reset_index(drop=True)
    labels = [f"{i + 1}. {n}" + (" ◀ trường của bạn" if own else "")
              for i, (n, own) in enumerate(zip(d["name"], d["is_own"]))]
    geo = rows_geometry(labels)
    x_range = percent_range(list(d["value"]) + list(d["target"]))
    fig = Sketch()
    _status_legend(fig)
    if d["target"].notna().any():
        _legend_entry(fig, "Chỉ tiêu", TARGET_COLOR, "line-ns")
    custom = [[sid if isinstance(sid, str) else "", status_text(s), lv, lbl.replace("<br>", " "), fmt_percent(v)]
              for sid, s, lv, lbl, v in zip(d["school_id"], d["status"], d["level"], labels, d["value"])]
    fig.add_bar(
        y=geo.labels, x=d["value"] * 100, width=geo.width, orientation="h", showlegend=False, name="Trường",
        marker=dict(color=[STATUS_COLORS[s] for s in d["status"]],
                    line=dict(color=[INK if own else "rgba(0,0,0,0)" for own in d["is_own"]], width=2)),
        customdata=custom, text=[fmt_percent(v) for v in d["value"]], textposition="none",
        hovertemplate="%{customdata[3]}<br>%{customdata[4]} · %{customdata[1]}<extra></extra>",
    )
    for i, (lv, g) in enumerate(d.groupby("level", sort=False)):
        t = g["target"].dropna()
        if t.empty:
            continue
        _target_marks(fig, [t.iloc[0] * 100] * len(g), [geo.labels[j] for j in g.index], f"Chỉ tiêu {lv}",
                      show=False)
    _rows_layout(fig, geo, [_value_text(fmt_percent(v), s) for v, s in zip(d["value"], d["status"])], title,
                 x_range, percent_ticks(x_range[1]), None)
    return fig.figure()


def school_histogram(df: pd.DataFrame, title: str = "") -> go.Figure:
    """Distribution of school values in 5-point bins on a 0-100% axis (for more schools than bars
    can show); a value of exactly 100% counts in the last bin."""
    d = df[df["value"].notna()]
    bins = (d["value"] * 100 // 5 * 5).clip(upper=95)
    counts = bins.value_counts().sort_index()
    fig = Sketch()
    fig.add_bar(x=[b + 2.5 for b in counts.index], y=counts.values, width=4.6, marker=dict(color="#0072B2"),
                customdata=[f"{fmt_int(b)}-{fmt_int(b + 5)}%" for b in counts.index], name="Số trường",
                hovertemplate="%{customdata}: %{y} trường<extra></extra>")
    ticks = list(range(0, 101, 20))
    fig.update_layout(height=360, margin=dict(l=8, r=12, t=(34 if title else 0) + 16, b=8),
                      **title_and_legend(title, 360), showlegend=False,
                      xaxis=dict(title=dict(text="Giá trị của trường"), range=[0, 100], tickvals=ticks, ticks="outside",
                                 ticklen=8, tickcolor="#FFFFFF", ticktext=[f"{t}%" for t in ticks], automargin=True,
                                 fixedrange=True),
                      yaxis=dict(title=dict(text="Số trường"), automargin=True, fixedrange=True,
                                 range=[0, max(1, int(counts.max() if len(counts) else 1)) * 1.12]))
    return fig.figure()


def compare_bars(rows: pd.DataFrame, title: str = "") -> go.Figure:
    """Per indicator: schools that moved up to đạt (right, green) and that fell back (left, orange)."""
    rows = rows.reset_index(drop=True)
    geo = rows_geometry([f"{c} · {lbl}" for c, lbl in zip(rows["clause"], rows["label"])])
    m = int(max(rows["moved_up"].max(), rows["fell_back"].max(), 1)) if len(rows) else 1
    step = max(1, -(-m // 4))
    ticks = list(range(-(-m // step) * -step, -(-m // step) * step + 1, step))
    fig = Sketch()
    fig.add_bar(y=geo.labels, x=rows["moved_up"], width=geo.width, orientation="h", name="Lên đạt",
                marker=dict(color=STATUS_COLORS["dat"]), customdata=geo.labels,
                hovertemplate="%{customdata}<br>Lên đạt: %{x} trường<extra></extra>")
    fig.add_bar(y=geo.labels, x=-rows["fell_back"], width=geo.width, orientation="h", name="Tụt khỏi đạt",
                marker=dict(color=STATUS_COLORS["chua_dat"]),
                customdata=[[lbl, n] for lbl, n in zip(geo.labels, rows["fell_back"])],
                hovertemplate="%{customdata[0]}<br>Tụt khỏi đạt: %{customdata[1]} trường<extra></extra>")
    values = [f"<span style='color:{STATUS_COLORS['dat']}'>▲</span> {fmt_int(u)} · "
              f"<span style='color:{STATUS_COLORS['chua_dat']}'>▼</span> {fmt_int(f)}"
              for u, f in zip(rows["moved_up"], rows["fell_back"])]
    lim = ticks[-1] if ticks else m
    _rows_layout(fig, geo, values, title, [-lim * 1.02, lim * 1.02], ticks, [fmt_int(abs(t)) for t in ticks])
    fig.update_layout(barmode="relative", xaxis=dict(zeroline=True, zerolinecolor=INK, zerolinewidth=1))
    return fig.figure()


LEVEL_COLORS = {1: STATUS_COLORS["chua_dat"], 2: STATUS_COLORS["gan_dat"], 3: STATUS_COLORS["dat"]}
LEVEL_LABELS = {1: "Mức 1 - Chưa đáp ứng", 2: "Mức 2 - Đáp ứng cơ bản", 3: "Mức 3 - Đáp ứng tốt"}


def level_distribution(dist: pd.DataFrame, title: str = "", medium: Medium = SCREEN) -> go.Figure:
    """Stacked bars: schools at Mức 1/2/3 per group × cấp học (kpi.domain.maturity.distribution).

    In print (the pack's maturity image): the medium's size, every text at its `text_px`, the
    legend across the image's top, the heading the slide's or the page's."""
    d = dist.assign(row=dist["group"] + " · " + dist["level"])
    rows = list(dict.fromkeys(d["row"]))
    fig = Sketch()
    for m in (1, 2, 3):
        part = d[d["maturity"] == m].set_index("row").reindex(rows)
        fig.add_bar(y=rows, x=part["schools"], orientation="h", name=LEVEL_LABELS[m],
                    marker=dict(color=LEVEL_COLORS[m]),
                    text=[fmt_int(v) if v else "" for v in part["schools"].fillna(0)], textposition="inside",
                    insidetextanchor="middle", insidetextfont=dict(color="#FFFFFF"),
                    textfont=dict(size=medium.text_px, color="#FFFFFF") if medium.print else None,
                    hovertemplate="%{y}<br>" + LEVEL_LABELS[m] + ": %{x} trường<extra></extra>")
    yaxis, xaxis = dict(autorange="reversed", automargin=True, title=None), dict(title=None, rangemode="tozero",
                                                                                  automargin=True)
    if medium.print:
        for ax in (xaxis, yaxis):
            ax.update(tickfont=dict(size=medium.text_px), title=dict(font=dict(size=medium.text_px)))
        top_of = dict(width=medium.width, height=medium.height, title=None, margin=dict(l=20, r=30, t=80, b=60),
                      font=dict(family=FONT, size=medium.text_px, color=INK),
                      legend=medium.legend(traceorder="normal", font=dict(size=medium.text_px)))
    else:
        height = max(280, 34 * len(rows) + 110)
        top_of = dict(height=height, margin=dict(l=8, r=12, t=(34 if title else 0) + 34, b=8),
                      **title_and_legend(title, height))
    fig.update_layout(barmode="stack", uniformtext=dict(minsize=10, mode="hide"), yaxis=yaxis, xaxis=xaxis, **top_of)
    return fig.figure()


def level_trend(trend: pd.DataFrame, title: str = "") -> go.Figure:
    """Stacked bars per school year: schools at each school level (kpi.domain.maturity.trend)."""
    fig = Sketch()
    for m in (1, 2, 3):
        part = trend[trend["school_level"] == m]
        fig.add_bar(x=part["school_year"], y=part["schools"], name=LEVEL_LABELS[m],
                    marker=dict(color=LEVEL_COLORS[m]), text=[fmt_int(v) if v else "" for v in part["schools"]],
                    textposition="inside", insidetextfont=dict(color="#FFFFFF"),
                    hovertemplate="%{x}<br>" + LEVEL_LABELS[m] + ": %{y} trường<extra></extra>")
    fig.update_layout(barmode="stack", height=380, uniformtext=dict(minsize=10, mode="hide"),
                      margin=dict(l=8, r=12, t=(34 if title else 0) + 34, b=8),
                      xaxis=dict(type="category", title=None, automargin=True),
                      yaxis=dict(title=None, automargin=True, rangemode="tozero"), **title_and_legend(title, 380))
    return fig.figure()


MISSING_COLOR = "#FFFFFF"
MISSING_MARK = "—"
MISSING_MARK_NAME = "Chưa có điểm (—)"
# No point earned is orange, all points dark blue, through yellow and green (never through grey, as
# orange straight to blue does): a criterion without a score is a white cell marked "—", which no
# shade of the scale resembles.
HEAT_SCALE = [[0, "#FDAE6B"], [0.3, "#FED976"], [0.55, "#A1D99B"], [0.78, "#41B6C4"], [1, "#08519C"]]
HEAT_GRID = "#BDBDBD"  # the lines between cells, so that a white cell reads as a cell


def criteria_heatmap(matrix: pd.DataFrame, names: dict[str, str], title: str = "",
                     short: dict[str, str] | None = None) -> go.Figure:
    """Schools (rows) × criteria (columns): share of each criterion's maximum earned. Columns are
    named by criterion number and short name; a criterion without points is a white cell marked "—"."""
    short = short or {}
    cols = [f"{c} · {short.get(c) or names.get(c, c)}" for c in matrix.columns]
    z = matrix.values * 100
    fig = Sketch()
    missing = pd.isna(z)
    if missing.any():
        fig.add_heatmap(z=[[1 if m else None for m in row] for row in missing], x=cols, y=list(matrix.index),
                        colorscale=[[0, MISSING_COLOR], [1, MISSING_COLOR]], showscale=False, xgap=1, ygap=1,
                        hovertemplate="%{y}<br>%{x}<br>chưa có điểm<extra></extra>", name="Chưa có điểm")
        # each white cell marked "—" (a marker, not a text label: it shrinks with the cell on a phone)
        at = [(x, y) for y, row in zip(matrix.index, missing) for x, m in zip(cols, row) if m]
        fig.add_scatter(x=[x for x, _ in at], y=[y for _, y in at], mode="markers", name=MISSING_MARK_NAME,
                        marker=dict(symbol="line-ew", size=8, line=dict(width=1.5, color="#333333")),
                        showlegend=False, hovertemplate="%{y}<br>%{x}<br>chưa có điểm<extra></extra>")
    fig.add_heatmap(
        z=z, x=cols, y=list(matrix.index), colorscale=HEAT_SCALE, zmin=0, zmax=100,
        colorbar=dict(title=dict(text=f"% điểm tối đa · ô {MISSING_MARK}: chưa có điểm", side="top"),
                      thickness=12,
                      orientation="h", xref="container", x=0.01, xanchor="left", len=300, lenmode="pixels",
                      yref="container", y=0, yanchor="bottom", ypad=6,
                      tickvals=[0, 25, 50, 75, 100], ticktext=["0%", "25%", "50%", "75%", "100%"]),
        customdata=[[names.get(c, c) for c in matrix.columns]] * len(matrix),
        hovertemplate="%{y}<br>%{customdata}<br>%{z:.0f}% điểm tối đa<extra></extra>",
        xgap=1, ygap=1, name="% điểm tối đa",
    )
    height = max(360, 18 * len(matrix) + 300)
    fig.update_layout(height=height, margin=dict(l=8, r=8, t=(34 if title else 0) + 8, b=90), plot_bgcolor=HEAT_GRID,
                      **title_and_legend(title, height),
                      xaxis=dict(side="top", tickangle=-90, title=None, type="category", automargin=True,
                                 tickfont=dict(size=11), fixedrange=True),
                      yaxis=dict(autorange="reversed", automargin=True, title=None, tickfont=dict(size=11),
                                 type="category", fixedrange=True))
    return fig.figure()


def points_lost_bars(lost: pd.DataFrame, title: str = "", short: dict[str, str] | None = None) -> go.Figure:
    """Per criterion: average points lost per school (of its maximum), largest first
    (kpi.store.queries.maturity_lost); rows named by criterion number and `short` name (the full name in
    the hover)."""
    d = lost.reset_index(drop=True)
    short = short or {}
    geo = rows_geometry([f"{c} · {short.get(c) or n}" + (" (tạm tính)" if p else "")
                         for c, n, p in zip(d["criterion_code"], d["name"], d["provisional"])])
    top = float(d["max_points"].max()) if len(d) else 1.0
    fig = Sketch()
    _legend_entry(fig, "Điểm mất bình quân", "#0072B2")
    _legend_entry(fig, "Điểm tối đa", TRACK)
    fig.add_bar(y=geo.labels, x=d["max_points"], width=geo.width, orientation="h", marker=dict(color=TRACK),
                hoverinfo="skip", showlegend=False, name="Điểm tối đa")
    fig.add_bar(y=geo.labels, x=d["lost_per_school"], width=geo.width, orientation="h", marker=dict(color="#0072B2"),
                customdata=[[f"{c} · {n}", fmt_number(v, 2), fmt_number(m), fmt_number(t)]
                            for c, n, v, m, t in zip(d["criterion_code"], d["name"], d["lost_per_school"],
                                                     d["max_points"], d["lost"])],
                hovertemplate="%{customdata[0]}<br>Mất bình quân %{customdata[1]} / %{customdata[2]} điểm mỗi trường"
                              "<br>Tổng cộng %{customdata[3]} điểm<extra></extra>", name="Điểm mất", showlegend=False)
    ticks = [t for t in range(0, int(top) + 1, 5 if top > 10 else 2)]
    _rows_layout(fig, geo, [f"<b>{fmt_number(v, 2)}</b> / {fmt_number(m)}"
                            for v, m in zip(d["lost_per_school"], d["max_points"])], title, [0, top], ticks,
                 [fmt_int(t) for t in ticks])
    return fig.figure()


def sparkline_svg(values: list, target: float | None = None, width: int = 120, height: int = 28) -> str:
    """A tiny inline SVG line of a school's values over the periods (None = no report), with the
    target as a dashed line. Inline, so it needs nothing from the network and prints."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None and not pd.isna(v)]
    if len(values) < 2 or not pts:
        return ""
    top = max([v for _, v in pts] + ([target] if target else []) + [1e-9])
    x = lambda i: 3 + i * (width - 6) / (len(values) - 1)  # noqa: E731
    y = lambda v: height - 3 - v / top * (height - 6)  # noqa: E731
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="Diễn biến qua các kỳ">']
    if target:
        parts.append(f'<line x1="0" x2="{width}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                     f'stroke="{TARGET_COLOR}" stroke-dasharray="3,2" stroke-width="1"/>')
    parts.append(f'<polyline points="{line}" fill="none" stroke="#0072B2" stroke-width="2"/>')
    lx, lv = pts[-1]
    parts.append(f'<circle cx="{x(lx):.1f}" cy="{y(lv):.1f}" r="2.5" fill="#0072B2"/></svg>')
    return "".join(parts)


def criteria_bars(crit: pd.DataFrame, names: dict[str, str], title: str = "",
                  short: dict[str, str] | None = None) -> go.Figure:
    """One school's criteria: points earned (blue) against each criterion's maximum (grey track);
    rows named by criterion number and `short` name (the full name in the hover)."""
    d = crit[~crit["placeholder"] & (crit["max_points"] > 0)].reset_index(drop=True)
    short = short or {}
    geo = rows_geometry([f"{c} · {short.get(c) or names.get(c, c)}" for c in d["criterion_code"]])
    full = [f"{c} · {names.get(c, c)}" for c in d["criterion_code"]]
    top = float(d["max_points"].max() or 1) if len(d) else 1.0
    fig = Sketch()
    _legend_entry(fig, "Điểm đạt", "#0072B2")
    _legend_entry(fig, "Điểm tối đa", TRACK)
    fig.add_bar(y=geo.labels, x=d["max_points"], width=geo.width, orientation="h", name="Điểm tối đa", showlegend=False,
                marker=dict(color=TRACK), customdata=full, hovertemplate="%{customdata}<br>Tối đa %{x}<extra></extra>")
    fig.add_bar(y=geo.labels, x=d["points"], width=geo.width, orientation="h", name="Điểm đạt", showlegend=False,
                marker=dict(color="#0072B2"),
                customdata=[[f, fmt_number(p), fmt_number(m)] for f, p, m in zip(full, d["points"], d["max_points"])],
                hovertemplate="%{customdata[0]}<br>Đạt %{customdata[1]} / %{customdata[2]} điểm<extra></extra>")
    ticks = list(range(0, int(top) + 1, 5 if top > 10 else 2))
    _rows_layout(fig, geo, [f"<b>{fmt_number(p)}</b> / {fmt_number(m)}" for p, m in zip(d["points"], d["max_points"])],
                 title, [0, top], ticks, [fmt_int(t) for t in ticks])
    return fig.figure()
