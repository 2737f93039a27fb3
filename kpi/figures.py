"""Figure builders: prepared frame in, plotly Figure out, no I/O.

One template (`TEMPLATE`) for colours, font and Vietnamese number format, used on screen and in
exports. Every colour is explicit: `import streamlit` changes plotly's default template to one
whose colours only the browser fills in, which would make exported images black.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from kpi.formatting import fmt_int, fmt_number, fmt_percent
from kpi.progress import STATUS_LABELS

# Okabe-Ito palette: distinguishable with every common colour-vision deficiency. Status is
# always also given as text and an icon.
STATUS_COLORS = {
    "dat": "#009E73",
    "gan_dat": "#E69F00",
    "chua_dat": "#D55E00",
    "khong_chi_tieu": "#999999",
    "thieu_so_lieu": "#BBBBBB",
}
STATUS_ICONS = {"dat": "✔", "gan_dat": "◐", "chua_dat": "✖", "khong_chi_tieu": "○", "thieu_so_lieu": "…"}
TARGET_COLOR = "#222222"
INK = "#1F2937"
GRID = "#E5E7EB"
FONT = "DejaVu Sans, Arial, sans-serif"

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family=FONT, size=13, color=INK),
        paper_bgcolor="#FFFFFF",
        plot_bgcolor="#FFFFFF",
        colorway=["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"],
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
    return "<br>".join(lines)


def _axis_top(values) -> float:
    """Upper end of a percent axis: room for the largest value or target and its label."""
    peak = pd.Series(values, dtype="float64").max()
    return 100.0 if pd.isna(peak) else min(112.0, max(5.0, float(peak) * 100 * 1.25))


def _status_legend(fig: go.Figure, y0) -> None:
    for st in ("dat", "gan_dat", "chua_dat"):  # legend entries: status by colour and by name
        fig.add_bar(x=[None], y=[y0], orientation="h", name=STATUS_LABELS[st],
                    marker=dict(color=STATUS_COLORS[st]), hoverinfo="skip")


def progress_bars(rows: pd.DataFrame, title: str = "") -> go.Figure:
    """Horizontal bars: each indicator's pooled value, coloured by status, with its target.

    `rows` is kpi.progress.overview_rows' frame (columns label, level, value, target, status,
    schools_reporting, schools_expected).
    """
    rows = rows.reset_index(drop=True)
    names = [_wrap(f"{cl} · {lbl}" + ("" if lv == "Tất cả" else f" ({lv})"), 44)
             for cl, lbl, lv in zip(rows["clause"], rows["label"], rows["level"])]
    values = [None if pd.isna(v) else v * 100 for v in rows["value"]]
    fig = new_figure()
    _status_legend(fig, names[0] if names else None)
    fig.add_bar(
        x=values, y=names, orientation="h", name="Giá trị", showlegend=False,
        marker=dict(color=[STATUS_COLORS[s] for s in rows["status"]]),
        text=[fmt_percent(v) for v in rows["value"]], textposition="outside",
        textfont=dict(color=INK),
        customdata=[[status_text(s), fmt_percent(t), f"{fmt_int(r)}/{fmt_int(e)}"]
                    for s, t, r, e in zip(rows["status"], rows["target"], rows["schools_reporting"],
                                          rows["schools_expected"])],
        hovertemplate="%{y}<br>Giá trị: %{text}<br>Chỉ tiêu: %{customdata[1]}<br>%{customdata[0]}"
                      "<br>Trường báo cáo: %{customdata[2]}<extra></extra>",
    )
    has_target = rows["target"].notna()
    fig.add_scatter(
        x=(rows.loc[has_target, "target"] * 100).tolist(), y=[n for n, h in zip(names, has_target) if h],
        mode="markers", name="Chỉ tiêu",
        marker=dict(symbol="line-ns", size=22, line=dict(width=3, color=TARGET_COLOR), color=TARGET_COLOR),
        hovertemplate="Chỉ tiêu: %{x:.1f}%<extra></extra>",
    )
    fig.update_layout(
        title=title, height=max(260, 44 * len(rows) + 110), showlegend=True,
        legend=dict(orientation="h", y=-0.01, x=0, xanchor="left", yanchor="top"),
        xaxis=dict(range=[0, 115], ticksuffix="%", title=None, side="top"),
        yaxis=dict(autorange="reversed", title=None, automargin=True, tickfont=dict(size=12)),
        bargap=0.35, barmode="overlay",
    )
    return fig


SERIES_COLORS = {"Tất cả": "#0072B2", "MN": "#CC79A7", "TH": "#0072B2", "THCS": "#009E73", "GDTX": "#E69F00"}


def trend_chart(rows: pd.DataFrame, title: str = "") -> go.Figure:
    """District value over all periods, one line per series, each with its target as a dashed step.

    `rows` is kpi.progress.trend_rows' frame (period, series, value, target). A target that
    changes by school year is drawn as it was in force each period; no target, no line.
    """
    fig = new_figure()
    for series, g in rows.groupby("series", sort=False):
        color = SERIES_COLORS.get(series, "#0072B2")
        name = "Toàn đơn vị" if series == "Tất cả" else series
        fig.add_scatter(
            x=g["period"], y=g["value"] * 100, mode="lines+markers+text", name=name,
            line=dict(color=color, width=3), marker=dict(color=color, size=8),
            text=[fmt_percent(v) for v in g["value"]], textposition="top center", textfont=dict(color=INK),
            customdata=[[f"{fmt_int(r)}/{fmt_int(e)}"] for r, e in zip(g["schools_reporting"], g["schools_expected"])],
            hovertemplate="%{x}<br>" + name + ": %{text}<br>Trường báo cáo: %{customdata[0]}<extra></extra>",
        )
        if g["target"].notna().any():
            fig.add_scatter(
                x=g["period"], y=g["target"] * 100, mode="lines", name=f"Chỉ tiêu {name}",
                line=dict(color=color, width=2, dash="dash", shape="hv"),
                hovertemplate="%{x}<br>Chỉ tiêu: %{y:.1f}%<extra></extra>",
            )
    top = _axis_top(list(rows["value"]) + list(rows["target"]))
    fig.update_layout(title=title, height=380,
                      yaxis=dict(ticksuffix="%", range=[0, top], title=None, automargin=True),
                      xaxis=dict(title=None, type="category"),
                      legend=dict(orientation="h", y=-0.18, x=0))
    return fig


def school_bars(df: pd.DataFrame, title: str = "") -> go.Figure:
    """One bar per school, sorted, coloured by status, with a dashed target line per level.

    `df` is kpi.queries.school_values' frame (name, level, value, target, status, is_own,
    school_id). Bars carry the school id in customdata so a click can open the school.
    """
    d = df[df["value"].notna()].sort_values("value", ascending=False).reset_index(drop=True)
    labels = [f"{i + 1}. {n}" + (" ◀ trường của bạn" if own else "")
              for i, (n, own) in enumerate(zip(d["name"], d["is_own"]))]
    fig = new_figure()
    _status_legend(fig, labels[0] if labels else None)
    fig.add_bar(
        y=labels, x=d["value"] * 100, orientation="h", showlegend=False, name="Trường",
        marker=dict(color=[STATUS_COLORS[s] for s in d["status"]],
                    line=dict(color=[INK if own else "rgba(0,0,0,0)" for own in d["is_own"]], width=2)),
        customdata=[[sid if isinstance(sid, str) else "", status_text(s), lv]
                    for sid, s, lv in zip(d["school_id"], d["status"], d["level"])],
        text=[fmt_percent(v) for v in d["value"]], textposition="outside", textfont=dict(color=INK, size=11),
        hovertemplate="%{y}<br>%{text} · %{customdata[1]}<extra></extra>",
    )
    for lv, g in d.groupby("level", sort=False):
        t = g["target"].dropna()
        if t.empty:
            continue
        ys = [labels[i] for i in g.index]
        fig.add_scatter(x=[t.iloc[0] * 100] * len(ys), y=ys, mode="markers", name=f"Chỉ tiêu {lv}",
                        marker=dict(symbol="line-ns", size=18, line=dict(width=2, color=TARGET_COLOR)),
                        hovertemplate=f"Chỉ tiêu {lv}: " + "%{x:.1f}%<extra></extra>")
    fig.update_layout(title=title, height=max(300, 24 * len(d) + 120), barmode="overlay",
                      yaxis=dict(autorange="reversed", automargin=True, title=None, tickfont=dict(size=12)),
                      xaxis=dict(ticksuffix="%", title=None, side="top",
                                 range=[0, _axis_top(list(d["value"]) + list(d["target"]))]),
                      legend=dict(orientation="h", y=-0.02, x=0, yanchor="top"), bargap=0.25)
    return fig


def school_histogram(df: pd.DataFrame, title: str = "") -> go.Figure:
    """Distribution of school values in 5-point bins (for more schools than bars can show)."""
    d = df[df["value"].notna()]
    bins = (d["value"] * 100 // 5 * 5).clip(upper=100)
    counts = bins.value_counts().sort_index()
    fig = new_figure()
    fig.add_bar(x=[f"{fmt_int(b)}-{fmt_int(min(b + 5, 100))}%" for b in counts.index], y=counts.values,
                marker=dict(color="#0072B2"), hovertemplate="%{x}: %{y} trường<extra></extra>", name="Số trường")
    fig.update_layout(title=title, height=360, xaxis=dict(title="Giá trị của trường", type="category"),
                      yaxis=dict(title="Số trường"))
    return fig


def compare_bars(rows: pd.DataFrame, title: str = "") -> go.Figure:
    """Per indicator: schools that moved up to đạt (right) and that fell back (left)."""
    names = [_wrap(f"{c} · {lbl}", 44) for c, lbl in zip(rows["clause"], rows["label"])]
    m = int(max(rows["moved_up"].max(), rows["fell_back"].max(), 1)) if len(rows) else 1
    step = max(1, -(-m // 5))
    ticks = list(range(-(m // step) * step, m + 1, step))
    fig = new_figure()
    fig.add_bar(y=names, x=rows["moved_up"], orientation="h", name="Lên đạt",
                marker=dict(color=STATUS_COLORS["dat"]), hovertemplate="%{y}<br>Lên đạt: %{x} trường<extra></extra>")
    fig.add_bar(y=names, x=-rows["fell_back"], orientation="h", name="Tụt khỏi đạt",
                marker=dict(color=STATUS_COLORS["chua_dat"]), customdata=rows["fell_back"],
                hovertemplate="%{y}<br>Tụt khỏi đạt: %{customdata} trường<extra></extra>")
    fig.update_layout(title=title, barmode="relative", height=max(300, 34 * len(rows) + 120),
                      yaxis=dict(autorange="reversed", automargin=True, title=None),
                      xaxis=dict(title="Số trường (trái: tụt khỏi đạt · phải: lên đạt)", zeroline=True,
                                 zerolinecolor=INK, tickvals=ticks, ticktext=[fmt_int(abs(t)) for t in ticks]),
                      legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return fig


LEVEL_COLORS = {1: STATUS_COLORS["chua_dat"], 2: STATUS_COLORS["gan_dat"], 3: STATUS_COLORS["dat"]}
LEVEL_LABELS = {1: "Mức 1 - Chưa đáp ứng", 2: "Mức 2 - Đáp ứng cơ bản", 3: "Mức 3 - Đáp ứng tốt"}


def level_distribution(dist: pd.DataFrame, title: str = "") -> go.Figure:
    """Stacked bars: schools at Mức 1/2/3 per group × cấp học (kpi.maturity.distribution)."""
    d = dist.assign(row=dist["group"] + " · " + dist["level"])
    rows = list(dict.fromkeys(d["row"]))
    fig = new_figure()
    for m in (1, 2, 3):
        part = d[d["maturity"] == m].set_index("row").reindex(rows)
        fig.add_bar(y=rows, x=part["schools"], orientation="h", name=LEVEL_LABELS[m],
                    marker=dict(color=LEVEL_COLORS[m]), text=part["schools"], textposition="inside",
                    insidetextfont=dict(color="#FFFFFF"),
                    hovertemplate="%{y}<br>" + LEVEL_LABELS[m] + ": %{x} trường<extra></extra>")
    fig.update_layout(title=title, barmode="stack", height=max(280, 34 * len(rows) + 120),
                      yaxis=dict(autorange="reversed", automargin=True, title=None),
                      xaxis=dict(title="Số trường"),
                      legend=dict(orientation="h", y=-0.12, x=0, yanchor="top", traceorder="normal"))
    return fig


def level_trend(trend: pd.DataFrame, title: str = "") -> go.Figure:
    """Stacked bars per school year: schools at each school level (kpi.maturity.trend)."""
    fig = new_figure()
    for m in (1, 2, 3):
        part = trend[trend["school_level"] == m]
        fig.add_bar(x=part["school_year"], y=part["schools"], name=LEVEL_LABELS[m],
                    marker=dict(color=LEVEL_COLORS[m]), text=part["schools"], textposition="inside",
                    insidetextfont=dict(color="#FFFFFF"),
                    hovertemplate="%{x}<br>" + LEVEL_LABELS[m] + ": %{y} trường<extra></extra>")
    fig.update_layout(title=title, barmode="stack", height=360, xaxis=dict(type="category", title=None),
                      yaxis=dict(title="Số trường", automargin=True),
                      legend=dict(orientation="h", y=-0.15, x=0, yanchor="top", traceorder="normal"))
    return fig


def criteria_heatmap(matrix: pd.DataFrame, names: dict[str, str], title: str = "") -> go.Figure:
    """Schools (rows) × criteria (columns): share of each criterion's maximum earned."""
    fig = new_figure()
    fig.add_heatmap(
        z=matrix.values * 100, x=list(matrix.columns), y=list(matrix.index),
        colorscale=[[0, "#FFFFFF"], [0.5, "#56B4E9"], [1, "#0072B2"]], zmin=0, zmax=100,
        colorbar=dict(title="% điểm tối đa", ticksuffix="%"),
        customdata=[[names.get(c, c) for c in matrix.columns]] * len(matrix),
        hovertemplate="%{y}<br>%{x} %{customdata}<br>%{z:.0f}% điểm tối đa<extra></extra>",
        xgap=1, ygap=1,
    )
    fig.update_layout(title=title, height=max(320, 18 * len(matrix) + 140),
                      xaxis=dict(side="top", tickangle=-90, title=None, type="category", automargin=True,
                                 tickfont=dict(size=11)),
                      yaxis=dict(autorange="reversed", automargin=True, title=None, tickfont=dict(size=11)))
    return fig


