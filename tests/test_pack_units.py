"""A meeting pack over more schools than kpi.views.pack.LIST_MAX_SCHOOLS lists units, not schools (a Sở's or the
Ministry's pack: 53.000 schools nationally took the PDF 91 s and the workbook 99 s and 57 MB): each unit's sums
are the district's figures split by unit (one truth), and every format says the lists are by unit."""

import io
import subprocess

import openpyxl
import pandas as pd
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.exports.pdf import to_pdf
from kpi.exports.text import completeness_summary
from kpi.exports.xlsx import to_xlsx
from kpi.tools.sample import build_sample
from kpi.views import pack as packs
from kpi.views.cache import Views

CAT = default_catalog()
PERIOD = ("2023-2024", "CN")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """1.600 invented schools in 22 Phòng under 3 Sở (the sample generator's layout above 200 schools)."""
    path = tmp_path_factory.mktemp("city") / "city.duckdb"
    build_sample(path, schools=1600, years=2, seed=7)
    return path


@pytest.fixture(scope="module")
def unit_pack(city):
    limit = packs.LIST_MAX_SCHOOLS
    packs.LIST_MAX_SCHOOLS = 500  # the city's 1.600 schools are over it, one Phòng's 75 are not
    try:
        v = Views(city)
        yield packs.build_pack(v, CAT, Scope.everything(), *PERIOD), v
    finally:
        packs.LIST_MAX_SCHOOLS = limit


def _mismatches(pack, unit_values) -> list:
    """Every overview row (indicator × cấp học, as the pages show it) against the sums of its units' rows."""
    out = []
    for ln in pack.lines:
        row = ln.row
        if row["indicator_code"] not in pack.values:  # an index-based target (Mức độ CĐS) has no school rows
            continue
        u = unit_values(pack.values[row["indicator_code"]], pack.units)
        u = u[u["level"].isin(row["levels"])]
        got = (u["numerator"].sum(min_count=1), u["denominator"].sum(min_count=1), int(u["reporting"].sum()),
               int(u["expected"].sum()), int(u["meeting"].sum()))
        want = (row["numerator"], row["denominator"], row["schools_reporting"], row["schools_expected"],
                row["schools_meeting"])
        same = all((pd.isna(g) and w is None) or (w is not None and not pd.isna(g) and abs(g - w) < 1e-6)
                   for g, w in zip(got, want))
        if not same:
            out.append((row["indicator_code"], row["level"], got, want))
    return out


def test_a_large_scope_lists_units_whose_sums_are_the_districts(unit_pack):
    pack, _ = unit_pack
    assert pack.units is not None and sorted(pack.units["unit"].unique()) == [
        "Sở GDĐT mẫu số 1", "Sở GDĐT mẫu số 2", "Sở GDĐT mẫu số 3"]
    assert "1.600 trường" in pack.units_note
    assert len(pack.lines) > 20 and _mismatches(pack, packs.unit_values) == []
    some = packs.unit_values(pack.values[pack.lines[0].row["indicator_code"]], pack.units)
    assert ((some["value"] - some["numerator"] / some["denominator"]).abs() < 1e-12).all()  # pooled: Σ / Σ

    def planted(values, units):  # a school that did not report counted as 0 of its pupils
        return packs.unit_values(values.assign(value=values["value"].fillna(0.0)), units)
    assert _mismatches(pack, planted)

    subs = packs.unit_submissions(pack.submissions, pack.units)
    total = completeness_summary(pack).set_index("Tình trạng")["Số trường"]
    assert [int(subs[c].sum()) for c in ("Đúng hạn", "Trễ hạn", "Chưa nộp", "Tổng số trường")] == \
        [total["Đúng hạn"], total["Trễ hạn"], total["Chưa nộp"], total["Tổng số trường"]] and total.iloc[-1] == 1600
    assert list(subs["Chưa nộp"]) == sorted(subs["Chưa nộp"], reverse=True)  # most missing first


def test_a_phong_of_the_city_still_lists_its_schools(unit_pack):
    _, v = unit_pack
    phong = packs.build_pack(v, CAT, Scope(unit_id="PGD0000"), *PERIOD)
    assert phong.units is None and phong.units_note == "" and len(phong.submissions) == 75


def test_a_sos_pack_lists_its_phong(unit_pack):
    _, v = unit_pack
    so = packs.build_pack(v, CAT, Scope(unit_id="SGD00"), *PERIOD)
    assert so.units is not None and so.units["unit_id"].isin([f"PGD{i:04d}" for i in range(22)]).all()
    assert set(packs.unit_submissions(so.submissions, so.units)["Đơn vị"]) == {
        f"Phòng GDĐT mẫu số {i + 1}" for i in range(10)}


def test_the_unit_packs_workbook_and_pdf(unit_pack, tmp_path):
    pack, _ = unit_pack
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx(pack, CAT)))
    assert "Theo đơn vị" in wb.sheetnames and "Theo trường" not in wb.sheetnames
    info = {r[0]: r[1] for r in wb["Thông tin"].iter_rows(min_row=5, values_only=True)}
    assert pack.units_note in info["Ghi chú"] and "Dữ liệu mẫu" in info["Ghi chú"]
    sheet = wb["II.10 Học sinh học Tin học the…"]
    assert sheet["A1"].value.endswith("· theo đơn vị")
    header = [c.value for c in sheet[4]]
    assert header[:2] == ["Đơn vị", "Cấp học"] and "Giá trị" in header
    rows = list(sheet.iter_rows(min_row=5, values_only=True))
    assert 3 <= len(rows) <= 3 * 5 and all(isinstance(r[header.index("Trường phải báo cáo")], int) for r in rows)
    assert all(r[header.index("Giá trị")] is None or isinstance(r[header.index("Giá trị")], float) for r in rows)
    subs = wb["Nộp báo cáo"]
    assert [c.value for c in subs[4]] == ["Đơn vị", "Đúng hạn", "Trễ hạn", "Chưa nộp", "Tổng số trường"]
    assert sum(r[4] for r in subs.iter_rows(min_row=5, values_only=True)) == 1600

    f = tmp_path / "p.pdf"
    f.write_bytes(to_pdf(pack, CAT))
    text = subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "các bảng liệt kê theo đơn vị trực thuộc" in flat and "Sở GDĐT mẫu số 2" in flat
    assert "Tổng số trường 1.600" in flat  # the count as a number is printed, 1.600 and never 1600
    names = set(pack.submissions["name"])
    listed = [ln for ln in text.splitlines() if any(n in ln for n in names)]
    assert len(listed) <= 15  # only the furthest schools name a school; the submissions are by unit
