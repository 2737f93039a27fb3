"""Imports: templates round trip, every problem kind with its exact message, all-or-nothing,
audit and revert, encodings, a killed import, concurrent imports."""

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.imports import importer, problems
from kpi.imports.templates import build_template
from kpi.store import db, queries
from tests.conftest import table_digest

ROOT = Path(__file__).resolve().parents[1]
CAT = default_catalog()
H = {f.code: f"{f.label_vi} ({f.unit})" for f in CAT.fields.values()}


def _template(path, year="2023-2024", rnd="CN"):
    c = db.connect(path)
    try:
        return build_template(CAT, queries.school_list(c, Scope.everything()), year, rnd, None, "Phòng mẫu")
    finally:
        c.close()


def _fill(data: bytes, values: dict, scores: dict | None = None, edit=None) -> bytes:
    """Set {(school_id, field_code): value} on the data sheet, {(school_id, criterion, column): value}
    on the self-assessment sheet; `edit(workbook)` for anything else."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["Số liệu"]
    head = [c.value for c in ws[2]]
    rows = {ws.cell(r, 1).value: r for r in range(3, ws.max_row + 1)}
    for (sid, code), v in values.items():
        ws.cell(rows[sid], head.index(H[code]) + 1).value = v
    if scores:
        ss = wb["Tự đánh giá"]
        sh = [c.value for c in ss[2]]
        where = {(ss.cell(r, 1).value, ss.cell(r, 4).value): r for r in range(3, ss.max_row + 1)}
        for (sid, crit, col), v in scores.items():
            ss.cell(where[(sid, crit)], sh.index(col) + 1).value = v
    if edit:
        edit(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _obs(path, sid, field, year="2023-2024", rnd="CN"):
    c = db.connect(path)
    try:
        r = c.execute("SELECT value, import_id FROM observations WHERE school_id = ? AND field_code = ? "
                      "AND school_year = ? AND round = ?", [sid, field, year, rnd]).fetchall()
        return r[0] if r else None
    finally:
        c.close()


def test_round_trip_template_fill_import(writable_db):
    t = _template(writable_db)
    c = db.connect(writable_db)
    missing = c.execute("""SELECT s.school_id FROM schools s WHERE s.level = 'TH' AND NOT EXISTS (
        SELECT 1 FROM submissions b WHERE b.school_id = s.school_id AND school_year = '2023-2024' AND round = 'CN')
        ORDER BY 1 LIMIT 1""").fetchall()[0][0]
    c.close()
    filled = _fill(t, {(missing, "hs_tong"): 900, (missing, "gv_tong"): 40, (missing, "cbql_gv_tong"): 44,
                       (missing, "hs_chung_chi_tin"): 181, (missing, "co_lms"): "Có", (missing, "lms_lop5"): "Không"},
                   scores={(missing, "DH3.1", "Điểm tự đánh giá"): 6, (missing, "DH1", "Đáp ứng (có/không)"): "Có",
                           (missing, "DH3.1", "Minh chứng (đường dẫn)"): "https://truong.example/dh31"})
    result = importer.import_file(writable_db, "truong.xlsx", filled, "chuyenvien")
    # 6 fields and the DH3.1 points are new; DH1 was already declared met
    assert result.import_id == 2 and result.values_changed == 7 and result.rows == 3
    assert _obs(writable_db, missing, "hs_tong") == (900.0, 2)
    assert _obs(writable_db, missing, "co_lms") == (1.0, 2)
    assert _obs(writable_db, missing, "lms_lop5") == (0.0, 2)
    c = db.connect(writable_db)
    assert c.execute("SELECT source, import_id FROM submissions WHERE school_id = ? AND school_year = '2023-2024' "
                     "AND round = 'CN'", [missing]).fetchall() == [("truong.xlsx", 2)]
    assert c.execute("SELECT self_points, evidence_url FROM criterion_scores WHERE school_id = ? AND "
                     "criterion_code = 'DH3.1' AND school_year = '2023-2024'", [missing]).fetchall() == \
        [(6.0, "https://truong.example/dh31")]
    audit = c.execute("SELECT user_name, file_name, sha256, rows, values_changed, status FROM imports "
                      "WHERE import_id = 2").fetchall()[0]
    c.close()
    import hashlib

    assert audit == ("chuyenvien", "truong.xlsx", hashlib.sha256(filled).hexdigest(), 3, 7, "applied")
    # the same file again changes nothing at all
    before = table_digest(writable_db)
    again = importer.import_file(writable_db, "truong.xlsx", filled, "chuyenvien")
    assert again.import_id is None and again.values_changed == 0
    assert table_digest(writable_db) == before


def test_preview_counts_new_changed_unchanged(writable_db):
    t = _template(writable_db)
    old = _obs(writable_db, "TH001", "hs_tong")[0]
    old_all = _obs(writable_db, "TH001", "cbql_gv_tong")[0]
    filled = _fill(t, {("TH001", "hs_tong"): old, ("TH001", "gv_tong"): 33, ("TH001", "cbql_gv_tong"): old_all})
    r = importer.import_file(writable_db, "x.xlsx", filled, "cv", dry_run=True)
    row = r.preview.iloc[0]
    assert (row["Mã trường"], row["Mới"], row["Thay đổi"], row["Không đổi"]) == ("TH001", 0, 1, 2)
    assert r.import_id is None and _obs(writable_db, "TH001", "gv_tong")[0] != 33


def _csv(text: str, encoding="utf-8") -> bytes:
    return text.encode(encoding)


GOOD_HEAD = f"Mã trường,Năm học,Kỳ,{H['hs_tong']},{H['gv_tong']},{H['cbql_gv_tong']}"

# (file name, content, the exact messages)
CASES = [
    ("truong_la.csv", f"{GOOD_HEAD}\nXX999,2023-2024,CN,100,10,12\n",
     ["truong_la.csv, trang 'CSV', dòng 2, cột A (Mã trường): mã trường không có trong danh sách trường của "
      "đơn vị (giá trị: 'XX999')"]),
    ("ky_la.csv", f"{GOOD_HEAD}\nTH001,2030-2031,CN,100,10,12\n",
     ["ky_la.csv, trang 'CSV', dòng 2, cột C (Kỳ): kỳ báo cáo không có (cần năm học dạng 2023-2024 và kỳ HK1 "
      "hoặc CN đã khai báo) (giá trị: '2030-2031 CN')"]),
    ("thieu_cot.csv", f"Mã trường,Kỳ,{H['hs_tong']}\nTH001,CN,100\n",
     ["thieu_cot.csv, trang 'CSV', dòng 1: thiếu cột bắt buộc 'Năm học'"]),
    ("khong_phai_so.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,một nghìn,10,12\n",
     ["khong_phai_so.csv, trang 'CSV', dòng 2, cột D (Tổng số học sinh (trẻ) (học sinh)): không phải là số "
      "(giá trị: 'một nghìn')"]),
    ("ngoai_gioi_han.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,20000,10,12\n",
     ["ngoai_gioi_han.csv, trang 'CSV', dòng 2, cột D (Tổng số học sinh (trẻ) (học sinh)): ngoài giới hạn cho "
      "phép (0 đến 10000) (giá trị: '20000')"]),
    ("tu_lon_hon_mau.csv", f"{GOOD_HEAD},{H['hs_chung_chi_tin']}\nTH001,2023-2024,CN,100,10,12,150\n",
     ["tu_lon_hon_mau.csv, trang 'CSV', dòng 2, cột G (Số học sinh đạt chứng chỉ Tin học quốc tế (học sinh)): "
      "lớn hơn mẫu số 'Tổng số học sinh (trẻ)' (100) (giá trị: '150')"]),
    ("co_khong.csv", f"{GOOD_HEAD},{H['co_lms']}\nTH001,2023-2024,CN,100,10,12,có lẽ\n",
     ["co_khong.csv, trang 'CSV', dòng 2, cột G (Trường triển khai hệ thống quản lý học tập (LMS) (có/không)): "
      "không nhận ra có/không (ghi Có hoặc Không) (giá trị: 'có lẽ')"]),
    ("trung_dong.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,100,10,12\nTH001,2023-2024,CN,101,10,12\n",
     ["trung_dong.csv, trang 'CSV', dòng 3, cột A (Mã trường): trùng trường và kỳ với dòng 2 (giá trị: 'TH001')"]),
    ("thieu_bat_buoc.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,,10,12\n",
     ["thieu_bat_buoc.csv, trang 'CSV', dòng 2, cột D (Tổng số học sinh (trẻ) (học sinh)): thiếu số liệu bắt buộc"]),
]


@pytest.mark.parametrize("name, content, expected", CASES, ids=[c[0] for c in CASES])
def test_each_problem_kind_rejects_with_exact_message(writable_db, name, content, expected):
    before = table_digest(writable_db)
    with pytest.raises(importer.ImportRejected) as e:
        importer.import_file(writable_db, name, _csv(content), "cv")
    assert [str(p) for p in e.value.problems] == expected
    assert table_digest(writable_db) == before


def test_every_problem_is_listed_not_just_the_first(writable_db):
    content = (f"{GOOD_HEAD}\nXX1,2023-2024,CN,100,10,12\nTH001,2023-2024,CN,abc,10,12\n"
               "TH002,2023-2024,CN,100,10,99999\n")
    with pytest.raises(importer.ImportRejected) as e:
        importer.import_file(writable_db, "nhieu_loi.csv", _csv(content), "cv")
    assert [p.row for p in e.value.problems] == [2, 3, 4]
    report = openpyxl.load_workbook(io.BytesIO(problems.error_report(e.value.problems)))["Lỗi"]
    assert [c.value for c in report[3]] == ["Tệp", "Trang tính", "Dòng", "Cột", "Giá trị", "Lỗi"]
    assert report.cell(4, 6).value == "mã trường không có trong danh sách trường của đơn vị"
    assert report.cell(4, 5).value == "XX1" and report.max_row == 3 + 3


def test_xlsx_points_formulas_merged_cells(writable_db):
    t = _template(writable_db)

    def edit(wb):
        ws = wb["Số liệu"]
        head = [c.value for c in ws[2]]
        r = next(r for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value == "TH002")
        ws.cell(r, head.index(H["hs_tong"]) + 1).value = "=500+500"
        r3 = next(r for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value == "TH003")
        col = head.index(H["gv_tong"]) + 1
        ws.cell(r3, col).value = 40
        ws.merge_cells(start_row=r3, start_column=col, end_row=r3, end_column=col + 1)

    filled = _fill(t, {("TH001", "hs_tong"): 900, ("TH001", "gv_tong"): 40, ("TH001", "cbql_gv_tong"): 44},
                   scores={("TH001", "DH3.1", "Điểm tự đánh giá"): 7}, edit=edit)
    before = table_digest(writable_db)
    with pytest.raises(importer.ImportRejected) as e:
        importer.import_file(writable_db, "mau.xlsx", filled, "cv")
    msgs = [str(p) for p in e.value.problems]
    assert any(m.startswith("mau.xlsx, trang 'Số liệu', dòng") and "cột E (Tổng số học sinh (trẻ) (học sinh)): ô chứa "
               "công thức; hãy nhập giá trị" in m and "'=500+500'" in m for m in msgs)
    assert any(re.search(r"^mau\.xlsx, trang 'Số liệu', dòng \d+, cột F\d+:G\d+: ô gộp che giá trị; bỏ gộp ô và "
                         r"điền từng ô$", m) for m in msgs)
    assert any(m.startswith("mau.xlsx, trang 'Tự đánh giá', dòng ") and "cột G (Điểm tự đánh giá): vượt điểm "
               "tối đa của tiêu chí (6) (giá trị: '7')" in m for m in msgs)
    assert table_digest(writable_db) == before


def test_outdated_template_is_recognised(writable_db):
    def edit(wb):
        wb["_mau"]["B1"] = "0000000000"

    bad = _fill(_template(writable_db), {("TH001", "hs_tong"): 900}, edit=edit)
    with pytest.raises(importer.ImportRejected) as e:
        importer.import_file(writable_db, "cu.xlsx", bad, "cv")
    assert "biểu mẫu đã cũ" in str(e.value.problems[0])


def to_cp1258(text: str) -> bytes:
    """Encode as Excel on Vietnamese Windows saves CSV: base letters precomposed (ư, â, ă ...),
    tone marks as separate combining characters where the code page has no precomposed form."""
    out = b""
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", ch)
            shaped = unicodedata.normalize("NFC", base + "".join(m for m in marks if m in "\u0302\u0306\u031b"))
            tones = "".join(m for m in marks if m not in "\u0302\u0306\u031b")
            out += (shaped + tones).encode("cp1258")
    return out


def test_windows_1258_csv_and_nfd_headers(writable_db):
    text = (f"MÃ TRƯỜNG,  Năm học ,Kỳ,{H['hs_tong']},{H['gv_tong']},{H['cbql_gv_tong']}\r\n"
            "TH004,2023-2024,CN,1.234,55,59\r\n")
    data = to_cp1258(text)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    r = importer.import_file(writable_db, "windows.csv", data, "cv")
    assert r.import_id == 2
    assert _obs(writable_db, "TH004", "hs_tong") == (1234.0, 2)
    bom = f"\ufeff{GOOD_HEAD}\nTH005,2023-2024,CN,777,30,34\n".encode("utf-8")
    importer.import_file(writable_db, "bom.csv", bom, "cv")
    assert _obs(writable_db, "TH005", "hs_tong")[0] == 777.0
    nfd = unicodedata.normalize("NFD", f"{GOOD_HEAD}\nTH006,2023-2024,CN,778,30,34\n")
    assert nfd != unicodedata.normalize("NFC", nfd)
    importer.import_file(writable_db, "nfd.csv", nfd.encode("utf-8"), "cv")
    assert _obs(writable_db, "TH006", "hs_tong")[0] == 778.0


def test_revert_restores_previous_values(writable_db):
    old = _obs(writable_db, "TH001", "hs_tong")
    before = table_digest(writable_db)
    r = importer.import_file(writable_db, "a.csv", _csv(f"{GOOD_HEAD}\nTH001,2023-2024,CN,999,10,12\n"), "cv")
    assert _obs(writable_db, "TH001", "hs_tong") == (999.0, r.import_id)
    r2 = importer.import_file(writable_db, "b.csv", _csv(f"{GOOD_HEAD}\nTH001,2023-2024,CN,998,10,12\n"), "cv")
    with pytest.raises(ValueError, match="lần nhập sau"):
        importer.revert(writable_db, r.import_id, "cv")
    importer.revert(writable_db, r2.import_id, "cv")
    importer.revert(writable_db, r.import_id, "cv")
    assert _obs(writable_db, "TH001", "hs_tong") == old
    c = db.connect(writable_db)
    statuses = c.execute("SELECT import_id, status FROM imports WHERE import_id IN (?, ?)",
                         [r.import_id, r2.import_id]).fetchall()
    c.close()
    assert sorted(statuses) == [(r.import_id, "reverted"), (r2.import_id, "reverted")]
    assert table_digest(writable_db) != before  # the audit keeps the history


def test_cli_exit_codes(writable_db, tmp_path, capsys):
    from kpi.cli import main

    good = tmp_path / "good.csv"
    good.write_text(f"{GOOD_HEAD}\nTH001,2023-2024,CN,1001,10,12\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{GOOD_HEAD}\nXX,2023-2024,CN,1,1,1\n", encoding="utf-8")
    assert main(["import", "--db", str(writable_db), "--user", "chuyenvien", "--dry-run", str(good)]) == 0
    assert _obs(writable_db, "TH001", "hs_tong")[0] != 1001
    report = tmp_path / "loi.xlsx"
    assert main(["import", "--db", str(writable_db), "--user", "chuyenvien", str(good), str(bad), "--errors",
                 str(report)]) == 1
    err = capsys.readouterr().err
    assert "Không nhập bad.csv: 1 lỗi, không ghi gì." in err and "mã trường không có" in err
    assert _obs(writable_db, "TH001", "hs_tong")[0] == 1001  # the good file landed whole
    assert report.exists()
    assert main(["import", "--db", str(writable_db), str(tmp_path / "none.csv")]) == 2
    assert main(["template", "--db", str(writable_db), "--year", "2023-2024", "--round", "HK1", "--level", "TH",
                 str(tmp_path / "mau.xlsx")]) == 0
    wb = openpyxl.load_workbook(tmp_path / "mau.xlsx")
    assert wb.sheetnames == ["Hướng dẫn", "Số liệu", "Tự đánh giá", "_mau"]
    ws = wb["Số liệu"]
    assert {ws.cell(r, 1).value[:2] for r in range(3, ws.max_row + 1)} == {"TH"}
    assert H["hs_khoi345"] in [c.value for c in ws[2]] and H["co_lms"] in [c.value for c in ws[2]]
    assert any(dv.formula1 == '"Có,Không"' for dv in ws.data_validations.dataValidation)


SLOW_IMPORT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from kpi.imports import importer
    real = importer._apply
    def slow(con, *a, **k):
        real(con, *a, **k)
        print("applying", flush=True)
        time.sleep({sleep})
    importer._apply = slow
    data = open({file!r}, "rb").read()
    importer.import_file({db!r}, {name!r}, data, "cv")
    print("done", flush=True)
""")