def points_lost_bars(lost: pd.DataFrame, title: str = "") -> go.Figure:
    """Per criterion: average points lost per school, largest first (kpi.queries.maturity_lost)."""
    d = lost.reset_index(drop=True)
    names = [_wrap(f"{c} · {n}" + (" (tạm tính)" if p else ""), 50)
             for c, n, p in zip(d["criterion_code"], d["name"], d["provisional"])]
    fig = new_figure()
    fig.add_bar(y=names, x=d["lost_per_school"], orientation="h", marker=dict(color="#0072B2"),
                text=[fmt_number(v) for v in d["lost_per_school"]], textposition="outside",
                textfont=dict(color=INK),
                customdata=[[fmt_number(m), fmt_number(t)] for m, t in zip(d["max_points"], d["lost"])],
                hovertemplate="%{y}<br>Mất bình quân %{text} / %{customdata[0]} điểm mỗi trường"
                              "<br>Tổng cộng %{customdata[1]} điểm<extra></extra>", name="Điểm mất")
    fig.update_layout(title=title, height=max(300, 30 * len(d) + 100), showlegend=False,
                      yaxis=dict(autorange="reversed", automargin=True, title=None, tickfont=dict(size=11)),
                      xaxis=dict(title="Điểm mất bình quân mỗi trường"))
    return fig


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


