"""Figure builders: values, target lines per year and level, colours that follow status."""

import json
import math

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import figures, figures_trend
from kpi.display.medium import PRINT
from kpi.domain import progress
from kpi.store import queries


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_template_is_explicit_and_vietnamese():
    layout = figures.new_figure().layout.template.layout
    assert layout.separators == ",."
    assert layout.paper_bgcolor == "#FFFFFF" and layout.plot_bgcolor == "#FFFFFF"
    assert layout.font.color == figures.INK and layout.font.family.endswith("sans-serif")


def test_trend_target_line_per_year_and_level(con):
    cat = default_catalog()
    rows = progress.trend_rows(queries.indicator_trend(con, cat, Scope.everything(), "ty_trong_truc_tuyen"))
    assert set(rows.series) == {"TH", "THCS"}  # targets differ by level: split
    fig = figures_trend.trend_chart(rows)
    for level, target in (("TH", 15.0), ("THCS", 17.5)):
        line = _trace(fig, f"Chỉ tiêu {level}")
        by_period = dict(zip(line.x, line.y))
        assert by_period["2023-2024 · CN"] == pytest.approx(target)
        assert by_period["2023-2024 · HK1"] == pytest.approx(target)
        assert math.isnan(by_period["2022-2023 · CN"])  # no target before the plan's year
        values = _trace(fig, level)
        own = rows[rows.series == level]
        assert list(values.y) == pytest.approx(list(own.value * 100))


def test_trend_pools_levels_with_the_same_target(con):
    cat = default_catalog()
    raw = queries.indicator_trend(con, cat, Scope.everything(), "tin_hoc_quoc_te")
    rows = progress.trend_rows(raw)
    assert set(rows.series) == {"Tất cả"}
    last = raw[(raw.school_year == "2023-2024") & (raw["round"] == "CN")]
    pooled = last.numerator.sum() / last.denominator.sum()
    fig = figures_trend.trend_chart(rows)
    assert dict(zip(_trace(fig, "Toàn đơn vị").x, _trace(fig, "Toàn đơn vị").y))["2023-2024 · CN"] == \
        pytest.approx(pooled * 100)
    assert dict(zip(_trace(fig, "Chỉ tiêu Toàn đơn vị").x,
                    _trace(fig, "Chỉ tiêu Toàn đơn vị").y))["2023-2024 · CN"] == pytest.approx(40)


def test_school_bars_colour_follows_status(con):
    cat = default_catalog()
    values = queries.school_values(con, cat, Scope.everything(), "ty_trong_truc_tuyen", ("2023-2024", "CN"))
    fig = figures.school_bars(values)
    bars = _trace(fig, "Trường")
    reported = values[values.value.notna()].sort_values("value", ascending=False)
    assert len(bars.y) == len(reported)
    assert list(bars.marker.color) == [figures.STATUS_COLORS[s] for s in reported.status]
    assert {"dat", "chua_dat"} <= set(reported.status)
    for level, target in (("TH", 15.0), ("THCS", 17.5)):
        line = _trace(fig, f"Chỉ tiêu {level}")
        assert set(line.x) == {target}
        assert len(line.y) == (reported.level == level).sum()
    # statuses match the value against the level's target
    for r in reported.itertuples():
        assert (r.status == "dat") == (r.value >= r.target - 1e-9)


def test_progress_bars_colours_and_targets(con):
    cat = default_catalog()
    rows = progress.overview_rows(queries.district_summary(con, cat, Scope.everything(), "2023-2024", "CN"), cat)
    fig = figures.progress_bars(rows)
    bars = _trace(fig, "Giá trị")
    assert list(bars.marker.color) == [figures.STATUS_COLORS[s] for s in rows.status]
    assert list(bars.x) == pytest.approx(list(rows.value * 100))
    targets = _trace(fig, "Chỉ tiêu")
    assert list(targets.x) == pytest.approx(list(rows.target * 100))


def test_compare_bars_signs(con):
    cat = default_catalog()
    rows = progress.compare_rows(queries.compare_periods(con, cat, Scope.everything(), ("2022-2023", "CN"),
                                                         ("2023-2024", "CN")), cat)
    fig = figures.compare_bars(rows)
    assert list(_trace(fig, "Lên đạt").x) == list(rows.moved_up)
    assert list(_trace(fig, "Tụt khỏi đạt").x) == list(-rows.fell_back)


def test_histogram_counts_every_reporting_school():
    df = pd.DataFrame({"value": [0.01, 0.04, 0.06, 0.5, 1.0, None]})
    fig = figures.school_histogram(df)
    assert sum(fig.data[0].y) == 5


def _plain(fig) -> object:
    """A figure's JSON as plotly.js reads it: a property set to None or {} is the same as one left out."""
    def strip(x):
        if isinstance(x, dict):
            kept = {k: strip(v) for k, v in x.items() if v is not None}
            return {k: v for k, v in kept.items() if v != {}}
        return [strip(v) for v in x] if isinstance(x, list) else x
    return strip(json.loads(pio.to_json(fig, validate=False)))


def _checked_like_plotly(fig) -> None:
    """The figure as plotly's graph objects would have built it: every property known (else ValueError)
    and the JSON unchanged by plotly's conversions (a title given as text becomes {"text": ...})."""
    checked = go.Figure(fig.to_dict())
    assert _plain(checked) == _plain(fig)


