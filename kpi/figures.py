"""Figure builders: prepared frame in, plotly Figure out, no I/O.

One template (`TEMPLATE`) for colours, font and Vietnamese number format, used on screen and in
exports. Every colour is explicit: `import streamlit` changes plotly's default template to one
whose colours only the browser fills in, which would make exported images black.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from kpi.formatting import fmt_int, fmt_percent
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
    for st in ("dat", "gan_dat", "chua_dat"):  # legend entries: status by colour and by name
        fig.add_bar(x=[None], y=names[:1], orientation="h", name=STATUS_LABELS[st],
                    marker=dict(color=STATUS_COLORS[st]), hoverinfo="skip")
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
