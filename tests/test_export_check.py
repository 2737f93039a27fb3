"""Every export read back the way a person sees it (tests/export_check.py), each check paired with a
file made wrong on purpose that it must catch; the pack's sentences are the overview page's."""

from __future__ import annotations

import copy
import io
import shutil
import subprocess
import zipfile

import pandas as pd
import plotly.graph_objects as go
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import export_charts, figures, figures_trend
from kpi.display.measure import FONT_REGULAR
from kpi.domain import maturity
from kpi.exports import export, images
from kpi.exports.school_pdf import school_pdf
from kpi.views import cache as views
from kpi.views.pack import build_pack, pack_charts
from kpi.workflows import snapshots
from tests import export_check as ec

CAT = default_catalog()
CODES = ec.catalog_codes(CAT)
YEAR, ROUND = "2023-2024", "CN"


@pytest.fixture(scope="module")
def frozen(tmp_path_factory, sample_db):
    path = tmp_path_factory.mktemp("check") / "frozen.duckdb"
    path.write_bytes(sample_db.read_bytes())
    sid = snapshots.freeze(path, YEAR, ROUND, "Họp giao ban tháng 6", "chuyenvien")
    return path, sid


@pytest.fixture(scope="module")
def store(frozen):
    v = views.Views(frozen[0])
    yield v
    v.close()


PACKS = {"trực tiếp": (Scope.everything(), False), "bản chốt": (Scope.everything(), True),
         "hiệu trưởng": (Scope.school("TH001"), False)}


@pytest.fixture(scope="module")
def packs(store, frozen):
    """Each pack's files in every format, written at once (one drawing of the charts)."""
    out = {}
    for name, (scope, snap) in PACKS.items():
        pack = build_pack(store, CAT, scope, YEAR, ROUND, frozen[1] if snap else None)
        out[name] = pack, export.write_all(pack, CAT)
    return out


@pytest.mark.parametrize("which", PACKS)
def test_every_file_of_the_pack_reads_clean(packs, which):
    pack, files = packs[which]
    assert list(files) == list(export.FORMATS)
    found = {
        "pdf": ec.pdf_problems(files["pdf"], codes=CODES),
        "pptx": ec.pptx_problems(files["pptx"], codes=CODES),
        "xlsx": ec.xlsx_problems(files["xlsx"], codes=CODES),
        "html": ec.text_problems((("html", t) for t in ec.html_texts(files["html"])), CODES),
    }
    z = zipfile.ZipFile(io.BytesIO(files["png"]))
    found["png"] = ec.text_problems([("zip", z.read("Thông tin.txt").decode("utf-8-sig")),
                                     *(("zip", n) for n in z.namelist())], CODES)
    assert {k: v[:5] for k, v in found.items() if v} == {}
    for f in ("pdf", "pptx", "html"):  # every file says what it is
        text = {"pdf": lambda d: " ".join(w for *_, w in ec.pdf_words(d)),
                "pptx": lambda d: "\n".join(ec.pptx_texts(d)),
                "html": lambda d: "\n".join(ec.html_texts(d))}[f](files[f])
        for part in (pack.unit.split()[0], YEAR, "Dữ liệu mẫu", "Tạo lúc"):
            assert part in text, (f, part)
        if pack.snapshot:
            assert pack.snapshot["snapshot_id"] in text


@pytest.mark.parametrize("which", PACKS)
def test_every_chart_as_exported(packs, which):
    pack, _ = packs[which]
    charts = pack_charts(pack, CAT)
    problems = [p for c in charts for p in ec.figure_problems(c.figure, c.name)]
    problems += ec.text_problems([(c.name, t) for c in charts for t in ec.figure_texts(c.figure)], CODES)
    assert problems == []
    # a principal's pack leaves out groups under 5 schools (kpi.domain.privacy)
    shown = set(pack.rows["indicator_code"])
    index = 1 if pack.maturity_dist is not None and maturity.INDEX_CODE in shown else 0
    assert len(charts) == 1 + len([c for c in CAT.indicators if c in shown and pack.values[c]["value"].notna().any()]) \
        + index


def test_school_pdf_reads_clean(frozen, store):
    data = school_pdf(store, CAT, Scope.school("TH001"), "TH001", YEAR, ROUND)
    assert ec.pdf_problems(data, codes=CODES) == []


