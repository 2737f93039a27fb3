"""The "Chỉ số CĐS" page, the index tile on the overview, and the district views behind them."""

from pathlib import Path

import pandas as pd
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.domain import maturity
from kpi.store import queries
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
    assert len(at.get("plotly_chart")) == 2  # the open tab only: distribution and trend
    for tab, charts in (("Bản đồ nhiệt", 1), ("Điểm mất nhiều nhất", 1)):
        at.session_state["cs_tab"] = tab
        at.run()
        assert not at.exception and len(at.get("plotly_chart")) == charts
    levels = [int(m.value) for m in at.metric[1:]]
    assert sum(levels) == len(queries.maturity_schools(__import__("kpi.store.db").store.db.connect(str(sample_db)), CAT,
                                                       Scope.everything(), [year]))


def test_page_metrics_match_scores(sample_db, con):
    schools = queries.maturity_schools(con, CAT, Scope.everything(), ["2023-2024"])
    at = _page("chi_so", nam_hoc="2023-2024")
    counts = [int(m.value) for m in at.metric[1:]]
    assert counts == [int((schools.school_level == m).sum()) for m in (1, 2, 3)]
    at.session_state["cs_tab"] = "Tự đánh giá và thẩm định"
    at.run()
    review = at.dataframe[-1].value
    assert (review["Cần xem lại"] != "").all() and len(review) > 0
    at.session_state["cs_tab"] = "Lộ trình lên mức"
    at.run()
    assert any("Cần thêm" in m.value or "Trước hết" in m.value for m in at.markdown)


def test_filter_by_level(sample_db):
    at = _page("chi_so", nam_hoc="2023-2024", cap_hoc="THCS")
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["Cấp học"]) == {"THCS"}


def test_overview_shows_index_target(sample_db, con):
    at = _page(None, nam_hoc="2023-2024", ky="CN")
    text = "\n".join(m.value for m in at.markdown)
    assert "**II.2 · Trường đạt mức độ chuyển đổi số từ Mức 2 trở lên (năm học 2023-2024)**" in text
    schools = queries.maturity_schools(con, CAT, Scope.everything(), ["2023-2024"])
    share = (schools.school_level >= 2).mean()
    assert f"{share * 100:.1f}%".replace(".", ",") in text
    hk1 = _page(None, nam_hoc="2023-2024", ky="HK1")
    assert "(năm học 2022-2023)" in "\n".join(m.value for m in hk1.markdown)


def test_district_views(con):
    """The SQL views (counts, points lost, heatmap, review) against the per-school and
    per-criterion frames they summarise."""
    crit, schools = queries.maturity(con, CAT, Scope.everything(), ["2023-2024", "2022-2023"])
    counts = queries.maturity_counts(con, CAT, Scope.everything(), ["2023-2024", "2022-2023"])
    this = schools[schools.school_year == "2023-2024"]
    assert counts.schools.sum() == len(schools)
    dist = maturity.distribution(counts[counts.school_year == "2023-2024"], CAT)
    pd.testing.assert_frame_equal(dist, maturity.distribution(this, CAT))
    whole = dist[dist.group == "Cả trường"]
    assert whole.schools.sum() == len(this)
    assert whole.groupby("maturity").schools.sum().to_dict() == this.school_level.value_counts().reindex(
        [1, 2, 3], fill_value=0).to_dict()
    trend = maturity.trend(counts)
    assert trend.groupby("school_year").schools.sum().to_dict() == schools.groupby("school_year").size().to_dict()
    c = crit[(crit.school_year == "2023-2024") & ~crit.placeholder]
    lost = queries.maturity_lost(con, CAT, Scope.everything(), "2023-2024")
    for r in lost.itertuples():
        mine = c[c.criterion_code == r.criterion_code]
        assert r.lost == pytest.approx((mine.max_points - mine.points).sum())
        assert r.schools == mine.school_id.nunique()
    assert (lost.lost.diff().dropna() <= 1e-9).all() and "QT_GAP" not in set(lost.criterion_code)
    matrix = queries.maturity_heatmap(con, CAT, Scope.everything(), "2023-2024", "total", 1000)
    assert matrix.shape[0] == len(this) and "QT_GAP" not in matrix.columns
    assert ((matrix.fillna(0) >= 0) & (matrix.fillna(0) <= 1)).all().all()
    totals = (this.dh_points + this.qt_points).tolist()
    by_name = dict(zip(this.name, totals))
    assert [by_name[n] for n in matrix.index] == sorted(totals, reverse=True)
    top = matrix.iloc[0]
    best = this.loc[(this.dh_points + this.qt_points).idxmax()]
    mine = c[c.school_id == best.school_id].set_index("criterion_code")
    assert top.to_dict() == pytest.approx((mine.points / mine.max_points).to_dict(), nan_ok=True)
    by_dh = queries.maturity_heatmap(con, CAT, Scope.everything(), "2023-2024", "dh", 5)
    assert [by_name[n] for n in by_dh.index] and len(by_dh) == 5
    assert list(this.set_index("name").loc[by_dh.index, "dh_points"]) == sorted(this.dh_points, reverse=True)[:5]
    review, total, flagged = queries.maturity_review(con, CAT, Scope.everything(), "2023-2024", False)
    shown = c[c[["self_points", "verified_points", "computed"]].notna().any(axis=1)]
    assert total == len(review) == len(shown)
    differ = review[review.flag.str.contains("thẩm định khác")]
    assert len(differ) > 0 and (differ.verified_points != differ.self_points).all()
    both = review.dropna(subset=["verified_points", "self_points"])
    assert len(differ) == int(((both.verified_points - both.self_points).abs() > 1e-9).sum())
    only, _, flagged2 = queries.maturity_review(con, CAT, Scope.everything(), "2023-2024", True)
    assert flagged == flagged2 == len(only) == int((review.flag != "").sum()) and (only.flag != "").all()
    assert len(queries.maturity_review(con, CAT, Scope.everything(), "2023-2024", False, limit=7)[0]) == 7