def every_figure(con) -> dict:
    """One figure of each builder, on screen and in print, from the sample (Sketch-built, kpi.display.figures)."""
    from kpi.views.cache import Views
    v = Views.of_connection(con)
    sc, now, before = Scope.everything(), ("2023-2024", "CN"), ("2022-2023", "CN")
    ov = v.overview(sc, *now)
    ind = v.indicator(sc, "ty_trong_truc_tuyen", *now)
    year = v.index_years()[0]
    page = v.maturity_page(sc, year)
    school = v.school_list(sc)["school_id"].iloc[0]
    card = v.scorecard(sc, school, *now)
    out = {"progress": ov.figure, "progress (in)": figures.progress_bars(ov.rows, medium=PRINT),
           "trend": ind.trend_figure, "schools": ind.schools_figure,
           "histogram": figures.school_histogram(ind.values), "compare": v.compare(sc, before, now).figure,
           "levels": page.distribution_figure,
           "levels (in)": figures.level_distribution(page.distribution, medium=PRINT),
           "level trend": page.trend_figure, "heatmap": v.maturity_heat(sc, year, "total", None, 40).figure,
           "points lost": v.maturity_lost_view(sc, year).figure, "criteria": card.maturity.figure}
    principal = v.indicator(Scope(sc.unit_id, school), "ty_trong_truc_tuyen", *now)
    out["schools (hiệu trưởng)"] = principal.schools_figure
    return out


def test_every_builder_draws_what_plotly_would_have_checked(con):
    """The builders skip plotly's per-property checks (figures.Sketch, for speed): plotly checks here
    what they drew, every builder, on screen and in print."""
    figs = every_figure(con)
    assert all(len(f.data) for f in figs.values())
    for name, fig in figs.items():
        try:
            _checked_like_plotly(fig)
        except (AssertionError, ValueError) as e:
            raise AssertionError(f"{name}: {e}") from None
    # planted: a misspelt property, and an axis title as bare text (plotly.js reads {"text": ...})
    misspelt = figures.Sketch()
    misspelt.add_bar(x=[1], y=["a"], colour="#000000")
    with pytest.raises(ValueError):
        _checked_like_plotly(misspelt.figure())
    bare = figures.Sketch()
    bare.add_bar(x=[1], y=["a"])
    bare.update_layout(xaxis=dict(title="Số trường"))
    with pytest.raises(AssertionError):
        _checked_like_plotly(bare.figure())


def test_sketch_updates_as_plotly_does():
    """update_layout lays a dict over a dict, replaces a list, and unsets a property given None."""
    s = figures.Sketch()
    s.update_layout(xaxis=dict(range=[0, 1], title=dict(text="a")), annotations=[dict(text="x")], height=300)
    s.update_layout(xaxis=dict(title=dict(font=dict(size=12))), annotations=[dict(text="y")], height=None)
    fig = s.figure()
    ref = go.Figure(layout=dict(template=figures.TEMPLATE))
    ref.update_layout(xaxis=dict(range=[0, 1], title=dict(text="a")), annotations=[dict(text="x")], height=300)
    ref.update_layout(xaxis=dict(title=dict(font=dict(size=12))), annotations=[dict(text="y")], height=None)
    assert _plain(fig) == _plain(ref)
    assert fig.layout.xaxis.title.text == "a" and [a.text for a in fig.layout.annotations] == ["y"]


def test_trend_labels_stand_on_a_white_ground(con):
    """A target line a point or two from a value ran through its label's digits (a national trend, 16,3%
    beside a 17,5% target): every value label of the screen trend is an annotation on a white ground at its
    point, one per labelled point of trend_traces, and no trace draws text of its own."""
    cat = default_catalog()
    rows = progress.trend_rows(queries.indicator_trend(con, cat, Scope.everything(), "ty_trong_truc_tuyen"))
    labelled = [(x, round(y, 6), t) for tr in figures_trend.trend_traces(rows)
                for x, y, t in zip(tr["x"], tr["y"], tr.get("text", [])) if t]
    fig = figures_trend.trend_chart(rows)
    notes = fig.layout.annotations
    assert sorted((a.x, round(a.y, 6), a.text) for a in notes) == sorted(labelled) and labelled
    assert all(a.bgcolor == figures_trend.LABEL_GROUND and a.yref == "y" for a in notes)
    assert not any(t.text for t in fig.data) and all("text" not in (t.mode or "") for t in fig.data)


def test_the_screen_trend_draws_the_latest_six_periods_and_says_so():
    """Five school years (ten periods) do not fit a phone: the chart draws the latest SCREEN_PERIODS, the
    page says the table has every period (IndicatorView.trend_window_note); six or fewer are all drawn."""
    from kpi.views.indicator import IndicatorView
    periods = [f"{y}-{y + 1} · {r}" for y in range(2019, 2024) for r in ("HK1", "CN")]
    rows = pd.DataFrame({"period": periods, "series": "Tất cả", "value": [0.1 + i / 100 for i in range(10)],
                         "numerator": 10.0, "denominator": 100.0,
                         "target": 0.175, "schools_reporting": 10, "schools_expected": 12})
    fig = figures_trend.trend_chart(rows)
    assert list(fig.data[0].x) == periods[-6:] == list(fig.layout.xaxis.tickvals)
    view = IndicatorView("x", "", rows, pd.DataFrame({"value": []}))
    assert view.trend_window_note == "Biểu đồ: 6 kỳ gần nhất; thẻ Bảng số liệu có đủ 10 kỳ."
    assert len(view.trend_table) == 10 and list(view.trend_drawn["period"]) == periods[-6:]
    short = IndicatorView("x", "", rows.tail(6), pd.DataFrame({"value": []}))
    assert short.trend_window_note == "" and list(figures_trend.trend_chart(rows.tail(6)).data[0].x) == periods[-6:]