def test_the_packs_sentences_are_the_overview_pages(packs, store, frozen):
    """The HTML, the PDF and the slides say what the Tổng quan page says (both read kpi.views)."""
    for which, snap in (("trực tiếp", None), ("bản chốt", frozen[1])):
        pack, files = packs[which]
        page = views.Views(frozen[0])  # what a page run would read, built on its own
        try:
            tiles = [t for _, ts in page.overview(Scope.everything().with_snapshot(snap), YEAR, ROUND).themes
                     for t in ts]
        finally:
            page.close()
        assert [(ln.tile.code, ln.tile.change) for ln in pack.lines] == [(t.code, t.change) for t in tiles]
        assert sum(t.change.startswith(("tăng", "giảm")) for t in tiles) >= len(tiles) // 2  # a previous round exists
        html_rows = ec.html_texts(files["html"])
        pdf_text = " ".join(w for *_, w in ec.pdf_words(files["pdf"]))
        slides = "\n".join(ec.pptx_texts(files["pptx"]))
        for t in tiles:
            assert t.change in html_rows
            assert " ".join(t.change.split()) in pdf_text and t.change in slides


def test_xlsx_numbers_are_numbers(packs):
    import openpyxl

    _, files = packs["trực tiếp"]
    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    ws = wb["Tổng hợp"]
    header = [c.value for c in ws[4]]
    values = [r[header.index("Giá trị")] for r in ws.iter_rows(min_row=5, values_only=True)]
    assert all(isinstance(v, (int, float)) for v in values) and ws.auto_filter.ref.startswith("A4")
    sub = wb["Nộp báo cáo"]
    header = [c.value for c in sub[4]]
    dates = [r[header.index("Ngày nộp")] for r in sub.iter_rows(min_row=5, values_only=True)]
    assert None in dates and all(d is None or hasattr(d, "year") for d in dates)  # not submitted: an empty cell


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="libreoffice-impress (make sysdeps) not installed")
def test_slides_as_a_slide_program_shows_them(packs, tmp_path):
    """LibreOffice lays the deck out itself: every word it draws is inside its slide."""
    _, files = packs["trực tiếp"]
    deck = tmp_path / "bo.pptx"
    deck.write_bytes(files["pptx"])
    subprocess.run(["libreoffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(deck)],
                   capture_output=True, check=True, timeout=180)
    shown = (tmp_path / "bo.pdf").read_bytes()
    assert ec.pdf_problems(shown, margin_mm=0.5, codes=CODES) == []
    from pptx import Presentation

    assert max(p for p, *_ in ec.pdf_words(shown)) == len(Presentation(io.BytesIO(files["pptx"])).slides)


def test_pack_timings_reports_every_format(monkeypatch, con):
    monkeypatch.setattr(export, "start_renderer", lambda: None)
    monkeypatch.setattr(export, "write_all", lambda *a, **k: {})
    monkeypatch.setattr(export, "build_pack", lambda *a, **k: None)
    t = export.pack_timings(con)
    assert set(t) == {"renderer_start", *export.FORMATS, "all", "all_warm"} and all(v >= 0 for v in t.values())


# ---- each check catches a file made wrong on purpose ----------------------------------------------

def test_text_check_catches_missing_values_english_numbers_and_codes():
    bad = ["<NA>", "Giá trị: nan", "None", "null trường", "17.5%", "0.875", "1,234.5", "tin_hoc_quoc_te",
           "Chỉ tiêu chua_dat", "vssid"]
    found = ec.text_problems([(str(i), t) for i, t in enumerate(bad)], CODES)
    assert sorted({int(p.where) for p in found}) == list(range(len(bad)))
    good = ["17,5%", "1.234", "32.736 giao dịch", "II.10 · Học sinh", "I.2b", "DH7.1", "2023-2024-CN-01",
            "01/12/2026 22:07", "TH001", "du-lieu-mau.xlsx", "Nam", "Trường Tiểu học Tre Xanh", "VSSID", "0,5"]
    assert ec.text_problems([("ok", t) for t in good], CODES) == []


def _fpdf():
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format="A4")
    pdf.add_font("DejaVu", "", str(FONT_REGULAR))
    pdf.set_font("DejaVu", "", 9)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    return pdf


