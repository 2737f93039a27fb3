"""A hostile corpus: the files an office really receives, and a few made to hurt, each with the
outcome it must have. Every file is generated here (no binary fixtures). A refused file must leave
the database exactly as it was (all tables compared); an accepted one must land its values."""

from __future__ import annotations

import datetime as dt
import io
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Callable

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from kpi.imports import import_read, importer, sheet_xml
from kpi.store import db
from kpi.tools.import_bench import SHEET_HEAD, raw_workbook
from tests.conftest import table_digest
from tests.test_importer import H, _obs, _template, to_cp1258

VALUES = {"hs_tong": 917, "gv_tong": 41, "cbql_gv_tong": 45}  # TH001, 2023-2024 CN (the sample has other values)
HEAD3 = [H["hs_tong"], H["gv_tong"], H["cbql_gv_tong"]]


# ---- builders ------------------------------------------------------------------------------------

def _save(wb) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _row_of(ws, sid: str, header_row: int = 2) -> int:
    return next(r for r in range(header_row + 1, ws.max_row + 1) if ws.cell(r, 1).value == sid)


def _col_of(ws, code: str, header_row: int = 2) -> int:
    return [c.value for c in ws[header_row]].index(H[code]) + 1


def filled(template: bytes, edit: Callable | None = None, values: dict | None = None, sid: str = "TH001",
           scores: dict | None = None) -> bytes:
    """The template with `values` for `sid`, `scores` {(criterion, column header): value} for
    `sid`, then `edit(workbook)`."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb["Số liệu"]
    r = _row_of(ws, sid)
    for code, v in (VALUES if values is None else values).items():
        ws.cell(r, _col_of(ws, code)).value = v
    if scores:
        ss = wb["Tự đánh giá"]
        head = [c.value for c in ss[2]]
        where = {(ss.cell(i, 1).value, ss.cell(i, 4).value): i for i in range(3, ss.max_row + 1)}
        for (crit, col), v in scores.items():
            ss.cell(where[(sid, crit)], head.index(col) + 1).value = v
    if edit:
        edit(wb)
    return _save(wb)


def csv_bytes(rows: list[list], sep: str = ",", encoding: str = "utf-8", newline: str = "\n") -> bytes:
    """Rows as a CSV with Excel's quoting (a field holding the separator, a quote or a line break is quoted)."""
    def cell(v):
        s = str(v)
        return '"' + s.replace('"', '""') + '"' if any(ch in s for ch in (sep, '"', "\n", "\r")) else s

    text = newline.join(sep.join(cell(v) for v in row) for row in rows) + newline
    return to_cp1258(text) if encoding == "cp1258" else text.encode(encoding)


GOOD_ROWS = [["Mã trường", "Năm học", "Kỳ", *HEAD3], ["TH001", "2023-2024", "CN", 917, 41, 45]]


def good_csv(**kw) -> bytes:
    return csv_bytes(GOOD_ROWS, **kw)


def raw_xlsx(rows: list[str], **kw) -> bytes:
    out = io.BytesIO()
    raw_workbook(out, rows, **kw)
    return out.getvalue()


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def raw_good_rows() -> list[str]:
    head = ["Mã trường", "Năm học", "Kỳ", *HEAD3]
    return ['<row r="1">' + "".join(_inline(f"{get_column_letter(j + 1)}1", h) for j, h in enumerate(head)) + "</row>",
            '<row r="2">' + _inline("A2", "TH001") + _inline("B2", "2023-2024") + _inline("C2", "CN")
            + '<c r="D2"><v>917</v></c><c r="E2"><v>41</v></c><c r="F2"><v>45</v></c></row>']


