"""Snapshots and meeting packs: each format opened with its own library, frozen figures, no black
charts, a principal's export holding only their own school (formula cells: tests/test_cells.py)."""

import io
import subprocess
import zipfile

import openpyxl
import pytest
from PIL import Image

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import figures
from kpi.exports import chromium, export, images
from kpi.exports.html import to_html
from kpi.exports.pdf import to_pdf
from kpi.exports.png import to_png_zip
from kpi.exports.pptx import to_pptx
from kpi.exports.school_pdf import school_pdf
from kpi.exports.xlsx import to_xlsx
from kpi.imports import importer
from kpi.store import db, queries
from kpi.views.pack import SAMPLE_LABEL, build_pack
from kpi.workflows import snapshots
from tests.test_importer import GOOD_HEAD

CAT = default_catalog()


@pytest.fixture(scope="module")
def frozen(tmp_path_factory, sample_db):
    """A copy of the sample with a snapshot of 2023-2024 CN, then a later import changing live data."""
    path = tmp_path_factory.mktemp("export") / "frozen.duckdb"
    path.write_bytes(sample_db.read_bytes())
    sid = snapshots.freeze(path, "2023-2024", "CN", "Họp giao ban tháng 6", "chuyenvien")
    return path, sid


@pytest.fixture(scope="module")
def pack(frozen):
    path, sid = frozen
    c = db.connect(path)
    try:
        return build_pack(c, CAT, Scope.everything(), "2023-2024", "CN", sid)
    finally:
        c.close()


def _summary(path, scope):
    c = db.connect(path)
    try:
        return queries.district_summary(c, CAT, scope, "2023-2024", "CN")[["indicator_code", "level", "numerator",
                                                                            "denominator", "schools_reporting"]]
    finally:
        c.close()


def test_snapshot_never_changes_after_a_later_import(frozen, tmp_path):
    path, sid = frozen
    work = tmp_path / "w.duckdb"
    work.write_bytes(path.read_bytes())
    frozen_before = _summary(work, Scope(snapshot_id=sid))
    live_before = _summary(work, Scope())
    importer.import_file(work, "sau.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,5000,200,210\n".encode(), "cv")
    assert _summary(work, Scope(snapshot_id=sid)).equals(frozen_before)
    assert not _summary(work, Scope()).equals(live_before)
    c = db.connect(work)
    info = snapshots.snapshot_info(c, sid)
    assert info["content_hash"] == snapshots.content_hash(c, sid)
    assert info["created_by"] == "chuyenvien" and info["name"] == "Họp giao ban tháng 6"
    c.close()


def test_compare_snapshot_with_live_same_period(frozen, tmp_path):
    path, sid = frozen
    work = tmp_path / "w.duckdb"
    work.write_bytes(path.read_bytes())
    importer.import_file(work, "sau.csv", f"{GOOD_HEAD},Trường triển khai hệ thống quản lý học tập (LMS) (có/không)\n"
                                          "THCS001,2023-2024,CN,900,50,54,Không\n".encode(), "cv")
    c = db.connect(work)
    rows = queries.compare_periods(c, CAT, Scope(), ("2023-2024", "CN"), ("2023-2024", "CN"),
                                   snapshot_a=sid, snapshot_b=None, mixed=True)
    lms = rows[(rows.indicator_code == "lms_thcs") & (rows.level == "THCS")].iloc[0]
    assert lms.fell_back == 1 and lms.moved_up == 0
    changed = {"hs_tong", "gv_tong", "cbql_gv_tong", "co_lms"}
    untouched = [i.code for i in CAT.indicators.values() if not {i.numerator, i.denominator} & changed]
    other = rows[rows.indicator_code.isin(untouched)]
    assert (other.moved_up == 0).all() and (other.fell_back == 0).all()
    c.close()