def test_index_row_counts(con):
    schools = queries.maturity_schools(con, CAT, Scope.everything(), ["2023-2024"])
    summary = queries.district_summary(con, CAT, Scope.everything(), "2023-2024", "CN")
    row = maturity.index_row(schools, CAT, "2023-2024", maturity.expected_schools(summary, CAT))
    assert row["schools_expected"] == 32  # TH 18 + THCS 13 + GDTX 1
    assert row["schools_meeting"] == int((schools.school_level >= 2).sum())
    assert row["gap"] == row["schools_reporting"] - row["schools_meeting"]
    assert maturity.index_year_for("2023-2024", "HK1") == "2022-2023"


def test_page_reads_a_snapshot(writable_db, monkeypatch):
    """A snapshot keeps the index as it was: a later verification changes the live page only."""
    from kpi.imports import importer
    from kpi.store import db
    from kpi.workflows import snapshots
    from tests.test_importer import _fill, _template

    monkeypatch.setenv("KPI_DB", str(writable_db))
    sid = snapshots.freeze(writable_db, "2023-2024", "CN", "Họp", "chuyenvien")
    con = db.connect(writable_db)
    before = queries.maturity_schools(con, CAT, Scope.everything(), ["2023-2024"])
    con.close()
    # a school held at Mức 1 by its Dạy-học points alone: verifying full DH points lifts it
    low = before[(before.dh_level == 1) & (before.dh_unmet == "") & (before.qt_level >= 2)].sort_values(
        "school_id").iloc[0]
    filled = {(low.school_id, c.code, "Điểm thẩm định (Phòng)"): c.max_points
              for c in CAT.criteria.values() if c.group_code == "DH" and c.rule == "entered"}
    importer.import_file(writable_db, "tham_dinh.xlsx", _fill(_template(writable_db), {}, scores=filled), "chuyenvien")
    live = app_test("chi_so", user="chuyenvien", nam_hoc="2023-2024")
    frozen = app_test("chi_so", user="chuyenvien", nam_hoc="2023-2024", chot=sid)
    assert not live.exception and not frozen.exception
    assert f"bản chốt {sid}" in frozen.caption[0].value and "số liệu trực tiếp" in live.caption[0].value
    counts = lambda at: [int(m.value) for m in at.metric[1:]]  # noqa: E731
    assert counts(frozen) == [int((before.school_level == m).sum()) for m in (1, 2, 3)]
    assert counts(live)[0] == counts(frozen)[0] - 1  # one school fewer at Mức 1, live only
    frozen.session_state["cs_tab"] = "Lộ trình lên mức"
    frozen.query_params["cs_truong"] = low.school_id
    frozen.run()
    assert any(f"Nhóm Dạy-học: {fmt(low.dh_points)} điểm chỉ số, Mức 1" in m.value for m in frozen.markdown)


def fmt(x):
    from kpi.common.formatting import fmt_points

    return fmt_points(x)


def test_provisional_warning_follows_the_settings():
    import dataclasses

    text = maturity.rules_sentence(CAT)
    unsure = sum(c.provisional for c in CAT.criteria.values() if c.rule == "entered")
    assert text.startswith(f"**Tạm tính**: {unsure} trong ")
    assert "10 điểm nhóm Quản trị chưa có tiêu chí công khai và không được chấm" in text
    assert "QT_GAP" not in text and "kpi/" not in text and ".toml" not in text
    assert "bị giới hạn ở Mức 1" in text and "mức thấp hơn của các nhóm" in text
    other = dataclasses.replace(CAT, index=dataclasses.replace(
        CAT.index, placeholder="rescale", combine_groups="dh", mandatory_unmet="none"))
    text = maturity.rules_sentence(other)
    assert "quy đổi từ 90 lên 100" in text and "mức của nhóm Dạy-học" in text
    assert "không làm thay đổi mức" in text and "giới hạn ở Mức 1" not in text
