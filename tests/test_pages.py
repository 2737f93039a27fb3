"""AppTest of the district pages (Chỉ tiêu, So sánh, Trường) through dashboard.py."""

from pathlib import Path

import pytest

from kpi.display import tables
from kpi.store import db
from tests.conftest import app_test

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard.py")
PERIODS = [(y, r) for y in ("2021-2022", "2022-2023", "2023-2024") for r in ("HK1", "CN")]


def _page(page, **params):
    return app_test(page, **params)


def _text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def _table(at, i=-1, tab_key="ct_tab", tab="Bảng"):
    """The page's table, after opening the tab that holds it (hidden tabs do not run)."""
    at.session_state[tab_key] = tab
    at.run()
    assert not at.exception
    return tables.screen_values(at.dataframe[i].value)


@pytest.mark.parametrize("year, rnd", PERIODS)
def test_target_page_every_period(sample_db, year, rnd):
    at = _page("chi_tieu", chi_tieu="tin_hoc_quoc_te", nam_hoc=year, ky=rnd)
    assert not at.exception
    assert at.title[0].value == "Học sinh học Tin học theo chuẩn quốc tế"
    schools = _table(at)
    assert {"Trường", "Tử số", "Mẫu số", "Giá trị", "Chỉ tiêu", "Tình trạng"} <= set(schools.columns)
    reported = schools[schools["Giá trị"].notna()]
    assert (reported["Giá trị"] == reported["Tử số"] / reported["Mẫu số"]).all()


def test_target_page_deep_link_and_filters(sample_db):
    every = _page("chi_tieu", chi_tieu="chu_ky_so")
    assert at_title(every) == "CBQL, giáo viên có chữ ký số"
    assert set(_table(every)["Cấp học"]) == {"MN", "TH", "THCS", "GDTX"}
    th = _page("chi_tieu", chi_tieu="chu_ky_so", cap_hoc="TH")
    assert set(_table(th)["Cấp học"]) == {"TH"}
    assert at_title(th) == at_title(every)
    other = _page("chi_tieu", chi_tieu="vssid", nam_hoc="2022-2023", ky="HK1")
    assert at_title(other) == "Học sinh sử dụng thẻ bảo hiểm y tế số VSSID"
    assert other.selectbox(key="w_nam_hoc").value == "2022-2023" and other.selectbox(key="w_ky").value == "HK1"
    assert other.selectbox(key="w_chi_tieu").value == "vssid"


def at_title(at) -> str:
    assert not at.exception
    return at.title[0].value


def test_target_page_table_sorted_and_split_targets(sample_db):
    at = _page("chi_tieu", chi_tieu="ty_trong_truc_tuyen")
    t = _table(at)
    targets = dict(zip(t["Cấp học"], t["Chỉ tiêu"]))
    assert targets == {"TH": 0.15, "THCS": 0.175}
    values = t["Giá trị"].dropna().tolist()
    assert values == sorted(values, reverse=True)
    assert "chỉ tiêu TH 15%; THCS 17,5%" in _text(at)


def test_target_page_empty_period(writable_db, monkeypatch):
    with db.writing(writable_db) as c:
        c.execute("INSERT INTO periods VALUES ('2024-2025', 'HK1', DATE '2025-01-10')")
    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = _page("chi_tieu", chi_tieu="tin_hoc_quoc_te", nam_hoc="2024-2025", ky="HK1")
    assert not at.exception
    assert "Chưa có trường nào nộp số liệu kỳ này." in [i.value for i in at.info]


def test_compare_page(sample_db):
    at = _page("so_sanh", ky_b="2023-2024-CN", ky_a="2022-2023-CN", chi_tieu="lms_thcs")
    assert not at.exception and at.title[0].value == "So sánh hai kỳ"
    up, down = (int(m.value) for m in at.metric)
    table = _table(at, 0, "ss_tab")
    assert table["Lên đạt"].sum() == up and table["Tụt khỏi đạt"].sum() == down
    assert up > 0
    assert at.selectbox(key="w_chi_tieu").value == "lms_thcs"


@pytest.mark.parametrize("a, b", [("2023-2024-HK1", "2023-2024-CN"), ("2021-2022-HK1", "2023-2024-HK1")])
def test_compare_page_periods(sample_db, a, b):
    at = _page("so_sanh", ky_a=a, ky_b=b)
    assert not at.exception
    label = lambda c: f"{c[:9]} · {c[10:]}"  # noqa: E731
    assert f"A = {label(a)} → B = {label(b)}" in _text(at)