def test_xlsx(pack):
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx(pack, CAT)))
    names = wb.sheetnames
    assert names[:3] == ["Thông tin", "Tổng hợp", "Định nghĩa"] and "Theo trường" in names
    assert "II.10 Học sinh học Tin học the…" in names  # clause and label, never a code
    info = {r[0]: r[1] for r in wb["Thông tin"].iter_rows(min_row=5, values_only=True)}
    assert info["Mã bản chốt"] == pack.snapshot["snapshot_id"]
    assert info["Mã băm (SHA-256)"] == pack.snapshot["content_hash"]
    assert info["Ghi chú"] == SAMPLE_LABEL and "Phòng GDĐT Quận 3" in info["Đơn vị"]
    assert info["Tạo lúc"] == pack.generated_at.replace(microsecond=0)  # a date cell
    assert "Dữ liệu mẫu" in wb["Tổng hợp"]["A2"].value
    summary = wb["Tổng hợp"]
    header = [c.value for c in summary[4]]
    rows = {r[header.index("Chỉ tiêu")]: r for r in summary.iter_rows(min_row=5, values_only=True)}
    row = rows["Học sinh khối lớp 3, 4, 5 được học Tin học"]
    assert isinstance(row[header.index("Giá trị")], float) and summary.freeze_panes == "D5"
    assert summary.cell(5, header.index("Giá trị") + 1).number_format == "0.0%"
    defs = wb["Định nghĩa"]
    assert [c.value for c in defs[4]][:2] == ["Mục", "Chỉ tiêu"]
    assert ("II.11", "Tỉ trọng nội dung chương trình triển khai trực tuyến") in \
        {r[:2] for r in defs.iter_rows(min_row=5, values_only=True)}


def test_html_is_offline_and_self_contained(pack):
    from plotly.offline import get_plotlyjs

    page = to_html(pack, CAT).decode("utf-8")
    marker = get_plotlyjs()[:200]
    bundle = get_plotlyjs()
    assert page.count(marker) == 1  # plotly.js inlined once
    rest = page.replace(bundle, "")
    assert "<script src=" not in rest and "http" not in rest.replace("http://www.w3.org", "")
    assert pack.snapshot["snapshot_id"] in page and "Dữ liệu mẫu" in page
    assert page.count('class="plotly-graph-div"') >= len(CAT.indicators)


def _pdf_text(data: bytes, tmp_path) -> str:
    f = tmp_path / "x.pdf"
    f.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True, check=True).stdout