def test_pdf_check_catches_a_word_off_the_page_and_a_font_not_embedded():
    pdf = _fpdf()
    pdf.set_xy(10, 20)
    pdf.cell(0, 5, "Tổng hợp các chỉ tiêu")  # inside
    pdf.set_xy(280, 100)
    pdf.cell(40, 5, "Phòng GDĐT Quận 3 · trang 2")  # runs off the right edge, as the old footer did
    pdf.set_xy(20, 208)
    pdf.cell(40, 5, "chân trang")  # below the bottom
    found = ec.pdf_problems(bytes(pdf.output()))
    assert {p.what for p in found} >= {"Quận", "trang", "chân"} and "Tổng" not in {p.what for p in found}
    assert all(p.why.startswith("chữ ra ngoài trang") for p in found)
    core = _fpdf()
    core.set_font("Helvetica", "", 9)  # a core font: never embedded
    core.set_xy(20, 20)
    core.cell(40, 5, "Bao cao <NA>")
    found = ec.pdf_problems(bytes(core.output()), codes=CODES)
    assert {p.why for p in found} == {"phông chữ không được nhúng", "giá trị thiếu viết thành '<NA>'"}


def _deck():
    from pptx import Presentation
    from pptx.util import Emu

    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)
    return prs, prs.slides.add_slide(prs.slide_layouts[6])


def _save(prs) -> bytes:
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def test_pptx_check_catches_text_that_does_not_fit():
    from pptx.util import Inches, Pt

    prs, s = _deck()
    ok = s.shapes.add_textbox(Inches(0.4), Inches(0.2), Inches(12.5), Inches(0.8)).text_frame
    ok.word_wrap = True
    ok.text = "Tổng hợp các chỉ tiêu"
    ok.paragraphs[0].runs[0].font.size = Pt(26)
    assert ec.pptx_problems(_save(prs)) == []
    small = s.shapes.add_textbox(Inches(0.4), Inches(1.2), Inches(3), Inches(0.4)).text_frame  # too small
    small.word_wrap = True
    small.text = "I.2e · Trường đánh giá thường xuyên bằng hình thức trực tuyến"
    small.paragraphs[0].runs[0].font.size = Pt(20)
    title = s.shapes.add_textbox(Inches(0.4), Inches(2.0), Inches(6), Inches(0.8)).text_frame  # no wrap: cut off
    title.text = "II.9 · Trường THCS triển khai hệ thống quản lý dạy học trực tuyến (LMS)"
    title.paragraphs[0].runs[0].font.size = Pt(26)
    s.shapes.add_textbox(Inches(12), Inches(7.2), Inches(2), Inches(0.4)).text_frame.text = "chân"  # off the slide
    found = ec.pptx_problems(_save(prs))
    whys = [p.why for p in found]
    assert any(w.startswith("chữ cần cao") for w in whys) and "dòng chữ rộng hơn khung" in whys
    assert any(w.startswith("ra ngoài trang chiếu") for w in whys)


def test_pptx_check_catches_a_table_growing_past_the_slide():
    from pptx.util import Inches, Pt

    prs, s = _deck()
    t = s.shapes.add_table(13, 2, Inches(0.4), Inches(1.1), Inches(12.5), Inches(0.4) * 13).table
    for r in range(13):
        t.cell(r, 0).text = "II.9"
        t.cell(r, 1).text = "Trường THCS triển khai hệ thống quản lý dạy học trực tuyến (LMS) " * 3
        for c in range(2):
            t.cell(r, c).text_frame.paragraphs[0].runs[0].font.size = Pt(11)
    foot = s.shapes.add_textbox(Inches(0.4), Inches(7.0), Inches(12.5), Inches(0.4)).text_frame
    foot.word_wrap = True
    foot.text = "Phòng GDĐT Quận 3"
    foot.paragraphs[0].runs[0].font.size = Pt(9)
    whys = {p.why for p in ec.pptx_problems(_save(prs))}
    assert "hai khung chồng lên nhau" in whys and any(w.startswith("ra ngoài trang chiếu") for w in whys)