def test_compare_page_defaults_to_previous_period(sample_db):
    at = _page("so_sanh")
    assert at.selectbox(key="w_ky_b").value == "2023-2024-CN"
    assert at.selectbox(key="w_ky_a").value == "2023-2024-HK1"


def test_compare_same_period_explains(sample_db):
    at = _page("so_sanh", ky_a="2023-2024-CN", ky_b="2023-2024-CN")
    assert not at.exception
    assert [i.value for i in at.info] == ["Chọn hai kỳ khác nhau (hoặc một bản chốt với số liệu trực tiếp) để so sánh."]


def test_school_page(sample_db, con):
    sid, name = con.execute("SELECT school_id, name FROM schools WHERE level = 'THCS' ORDER BY 1 LIMIT 1").fetchone()
    at = _page("truong", truong=sid)
    assert not at.exception
    assert at.title[0].value == name
    text = _text(at)
    assert "Việc cần làm tiếp" in [s.value for s in at.subheader]
    assert "**II.11 · Tỉ trọng nội dung chương trình triển khai trực tuyến**" in text
    assert "Trường Tiểu học triển khai LMS cho học sinh lớp 5" not in text  # TH-only target
    assert "xếp thứ" in text


def test_school_page_not_submitted(sample_db, con):
    sid = con.execute("""SELECT school_id FROM schools s WHERE NOT EXISTS (SELECT 1 FROM submissions b
                         WHERE b.school_id = s.school_id AND school_year = '2023-2024' AND round = 'CN')
                         ORDER BY 1 LIMIT 1""").fetchone()[0]
    at = _page("truong", truong=sid)
    assert not at.exception
    assert at.warning[0].value.startswith("Chưa nộp báo cáo kỳ này (hạn 20/05/2024)")
    assert "Trường chưa có số liệu kỳ này." in [i.value for i in at.info]


@pytest.mark.parametrize("year, rnd", PERIODS)
def test_every_page_every_period(sample_db, year, rnd):
    for page in ("tong_quan", "chi_tieu", "so_sanh", "truong"):
        at = _page(page, nam_hoc=year, ky=rnd)
        assert not at.exception, (page, at.exception)


def test_school_picker_searches_when_there_are_many_schools(sample_db, con, monkeypatch):
    from pages import _widgets as ui

    monkeypatch.setattr(ui, "PICKER_LIMIT", 10)  # as with a Sở's thousands of schools
    name = con.execute("SELECT name FROM schools WHERE school_id = 'THCS005'").fetchall()[0][0]
    at = _page("truong", truong="THCS005")
    assert not at.exception and at.title[0].value == name
    box = at.sidebar.selectbox(key="w_truong")
    assert len(box.options) == 11 and box.value == "THCS005"  # the first 10, and the one in the URL
    plain = "".join(c for c in __import__("unicodedata").normalize("NFD", name) if ord(c) < 0x300 or ord(c) > 0x36f)
    at.sidebar.text_input(key="q_truong").input(plain.replace("đ", "d").replace("Đ", "D").upper()).run()
    box = at.sidebar.selectbox(key="w_truong")
    assert name in box.options and len(box.options) <= 11 and not at.exception
    at.sidebar.text_input(key="q_truong").input("khong co truong nao ten nay").run()
    assert "Không có trường nào khớp." in [c.value for c in at.sidebar.caption]


def _pages_alive(page: str) -> int:
    import gc
    gc.collect()
    return sum(1 for o in gc.get_objects()
               if isinstance(o, dict) and str(o.get("__file__", "")).endswith(f"pages/{page}.py"))


READING_PAGES = ("tong_quan", "chi_tieu", "so_sanh", "chi_so", "truong", "ai_cham")


@pytest.mark.parametrize("page", READING_PAGES)
def test_a_reading_page_keeps_nothing_of_itself_in_the_session(sample_db, page, monkeypatch):
    """Issue 29: a selectbox's format_func stays in the session's widget state, and one written in the page kept
    the page's every name alive (its globals), the view model included: over 53.000 schools tens of MB per office
    session, outside the view cache's bound. After a run of a reading page nothing holds its names (the pages
    with buttons whose callbacks run at the next run, Duyệt, Đánh giá, Báo cáo, keep theirs till then).
    Planted: the labels as the page's own function keep Chỉ tiêu alive."""
    before = _pages_alive(page)  # (another test's app may still hold one)
    at = _page(page)
    assert not at.exception
    assert _pages_alive(page) == before
    if page == "chi_tieu":
        from pages import _widgets as ui
        monkeypatch.setattr(ui, "labels", lambda options, format_func: format_func)  # planted
        at = _page(page)
        assert _pages_alive(page) == before + 1
    del at
