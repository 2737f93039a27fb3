"""Chỉ tiêu's filters (cấp học × loại hình × phường) are read from the indicator's rows kept once per data
version, not queried each: the district trend is a sum of kpi/sql/indicator_trend_cells.sql's cells and
the schools are a subset of the unit's rows. Every filter of the sample must give exactly what the
queries with that filter give (kpi/sql/indicator_trend.sql, kpi/sql/school_values.sql)."""

import itertools

import pandas as pd
import pytest

from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS, default_catalog
from kpi.common.access import Scope
from kpi.domain import progress
from kpi.store import queries
from kpi.views import cache as views

CAT = default_catalog()
PERIOD, EARLIER = ("2023-2024", "CN"), ("2023-2024", "HK1")
# a yes/no item, and a rate whose levels' targets differ (the trend split by level); a school's row is
# built alike for every indicator, so one indicator's rows stand for the subset
CODES = ("chu_ky_so", "ty_trong_truc_tuyen")


def _filters(con):
    wards = [w for (w,) in con.execute("SELECT DISTINCT ward FROM schools ORDER BY 1").fetchall()]
    return list(itertools.product([None, *LEVEL_LABELS], [None, *OWNERSHIP_LABELS], [None, *wards]))


def _differences(got: pd.DataFrame, want: pd.DataFrame) -> list[str]:
    """Where two frames differ (columns, row count, any cell; sums compared to 1e-9)."""
    if list(got.columns) != list(want.columns):
        return [f"cột {list(got.columns)} ≠ {list(want.columns)}"]
    if len(got) != len(want):
        return [f"{len(got)} dòng ≠ {len(want)}"]
    out = []
    for col in want.columns:
        a, b = got[col].reset_index(drop=True), want[col].reset_index(drop=True)
        if pd.api.types.is_float_dtype(b) and pd.api.types.is_numeric_dtype(a):
            same = ((a.astype(float) - b.astype(float)).abs() < 1e-9) | (a.isna() & b.isna())
        else:
            same = (a.astype(object) == b.astype(object)) | (a.isna() & b.isna())
        if not same.fillna(False).all():
            out.append(f"{col}: {list(a[~same.fillna(False)][:3])} ≠ {list(b[~same.fillna(False)][:3])}")
    return out


def test_every_filter_sums_from_the_cells_to_the_query(con):
    checked = 0
    for code in CODES:
        cells = queries.indicator_trend_cells(con, CAT, Scope(), code)
        for level, owner, ward in _filters(con):
            got = queries.trend_from_cells(cells, CAT, code, level, owner, ward)
            want = queries.indicator_trend(con, CAT, Scope(), code, level, owner, ward)
            assert not _differences(got, want), (code, level, owner, ward, _differences(got, want))
            checked += 1
    assert checked > 200


def test_every_filter_of_the_schools_is_the_querys_subset(con):
    for code in CODES[1:]:
        every = queries.school_values(con, CAT, Scope(), code, PERIOD, EARLIER)
        for level, owner, ward in _filters(con):
            got = queries.rows_of(every, level, owner, ward).reset_index(drop=True)
            want = queries.school_values(con, CAT, Scope(), code, PERIOD, EARLIER, level, owner, ward)
            assert not _differences(got, want), (code, level, owner, ward, _differences(got, want))


def test_the_comparison_catches_a_filter_left_out(con, monkeypatch):
    """Planted: a sum that forgets the phường, and a subset that forgets the loại hình, are caught."""
    code = "tin_hoc_quoc_te"
    cells = queries.indicator_trend_cells(con, CAT, Scope(), code)
    ward = con.execute("SELECT ward FROM schools WHERE level = 'TH' LIMIT 1").fetchone()[0]
    wrong = queries.trend_from_cells(cells, CAT, code, "TH", None, None)
    assert _differences(wrong, queries.indicator_trend(con, CAT, Scope(), code, "TH", None, ward))
    every = queries.school_values(con, CAT, Scope(), code, PERIOD, EARLIER)
    wrong = queries.rows_of(every, "TH").reset_index(drop=True)
    assert _differences(wrong, queries.school_values(con, CAT, Scope(), code, PERIOD, EARLIER, "TH", "cong_lap"))


def test_every_indicators_cells_from_one_query_are_each_querys(con):
    """The warm-up's one query for every indicator (kpi/sql/indicator_trend_cells_all.sql) cuts out, for each
    indicator, the very cells of its own query (every period, cấp học, loại hình and phường)."""
    every = queries.indicator_trend_cells_all(con, CAT, Scope())
    assert set(every) == set(CAT.indicators)
    for code in CAT.indicators:
        want = queries.indicator_trend_cells(con, CAT, Scope(), code)
        assert len(want) > 0 and not _differences(every[code], want), (code, _differences(every[code], want))


