"""What a person sees, chart by chart: every figure builder drawn in Debian's chromium at a screen's and
a phone's width (no two texts overlap, nothing outside the figure, no data label cut off), the rules
every figure keeps (percent axes from 0, targets visible at any value, status colours named in
words), the words nobody should read, and, for each check, a planted violation it must catch."""

import inspect
import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import figures, figures_trend
from kpi.domain import maturity, progress
from kpi.tools import look
from kpi.tools.browse import CHROMIUM
from kpi.views import cache as views

CAT = default_catalog()
EVERYONE = Scope.everything()
WIDTHS = (940, 358)  # the main column at 1440 px beside the sidebar; a 390 px phone

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")


# ---- the figures: from the sample, and the edge cases that broke them before -------------------------

def _values(n, value, target, level="TH"):
    return pd.DataFrame({"school_id": [f"T{i:03d}" for i in range(n)],
                         "name": [f"Trường Tiểu học số {i}" for i in range(n)],
                         "level": level, "value": value, "target": target,
                         "status": [progress.status(v, target, target * 0.9) for v in np.broadcast_to(value, n)],
                         "is_own": [i == 0 for i in range(n)]})


def _trend(values, target):
    years = [f"{y}-{y + 1}" for y in range(2024 - -(-len(values) // 2), 2024)]
    periods = [f"{y} · {r}" for y in years for r in ("HK1", "CN")][:len(values)]
    return pd.DataFrame({"period": periods, "series": "Tất cả", "value": values, "target": target,
                         "schools_reporting": 10, "schools_expected": 10})


def _overview(value, target):
    """Two overview rows (kpi.domain.progress.overview_rows' columns) at `value` against `target`."""
    return pd.DataFrame({"indicator_code": ["a", "b"], "clause": ["II.9", "II.10"],
                         "label": ["Trường triển khai hệ thống quản lý dạy học trực tuyến", "Một chỉ tiêu"],
                         "level": ["Tất cả", "TH"], "value": [value, value / 2], "target": [target, target],
                         "status": [progress.status(value, target, target * 0.9),
                                    progress.status(value / 2, target, 0)],
                         "schools_reporting": [10, 10], "schools_expected": [10, 12]})


def _builds(v: views.Views) -> dict:
    """name → figure; every builder of kpi.display.figures at least once (the test below makes sure)."""
    ov = v.overview(EVERYONE, "2023-2024", "CN")
    years = v.index_years()
    counts = v.maturity_counts(EVERYONE, tuple(years))
    this = counts[counts.school_year == years[0]]
    card = v.scorecard(EVERYONE, "TH001", "2023-2024", "CN")
    heat = v.maturity_heatmap(EVERYONE, years[0], "total", 60)
    heat_gaps = heat.copy()
    heat_gaps.iloc[0, :3] = np.nan
    split_trend = v.indicator_trend(EVERYONE, "ty_trong_truc_tuyen")
    split_values = v.school_values(EVERYONE, "ty_trong_truc_tuyen", ("2023-2024", "CN"))
    names = {k: c.name_vi for k, c in CAT.criteria.items()}
    short = {k: c.short_vi for k, c in CAT.criteria.items()}
    return {
        "progress_bars": figures.progress_bars(ov.rows),
        "progress_bars target 100%": figures.progress_bars(_overview(1.0, 1.0)),
        "progress_bars with title": figures.progress_bars(ov.rows.head(5), "Các chỉ tiêu · Năm học 2023-2024 · CN"),
        "trend_chart split": figures_trend.trend_chart(split_trend),
        "trend_chart at 100%": figures_trend.trend_chart(_trend([0.75, 0.8, 0.9, 1.0, 1.0, 1.0], 1.0)),
        "trend_chart small values": figures_trend.trend_chart(_trend([0.01, 0.02, 0.015], 0.05)),
        # five school years (ten periods, the national file's): the chart draws the latest six
        "trend_chart ten periods": figures_trend.trend_chart(_trend(list(np.linspace(0.121, 0.169, 10)), 0.175)),
        "school_bars": figures.school_bars(split_values),
        "school_bars all at 100%": figures.school_bars(_values(12, 1.0, 1.0)),
        "school_bars one school": figures.school_bars(_values(1, 0.03, 0.05)),
        "school_histogram": figures.school_histogram(_values(400, np.linspace(0, 1, 400), 0.5)),
        "compare_bars": v.compare(EVERYONE, ("2023-2024", "HK1"), ("2023-2024", "CN")).figure,
        "level_distribution": figures.level_distribution(maturity.distribution(this, CAT)),
        "level_distribution with title": figures.level_distribution(maturity.distribution(this, CAT),
                                                                    "Mức độ chuyển đổi số · năm học 2023-2024"),
        "level_trend": figures.level_trend(maturity.trend(counts)),
        "criteria_heatmap": figures.criteria_heatmap(heat_gaps, names, short=short),
        "points_lost_bars": figures.points_lost_bars(v.maturity_lost(EVERYONE, years[0]).head(12), short=short),
        "criteria_bars": card.maturity.figure,
    }


@pytest.fixture(scope="module")
def built(sample_db):
    from kpi.store import db

    con = db.connect(sample_db)
    try:
        yield _builds(views.Views.of_connection(con, CAT))
    finally:
        con.close()


def test_every_builder_is_drawn_here(built):
    """A new chart kind cannot skip these checks: every public function of kpi.display.figures (and its
    chart families, figures_*) that returns a figure appears in `_builds`."""
    builders = {n for mod in (figures, figures_trend) for n, f in inspect.getmembers(mod, inspect.isfunction)
                if f.__module__ == mod.__name__ and not n.startswith("_")
                and inspect.signature(f).return_annotation in (go.Figure, "go.Figure")} - {"new_figure"}
    covered = {name.split(" ")[0] for name in built}
    assert builders <= covered, builders - covered


def test_every_figure_keeps_the_rules(built):
    problems = [str(p) for name, fig in built.items() for p in look.figure_rule_problems(fig, name)]
    assert problems == []


def test_every_figure_uses_the_template_and_vietnamese_numbers(built):
    for name, fig in built.items():
        layout = fig.layout
        assert layout.template.layout.separators == ",." and layout.template.layout.paper_bgcolor == "#FFFFFF", name
        texts = [str(t) for t in (fig.layout.annotations or []) for t in [t.text]]
        for tr in fig.data:
            texts += [str(x) for x in (tr.text if isinstance(tr.text, (list, tuple)) else [tr.text or ""])]
        assert look.text_problems("\n".join(texts), look.catalog_codes(CAT), name) == []


@needs_chromium
@pytest.mark.browser
def test_no_text_overlaps_or_leaves_any_figure(built, page):
    found = []
    for name, fig in built.items():
        for width in WIDTHS:
            found += [str(p) for p in look.figure_problems(page, [fig], width, f"{name} @ {width} px")]
    assert found == []


# ---- planted violations: each check must catch its own ------------------------------------------------

def _legend_under_axis_title():
    """The old Chỉ số CĐS chart: legend at y=-0.12 under an x axis with a title."""
    fig = figures.new_figure()
    for m in (1, 2, 3):
        fig.add_bar(y=["Nhóm Dạy-học · TH", "Nhóm Quản trị · TH"], x=[m, m + 1], orientation="h",
                    name=figures.LEVEL_LABELS[m], marker=dict(color=figures.LEVEL_COLORS[m]))
    fig.update_layout(barmode="stack", height=300, xaxis=dict(title="Số trường"),
                      legend=dict(orientation="h", y=-0.12, x=0, yanchor="top"))
    return fig


def _label_cut_at_the_edge():
    fig = figures.new_figure()
    fig.add_bar(x=[100, 40], y=["a", "b"], orientation="h", text=["100%", "40%"], textposition="outside",
                cliponaxis=False, marker=dict(color="#0072B2"), showlegend=False)
    fig.update_layout(height=240, xaxis=dict(range=[0, 100]))
    return fig


def _text_outside_the_figure():
    fig = figures.new_figure()
    fig.add_bar(x=[1], y=["a"], orientation="h", marker=dict(color="#0072B2"))
    fig.add_annotation(x=1.4, y=0.5, xref="paper", yref="paper", text="chú thích ra ngoài", showarrow=False)
    fig.update_layout(height=200)
    return fig


PLANTED_DRAWN = {
    "trục có tiêu đề đè lên chú giải": (_legend_under_axis_title, "chữ chồng lên nhau"),
    "nhãn 100% ở mép khung": (_label_cut_at_the_edge, "nhãn số liệu bị cắt ở mép vùng vẽ"),
    "chú thích ngoài biểu đồ": (_text_outside_the_figure, "chữ ra ngoài biểu đồ"),
}


@needs_chromium
@pytest.mark.browser
def test_planted_ten_periods_on_a_phone_are_caught(page, monkeypatch):
    """Planted: the screen trend drawing all ten periods of five school years (as it did): on a phone its
    school years and labels run into each other, and the check says so."""
    monkeypatch.setattr(figures_trend, "latest_periods", lambda rows, n=None: rows)
    fig = figures_trend.trend_chart(_trend(list(np.linspace(0.121, 0.169, 10)), 0.175))
    assert len(fig.data[0].x) == 10
    assert "chữ chồng lên nhau" in {p.kind for p in look.figure_problems(page, [fig], 358, "mười kỳ")}


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("name", PLANTED_DRAWN)
def test_planted_drawing_defect_is_caught(page, name):
    build, kind = PLANTED_DRAWN[name]
    kinds = {p.kind for p in look.figure_problems(page, [build()], 940, name)}
    assert kind in kinds


def _axis_from_58():
    fig = figures_trend.trend_chart(_trend([0.6, 0.7, 0.8], 0.9))
    fig.update_layout(yaxis=dict(range=[58, 100]))
    return fig


def _target_on_the_frame():
    fig = figures.new_figure()
    fig.add_bar(x=[100, 80], y=[1, 2], orientation="h", marker=dict(color="#0072B2"), name="Giá trị")
    fig.add_scatter(x=[100, 100], y=[1, 2], mode="markers", name="Chỉ tiêu", marker=dict(color=figures.TARGET_COLOR))
    fig.update_layout(xaxis=dict(range=[0, 100], ticktext=["0%", "100%"], tickvals=[0, 100]))
    return fig


def _target_under_the_line():
    fig = figures.new_figure()
    fig.add_scatter(x=["a", "b"], y=[100, 100], mode="lines", name="Chỉ tiêu", line=dict(color="#0072B2"))
    fig.add_scatter(x=["a", "b"], y=[100, 100], mode="lines", name="Toàn đơn vị", line=dict(color="#0072B2"))
    fig.update_layout(yaxis=dict(range=[0, 110], tickvals=[0, 100], ticktext=["0%", "100%"]))
    return fig


def _status_without_words():
    fig = figures.new_figure()
    fig.add_bar(x=[50, 90], y=["a", "b"], orientation="h",
                marker=dict(color=[figures.STATUS_COLORS["chua_dat"], figures.STATUS_COLORS["dat"]]), showlegend=False)
    return fig


PLANTED_RULES = {
    "trục phần trăm từ 58%": (_axis_from_58, "trục phần trăm không bắt đầu từ 0%"),
    "chỉ tiêu 100% ở mép khung": (_target_on_the_frame, "chỉ tiêu bị cắt ở mép khung"),
    "đường chỉ tiêu dưới đường giá trị": (_target_under_the_line, "chỉ tiêu vẽ dưới giá trị"),
    "đường chỉ tiêu cùng màu": (_target_under_the_line, "chỉ tiêu cùng màu với giá trị"),
    "tình trạng chỉ bằng màu": (_status_without_words, "màu tình trạng không có chữ"),
}


@pytest.mark.parametrize("name", PLANTED_RULES)
def test_planted_rule_breach_is_caught(name):
    build, kind = PLANTED_RULES[name]
    assert kind in {p.kind for p in look.figure_rule_problems(build(), name)}


# ---- words -----------------------------------------------------------------------------------------

CODES = look.catalog_codes(CAT)


@pytest.mark.parametrize("text, kind", [
    ("Trễ (ngày): None", "giá trị trống hiện thành chữ"),
    ("giá trị nan", "giá trị trống hiện thành chữ"),
    ("NaN%", "giá trị trống hiện thành chữ"),
    ("<NA>", "giá trị trống hiện thành chữ"),
    ("null", "giá trị trống hiện thành chữ"),
    ("Điểm mất bình quân 5.55", "số thập phân kiểu Anh"),
    ("tổng 177.5 điểm", "số thập phân kiểu Anh"),
    ("1,234,567 học sinh", "phân cách hàng nghìn kiểu Anh"),
    ("10 điểm nhóm Quản trị (QT_GAP)", "mã nội bộ"),
    ("Chỉ tiêu tin_hoc_quoc_te", "mã nội bộ"),
    ("người nhập du_lieu_mau", "mã nội bộ"),
    ("thiết lập trong kpi/definitions/index.toml", "đường dẫn tệp"),
    ("cần trình duyệt Chromium để vẽ", "từ kỹ thuật"),
    ("Page not found", "từ kỹ thuật"),
    ("Duyệt nhiều trường một lần ⏎ Choose options", "chữ tiếng Anh của khung giao diện"),
    ("Upload ⏎ 20MB per file • XLSX, CSV, TXT", "chữ tiếng Anh của khung giao diện"),
])
def test_planted_word_is_caught(text, kind):
    assert kind in {p.kind for p in look.text_problems(text, CODES)}


@pytest.mark.parametrize("text", [
    "17,5%", "1.234 học sinh", "53.000 trường", "5,55 điểm", "II.10 · Học sinh", "DH3.1 · Dạy học trực tuyến",
    "Năm học 2023-2024 · HK1", "hạn nộp 20/05/2024", "10/01/2024 08:00", "I.7a · Tuyển sinh", "QĐ 271/QĐ-SGDĐT",
    "Mức 2 - Đáp ứng cơ bản", "du-lieu-mau.xlsx", "Trường THCS Ngôi Sao", "?chi_tieu=tin_hoc_quoc_te trong liên kết",
])
def test_clean_text_passes(text):
    # a code inside a link's query (?chi_tieu=...) is not read by a person; everything else here is Vietnamese
    if "?" in text:
        assert not [p for p in look.text_problems(text.split(" ")[0], CODES)]
    else:
        assert look.text_problems(text, CODES) == []


def test_catalog_codes_are_the_ones_to_hide():
    assert "tin_hoc_quoc_te" in CODES and "QT_GAP" in CODES and "hs_tong" in CODES
    assert "DH3.1" not in CODES  # the Ministry's criterion numbers are read by people


def test_every_criterion_has_a_short_name_that_fits_an_axis():
    for c in CAT.criteria.values():
        assert c.short_vi and len(c.short_vi) <= 32, c.code
        assert not math.isnan(c.max_points)


# ---- what the tables on every page show (AppTest: the grid is a canvas no browser check can read) ----

def shown_cells(el) -> list[str]:
    """The text a st.dataframe draws in each cell, as Streamlit's grid draws it: a Styler's display
    value when there is one, "None" for a missing value (whatever the Styler says), else the raw
    value (so an unformatted float reads 5.55); and the column headers."""
    from streamlit import dataframe_util

    data = el.value
    arrow = el.proto.arrow_data
    shown = (dataframe_util.convert_arrow_bytes_to_pandas_df(arrow.styler.display_values)
             if arrow.HasField("styler") else None)
    cells = [str(c) for c in data.columns]
    for i in range(len(data)):
        for j in range(data.shape[1]):
            v = data.iat[i, j]
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                cells.append("None")
                continue
            d = shown.iat[i, j] if shown is not None else None
            cells.append(d if isinstance(d, str) and d else str(v))
    return cells


def _states():
    from kpi.tools import browse

    for user in ("chuyenvien", "ht.th001"):
        for screen in browse.screens_for(user):
            params = dict(p.split("=", 1) for p in screen.query.split("&")) if screen.query else {}
            yield pytest.param(user, screen.page, params, id=f"{user}-{screen.label}")


@pytest.mark.parametrize("user, page_name, params", list(_states()))
def test_every_table_cell_reads_as_a_person_should(sample_db, user, page_name, params):
    from tests.conftest import app_test

    at = app_test(page_name, user=user, **params)
    for k, v in params.items():  # open tabs are widget state in AppTest
        if k.endswith("_tab"):
            at.session_state[k] = v
    at.run()
    assert not at.exception
    found = [str(p) for el in at.dataframe
             for p in look.text_problems("\n".join(shown_cells(el)), CODES, f"{page_name} · {user}")]
    assert found == [], "\n".join(found[:20])


def test_planted_table_defects_are_caught():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("import pandas as pd, streamlit as st\n"
                             "st.dataframe(pd.DataFrame({'Trễ (ngày)': [2, None], 'Điểm': [5.55, 1.0], "
                             "'Mã': ['tin_hoc_quoc_te', 'x']}))")
    at.run()
    kinds = {p.kind for p in look.text_problems("\n".join(shown_cells(at.dataframe[0])), CODES)}
    assert {"giá trị trống hiện thành chữ", "số thập phân kiểu Anh", "mã nội bộ"} <= kinds
