"""Figure builders: values, target lines per year and level, colours that follow status."""

import math

import pandas as pd
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import figures, figures_trend
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