def test_the_one_query_catches_a_pairing_left_out(con, monkeypatch):
    """Planted: the numerator summed whether or not the school has a denominator (the pooled rate's rule) is
    caught by the comparison above."""
    code = next(c for c, ind in CAT.indicators.items() if ind.kind != "bool")
    real = queries.run

    def loose(*a, **k):
        if k.get("fill"):
            k["fill"]["sums"] = k["fill"]["sums"].replace("FILTER (WHERE f", "FILTER (WHERE TRUE OR f")
        return real(*a, **k)

    monkeypatch.setattr(queries, "run", loose)
    every = queries.indicator_trend_cells_all(con, CAT, Scope())
    assert _differences(every[code], queries.indicator_trend_cells(con, CAT, Scope(), code))


def test_the_warm_up_leaves_no_target_trend_to_query(sample_db, monkeypatch):
    """After an office scope's warm-up, Chỉ tiêu on any target asks no trend query (each target a person
    opens for the first time was a query of its own, 0,25 s over 53.000 schools)."""
    from kpi.views import warm

    monkeypatch.setattr(warm, "pack_warmed", lambda v, sc: False)  # as over 53.000 schools: the pack opens no target
    rec: list = []
    v = views.Views(sample_db, recorder=rec)
    try:
        warm.office_pages(v, Scope(), *PERIOD)
        first = len(rec)
        for code in CAT.indicators:  # a period the warm-up did not open: its schools are asked, the trend is not
            v.indicator(Scope(), code, "2022-2023", "CN")
            v.indicator(Scope.school("TH001"), code, "2022-2023", "HK1")
        asked = [name for name, *_ in rec[first:]]
        assert first > 0 and "indicator_trend_cells" not in asked and "school_values" in asked
        for key in [k for k in v._memo if k[0] == "trend_cells"]:  # planted: without the warm-up's cells,
            v._memo.pop(key)                                        # a target asks its own query
        v.indicator(Scope(), next(iter(CAT.indicators)), "2022-2023", "CN", "TH")
        assert "indicator_trend_cells" in [name for name, *_ in rec]
    finally:
        v.close()


@pytest.mark.parametrize("user_scope", [Scope(), Scope.school("TH001")])
def test_the_page_asks_no_query_for_a_filter(sample_db, con, user_scope):
    """After the unfiltered view, every filter of Chỉ tiêu is built without a query of its own, and a
    principal's view of a filter is the same as before (the own school, the others unnamed)."""
    rec: list = []
    v = views.Views(sample_db, recorder=rec)  # a fresh cache that notes every query it runs
    try:
        v.indicator(user_scope, "tin_hoc_quoc_te", *PERIOD)  # the page's first view
        first = len(rec)
        view = v.indicator(user_scope, "tin_hoc_quoc_te", *PERIOD, "TH", "cong_lap", None)
        v.indicator(user_scope, "tin_hoc_quoc_te", *PERIOD, None, None, "Phường 13")
    finally:
        v.close()
    assert first > 0  # the recording sees the queries (a planted page that queried would be caught)
    rec = rec[first:]
    assert [name for name, *_ in rec] == []
    assert view.values["level"].eq("TH").all()
    if user_scope.is_school:
        assert set(view.values.loc[~view.values["is_own"], "name"]) <= {"Trường khác"}


def _kept_after_five(sample_db, budget: int) -> list:
    v = views.Views(sample_db, max_bytes=budget)
    try:
        for i in range(5):  # as costly to build again each: the least recently used go first
            v.memo(("bang", i), lambda: pd.DataFrame({"value": [0.5] * 50_000, "name": ["Trường mẫu"] * 50_000}),
                   cost=0.5)
        assert v.nbytes <= v.max_bytes
        return [k for k in v._memo if k[0] == "bang"]
    finally:
        v.close()


def test_a_costly_model_outlasts_cheap_ones_of_its_size(sample_db):
    """Issue 29: over 53.000 schools the office's models (seconds to build, the warm-up's first) were dropped for
    the principals' cheap ones as the load went on. The costliest per MB stays while cheaper, newer ones come and
    go; in time (the floor rising with each drop) an unused costly one goes too. Planted: with every cost equal
    the oldest, the costly one, is the first to go (plain least recently used)."""
    frame = lambda: pd.DataFrame({"value": [0.5] * 50_000, "name": ["Trường mẫu"] * 50_000})  # noqa: E731
    one = views.approx_bytes(frame())

    def kept(costly: float, cheap_ones: int) -> list:
        v = views.Views(sample_db, max_bytes=int(one * 2.5))
        try:
            v.memo(("tong_quan",), frame, cost=costly)
            for i in range(cheap_ones):
                v.memo(("bang", i), frame, cost=0.02)
            return list(v._memo)
        finally:
            v.close()

    assert ("tong_quan",) in kept(costly=3.0, cheap_ones=6)
    assert ("tong_quan",) not in kept(costly=0.02, cheap_ones=6)  # planted: as cheap as the others
    assert ("tong_quan",) not in kept(costly=3.0, cheap_ones=400)  # unused while 400 came and went: it ages out