def test_pdf(pack, tmp_path):
    data = to_pdf(pack, CAT)
    text = _pdf_text(data, tmp_path)
    for s in ("Tổng hợp các chỉ tiêu", "Các trường còn xa chỉ tiêu nhất", "Tình hình nộp báo cáo",
              pack.snapshot["snapshot_id"], "Dữ liệu mẫu", "Chưa đạt", "Tỉ trọng nội dung chương trình"):
        assert s in text, s
    f = tmp_path / "p.pdf"
    f.write_bytes(data)
    fonts = subprocess.run(["pdffonts", str(f)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts and all(" yes " in line for line in fonts.splitlines()[2:] if line.strip())


def test_pptx_and_png_charts_are_not_black(pack):
    from pptx import Presentation

    prs = Presentation(io.BytesIO(to_pptx(pack, CAT)))
    texts = ["\n".join(sh.text_frame.text for sh in s.shapes if sh.has_text_frame) for s in prs.slides]
    assert prs.slide_width * 9 == prs.slide_height * 16
    assert pack.snapshot["snapshot_id"] in texts[0] and "Dữ liệu mẫu" in texts[0] and pack.unit in texts[0]
    assert any(t.startswith("Tổng hợp các chỉ tiêu") for t in texts)
    assert any("II.10 · Học sinh học Tin học theo chuẩn quốc tế" in t for t in texts)
    assert any("Các trường còn xa chỉ tiêu nhất" in t for t in texts)
    assert any("Mức độ chuyển đổi số" in t for t in texts) and any("Tình hình nộp báo cáo" in t for t in texts)
    assert all(pack.stamp in t for t in texts[1:])
    z = zipfile.ZipFile(io.BytesIO(to_png_zip(pack, CAT)))
    img = Image.open(io.BytesIO(z.read("00-tong-quan.png"))).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    top = max(colours)[1]
    assert top == (255, 255, 255)  # a white background, not black
    wanted = {tuple(int(figures.STATUS_COLORS[s][i:i + 2], 16) for i in (1, 3, 5)) for s in ("dat", "chua_dat")}
    present = {c for _, c in colours}
    assert wanted <= present  # the template's status colours are drawn
    dark = sum(n for n, c in colours if sum(c) < 60)
    assert dark < img.width * img.height * 0.05


def test_missing_chromium_gives_a_clear_message(pack, monkeypatch):
    import kaleido

    monkeypatch.setattr(chromium, "_CHROMIUM", None)
    monkeypatch.setattr(images, "CHART_CACHE", images.ChartCache(directory=None, memory_bytes=0))
    monkeypatch.setattr(images.ChartCache, "_dir", lambda self: None)

    async def boom(*a, **k):
        raise RuntimeError("no chromium")

    monkeypatch.setattr(kaleido.Kaleido, "open", boom)
    with pytest.raises(export.ExportError, match="cần trình duyệt Chromium"):
        to_pptx(pack, CAT)
    assert to_xlsx(pack, CAT)[:2] == b"PK" and to_html(pack, CAT).startswith(b"<!doctype html>")


def test_a_chromium_that_fails_mid_drawing_is_started_afresh(monkeypatch):
    """A tab that crashes under a loaded machine (seen in CI: the drawing's future cancelled) costs
    one fresh chromium, not the pack's images; a second failure in a row gives the clear message."""
    import concurrent.futures

    real, failures = chromium._Chromium.render, []

    def flaky(self, figs, width):
        if width == 200 and len(failures) < fail_times:  # the start's own blank figure is 64 wide
            failures.append(self)
            raise concurrent.futures.CancelledError()
        return real(self, figs, width)

    monkeypatch.setattr(chromium._Chromium, "render", flaky)
    fig = {"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {"width": 200, "height": 120}}
    fail_times = 1
    chromium.start_local_renderer()
    first = chromium._CHROMIUM
    [png] = chromium.render_local([fig], 200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and failures == [first]
    assert chromium._CHROMIUM is not None and chromium._CHROMIUM is not first
    failures.clear()
    fail_times = 2
    with pytest.raises(export.ExportError, match="cần trình duyệt Chromium"):
        chromium.render_local([fig], 200)
    assert len(failures) == 2 and failures[0] is not failures[1] and chromium._CHROMIUM is None


def test_principal_export_holds_only_their_school(frozen, tmp_path):
    path, _ = frozen
    c = db.connect(path)
    own = c.execute("SELECT name FROM schools WHERE school_id = 'TH001'").fetchall()[0][0]
    others = [n for (n,) in c.execute("SELECT name FROM schools WHERE school_id <> 'TH001'").fetchall()]
    scope = Scope.school("TH001")
    with pytest.raises(export.ExportError, match="không có quyền"):
        school_pdf(c, CAT, scope, "TH002", "2023-2024", "CN")
    text = _pdf_text(school_pdf(c, CAT, scope, "TH001", "2023-2024", "CN"), tmp_path)
    assert own in text and not [n for n in others if n in text]
    principal_pack = build_pack(c, CAT, scope, "2023-2024", "CN")
    xlsx = openpyxl.load_workbook(io.BytesIO(to_xlsx(principal_pack, CAT)))
    cells = {str(v) for ws in xlsx.worksheets for row in ws.iter_rows(values_only=True) for v in row if v}
    assert own in cells and not [n for n in others if n in cells]
    c.close()


def test_report_page_freeze_and_build(writable_db, monkeypatch):
    from tests.conftest import app_test

    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = app_test("bao_cao", user="chuyenvien", nam_hoc="2023-2024", ky="CN")
    assert not at.exception and at.title[0].value == "Báo cáo"
    at.button(key="bc_freeze").click().run()
    assert any("Đã chốt số liệu: mã 2023-2024-CN-01" in s.value for s in at.success)
    snaps = at.dataframe[0].value
    assert list(snaps["Mã bản chốt"]) == ["2023-2024-CN-01"] and len(snaps["Mã băm (SHA-256)"][0]) == 64
    at = app_test("bao_cao", user="chuyenvien", nam_hoc="2023-2024", ky="CN", chot="2023-2024-CN-01")
    assert "bản chốt 2023-2024-CN-01" in "\n".join(c.value for c in at.caption)
    at.multiselect(key="bc_formats").set_value(["xlsx", "html"]).run()
    at.button(key="bc_build").click().run()
    assert not at.exception and not at.error
    _, job = at.session_state["bc_job"]
    job.thread.join(60)  # built in the background: the page answered at once
    at.run()
    assert not at.exception and not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["XLSX", "HTML"]
    assert set(job.files) == {"xlsx", "html"} and job.label == "bao_cao_2023-2024_CN_2023-2024-CN-01"


def test_the_pack_buttons_callback_does_nothing_for_a_logged_out_tab_or_a_pack_under_way(writable_db, monkeypatch):
    """The pack starts in the button's callback (before the page runs again), which runs before the page
    frame's login check: a tab left open after the logout, or a click forged on the disabled button while
    a pack is made, starts nothing (planted: the same click, logged in and idle, starts a pack)."""
    import threading

    from kpi.exports import export
    from tests.conftest import app_test

    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = app_test("bao_cao", user="chuyenvien", nam_hoc="2023-2024", ky="CN")
    at.multiselect(key="bc_formats").set_value(["html"]).run()
    token = at.session_state["_kpi_token"]
    at.session_state["_kpi_token"] = token[:-4] + "AAAA"  # the cookie of a session that has ended
    at.button(key="bc_build").click().run()
    assert "bc_job" not in at.session_state
    release = threading.Event()
    busy = export.PackJob(lambda say: release.wait(30) and {}, "dang_tao").start()
    at = app_test("bao_cao", user="chuyenvien", nam_hoc="2023-2024", ky="CN")
    at.session_state["bc_job"] = (None, busy)
    at.run()
    assert at.button(key="bc_build").disabled
    forged = at.button(key="bc_build")
    forged._value = True  # forged: the server is sent a click of the disabled button (AppTest's click refuses)
    at.run()
    assert at.session_state["bc_job"][1] is busy
    release.set()
    busy.thread.join(10)
    at.run()
    at.button(key="bc_build").click().run()
    assert at.session_state["bc_job"][1] is not busy  # planted: logged in, nothing under way: a pack starts
    at.session_state["bc_job"][1].thread.join(120)


def _fake_charts(n: int) -> list:
    from kpi.views.pack import Chart

    return [Chart(f"c{i}", f"Biểu đồ {i}", "", {"data": [], "layout": {"title": {"text": f"c{i}"}}}) for i in range(n)]


def test_a_chart_being_drawn_is_waited_for_not_drawn_twice(tmp_path, monkeypatch):
    """The pack's warm-up draws its chart images in the background (export.warm_pack); a click that comes
    meanwhile waits for those it is drawing instead of drawing them again (planted: without the waiting,
    the renderer is asked for all five twice)."""
    import threading

    calls, started, release = [], threading.Event(), threading.Event()

    def render(figs, **_):
        calls.append(len(figs))
        started.set()
        release.wait(10)
        return [f["layout"]["title"]["text"].encode() for f in figs]

    monkeypatch.setattr(images, "render_pngs", render)
    cache, charts, got = images.ChartCache(directory=tmp_path), _fake_charts(5), {}
    warm = threading.Thread(target=lambda: got.setdefault("warm", images.chart_images(charts, cache=cache)))
    warm.start()
    assert started.wait(10)
    click = threading.Thread(target=lambda: got.setdefault("click", images.chart_images(charts, cache=cache)))
    click.start()
    click.join(0.5)
    assert click.is_alive() and calls == [5]  # the click waits; it has asked the renderer for nothing
    release.set()
    warm.join(10), click.join(10)
    assert calls == [5] and got["warm"] == got["click"] == [f"c{i}".encode() for i in range(5)]


def test_a_chart_whose_drawing_failed_elsewhere_is_drawn_by_the_one_who_waited(tmp_path, monkeypatch):
    import threading

    calls, started, release = [], threading.Event(), threading.Event()

    def render(figs, **_):
        calls.append(len(figs))
        if len(calls) == 1:
            started.set()
            release.wait(10)
            raise RuntimeError("chromium stopped")
        return [f["layout"]["title"]["text"].encode() for f in figs]

    monkeypatch.setattr(images, "render_pngs", render)
    cache, charts, got = images.ChartCache(directory=tmp_path), _fake_charts(3), {}
    warm = threading.Thread(target=lambda: pytest.raises(RuntimeError, images.chart_images, charts, cache=cache))
    warm.start()
    assert started.wait(10)
    click = threading.Thread(target=lambda: got.setdefault("click", images.chart_images(charts, cache=cache)))
    click.start()
    click.join(0.5)
    assert click.is_alive() and calls == [3]  # waiting for the warm-up's drawing
    release.set()
    warm.join(10), click.join(10)
    assert got["click"] == [b"c0", b"c1", b"c2"] and calls == [3, 1, 1, 1] and not images._DRAWING