def ole(encrypted: bool) -> bytes:
    """An OLE2 compound file as Excel writes a password-protected workbook (streams EncryptionInfo and
    EncryptedPackage) or a 97-2003 .xls (stream Workbook); only the parts a reader can recognise."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    names = ["Root Entry", "EncryptionInfo", "EncryptedPackage"] if encrypted else ["Root Entry", "Workbook"]
    directory = b"".join(n.encode("utf-16-le").ljust(64, b"\0") + bytes(64) for n in names)
    return header + directory.ljust(512, b"\0") + bytes(range(256)) * 8


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out.getvalue()


def bomb(unpacked_mb: int) -> bytes:
    rows = raw_good_rows()[:1] + ['<row r="2"><c r="A2" t="inlineStr"><is><t>', *["A" * 2**20] * unpacked_mb,
                                  "</t></is></c></row>"]
    return raw_xlsx(rows, compresslevel=9)


# ---- edits of the template ---------------------------------------------------------------------

def copy_sheet(name: str, source: str = "Số liệu", state: str = "visible"):
    def edit(wb):
        ws = wb.copy_worksheet(wb[source])
        ws.title = name
        ws.sheet_state = state
    return edit


def hide(name: str, state: str = "hidden"):
    def edit(wb):
        wb[name].sheet_state = state
    return edit


def letterhead(lines: list[str], merge: bool = False, blank_after: int = 0):
    def edit(wb):
        ws = wb["Số liệu"]
        n = len(lines) + blank_after
        ws.insert_rows(1, n)
        for i, text in enumerate(lines, start=1):
            ws.cell(i, 1).value = text
            if merge:
                ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=8)
    return edit


def set_cell(sheet: str, row_of: str | None, col, value, header_row: int = 2):
    """Set a cell: row = the row of school `row_of` (or a number), col = a field code, a header or a number."""
    def edit(wb):
        ws = wb[sheet]
        r = _row_of(ws, row_of, header_row) if isinstance(row_of, str) else row_of
        if isinstance(col, int):
            c = col
        elif col in H:
            c = _col_of(ws, col, header_row)
        else:
            c = [x.value for x in ws[header_row]].index(col) + 1
        ws.cell(r, c).value = value
    return edit


def both(*edits):
    def edit(wb):
        for e in edits:
            e(wb)
    return edit


def protect(wb):
    for ws in wb.worksheets:
        ws.protection.sheet = True
        ws.protection.password = "truong"
    wb.security = openpyxl.workbook.protection.WorkbookProtection(workbookPassword="phong", lockStructure=True)


def two_row_header(wb):
    ws = wb["Số liệu"]
    ws.insert_rows(2)
    ws["E2"] = "Quy mô"
    ws.merge_cells("E2:H2")


def signature_block(wb):
    ws = wb["Số liệu"]
    last = ws.max_row
    ws.cell(last + 2, 2).value = "Người lập biểu"
    ws.cell(last + 2, 8).value = "Quận 3, ngày 20 tháng 5 năm 2024"
    ws.cell(last + 3, 8).value = "HIỆU TRƯỞNG"
    ws.cell(last + 4, 8).value = "(Ký, ghi rõ họ tên, đóng dấu)"


def value_outside_table(wb):
    ws = wb["Số liệu"]
    ws.cell(_row_of(ws, "TH001"), ws.max_column + 3).value = 12


def merge_data_cells(wb):
    ws = wb["Số liệu"]
    r, c = _row_of(ws, "TH002"), _col_of(ws, "gv_tong")
    ws.cell(r, c).value = 40
    ws.merge_cells(start_row=r, start_column=c, end_row=r, end_column=c + 1)


def merge_score_cells(wb):
    ss = wb["Tự đánh giá"]
    ss.merge_cells(start_row=5, start_column=7, end_row=6, end_column=7)


def rename_sheets(wb):
    wb["Số liệu"].title = "Sheet1"
    wb["Tự đánh giá"].title = "Sheet2"


def old_version(wb):
    wb["_mau"]["B1"] = "0000000000"


# ---- the corpus --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[bytes], bytes]  # template → file
    outcome: str  # "nhập" (imported) | "từ chối" (refused)
    says: tuple[str, ...] = ()  # in the messages (refused) or the result message (imported)
    check: Callable | None = None  # (db path) → None, for imported files; default: VALUES landed


def _points(path, sid, criterion, points, year="2023-2024"):
    c = db.connect(path)
    try:
        assert c.execute("SELECT self_points FROM criterion_scores WHERE school_id = ? AND criterion_code = ? AND "
                         "school_year = ?", [sid, criterion, year]).fetchall() == [(points,)]
    finally:
        c.close()


def _landed(path, values=VALUES, sid="TH001", rnd="CN"):
    for code, v in values.items():
        assert _obs(path, sid, code, rnd=rnd)[0] == v, code


CASES = [
    # what the template gives, filled as schools fill it
    Case("mau_dien_du.xlsx", lambda t: filled(t), "nhập"),
    Case("mau_chi_tu_danh_gia.xlsx", lambda t: filled(t, values={}, scores={("DH3.1", "Điểm tự đánh giá"): 5}),
         "nhập", check=lambda p: _points(p, "TH001", "DH3.1", 5.0)),
    Case("ma_truong_chu_thuong.xlsx", lambda t: filled(t, set_cell("Số liệu", "TH001", 1, "th001")), "nhập"),
    Case("trang_doi_ten.xlsx", lambda t: filled(t, rename_sheets), "nhập"),
    Case("trang_duoc_bao_ve.xlsx", lambda t: filled(t, protect), "nhập"),
    # headers wherever a person puts them
    Case("tieu_de_van_ban_6_dong.xlsx", lambda t: filled(t, letterhead(
        ["UBND QUẬN 3", "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
         "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO SỐ LIỆU CHUYỂN ĐỔI SỐ", "Năm học 2023-2024"])), "nhập"),
    Case("tieu_de_gop_o.xlsx", lambda t: filled(t, letterhead(
        ["UBND QUẬN 3", "TRƯỜNG TIỂU HỌC MẪU", "BÁO CÁO SỐ LIỆU", "Kỳ: tổng kết cả năm"], merge=True, blank_after=2)),
         "nhập"),
    Case("dong_trong_phia_tren.xlsx", lambda t: filled(t, letterhead(["Báo cáo"], blank_after=12)), "nhập"),
    Case("tieu_de_hai_dong.xlsx", lambda t: filled(t, two_row_header), "nhập"),
    Case("khoi_chu_ky_cuoi_bang.xlsx", lambda t: filled(t, signature_block), "nhập"),
    Case("cot_stt_ghi_chu.csv", lambda t: csv_bytes([["STT", *GOOD_ROWS[0], "Ghi chú"],
                                                     [1, *GOOD_ROWS[1], "đã kiểm tra"]]), "nhập"),
    Case("khai_bao_kich_thuoc_xfd1048576.xlsx", lambda t: raw_xlsx(raw_good_rows(), sheet_head=SHEET_HEAD.replace(
        "<sheetData>", '<dimension ref="A1:XFD1048576"/><sheetData>')), "nhập"),
    Case("dau_cach_o_dong_1048576.xlsx", lambda t: filled(t, set_cell("Số liệu", 1_048_576, 3, " ")), "nhập"),
    Case("nhieu_dong_trong_co_dinh_dang.xlsx", lambda t: raw_xlsx(
        raw_good_rows() + [f'<row r="{i}" s="0" customFormat="1" ht="15" customHeight="1"/>'
                           for i in range(3, 100_000)]),
         "nhập"),
    # values as offices type them
    Case("so_co_dau_cham_nghin.csv", lambda t: csv_bytes([GOOD_ROWS[0], ["TH001", "2023-2024", "CN", "1.234", 41, 45]]),
         "nhập", check=lambda p: _landed(p, {"hs_tong": 1234})),
    Case("nam_hoc_ky_bang_chu.csv",
         lambda t: csv_bytes([GOOD_ROWS[0], ["TH001", "2023 – 2024", "Cả năm", 917, 41, 45]]), "nhập"),
    Case("ky_hoc_ky_i.csv", lambda t: csv_bytes([GOOD_ROWS[0], ["TH001", "2023-2024", "Học kỳ I", 917, 41, 45]]),
         "nhập", check=lambda p: _landed(p, rnd="HK1")),
    Case("chu_nfd.csv", lambda t: unicodedata.normalize("NFD", csv_bytes(
        [GOOD_ROWS[0] + [H["co_lms"]], GOOD_ROWS[1] + ["Có"]]).decode()).encode(), "nhập",
         check=lambda p: _landed(p, {**VALUES, "co_lms": 1.0})),
    Case("co_khong_dung_sai.xlsx", lambda t: filled(t, values={**VALUES, "co_lms": True, "lms_lop5": "không"}), "nhập",
         check=lambda p: _landed(p, {**VALUES, "co_lms": 1.0, "lms_lop5": 0.0})),
    # CSV as Excel writes it in Vietnam
    Case("csv_utf8.csv", lambda t: good_csv(), "nhập"),
    Case("csv_utf8_bom.csv", lambda t: good_csv(encoding="utf-8-sig"), "nhập"),
    Case("csv_windows_1258.csv", lambda t: good_csv(encoding="cp1258", newline="\r\n"), "nhập"),
    Case("csv_unicode_text_utf16_tab.txt", lambda t: good_csv(sep="\t", encoding="utf-16", newline="\r\n"), "nhập"),
    Case("csv_cham_phay.csv", lambda t: good_csv(sep=";"), "nhập"),
    Case("csv_ngan_tieu_de_co_dau_phay.csv", lambda t: csv_bytes(
        [GOOD_ROWS[0] + [H["hs_khoi345"]], GOOD_ROWS[1] + [500]]), "nhập",
         check=lambda p: _landed(p, {**VALUES, "hs_khoi345": 500})),
    Case("csv_dong_trong_cuoi_tep.csv", lambda t: good_csv() + b",,,,,\n" * 200 + b"\n" * 50, "nhập"),
    # mistakes that must not pass silently
    Case("ban_sao_trang_so_lieu.xlsx", lambda t: filled(t, copy_sheet("Số liệu (2)")), "từ chối",
         ("bảng số liệu có ở 2 trang: 'Số liệu', 'Số liệu (2)'",)),
    Case("trang_an_nam_truoc.xlsx", lambda t: filled(t, copy_sheet("Năm trước", state="hidden")), "từ chối",
         ("trang ẩn 'Năm trước' cũng có bảng số liệu như trang 'Số liệu'",)),
    Case("trang_an_sau.xlsx", lambda t: filled(t, copy_sheet("Lưu", state="veryHidden")), "từ chối",
         ("trang ẩn 'Lưu' cũng có bảng số liệu",)),
    Case("trang_so_lieu_bi_an.xlsx", lambda t: filled(t, hide("Số liệu")), "từ chối",
         ("bảng số liệu nằm trong trang ẩn 'Số liệu'",)),
    Case("ban_sao_trang_tu_danh_gia.xlsx", lambda t: filled(t, copy_sheet("Tự đánh giá (2)", "Tự đánh giá")),
         "từ chối", ("bảng tự đánh giá có ở 2 trang: 'Tự đánh giá', 'Tự đánh giá (2)'",)),
    Case("doi_ten_cot_ma_truong.xlsx", lambda t: filled(t, set_cell("Số liệu", 2, 1, "Mã số trường")), "từ chối",
         ("thiếu cột bắt buộc 'Mã trường'", "không nhận ra tên cột (so với biểu mẫu) (giá trị: 'Mã số trường')")),
    Case("xoa_dong_tieu_de.xlsx", lambda t: filled(t, lambda wb: wb["Số liệu"].delete_rows(2)), "từ chối",
         ("không nhận ra bảng số liệu của trang 'Số liệu': không tìm thấy dòng tiêu đề có các cột 'Mã trường', "
          "'Năm học', 'Kỳ'",)),
    Case("xoa_tieu_de_tu_danh_gia.xlsx", lambda t: filled(t, lambda wb: wb["Tự đánh giá"].delete_rows(2)), "từ chối",
         ("không nhận ra bảng tự đánh giá của trang 'Tự đánh giá'",)),
    Case("bieu_mau_chua_dien.xlsx", lambda t: t, "từ chối", ("tệp không có số liệu nào để nhập",)),
    Case("csv_chi_co_tieu_de.csv", lambda t: csv_bytes(GOOD_ROWS[:1]), "từ chối",
         ("tệp không có số liệu nào để nhập",)),
    Case("bieu_mau_cu.xlsx", lambda t: filled(t, old_version), "từ chối", ("biểu mẫu đã cũ",)),
    Case("dong_trung.csv", lambda t: csv_bytes(GOOD_ROWS + [GOOD_ROWS[1]]), "từ chối",
         ("dòng 3, cột A (Mã trường): trùng trường và kỳ với dòng 2",)),
    Case("cot_la.csv", lambda t: csv_bytes([GOOD_ROWS[0] + ["Điện thoại"], GOOD_ROWS[1] + ["0909"]]), "từ chối",
         ("cột G: không nhận ra tên cột (so với biểu mẫu) (giá trị: 'Điện thoại')",)),
    Case("gia_tri_ngoai_bang.xlsx", lambda t: filled(t, value_outside_table), "từ chối",
         ("ô có giá trị nhưng cột không có tên cột",)),
    Case("truong_la_nhieu_dong.csv", lambda t: csv_bytes(
        [GOOD_ROWS[0]] + [[f"XX{i:04d}", "2023-2024", "CN", 1, 1, 1] for i in range(1500)]), "từ chối",
         ("mã trường không có trong danh sách trường của đơn vị", "còn 500 lỗi khác không liệt kê")),
    # the same cell rules on every sheet
    Case("cong_thuc_so_lieu.xlsx", lambda t: filled(t, set_cell("Số liệu", "TH001", "hs_tong", "=900+17")), "từ chối",
         ("ô chứa công thức; hãy nhập giá trị", "'=900+17'")),
    Case("cong_thuc_ma_truong.xlsx", lambda t: filled(t, set_cell("Số liệu", "TH001", 1, '="TH"&"001"')), "từ chối",
         ("cột A (Mã trường): ô chứa công thức",)),
    Case("cong_thuc_hyperlink_minh_chung.xlsx", lambda t: filled(t, scores={
        ("DH3.1", "Minh chứng (đường dẫn)"): '=HYPERLINK("http://tai-ve.example/minhchung.exe","minh chứng")',
        ("DH3.1", "Điểm tự đánh giá"): 4}), "từ chối",
         ("trang 'Tự đánh giá'", "cột I (Minh chứng (đường dẫn)): ô chứa công thức")),
    Case("o_gop_so_lieu.xlsx", lambda t: filled(t, merge_data_cells), "từ chối", ("ô gộp che giá trị",)),
    Case("o_gop_tu_danh_gia.xlsx", lambda t: filled(t, merge_score_cells), "từ chối",
         ("trang 'Tự đánh giá', dòng 5, cột G5:G6: ô gộp che giá trị",)),
    Case("chu_trong_o_so.xlsx", lambda t: filled(t, values={**VALUES, "hs_tong": "chín trăm"}), "từ chối",
         ("không phải là số (giá trị: 'chín trăm')",)),
    Case("chu_trong_o_diem.xlsx", lambda t: filled(t, scores={("DH3.1", "Điểm tự đánh giá"): "năm"}), "từ chối",
         ("trang 'Tự đánh giá'", "cột G (Điểm tự đánh giá): không phải là số (giá trị: 'năm')")),
    Case("chuoi_phan_tram.csv", lambda t: csv_bytes([GOOD_ROWS[0] + [H["hs_chung_chi_tin"]],
                                                     GOOD_ROWS[1] + ["17,5%"]]), "từ chối",
         ("không ghi tỉ lệ phần trăm (giá trị: '17,5%')",)),
    Case("ngay_trong_o_so.xlsx", lambda t: filled(t, values={**VALUES, "gv_tong": dt.datetime(2024, 5, 1)}), "từ chối",
         ("ô có dạng ngày tháng", "(giá trị: '01/05/2024')")),
    Case("minh_chung_javascript.xlsx", lambda t: filled(t, scores={
        ("DH3.1", "Minh chứng (đường dẫn)"): "javascript:alert(1)", ("DH3.1", "Điểm tự đánh giá"): 4}), "từ chối",
         ("phải bắt đầu bằng http:// hoặc https://",)),
    # messages that cannot hurt
    Case("o_rat_dai.csv", lambda t: csv_bytes([GOOD_ROWS[0], ["TH001", "2023-2024", "CN", "x" * 32_942, 41, 45]]),
         "từ chối", ("… (32.942 ký tự)",)),
    Case("ky_tu_dieu_khien.csv",
         lambda t: csv_bytes([GOOD_ROWS[0], ["TH001\x07\x1b[2J\u202e", "2023-2024", "CN", 917, 41, 45]]), "từ chối",
         ("(giá trị: 'TH001\\x07\\x1b[2J\\u202e')",)),
    # files that cannot be read, explained
    Case("tep_rong.csv", lambda t: b"", "từ chối", ("tệp rỗng",)),
    Case("csv_chi_dong_trong.csv", lambda t: b"\r\n,,,\r\n, ,\r\n", "từ chối", ("tệp không có nội dung",)),
    Case("mat_khau.xlsx", lambda t: ole(encrypted=True), "từ chối", ("tệp bị khóa bằng mật khẩu",)),
    Case("excel_97_2003.xls", lambda t: ole(encrypted=False), "từ chối", ("tệp Excel 97-2003 (.xls)",)),
    Case("van_ban_dat_ten_xlsx.xlsx", lambda t: good_csv(), "từ chối", ("tệp không phải XLSX",)),
    Case("pdf.xlsx", lambda t: b"%PDF-1.7\n" + bytes(200), "từ chối", ("tệp không phải XLSX (tệp PDF)",)),
    Case("ods.xlsx", lambda t: zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                                       "content.xml": b"<x/>"}), "từ chối", ("bảng tính OpenDocument .ods",)),
    Case("zip_khac.xlsx", lambda t: zipped({"anh.txt": b"xin chao"}), "từ chối",
         ("tệp không phải XLSX (tệp nén ZIP)",)),
    Case("xlsx_bi_cat.xlsx", lambda t: filled(t)[:5000], "từ chối", ("tệp bị hỏng",)),
    Case("xlsx_hong_noi_dung.xlsx", lambda t: zipped({"[Content_Types].xml": b"<Types", "xl/workbook.xml": b"<<<"}),
         "từ chối", ("tệp bị hỏng",)),
    Case("csv_byte_hong_sau_64kb.csv",
         lambda t: csv_bytes(GOOD_ROWS + [["TH002", "2023-2024", "CN", 900, 40, 44]] * 3000)
         + b"TH003,2023-2024,CN,\xff\xfe,1,1\n", "từ chối",
         ("không đọc được tệp bằng mã hóa UTF-8 (byte 0xFF ở dòng 3.003)",)),
    # files made to exhaust the server
    Case("bom_nen_60mb.xlsx", lambda t: bomb(60), "từ chối", ("giải nén ra 60 MB, tối đa 50 MB mỗi phần",)),
    Case("ti_le_nen_bat_thuong.xlsx", lambda t: bomb(30), "từ chối", ("nén bất thường", "tối đa 100 lần")),
    Case("25000_dong.xlsx", lambda t: raw_xlsx(raw_good_rows() + [f'<row r="{i}"><c r="D{i}"><v>{i}</v></c></row>'
                                                                  for i in range(3, 25_003)]), "từ chối",
         ("trang 'Số liệu': trang có hơn 20.000 dòng có nội dung",)),
    Case("o_o_cot_500.xlsx", lambda t: filled(t, set_cell("Số liệu", "TH001", 500, 1)), "từ chối",
         ("ô SF", "nằm ngoài 200 cột đầu")),
    Case("tep_21mb.csv", lambda t: good_csv() + b"," * (21 * 2**20), "từ chối", ("tệp quá lớn: 21 MB, tối đa 20 MB",)),
    Case("25000_dong.csv", lambda t: csv_bytes([GOOD_ROWS[0]] + [["TH001", "2023-2024", "CN", 1, 1, 1]] * 25_000),
         "từ chối", ("tệp có hơn 20.000 dòng có nội dung",)),
]


@pytest.fixture(scope="session")
def corpus(sample_db) -> dict[str, bytes]:
    """Every file of the corpus, built once."""
    template = _template(sample_db)
    return {c.name: c.build(template) for c in CASES}


def test_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)
    assert {c.outcome for c in CASES} == {"nhập", "từ chối"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus(case: Case, corpus, writable_db):
    data = corpus[case.name]
    before = table_digest(writable_db)
    t = time.perf_counter()
    if case.outcome == "từ chối":
        with pytest.raises(importer.ImportRejected) as e:
            importer.import_file(writable_db, case.name, data, "cv")
        messages = "\n".join(str(p) for p in e.value.problems)
        for text in case.says:
            assert text in messages
        assert all(len(str(p)) <= 1000 for p in e.value.problems)
        assert len(e.value.problems) <= importer.MAX_PROBLEMS + 1
        assert table_digest(writable_db) == before  # nothing written
    else:
        result = importer.import_file(writable_db, case.name, data, "cv")
        for text in case.says:
            assert text in result.message
        assert result.import_id is not None and result.values_changed > 0
        (case.check or _landed)(writable_db)
        assert table_digest(writable_db) != before
    assert time.perf_counter() - t < 5
    assert not [f for f in writable_db.parent.iterdir() if f.name.endswith((".tmp", ".tmp.wal"))]


# ---- the sheet reader against openpyxl's -----------------------------------------------------------

def _cells_both_ways(data: bytes) -> tuple[list, list]:
    """Every sheet's rows as openpyxl's streaming parser reads them and as kpi.imports.sheet_xml does:
    (row number, [(column, value, type)]); formulas' objects by their attributes."""
    from openpyxl.worksheet._reader import WorkSheetParser

    def norm(rows):
        return [(n, [(c["column"], (type(c["value"]).__name__, sorted(vars(c["value"]).items()))
                      if hasattr(c["value"], "__dict__") else c["value"], c["data_type"]) for c in cells])
                for n, cells in rows]

    book, listed = import_read._workbook(data)
    wb, ours, theirs = book.wb, [], []
    try:
        for _, _, part in listed:
            with book.archive.open(part.lstrip("/")) as src:
                theirs.append(norm(WorkSheetParser(src, book.shared_strings, data_only=False, epoch=wb.epoch,
                                                   date_formats=wb._date_formats,
                                                   timedelta_formats=wb._timedelta_formats).parse()))
            with book.archive.open(part.lstrip("/")) as src:
                ours.append(norm(sheet_xml.rows(src, book.shared_strings, wb.epoch, wb._date_formats,
                                                wb._timedelta_formats)))
    finally:
        book.archive.close()
    return ours, theirs


