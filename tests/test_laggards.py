"""Ai đang chậm: the view model against the test's own SQL on the sample, and the page by role."""

import math

import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.common.formatting import fmt_int, fmt_number
from kpi.domain import laggards, progress
from kpi.views import cache as views
from tests import test_browser
from tests.conftest import app_test
from tests.test_browser import CHROMIUM, browser_type_launch_args, login  # noqa: F401 - fixtures

app_url = test_browser.app_url  # the browser tests' fixture, bound here for pytest to find

CAT = default_catalog()
WIDE = """
SELECT s.school_id, s.name, s.level,
       max(o.value) FILTER (WHERE o.field_code = $num) AS num,
       max(o.value) FILTER (WHERE o.field_code = $den) AS den
FROM schools s
LEFT JOIN observations o ON o.school_id = s.school_id AND o.school_year = $y AND o.round = $r
WHERE s.active AND list_contains($levels, s.level) AND ($level IS NULL OR s.level = $level)
GROUP BY ALL
"""


def mismatches(view, con, year: str, rnd: str, level=None) -> list[str]:
    """Every way `view` differs from a recomputation with the test's own SQL (empty: it agrees)."""
    found = []
    planned = []  # (code, level) of every target set for the year, in the catalog's (screen's) order
    for code, ind in CAT.indicators.items():
        levels = [lv for lv in ind.levels if level in (None, lv) and CAT.target_for(code, lv, year)]
        planned += [code] if levels else []
    seen = list(dict.fromkeys(view.targets["indicator_code"]))
    if seen != planned:
        found.append(f"targets {seen} != {planned}")
    for t in view.targets.to_dict("records"):
        ind = CAT.indicators[t["indicator_code"]]
        rows = con.execute(WIDE, {"num": ind.numerator, "den": ind.denominator or "", "y": year, "r": rnd,
                                  "levels": list(t["levels"]), "level": level}).fetchall()
        num = den = 0.0
        short, missing = {}, set()
        for sid, name, lv, n, d in rows:
            if ind.kind == "bool":
                d = None if n is None else 1.0
            if n is None or d is None or d <= 0:
                missing.add(sid)
                continue
            num, den = num + n, den + d
            target = CAT.target_for(ind.code, lv, year).value
            if n / d < target - 1e-9:
                short[sid] = (n / d - target, max(0, math.ceil(target * d - n - 1e-9)), (target - n / d) * 100)
        where = f"{t['clause']} {t['group']}"
        if den and not t["value"] == pytest.approx(num / den):
            found.append(f"{where}: district {t['value']} != {num / den}")
        got = view.short[(view.short["indicator_code"] == t["indicator_code"]) & (view.short["group"] == t["group"])]
        if set(got["school_id"]) != set(short):
            found.append(f"{where}: short {sorted(got['school_id'])} != {sorted(short)}")
            continue
        behind = [short[s][0] for s in got["school_id"]]
        if behind != sorted(behind):
            found.append(f"{where}: not worst first {list(got['school_id'])}")
        for s in got.to_dict("records"):
            _, units, points = short[s["school_id"]]
            text = "chưa có" if ind.kind == "bool" else f"thiếu {fmt_number(points)} điểm % ({fmt_int(units)} "
            if s["units"] != units or not s["gap_text"].startswith(text):
                found.append(f"{where} {s['school_id']}: gap {s['units']} '{s['gap_text']}' != {units} '{text}'")
        gone = view.missing[(view.missing["indicator_code"] == t["indicator_code"])
                            & (view.missing["group"] == t["group"])]
        if set(gone["school_id"]) != missing:
            found.append(f"{where}: not reported {sorted(gone['school_id'])} != {sorted(missing)}")
        if (t["schools_short"], t["schools_missing"]) != (len(short), len(missing)):
            found.append(f"{where}: counts {t['schools_short']}, {t['schools_missing']}")
    return found


@pytest.mark.parametrize("year, rnd, level", [("2023-2024", "CN", None), ("2023-2024", "HK1", None),
                                              ("2023-2024", "CN", "THCS")])
def test_view_matches_own_sql(sample_db, con, year, rnd, level):
    view = views.Views(sample_db).laggards(Scope.everything(), year, rnd, level)
    assert len(view.short) > 20 and len(view.missing) > 0
    assert mismatches(view, con, year, rnd, level) == []
    # the page's tables: a yes/no target lists its schools as "chưa có", a ratio its gap in units
    table = view.school_table(None, {"nam_hoc": year})
    assert {"chưa có"} <= set(table["Khoảng cách"]) and table["Khoảng cách"].str.contains("điểm %").any()
    assert table["Trang trường"].str.match(r"^/truong-hoc\?truong=\w+&nam_hoc=").all()
    assert set(view.missing_table()["Tình trạng"]) == {"chưa báo cáo"}
    assert len(view.download_table()) == len(view.short) + len(view.missing)


