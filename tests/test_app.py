"""AppTest through dashboard.py: the pages render from the database, filters and deep links work."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpi.store import db
from tests.conftest import app_test

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard.py")


def _run(**params) -> AppTest:
    return app_test(None, **params)


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_overview_shows_every_target(sample_db):
    at = _run()
    assert not at.exception
    assert at.title[0].value == "Tổng quan"
    text = _markdown(at)
    for label in ("Học sinh khối lớp 3, 4, 5 được học Tin học", "CBQL, giáo viên có chữ ký số",
                  "Tỉ trọng nội dung chương trình triển khai trực tuyến (TH)",
                  "Tỉ trọng nội dung chương trình triển khai trực tuyến (THCS)"):
        assert label in text
    assert "Đạt" in text or "Chưa đạt" in text
    assert "Dữ liệu mẫu" in text
    assert len(at.get("plotly_chart")) == 0  # the tiles tab is open; the others do not run
    at.session_state["tq_tab"] = "Biểu đồ"
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 1 and not at.dataframe
    at.session_state["tq_tab"] = "Bảng số liệu"
    at.run()
    assert not at.exception and not at.get("plotly_chart") and len(at.dataframe[0].value) > 20
    assert at.selectbox(key="w_nam_hoc").value == "2023-2024" and at.selectbox(key="w_ky").value == "CN"


@pytest.mark.parametrize("year", ["2021-2022", "2022-2023", "2023-2024"])
@pytest.mark.parametrize("rnd", ["HK1", "CN"])
def test_every_period_renders(sample_db, year, rnd):
    at = _run(nam_hoc=year, ky=rnd)
    assert not at.exception
    assert at.selectbox(key="w_nam_hoc").value == year and at.selectbox(key="w_ky").value == rnd
    assert f"Năm học {year} · {rnd}" in at.caption[0].value or any(
        f"Năm học {year} · {rnd}" in c.value for c in at.caption)


def test_filter_changes_the_figures(sample_db):
    at = _run()
    before = [m.value for m in at.metric]
    at.selectbox(key="w_cap_hoc").set_value("THCS").run()
    assert not at.exception
    after = [m.value for m in at.metric]
    assert before != after
    assert "Trường Tiểu học triển khai LMS cho học sinh lớp 5" not in _markdown(at)
    assert "Trường THCS triển khai hệ thống quản lý dạy học trực tuyến (LMS)" in _markdown(at)


def test_deep_link_reproduces_the_view(sample_db):
    first = _run()
    first.selectbox(key="w_nam_hoc").set_value("2022-2023").run()
    first.selectbox(key="w_cap_hoc").set_value("TH").run()
    assert first.query_params["nam_hoc"] == "2022-2023" and first.query_params["cap_hoc"] == "TH"
    linked = _run(nam_hoc="2022-2023", cap_hoc="TH")
    assert not linked.exception
    assert [m.value for m in linked.metric] == [m.value for m in first.metric]
    assert _markdown(linked) == _markdown(first)


def test_empty_period_shows_empty_state(writable_db, monkeypatch):
    with db.writing(writable_db) as c:
        c.execute("INSERT INTO periods VALUES ('2024-2025', 'HK1', DATE '2025-01-10')")
    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = _run(nam_hoc="2024-2025", ky="HK1")
    assert not at.exception
    assert [i.value for i in at.info] == ["Chưa có trường nào nộp số liệu kỳ này."]
    assert len(at.get("plotly_chart")) == 0


def test_missing_database_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(tmp_path / "none.duckdb"))
    at = app_test(None, user=None)
    assert not at.exception
    assert at.title[0].value == "Bảng điều khiển chuyển đổi số"
    assert "Vui lòng đăng nhập" in at.markdown[0].value


def test_warm_up_fills_the_first_pages_views(sample_db, monkeypatch):
    from kpi.common.access import Scope
    from kpi.store import queries
    from kpi.views import cache as views
    from pages import _data as data

    views.forget_all()
    done = data.warm_up()
    assert done[:2] == ["tổng quan (toàn bộ)", "chỉ tiêu (toàn bộ)"] and done[-1].startswith("hiệu trưởng ×")
    assert int(done[-1].split("×")[1].split()[0]) >= 3  # every principal of the sample

    def no_query(*args, **kwargs):
        raise AssertionError("the warmed view models should have answered")

    for name in ("district_summary", "maturity_counts", "level_values", "school_trend", "school_info"):
        monkeypatch.setattr(queries, name, no_query)
    v = data.store()
    ov = v.overview(Scope.everything(), "2023-2024", "CN")
    assert len(ov.rows) > 20 and "muc_do_cds" in set(ov.rows["indicator_code"])
    assert v.maturity_counts(Scope.everything(), tuple(v.index_years()))["schools"].sum() > 0
    from kpi.admin import auth

    principal = auth.user_from_row(v.user("ht.th001"))
    assert principal.scope == Scope.school("TH001", "PGD_Q3")  # the school's unit
    card = v.scorecard(principal.scope, "TH001", "2023-2024", "CN")  # a principal's first page
    assert card is not None and card.cards
    at = app_test("truong", user="ht.th001")  # the page itself runs on the warmed views
    assert not at.exception and at.title[0].value == card.name
