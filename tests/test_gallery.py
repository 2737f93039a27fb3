"""The gallery (`python -m kpi gallery OUT/`): one offline HTML file with every screen and every
export page beside it. The browser walk it uses is tested page by page in test_look_pages.py; here:
the pieces that turn exports into images and tables, and the page it writes."""

import io
import re
import shutil
from pathlib import Path

import pytest

from kpi import cli
from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.exports.school_pdf import school_pdf
from kpi.exports.xlsx import to_xlsx
from kpi.tools import browse, export_images, gallery, look
from kpi.views import cache as views
from kpi.views.pack import build_pack

CAT = default_catalog()


def test_cli_has_the_gallery_command():
    args = cli._parser().parse_args(["gallery", "out", "--workers", "1", "--no-exports"])
    assert args.command == "gallery" and args.out == "out" and args.workers == 1 and args.no_exports
    assert cli.COMMANDS["gallery"] is cli.cmd_gallery


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler missing")
def test_school_pdf_becomes_page_images_and_text(con):
    data = school_pdf(views.Views.of_connection(con, CAT), CAT, Scope.everything(), "TH001", "2023-2024", "CN")
    pages = export_images.pdf_pages(data, dpi=30)
    assert pages and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pages)
    assert "Trường" in export_images.pdf_text(data)


def test_workbook_becomes_tables_of_its_first_rows(con):
    pack = build_pack(con, CAT, Scope.everything(), "2023-2024", "CN")
    sheets = export_images.xlsx_tables(to_xlsx(pack, CAT), rows=5)
    assert len(sheets) >= 2
    for name, body in sheets:
        assert body.startswith('<table class="sheet">') and body.count("<tr>") <= 5, name


def test_excel_cells_shown_the_vietnamese_way():
    assert export_images._excel_shown(0.175, "0.0%") == "17,5%"
    assert export_images._excel_shown(1234, "#,##0") == "1.234"
    assert export_images._excel_shown(5.55, "General") == "5,55"


def test_slides_become_texts_without_libreoffice():
    from pptx import Presentation

    prs = Presentation()
    s = prs.slides.add_slide(prs.slide_layouts[5])
    s.shapes.title.text = "Tổng hợp các chỉ tiêu"
    buf = io.BytesIO()
    prs.save(buf)
    [(name, body)] = export_images.pptx_texts(buf.getvalue())
    assert name == "Trang chiếu 1" and "Tổng hợp các chỉ tiêu" in body


def test_gallery_page_is_one_offline_file_with_its_images(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    screen = browse.SCREENS[0]
    shots = [browse.Shot("lanhdao", "Lãnh đạo Phòng", screen, vp, "/", png,
                          [look.Finding("chữ chồng lên nhau", "x", "«a» và «b»")] * (vp == "390"))
             for vp in ("1440", "390")]
    exports = [export_images.ExportView("Bộ báo cáo họp · PDF", "bao_cao.pdf", 10, 1.0, [png, png]),
               export_images.ExportView("Bộ báo cáo họp · XLSX", "bao_cao.xlsx", 10, 1.0, [],
                                        [("Tổng hợp", "<table></table>")],
                                        problems=[look.Finding("mã nội bộ", "x", "«tin_hoc_quoc_te» trong …")] * 3)]
    index = gallery.write_html(tmp_path, shots, exports, {"summary": "tóm tắt"})
    page = index.read_text(encoding="utf-8")
    sources = re.findall(r"src='([^']+)'", page)
    assert len(sources) == 4 and all((tmp_path / s).exists() for s in sources)
    assert not re.search(r"(src|href)=['\"](https?:)?//", page)  # nothing from the network
    assert "Không thấy lỗi nào." in page and "chữ chồng lên nhau" in page
    assert "× 3" in page  # the same finding counted once
    assert "<script" not in page


def test_gallery_screens_open_where_the_role_lives():
    assert browse.screen_path("lanhdao", browse.SCREENS[0]) == "/"
    assert browse.screen_path("ht.th001", next(s for s in browse.SCREENS if s.page == "truong")) == "/"
    assert browse.screen_path("chuyenvien", next(s for s in browse.SCREENS if s.page == "chi_so" and s.query)) \
        .startswith("/chi-so-cds?cs_tab=")
    assert [s.page for s in browse.screens_for("ht.th001")][0] == "truong"
    assert {s.page for s in browse.screens_for("lanhdao")} == set(browse.ROLE_PAGES["lanh_dao"])


def test_readme_documents_the_gallery():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "python -m kpi gallery" in text and "make gallery" in text