def test_xlsx_check_catches_text_numbers_bare_fractions_and_missing_sheet_settings():
    import datetime as dt

    from kpi.common import cells

    buf = io.BytesIO()
    wb = cells.workbook(buf)
    ws = wb.add_worksheet("I.2b lms_su_dung")  # a code for a sheet name
    cells.write_cells(ws, 0, 0, ["Trường", "Giá trị", "Tỉ lệ", "Ngày nộp", "Ngày chốt", "tin_hoc_quoc_te"])
    cells.write_cells(ws, 1, 0, ["Trường Tiểu học An Hòa", "100%", 0.875, "—", dt.datetime(2024, 5, 20), 1])
    ws.write_datetime(1, 4, dt.datetime(2024, 5, 20), wb.add_format({"num_format": "m/d/yyyy"}))
    wb.close()  # no frozen header, no filter, no widths
    found = ec.xlsx_problems(buf.getvalue(), codes=CODES)
    whys = {p.why.split(" '")[0].split(" (")[0] for p in found}
    assert {"không cố định dòng tiêu đề", "không có bộ lọc", "chưa đặt độ rộng cột", "số lưu dạng chữ",
            "số không có định dạng số", "ô trống ghi bằng ký hiệu", "ngày hiển thị", "mã nội bộ"} <= whys
    assert {p.what for p in found if p.why == "số lưu dạng chữ"} == {"100%"}
    assert any(p.where == "tên trang tính I.2b lms_su_dung" for p in found)


def test_figure_check_catches_axes_targets_and_status_without_words(con):
    v = views.Views.of_connection(con, CAT)
    ind = v.indicator(Scope.everything(), "tin_hoc_quoc_te", YEAR, ROUND)
    ok = export_charts.indicator_figure(ind.trend, ind.values)
    assert ec.figure_problems(ok) == []
    bad_axis = {"data": [{"type": "scatter", "x": ["HK1", "CN"], "y": [75.0, 88.0], "name": "Toàn đơn vị"},
                         {"type": "scatter", "x": ["HK1", "CN"], "y": [100.0, 100.0], "name": "Chỉ tiêu"}],
                "layout": {"yaxis": {"ticksuffix": "%"}}}  # autorange: the axis starts near 75%
    assert [p.why for p in ec.figure_problems(bad_axis)] == ["trục phần trăm tự co giãn (không bắt đầu từ 0%)"]
    bad_axis["layout"]["yaxis"]["range"] = [58, 100]  # from 58%, and the target on the frame
    whys = [p.why for p in ec.figure_problems(bad_axis)]
    assert "trục phần trăm bắt đầu từ 58%" in whys and any(w.startswith("đường chỉ tiêu không thấy") for w in whys)
    bad_axis["layout"]["yaxis"]["range"] = [0, 80]  # cut below the largest value
    assert any("dưới giá trị lớn nhất" in p.why for p in ec.figure_problems(bad_axis))
    colours = [figures.STATUS_COLORS[s] for s in ("dat", "chua_dat")]
    no_words = {"data": [{"type": "bar", "orientation": "h", "x": [90, 40], "y": ["A", "B"], "showlegend": False,
                          "marker": {"color": colours}, "text": ["90%", "40%"]}],
                "layout": {"xaxis": {"ticksuffix": "%", "range": [0, 100]}}}
    whys = [p.why for p in ec.figure_problems(no_words)]
    assert whys.count("màu tình trạng không có chú thích bằng chữ") == 2
    assert whys.count("thanh tô màu tình trạng không ghi tình trạng") == 2
    # the screen's builder: no word on the bars
    page_bars = figures.progress_bars(v.overview(Scope.everything(), YEAR, ROUND).rows).to_plotly_json()
    assert "thanh tô màu tình trạng không ghi tình trạng" in {p.why for p in ec.figure_problems(page_bars)}


def test_charts_drawn_by_the_shared_renderer(packs, monkeypatch):
    """Under `kpi serve` the charts go over a socket to one renderer: the same images come back."""
    import tempfile
    import threading
    import time
    from pathlib import Path

    from kpi.exports import renderer

    pack, _ = packs["trực tiếp"]
    charts = pack_charts(pack, CAT)[:3]
    local = images.chart_images(charts, cache=images.ChartCache(directory=None, memory_bytes=0))
    sock = Path(tempfile.mkdtemp(dir="/tmp")) / "r.sock"
    threading.Thread(target=renderer.serve, args=(sock,), daemon=True).start()
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    monkeypatch.setenv(renderer.ENV, str(sock))
    monkeypatch.setattr(images.ChartCache, "_dir", lambda self: None)
    remote = images.chart_images(charts, cache=images.ChartCache(directory=None, memory_bytes=0))
    assert [len(r) > 1000 for r in remote] == [True] * 3
    assert [r[:8] for r in remote] == [b"\x89PNG\r\n\x1a\n"] * 3 and len(remote) == len(local)