def test_a_planted_wrong_sort_is_caught(sample_db, con, monkeypatch):
    monkeypatch.setattr(laggards, "worst_first", lambda short: short)  # as read: best first
    view = views.Views(sample_db).laggards(Scope.everything(), "2023-2024", "CN")
    assert any("not worst first" in m for m in mismatches(view, con, "2023-2024", "CN"))


def test_a_planted_wrong_gap_is_caught(sample_db, con, monkeypatch):
    gap = progress.gap
    monkeypatch.setattr(laggards.progress, "gap", lambda n, d, t: None if gap(n, d, t) is None else gap(n, d, t) + 1)
    view = views.Views(sample_db).laggards(Scope.everything(), "2023-2024", "CN")
    assert any(": gap " in m for m in mismatches(view, con, "2023-2024", "CN"))


def test_a_missing_school_counted_as_zero_is_caught(sample_db, con):
    view = views.Views(sample_db).laggards(Scope.everything(), "2023-2024", "CN")
    code = view.missing["indicator_code"].iloc[0]
    view.missing = view.missing[view.missing["indicator_code"] != code]  # as if they had reported 0
    assert any("not reported" in m for m in mismatches(view, con, "2023-2024", "CN"))


def test_page_for_a_leader(sample_db):
    at = app_test("ai_cham", user="lanhdao", nam_hoc="2023-2024", ky="CN")
    assert not at.exception and at.title[0].value == "Ai đang chậm"
    targets, short, missing = at.dataframe[:3]
    assert len(short.value) > 100 and len(missing.value) > 100
    # one target picked: only its schools, worst first, each with a link to its Trường page
    view = views.Views(sample_db).laggards(Scope.everything(), "2023-2024", "CN")
    key = next(k for k in view.target_names() if k.startswith("tin_hoc_khoi345"))
    at.selectbox(key="ac_target").set_value(key).run()
    short = at.dataframe[1].value
    assert list(short["Trường"]) == list(view.school_table(key)["Trường"]) and len(short) > 3
    assert short["Trang trường"].str.startswith("/truong-hoc?truong=").all()
    # the keyboard's way: a field and a real link to the school's page
    at.selectbox(key="ac_open").set_value(short["Mã trường"].iloc[0]).run()
    link = at.get("page_link")[0].proto
    assert f"truong={short['Mã trường'].iloc[0]}" in str(link) and "truong-hoc" in str(link)
    assert at.selectbox(key="ac_target").value == key  # the target picked stays


def test_page_filters_by_level(sample_db):
    at = app_test("ai_cham", user="chuyenvien", nam_hoc="2023-2024", ky="CN", cap_hoc="MN")
    assert not at.exception
    assert set(at.dataframe[1].value["Cấp học"]) == {"MN"}


def test_page_of_a_year_without_targets_says_so(sample_db):
    at = app_test("ai_cham", user="lanhdao", nam_hoc="2022-2023", ky="CN")
    assert not at.exception and not at.dataframe
    assert "chưa có chỉ tiêu" in at.info[0].value


def test_a_principal_is_refused(sample_db):
    at = app_test(None, user="ht.th001")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/ai_cham.py").run()


@pytest.mark.browser
@pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="Debian chromium missing")
def test_first_contact_and_one_click_to_the_school(browser, app_url):
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(app_url)  # logged out: "/" goes on to the login form by itself
    page.wait_for_url(f"{app_url}/dang-nhap", timeout=30000)
    page.get_by_label("Tên đăng nhập").wait_for(timeout=30000)
    login(page, app_url, "lanhdao")
    page.goto(f"{app_url}/ai-dang-cham?nam_hoc=2023-2024&ky=CN&cap_hoc=TH")
    page.get_by_role("heading", name="Trường chưa đạt").wait_for(timeout=30000)
    grid = page.locator("[data-testid='stDataFrame']").nth(1)  # the schools short of a target
    grid.wait_for(timeout=30000)
    page.wait_for_load_state("networkidle")
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    for _ in range(8):  # the grid draws on a canvas: click the first row's selection box
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        try:
            page.wait_for_url("**/truong-hoc?*", timeout=4000)
            break
        except Exception:  # noqa: BLE001 - not yet drawn: click again
            page.wait_for_timeout(500)
    page.wait_for_url("**/truong-hoc?*", timeout=10000)
    assert "truong=TH" in page.url and "nam_hoc=2023-2024" in page.url
    page.get_by_text("Việc cần làm tiếp").wait_for(timeout=30000)
    page.context.close()


