"""Every overview tile recomputed from the database with the test's own SQL (wide pivot per school)."""

import math

import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.domain import progress
from kpi.store import queries

WIDE = """
SELECT s.school_id, s.level,
       max(o.value) FILTER (WHERE o.field_code = $num) AS num,
       max(o.value) FILTER (WHERE o.field_code = $den) AS den
FROM schools s
LEFT JOIN observations o ON o.school_id = s.school_id AND o.school_year = $y AND o.round = $r
WHERE s.active AND list_contains($levels, s.level)
GROUP BY s.school_id, s.level
"""


@pytest.mark.parametrize("year, rnd", [("2023-2024", "CN"), ("2023-2024", "HK1"), ("2022-2023", "CN")])
def test_every_tile_matches_own_sql(con, year, rnd):
    cat = default_catalog()
    tiles = progress.overview_rows(queries.district_summary(con, cat, Scope.everything(), year, rnd), cat)
    assert len(tiles) >= len(cat.indicators)
    for tile in tiles.itertuples():
        ind = cat.indicators[tile.indicator_code]
        rows = con.execute(WIDE, {"num": ind.numerator, "den": ind.denominator or "", "y": year, "r": rnd,
                                  "levels": list(tile.levels)}).fetchall()
        num = den = 0.0
        reporting = meeting = 0
        for _, level, n, d in rows:
            if ind.kind == "bool":
                d = None if n is None else 1.0
            if n is None or d is None or d <= 0:
                continue
            reporting += 1
            num, den = num + n, den + d
            t = cat.target_for(ind.code, level, year)
            meeting += t is not None and n / d >= t.value - 1e-9
        assert tile.schools_expected == len(rows)
        assert tile.schools_reporting == reporting
        assert tile.schools_meeting == meeting
        if reporting == 0:
            assert tile.value is None or math.isnan(tile.value)
            continue
        assert tile.value == pytest.approx(num / den)
        t = cat.target_for(ind.code, tile.levels[0], year)
        if t is None:
            assert tile.status == "khong_chi_tieu" and tile.gap is None
            continue
        v = num / den
        expected = "dat" if v >= t.value - 1e-9 else "gan_dat" if v >= t.near - 1e-9 else "chua_dat"
        assert tile.status == expected
        assert tile.gap == max(0, math.ceil(t.value * den - num - 1e-9))


def test_change_since_previous_round(con):
    cat = default_catalog()
    now = progress.overview_rows(queries.district_summary(con, cat, Scope.everything(), "2023-2024", "CN"), cat)
    before = progress.overview_rows(queries.district_summary(con, cat, Scope.everything(), "2023-2024", "HK1"), cat)
    assert progress.previous_period(queries.periods(con), "2023-2024", "CN") == ("2023-2024", "HK1")
    assert progress.previous_period(queries.periods(con), "2023-2024", "HK1") == ("2022-2023", "CN")
    assert progress.previous_period(queries.periods(con), "2021-2022", "HK1") is None
    rows = progress.with_change(now, before)
    r = rows[rows.indicator_code == "tin_hoc_quoc_te"].iloc[0]
    b = before[before.indicator_code == "tin_hoc_quoc_te"].iloc[0]
    assert r.change == pytest.approx(r.value - b.value)


@pytest.mark.parametrize("change, text", [
    (0.025, "tăng 2,5 điểm % so với kỳ trước"), (-0.1, "giảm 10 điểm % so với kỳ trước"),
    (0.0001, "không đổi so với kỳ trước"), (None, "chưa có kỳ trước để so"),
])
def test_change_sentence(change, text):
    assert progress.change_sentence(change) == text


@pytest.mark.parametrize("value, status", [
    (0.40, "dat"), (0.41, "dat"), (0.35, "gan_dat"), (0.3499, "chua_dat"), (None, "thieu_so_lieu"),
])
def test_status_boundaries(value, status):
    assert progress.status(value, 0.40, 0.35) == status
    assert progress.status(0.5, None, None) == "khong_chi_tieu"