def _school_values(values: list[float], target: float = 1.0) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({"school_id": [f"S{i:02d}" for i in range(n)], "name": [f"Trường Mẫu {i}" for i in range(n)],
                         "value": values, "target": [target] * n, "level": ["TH"] * n, "is_own": [False] * n,
                         "status": ["dat" if v >= target else "chua_dat" for v in values]})


@pytest.mark.parametrize("values, named, says", [
    ([1.0] * 36 + [0.0] * 3, 3, "3 trường chưa đạt / 39 trường đã báo cáo"),   # never a school at its target
    ([1.0] * 5 + [0.5 + i / 100 for i in range(30)], 15,
     "15 trường xa chỉ tiêu nhất · 30 trường chưa đạt / 35 trường đã báo cáo"),
    ([1.0] * 25, 15, "cả 25 trường đã báo cáo đều đạt chỉ tiêu; 15 trường đầu"),
    ([0.9] * 12, 12, "12 trường đã báo cáo"),
])
def test_pack_school_bars_name_the_schools_short_of_their_target(values, named, says):
    fig = export_charts.indicator_figure(pd.DataFrame(), _school_values(values))
    bars = next(t for t in fig["data"] if t.get("type") == "bar" and t.get("name") == "Trường")
    assert len(bars["y"]) == named
    assert says in fig["layout"]["annotations"][0]["text"]
    if named < len(values) and any(v < 1.0 for v in values):
        assert all(x < 100 for x in bars["x"])  # a school that reached its target is not "far from it"


# ---- a pack fit for a meeting (issue 25 item 6) ----------------------------------------------------

def _screen_order(store, pack) -> list[str]:
    """The Tổng quan page's targets, in its order (its view model's themes)."""
    ov = store.overview(pack.scope, YEAR, ROUND)
    return list(dict.fromkeys(t.code for _, tiles in ov.themes for t in tiles))


@pytest.mark.parametrize("which", PACKS)
def test_the_pack_is_fit_for_a_meeting(packs, store, which):
    """Yes/no targets drawn as counts (never labels over no bar), no value label crossed by a target
    line, slide text ≥ 12 pt (chart images measured as placed), and the targets in the screen's order."""
    pack, files = packs[which]
    charts = pack_charts(pack, CAT)
    yes_no = [c for c in charts if c.code in CAT.indicators and CAT.indicators[c.code].kind == "bool"]
    assert yes_no  # the sample has them: the check below is not empty
    problems = [p for c in charts for p in ec.chart_bar_problems(
        c.figure, c.name, yes_no=c.code in CAT.indicators and CAT.indicators[c.code].kind == "bool")]
    problems += [p for c in charts for p in ec.label_crossing_problems(c.figure, c.name)]
    problems += ec.pptx_font_problems(files["pptx"], [c.figure for c in charts if c.in_documents])
    problems += ec.order_problems([c.code for c in charts if c.code], _screen_order(store, pack))
    assert problems == [], problems[:5]