def criteria_bars(crit: pd.DataFrame, names: dict[str, str], title: str = "") -> go.Figure:
    """One school's criteria: points earned (blue) against each criterion's maximum (grey)."""
    d = crit[~crit["placeholder"] & (crit["max_points"] > 0)].reset_index(drop=True)
    labels = [_wrap(f"{c} · {names.get(c, c)}", 46) for c in d["criterion_code"]]
    fig = new_figure()
    fig.add_bar(y=labels, x=d["max_points"], orientation="h", name="Điểm tối đa", marker=dict(color="#E5E7EB"),
                hovertemplate="%{y}<br>Tối đa %{x}<extra></extra>")
    fig.add_bar(y=labels, x=d["points"], orientation="h", name="Điểm đạt", marker=dict(color="#0072B2"),
                text=[f"{fmt_number(p)}/{fmt_number(m)}" for p, m in zip(d["points"], d["max_points"])],
                textposition="outside", textfont=dict(color=INK, size=11),
                hovertemplate="%{y}<br>Đạt %{x}<extra></extra>")
    fig.update_layout(title=title, barmode="overlay", height=max(300, 26 * len(d) + 100),
                      yaxis=dict(autorange="reversed", automargin=True, title=None, tickfont=dict(size=11)),
                      xaxis=dict(title="Điểm", range=[0, float(d["max_points"].max() or 1) * 1.3]),
                      legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom"))
    return fig