def _scale_problems(scale, missing: str) -> list[str]:
    """Shades of a heatmap scale that look grey (chroma < 45 of 255) or like the no-score colour."""
    def rgb(h):
        return [int(h[i:i + 2], 16) for i in (1, 3, 5)]
    found = []
    for t in [i / 100 for i in range(101)]:
        (a, ca), (b, cb) = next((lo, hi) for lo, hi in zip(scale, scale[1:]) if lo[0] <= t <= hi[0])
        f = 0 if b == a else (t - a) / (b - a)
        c = [x + (y - x) * f for x, y in zip(rgb(ca), rgb(cb))]
        if max(c) - min(c) < 45:
            found.append(f"{t:.0%} grey {c}")
        if sum(abs(x - y) for x, y in zip(c, rgb(missing))) < 90:
            found.append(f"{t:.0%} like no score {c}")
    return found


def test_heatmap_middle_shades_are_not_the_no_score_cells(monkeypatch):
    import numpy as np
    import pandas as pd

    from kpi.display import figures

    assert _scale_problems(figures.HEAT_SCALE, figures.MISSING_COLOR) == []
    m = pd.DataFrame([[0.5, np.nan], [np.nan, 1.0]], index=["A", "B"], columns=["c1", "c2"])
    fig = figures.criteria_heatmap(m, {"c1": "c1", "c2": "c2"})
    marks = next(t for t in fig.data if t.name == figures.MISSING_MARK_NAME)
    assert list(zip(marks.x, marks.y)) == [("c2 · c2", "A"), ("c1 · c1", "B")]
    assert marks.marker.symbol == "line-ew" and fig.data[0].colorscale[0][1] == figures.MISSING_COLOR
    # planted: the former scale (orange, pale blue, dark blue) against a grey "no score" is caught
    assert _scale_problems([[0, "#FDAE6B"], [0.5, "#C6DBEF"], [1, "#08519C"]], "#A3A3A3")


def test_words_and_formats(sample_db, con):
    from kpi.display import tables
    from kpi.store import queries

    log = tables.imports_table(queries.imports_log(con))
    assert not log.astype(str).apply(lambda c: c.str.contains("seed=")).any().any()
    assert tables.hash_text("ab" * 32) == "ab" * 6 and tables.hash_text("seed=7;schools=53") == "—"
    at = app_test("quan_tri", user="lanhdao")
    shown = " ".join(str(x.proto) for x in [*at.get("download_button"), *at.get("file_uploader")])
    assert not at.exception and "tệp chỉ tiêu" in shown and "TOML" not in shown


def _two_tables():
    import pandas as pd

    from pages import _widgets as ui

    ui.table(pd.DataFrame({"Trường": pd.Series([], dtype="string")}), empty="Chưa có trường nào.")
    ui.table(pd.DataFrame({"Trường": ["Trường Tiểu học Lá Xanh"]}))


def test_an_empty_table_is_a_vietnamese_sentence(sample_db):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_two_tables).run()
    assert not at.exception
    # Streamlit draws an empty frame with the English word "empty": no frame, a sentence instead
    assert len(at.dataframe) == 1 and [c.value for c in at.caption] == ["Chưa có trường nào."]


RAW_NUMBER = __import__("re").compile(r"\{[^{}]*:[.,]?\d*f\}|\{len\([^{}]*\)\}")


def raw_numbers(source: str) -> list[str]:
    """Numbers a console message prints the English way: '{x:.1f} s', '{len(rows)}' (1,234 → '1234')."""
    return [line.strip() for line in source.splitlines()
            if ("print(" in line or "log(" in line) and RAW_NUMBER.search(line)]


def test_console_messages_use_vietnamese_numbers():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("kpi/cli.py", "kpi/serving/serve.py"):
        assert raw_numbers((root / name).read_text(encoding="utf-8")) == [], name
    # planted: the former message of `make run` is caught
    assert raw_numbers('        log(f"{self.n} tiến trình sẵn sàng sau {time.time() - t:.1f} s")')


def test_logged_out_front_page_goes_on_to_the_login_form(sample_db):
    at = app_test(None, user=None)
    assert not at.exception and "Vui lòng đăng nhập" in at.markdown[0].value
    scripts = [str(h.proto) for h in at.get("html")]
    assert any("window.location.replace" in s and "/dang-nhap" in s for s in scripts), scripts


def test_make_run_takes_an_address():
    import shutil
    import subprocess
    from pathlib import Path

    if not shutil.which("make"):
        pytest.skip("make missing")
    root = Path(__file__).resolve().parents[1]

    def serve_line(*extra):
        out = subprocess.run(["make", "-n", "run", *extra], cwd=root, capture_output=True, text=True,
                             timeout=60).stdout
        return next(line for line in out.splitlines() if " -m kpi serve " in line)
    assert serve_line().endswith("--address 127.0.0.1")  # the default: this computer only
    assert serve_line("ADDRESS=0.0.0.0").endswith("--address 0.0.0.0")