def _spawn(tmp_path, writable_db, name, content, sleep):
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    code = SLOW_IMPORT.format(root=str(ROOT), sleep=sleep, file=str(f), db=str(writable_db), name=name)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def test_killed_import_leaves_database_as_it_was(writable_db, tmp_path):
    before = table_digest(writable_db)
    p = _spawn(tmp_path, writable_db, "k.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,4242,10,12\n", 60)
    assert p.stdout.readline().strip() == "applying"  # the rows are written to the private copy
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)
    assert table_digest(writable_db) == before
    # the lock died with the process: the next import goes through
    r = importer.import_file(writable_db, "k2.csv", _csv(f"{GOOD_HEAD}\nTH001,2023-2024,CN,4343,10,12\n"), "cv")
    assert _obs(writable_db, "TH001", "hs_tong") == (4343.0, r.import_id)
    leftovers = [x for x in writable_db.parent.iterdir() if ".tmp" in x.name]
    assert leftovers == []  # the killed writer's copy was removed by the next writer


def test_two_imports_at_once_both_land(writable_db, tmp_path):
    a = _spawn(tmp_path, writable_db, "a.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,5001,10,12\n", 1)
    b = _spawn(tmp_path, writable_db, "b.csv", f"{GOOD_HEAD}\nTH002,2023-2024,CN,5002,10,12\n", 1)
    assert a.wait(timeout=60) == 0 and b.wait(timeout=60) == 0
    assert _obs(writable_db, "TH001", "hs_tong")[0] == 5001
    assert _obs(writable_db, "TH002", "hs_tong")[0] == 5002
    c = db.connect(writable_db)
    assert c.execute("SELECT count(*) FROM imports WHERE source = 'import'").fetchall()[0][0] == 2
    c.close()


def test_app_reads_new_data_without_restart(writable_db, monkeypatch):
    from tests.conftest import app_test

    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = app_test("truong", truong="TH001")
    card = "90%</span> / chỉ tiêu 20%"  # 900 of 1.000 pupils hold a certificate
    assert card not in "\n".join(m.value for m in at.markdown)
    importer.import_file(writable_db, "moi.csv", _csv(
        f"{GOOD_HEAD},{H['hs_chung_chi_tin']}\nTH001,2023-2024,CN,1000,40,44,900\n"), "cv")
    time.sleep(0.01)
    at.run()
    text = "\n".join(m.value for m in at.markdown)
    assert card in text  # read from the new file, no restart