def test_a_dropped_model_a_session_still_holds_is_taken_back_not_built_again(sample_db, monkeypatch):
    """Issue 29: a model the cache dropped while a session's page (its downloads) still held it was built again
    for the next visitor: two copies in the worker, beyond the cache's bound, and the build's seconds. Now the
    held one comes back (same object, no build, counted in the budget again); one nobody holds is built again.
    Planted: a cache that forgets dropped models builds the held one a second time."""
    frame = lambda: pd.DataFrame({"value": [0.5] * 50_000, "name": ["Trường mẫu"] * 50_000})  # noqa: E731
    one = views.approx_bytes(frame())
    builds = []

    def build(tag):
        builds.append(tag)
        return frame()

    v = views.Views(sample_db, max_bytes=int(one * 2.5))
    try:
        held = v.memo(("chi_tieu", 1), lambda: build(1))  # a session's page holds it
        v.memo(("chi_tieu", 2), lambda: build(2))
        v.memo(("chi_tieu", 3), lambda: build(3))  # over the budget: 1 goes
        assert ("chi_tieu", 1) not in v._memo and builds == [1, 2, 3]
        assert v.memo(("chi_tieu", 1), lambda: build("1 again")) is held and builds == [1, 2, 3]
        assert ("chi_tieu", 1) in v._memo and v.nbytes <= v.max_bytes and len(v._memo) == 2
        gone = next(k for k in [("chi_tieu", 2), ("chi_tieu", 3)] if k not in v._memo)  # nobody holds it
        v.memo(gone, lambda: build("again"))
        assert builds[-1] == "again"
        v.memo(("chi_tieu", 9), lambda: build(9))
        v.memo(("chi_tieu", 10), lambda: build(10))
        assert ("chi_tieu", 1) not in v._memo
        monkeypatch.setattr(views.Views, "_taken_back", lambda self, key: False)  # planted: dropped ones forgotten
        assert v.memo(("chi_tieu", 1), lambda: build("1 twice")) is not held and builds[-1] == "1 twice"
    finally:
        v.close()


def test_the_view_cache_keeps_to_its_memory_budget(sample_db, monkeypatch):
    """The kept view models are counted by their frames' size: a budget of about two school tables keeps
    the newest two and lets the oldest go (planted: a frame counted as free would keep all five)."""
    one = views.approx_bytes(pd.DataFrame({"value": [0.5] * 50_000, "name": ["Trường mẫu"] * 50_000}))
    assert 50_000 * (8 + 8) < one < 50_000 * 200  # a float column and a text column
    assert _kept_after_five(sample_db, int(one * 2.5)) == [("bang", 3), ("bang", 4)]
    monkeypatch.setattr(views, "approx_bytes", lambda value, _depth=0: 0)  # planted: frames counted as free
    assert len(_kept_after_five(sample_db, int(one * 2.5))) == 5


PAIRS = ((EARLIER, PERIOD), (("2022-2023", "CN"), PERIOD), (PERIOD, PERIOD))


def test_every_filter_of_so_sanh_sums_from_the_cells_to_the_query(con):
    """So sánh's counts per indicator (kpi.domain.progress.compare_rows) from the pair's cells
    (kpi/sql/compare_cells.sql) equal those of compare_periods with the filter: every filter of the sample for
    one pair of periods, the cấp học × loại hình filters for two more."""
    checked = 0
    for i, (a, b) in enumerate(PAIRS):
        cells = queries.compare_cells(con, CAT, Scope(), a, b)
        # every filter for the first pair; for the others (another year, A = B) the cấp học and loại hình ones
        for level, owner, ward in [f for f in _filters(con) if i == 0 or f[2] is None]:
            got = progress.compare_rows(queries.compare_from_cells(cells, level, owner, ward), CAT)
            want = progress.compare_rows(queries.compare_periods(con, CAT, Scope(), a, b, level, owner, ward), CAT)
            assert not _differences(got, want), (a, b, level, owner, ward, _differences(got, want))
            checked += 1
    assert checked > 150


def test_the_so_sanh_comparison_catches_a_filter_left_out(con):
    """Planted: a sum that forgets the loại hình is caught."""
    cells = queries.compare_cells(con, CAT, Scope(), EARLIER, PERIOD)
    wrong = progress.compare_rows(queries.compare_from_cells(cells, "TH"), CAT)
    assert _differences(wrong, progress.compare_rows(
        queries.compare_periods(con, CAT, Scope(), EARLIER, PERIOD, "TH", "cong_lap"), CAT))