def every_kind_of_cell() -> bytes:
    """A workbook with each kind of cell an office's file may hold: shared and inline strings (rich
    runs, a phonetic run), numbers, dates, times, durations, booleans, errors, formulas (plain, shared,
    array) with their results, cells and rows without a reference, a row numbered "3.0"."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Số liệu"
    ws.append(["Mã trường", "Ngày", "Giờ", "Thời lượng", "Đúng", "Số", "Công thức"])
    ws.append(["TH001", dt.date(2024, 1, 10), dt.time(7, 30), dt.timedelta(hours=36), True, 17.5, "=F2*2"])
    ws.append(["TH002", dt.datetime(2023, 9, 5, 8, 0), None, None, False, 1e-7, "=SUM(F2:F3)"])
    ws["H2"] = "=A2&\"-\"&B2"
    ws.formula_attributes = {}
    wb.create_sheet("Trống")
    plain = zipfile.ZipFile(io.BytesIO(_save(wb)))
    sheet = plain.read("xl/worksheets/sheet1.xml").decode("utf-8")
    odd = ('<row r="4"><c r="A4" t="inlineStr"><is><t xml:space="preserve"> Trường </t><r><t>Kiểm &amp; Tra</t></r>'
           '<rPh sb="0" eb="1"><t>phiên âm</t></rPh></is></c><c r="B4" t="e"><v>#DIV/0!</v></c>'
           '<c r="C4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="D4"><f t="shared" ref="D4:D5" si="0">F4+1</f>'
           '<v>2</v></c><c r="E4"><f t="array" ref="E4:E5">F4:F5*2</f><v>2</v></c><c r="F4"><v>1</v></c></row>'
           '<row r="5.0"><c r="D5"><f t="shared" si="0"/><v>3</v></c><c><v>4</v></c><c t="b"><v>1</v></c>'
           '<c t="inlineStr"/><c r="J5" t="inlineStr"><is><t/></is></c></row><row><c><v>42</v></c></row>')
    sheet = sheet.replace("</sheetData>", odd + "</sheetData>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in plain.infolist():
            z.writestr(info, sheet if info.filename == "xl/worksheets/sheet1.xml" else plain.read(info.filename))
    return out.getvalue()


def test_the_sheet_reader_reads_what_openpyxl_reads(corpus, monkeypatch):
    """kpi.imports.sheet_xml gives every cell of every sheet as openpyxl's streaming parser does: on
    every workbook of the corpus that opens, and on one with every kind of cell. Planted: dates left as
    Excel's serial numbers are caught."""
    books = {name: data for name, data in corpus.items() if name.endswith(".xlsx") and data[:2] == b"PK"}
    books["moi_loai_o.xlsx"] = every_kind_of_cell()
    compared = 0
    for name, data in books.items():
        try:
            ours, theirs = _cells_both_ways(data)
        except Exception:  # noqa: BLE001 - a damaged workbook of the corpus: refused before the rows are read
            continue
        assert ours == theirs, name
        compared += 1
    assert compared >= 20
    ours, _ = _cells_both_ways(books["moi_loai_o.xlsx"])
    kinds = {t for sheet in ours for _, cells in sheet for _, _, t in cells}
    assert kinds == {"s", "n", "d", "b", "e", "f", "inlineStr"}, kinds
    assert (4, [(1, " Trường Kiểm & Tra", "s")]) == (ours[0][3][0], ours[0][3][1][:1])
    monkeypatch.setattr(sheet_xml, "from_excel", lambda value, *a, **k: value)  # planted
    ours, theirs = _cells_both_ways(books["moi_loai_o.xlsx"])
    assert ours != theirs


def test_a_sheet_with_a_doctype_is_refused(writable_db):
    """No workbook declares a DOCTYPE; entities are where XML bombs live: refused as damaged."""
    data = raw_xlsx(raw_good_rows(), sheet_head=SHEET_HEAD.replace(
        "<worksheet", '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]><worksheet'))
    with pytest.raises(importer.ImportRejected) as e:
        importer.import_file(writable_db, "doctype.xlsx", data, "cv")
    assert "nội dung một trang không đúng định dạng" in e.value.problems[0].message
