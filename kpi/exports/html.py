"""The meeting pack as one self-contained, offline HTML file: plotly.js inlined once, every chart
and table, with the page's sentences."""

from __future__ import annotations

import html

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_percent
from kpi.display import figures
from kpi.exports.text import NO_DATA, completeness_text, furthest_text, status_of, submissions_list, tint
from kpi.views.pack import SAMPLE_LABEL, Pack, pack_charts


def _status_css(code: str | None) -> str:
    if code is None:
        return ""
    return f" style='background:{tint(figures.STATUS_COLORS[code], 0.25)};white-space:nowrap'"


def _html_table(df: pd.DataFrame, status_col: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        tds = []
        for c, v in zip(df.columns, row):
            text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
            style = _status_css(status_of(text)) if c == status_col else ""
            tds.append(f"<td{style}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(pack: Pack, catalog: Catalog) -> bytes:
    """One self-contained, offline HTML file: plotly.js inlined once, every chart and table, with
    the page's sentences (value, target, status, change since the previous round)."""
    summary = pd.DataFrame({
        "Mục": [ln.row["clause"] for ln in pack.lines], "Chỉ tiêu": [ln.label for ln in pack.lines],
        "Giá trị": [ln.tile.value for ln in pack.lines],
        "Chỉ tiêu đặt ra": [fmt_percent(ln.row["target"]) for ln in pack.lines],
        "Tình trạng": [ln.tile.status_text for ln in pack.lines], "Khoảng cách": [ln.tile.gap for ln in pack.lines],
        "Thay đổi": [ln.tile.change for ln in pack.lines], "Báo cáo": [ln.tile.reporting for ln in pack.lines]},
        columns=["Mục", "Chỉ tiêu", "Giá trị", "Chỉ tiêu đặt ra", "Tình trạng", "Khoảng cách", "Thay đổi", "Báo cáo"])
    parts = [f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>{html.escape(pack.period)}</title>",
             "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1f2937;margin:24px;max-width:1260px}"
             "table{border-collapse:collapse;font-size:13px;margin:8px 0 24px}td,th{border:1px solid #ddd;"
             "padding:4px 8px;vertical-align:top;text-align:left}th{background:#f3f4f6}"
             ".stamp{color:#555;font-style:italic}.sample{background:#fff3cd;padding:4px 8px}"
             ".caption{white-space:pre-line;margin:4px 0 8px}section{margin:28px 0}</style>",
             f"<script>{get_plotlyjs()}</script></head><body>",
             f"<h1>Báo cáo chuyển đổi số · {html.escape(pack.period)}</h1>",
             f"<p class='stamp'>{html.escape(pack.stamp)}</p>"]
    if pack.is_sample:
        parts.append(f"<p class='sample'>{SAMPLE_LABEL}</p>")
    parts.append("<h2>Tổng hợp các chỉ tiêu</h2>" + (_html_table(summary, "Tình trạng") if pack.lines
                                                       else f"<p>{NO_DATA}</p>"))
    for chart in pack_charts(pack, catalog):
        parts.append(f"<section><h2>{html.escape(chart.title)}</h2>")
        if chart.caption:
            parts.append(f"<p class='caption'>{html.escape(chart.caption)}</p>")
        parts.append(pio.to_html(chart.figure, full_html=False, include_plotlyjs=False, validate=False,
                                 config={"displaylogo": False, "responsive": False}))
        parts.append("</section>")
    parts.append("<h2>Các trường còn xa chỉ tiêu nhất</h2>" + _html_table(furthest_text(pack.furthest)))
    parts.append("<h2>Tình hình nộp báo cáo</h2>" + _html_table(completeness_text(pack)))
    if pack.units_note:
        parts.append(f"<p class='caption'>{html.escape(pack.units_note)}</p>")
    parts.append(_html_table(submissions_list(pack), "Tình trạng"))
    parts.append(f"<p class='stamp'>{html.escape(pack.stamp)}</p></body></html>")
    return "\n".join(parts).encode("utf-8")