def test_pack_checks_catch_a_yes_no_drawn_as_percent_bars_small_text_and_another_order(packs, store):
    pack, files = packs["trực tiếp"]
    # the old drawing of a yes/no target: the schools without it as 0% bars, labels over nothing
    old = export_charts.indicator_figure(pd.DataFrame(), _school_values([1.0] * 20 + [0.0] * 5))
    whys = {p.why for p in ec.chart_bar_problems(old, "I.2c", yes_no=True)}
    assert whys == {"biểu đồ không có thanh nào (chỉ có nhãn)",
                    "chỉ tiêu có/không vẽ thành thanh phần trăm của giá trị 0/1"}
    assert ec.chart_bar_problems(old, "I.2c", yes_no=False) != []
    code = next(c for c, i in CAT.indicators.items() if i.kind == "bool")
    good = export_charts.yes_no_figure(pack.trends[code], pack.values[code])
    assert ec.chart_bar_problems(good, code, yes_no=True) == []
    # chart text that a slide shows under 12 pt: the legend at 12 px on a 1000 px image
    figs = [c.figure for c in pack_charts(pack, CAT) if c.in_documents]
    small = copy.deepcopy(figs)
    small[1]["layout"]["legend"]["font"]["size"] = 12
    found = ec.pptx_font_problems(files["pptx"], small)
    assert [p.what for p in found] == ["hình: chú giải"] and "trang chiếu" in found[0].where
    wide = copy.deepcopy(figs)
    wide[0]["layout"]["width"] = 2000  # the same image said to be drawn at twice the size: half the points
    assert ec.pptx_font_problems(files["pptx"], wide)
    from pptx.util import Pt

    prs, slide = _deck()
    box = slide.shapes.add_textbox(Pt(36), Pt(36), Pt(400), Pt(40))
    run = box.text_frame.paragraphs[0].add_run()
    run.text, run.font.size = "Phòng GDĐT · Năm học 2023-2024", Pt(9)
    assert [p.why for p in ec.pptx_font_problems(_save(prs), [])] == ["chữ 9 pt (dưới 12 pt)"]
    # the Chỉ tiêu page's old order (the catalog's) is not the Tổng quan order
    screen = _screen_order(store, pack)
    by_catalog = [c for c in CAT.indicators if c in screen]
    assert ec.order_problems(by_catalog, screen) and ec.order_problems(screen[::-1], screen)
    assert ec.order_problems(screen, screen) == []


def test_label_check_catches_a_target_line_through_a_value_label():
    """Issue 25's "15,6%" read as "−15,6%": the trend's label above its point with the target just
    over it, and a bar's label at its end with the target mark in it; the pack's own layout of the
    same numbers is clear."""
    trend = pd.DataFrame({"school_year": ["2022-2023", "2023-2024"], "round": ["CN", "CN"],
                          "period": ["2022-2023 · CN", "2023-2024 · CN"], "series": ["Tất cả"] * 2,
                          "value": [0.14, 0.156], "target": [0.16, 0.16],
                          "schools_reporting": [20, 20], "schools_expected": [20, 20]})
    # the screen trend as it drew its labels until 07/12/2026 (as its traces' text; now on a white ground)
    page = figures_trend.trend_chart(trend).to_plotly_json()
    page["data"] = go.Figure(figures_trend.trend_traces(trend)).to_plotly_json()["data"]
    page["layout"]["yaxis"]["range"] = [0, 20]
    assert any("cắt qua nhãn" in p.why for p in ec.label_crossing_problems(page))
    bars = {"data": [{"type": "bar", "orientation": "h", "x": [14.0], "y": ["1. Trường A"], "text": ["14% ✖"],
                      "textposition": "outside", "xaxis": "x2", "yaxis": "y2"},
                     {"type": "scatter", "mode": "markers", "x": [15.0], "y": ["1. Trường A"], "name": "Chỉ tiêu 15%",
                      "xaxis": "x2", "yaxis": "y2"}],
            "layout": {"width": 1000, "height": 500, "xaxis2": {"range": [0, 20]}}}
    assert [p.why for p in ec.label_crossing_problems(bars)] == ["vạch chỉ tiêu cắt qua nhãn giá trị"]
    values = _school_values([0.14, 0.156, 0.2], target=0.16)
    fig = export_charts.indicator_figure(trend, values)
    assert ec.label_crossing_problems(fig) == []
    said = [t for t in fig["data"] if t.get("mode") == "lines+markers+text"][0]
    assert "15,6%" in list(said["text"])  # kept, below its point (the target is above it)


def test_the_target_page_lists_the_targets_in_the_packs_order(sample_db, store):
    """The Chỉ tiêu page's choice of target, the Tổng quan page and the pack: one order (by theme);
    the catalog's own order is another one (the planted order the check must catch)."""
    from tests.conftest import app_test

    at = app_test("chi_tieu")
    assert not at.exception
    listed = list(at.selectbox(key="w_chi_tieu").options)
    pack = build_pack(store, CAT, Scope.everything(), YEAR, ROUND)
    screen = _screen_order(store, pack)
    labels = {f"{i.clause} · {i.label_vi}": c for c, i in CAT.indicators.items()}
    assert ec.order_problems([labels[o] for o in listed], screen) == []
    assert ec.order_problems(list(CAT.indicators), screen) != []
