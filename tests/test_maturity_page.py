"""The "Chỉ số CĐS" page, the index tile on the overview, and the district views behind them."""

from pathlib import Path

import pytest

from kpi import maturity, queries
from kpi.access import Scope
from kpi.catalog import default_catalog
from tests.conftest import app_test

ROOT = Path(__file__).resolve().parents[1]
CAT = default_catalog()


def _page(page, **params):
    return app_test(page, **params)


@pytest.mark.parametrize("year", ["2021-2022", "2022-2023", "2023-2024"])
def test_page_renders_every_year(sample_db, year):
    at = _page("chi_so", nam_hoc=year)
    assert not at.exception
    assert at.title[0].value == "Chỉ số chuyển đổi số"
    assert "Tạm tính" in at.warning[0].value
    assert len(at.get("plotly_chart")) == 4
    levels = [int(m.value) for m in at.metric[1:]]
    assert sum(levels) == len(queries.maturity(__import__("kpi.db").db.connect(str(sample_db)), CAT,
                                               Scope.everything(), [year])[1])


def test_page_metrics_match_scores(sample_db, con):
    _, schools, _ = queries.maturity(con, CAT, Scope.everything(), ["2023-2024"])
    at = _page("chi_so", nam_hoc="2023-2024")
    counts = [int(m.value) for m in at.metric[1:]]
    assert counts == [int((schools.school_level == m).sum()) for m in (1, 2, 3)]
    review = at.dataframe[-1].value
    assert (review["Cần xem lại"] != "").all() and len(review) > 0
    assert any("Cần thêm" in m.value or "Trước hết" in m.value for m in at.markdown)


def test_filter_by_level(sample_db):
    at = _page("chi_so", nam_hoc="2023-2024", cap_hoc="THCS")
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["Cấp học"]) == {"THCS"}


def test_overview_shows_index_target(sample_db, con):
    at = _page(None, nam_hoc="2023-2024", ky="CN")
    text = "\n".join(m.value for m in at.markdown)
    assert "**II.2** · Trường đạt mức độ chuyển đổi số từ Mức 2 trở lên (năm học 2023-2024)" in text
    _, schools, _ = queries.maturity(con, CAT, Scope.everything(), ["2023-2024"])
    share = (schools.school_level >= 2).mean()
    assert f"{share * 100:.1f}%".replace(".", ",") in text
    hk1 = _page(None, nam_hoc="2023-2024", ky="HK1")
    assert "(năm học 2022-2023)" in "\n".join(m.value for m in hk1.markdown)


def test_district_views(con):
    crit, schools, _ = queries.maturity(con, CAT, Scope.everything(), ["2023-2024", "2022-2023"])
    this = schools[schools.school_year == "2023-2024"]
    dist = maturity.distribution(this, CAT)
    whole = dist[dist.group == "Cả trường"]
    assert whole.schools.sum() == len(this)
    trend = maturity.trend(schools)
    assert trend.groupby("school_year").schools.sum().to_dict() == schools.groupby("school_year").size().to_dict()
    c = crit[crit.school_year == "2023-2024"]
    lost = maturity.points_lost(c, CAT)
    top = lost.iloc[0]
    mine = c[c.criterion_code == top.criterion_code]
    assert top.lost == pytest.approx((mine.max_points - mine.points).sum())
    assert (lost.lost.diff().dropna() <= 1e-9).all()
    matrix = maturity.heatmap(c, this, "total")
    assert matrix.shape[0] == len(this) and "QT_GAP" not in matrix.columns
    assert ((matrix.fillna(0) >= 0) & (matrix.fillna(0) <= 1)).all().all()
    review = maturity.review(c, this, CAT)
    flagged = review[review.flag.str.contains("thẩm định khác")]
    assert len(flagged) > 0 and (flagged.verified_points != flagged.self_points).all()


def test_index_row_counts(con):
    _, schools, _ = queries.maturity(con, CAT, Scope.everything(), ["2023-2024"])
    summary = queries.district_summary(con, CAT, Scope.everything(), "2023-2024", "CN")
    row = maturity.index_row(schools, CAT, "2023-2024", maturity.expected_schools(summary, CAT))
    assert row["schools_expected"] == 32  # TH 18 + THCS 13 + GDTX 1
    assert row["schools_meeting"] == int((schools.school_level >= 2).sum())
    assert row["gap"] == row["schools_reporting"] - row["schools_meeting"]
    assert maturity.index_year_for("2023-2024", "HK1") == "2022-2023"
