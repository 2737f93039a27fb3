"""Quản trị (issue 20): the office sets up a school year itself: targets rolled over, edited and
published; schools closed, added, merged; units; accounts from an Excel file with a first password
changed at the first login; every change audited; leadership only."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest

from kpi.admin import accounts, auth, plans, registry
from kpi.admin import shared as admin
from kpi.admin.auth import User
from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.imports import importer
from kpi.store import db, queries, state
from kpi.views import cache as views
from tests.conftest import app_test, table_digest

Y0, Y1 = "2023-2024", "2024-2025"
LEAD = User("lanhdao", "Lãnh đạo Phòng (mẫu)", "lanh_dao", None, None)
STAFF = User("chuyenvien", "Chuyên viên Phòng (mẫu)", "chuyen_vien", None, None)
PRINCIPAL = User("ht.th001", "Hiệu trưởng TH001 (mẫu)", "hieu_truong", "TH001", None)
ENTRY = User("nl.th001", "Nhập liệu TH001 (mẫu)", "truong_nhap_lieu", "TH001", None)


@pytest.fixture()
def admin_db(writable_db, monkeypatch):
    """A private copy of the sample (with a fresh state store beside it) that the app reads."""
    monkeypatch.setenv("KPI_DB", str(writable_db))
    return writable_db


def accounts_xlsx(rows, header=("Tên đăng nhập", "Họ và tên", "Vai trò", "Mã trường"), sheet="Tài khoản") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def read(path, sql, params=()):
    c = db.connect(path)
    try:
        return c.execute(sql, list(params)).fetchall()
    finally:
        c.close()


def summary(path, year, rnd, level="TH", code="tin_hoc_quoc_te", scope=None):
    c = db.connect(path)
    try:
        df = queries.district_summary(c, plans.catalog_with_plans(c), scope or Scope.everything(), year, rnd)
    finally:
        c.close()
    return df[(df["indicator_code"] == code) & (df["level"] == level)].iloc[0]


def submit(at, key, value):
    at.text_input(key=key).set_value(value)


# ---- the whole issue in one story ----------------------------------------------------------------

def test_a_new_school_year_is_set_up_from_the_app_end_to_end(admin_db):
    path = admin_db
    th = [r[0] for r in read(path, "SELECT school_id FROM schools WHERE level = 'TH' AND active ORDER BY school_id")]
    closing = th[1]
    ward, unit = read(path, "SELECT ward, unit_id FROM schools WHERE school_id = ?", [closing])[0]
    y0_before = summary(path, Y0, "CN")
    assert y0_before["schools_expected"] == len(th)

    # 1. targets: next year's plan from this year's, one edited, the document recorded, published
    d = plans.start_draft(path, LEAD, Y1)
    assert d["source_year"] == Y0 and d["rows"] == plans.rows_in_force(default_catalog(), Y0)
    plans.edit_targets(path, LEAD, Y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.5, "near": 0.45}],
                       version=d["version"])
    plans.set_document(path, LEAD, Y1, "123/KH-GDĐT ngày 05/09/2024")
    assert plans.publish(path, LEAD, Y1) == 1
    assert plans.draft(path, Y1) is None

    # 2. the year's periods, a school closed, a school opened
    assert registry.open_school_year(path, LEAD, Y1) == ["HK1", "CN"]
    assert registry.close_school(path, LEAD, closing, "01/09/2024", "giải thể") == []
    registry.add_school(path, LEAD, "th900", "Trường Tiểu học Mới (mẫu)", "TH", "cong_lap", ward, unit, "05/09/2024")

    # 3. accounts from one Excel file: the new school's principal and a new staff member
    result = accounts.create_accounts(path, LEAD, "tai_khoan.xlsx", accounts_xlsx([
        ("ht.th900", "Hiệu trưởng Trường Mới", "Hiệu trưởng", "TH900"),
        ("cv.moi", "Chuyên viên Mới", "chuyên viên phòng", None)]), confirmed={"cv.moi"})
    first = dict(result.created)
    assert set(first) == {"ht.th900", "cv.moi"} and all(len(p) >= accounts.MIN_LENGTH for p in first.values())
    assert read(path, "SELECT role, school_id, password_hash LIKE '$2b$10$%' FROM users WHERE user_name = 'ht.th900'") \
        == [("hieu_truong", "TH900", True)]

    # 4. first login: the password page only, until the password is changed
    c = db.connect(path)
    assert auth.authenticate(c, "ht.th900", first["ht.th900"],
                             auth.Throttle(state.store_for(path))).school_id == "TH900"
    c.close()
    at = app_test(None, user="ht.th900", truong="TH900")
    assert not at.exception and at.title[0].value == "Đổi mật khẩu"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/truong.py").run()
    at = app_test(None, user="ht.th900")
    submit(at, "dmk_current", first["ht.th900"])
    submit(at, "dmk_new", first["ht.th900"])  # the same password again: refused
    submit(at, "dmk_repeat", first["ht.th900"])
    at.button(key="dmk_submit").click().run()
    assert any("khác mật khẩu trước đó" in e.value for e in at.error)
    new = "ba con mèo ngủ trưa dưới gốc me"
    submit(at, "dmk_current", first["ht.th900"])
    submit(at, "dmk_new", new)
    submit(at, "dmk_repeat", new)
    at.button(key="dmk_submit").click().run()
    assert not at.exception and not accounts.must_change(path, "ht.th900")
    assert at.title[0].value == "Trường Tiểu học Mới (mẫu)"  # the principal's own page, now reachable
    c = db.connect(path)
    throttle = auth.Throttle(state.store_for(path))
    assert auth.authenticate(c, "ht.th900", new, throttle).user_name == "ht.th900"
    with pytest.raises(auth.AuthError):
        auth.authenticate(c, "ht.th900", first["ht.th900"], throttle)
    c.close()

    # 5. the schools report for the new year (a file imported as usual), then the figures
    reporting = [s for s in th if s != closing][:5] + ["TH900"]
    lines = ["Mã trường,Năm học,Kỳ,hs_tong,gv_tong,cbql_gv_tong,hs_tin_quoc_te"] + [
        f"{s},{Y1},HK1,200,20,22,{90 + i}" for i, s in enumerate(reporting)]
    importer.import_file(path, "hk1.csv", ("\n".join(lines) + "\n").encode(), "chuyenvien")
    row = summary(path, Y1, "HK1")
    assert row["target"] == 0.5 and row["near"] == 0.45                      # the edited target is in force
    assert row["schools_expected"] == len(th)                               # one closed, one added
    assert row["schools_reporting"] == len(reporting)
    assert row["value"] == pytest.approx(sum(90 + i for i in range(len(reporting))) / (200 * len(reporting)))
    other = summary(path, Y1, "HK1", level="THCS")                         # the rest rolled over unchanged
    assert other["target"] == default_catalog().target_for("tin_hoc_quoc_te", "THCS", Y0).value
    # the year before is as it was: the closed school still counts there, the new one does not
    y0_after = summary(path, Y0, "CN")
    assert y0_after[["numerator", "denominator", "schools_expected", "schools_reporting", "target"]].tolist() == \
        y0_before[["numerator", "denominator", "schools_expected", "schools_reporting", "target"]].tolist()

    # the pages read all of it: the overview's tile, the completeness list of the period
    v = views.views_for(path)
    tiles = [t for _, ts in v.overview(Scope.everything(), Y1, "HK1").themes for t in ts
             if t.code == "tin_hoc_quoc_te" and t.heading.endswith("(TH)")]
    assert tiles[0].target == "chỉ tiêu 50%" and tiles[0].reporting == f"{len(reporting)}/{len(th)} trường đã báo cáo"
    status = v.submission_status(Scope.everything(), Y1, "HK1")
    assert "TH900" in set(status["school_id"]) and closing not in set(status["school_id"])
    assert closing in set(v.submission_status(Scope.everything(), Y0, "CN")["school_id"])

    # every change is in the history with who did it
    done = [(r["code"], r["user_name"]) for r in admin.history(path)]
    for action in ("qt_chi_tieu_tao_nhap", "qt_chi_tieu_sua", "qt_chi_tieu_van_ban", "qt_chi_tieu_cong_bo",
                   "qt_nam_hoc_mo", "qt_truong_dong", "qt_truong_them", "qt_tai_khoan_tao"):
        assert (action, "lanhdao") in done, action
    assert ("qt_tai_khoan_doi_mat_khau", "ht.th900") in done
    edit = next(r for r in admin.history(path) if r["code"] == "qt_chi_tieu_sua")
    assert edit["detail"]["truoc"]["value"] == 0.4 and edit["detail"]["sau"]["value"] == 0.5
    changes = read(path, "SELECT kind, object_id, user_name FROM reference_changes ORDER BY change_id")
    assert changes == [("chi_tieu", Y1, "lanhdao"), ("nam_hoc_mo", Y1, "lanhdao"), ("truong_dong", closing, "lanhdao"),
                       ("truong_them", "TH900", "lanhdao")]


# ---- leadership only -------------------------------------------------------------------------------

WRITES = {
    "start_draft": lambda p, u: plans.start_draft(p, u, Y1),
    "edit_targets": lambda p, u: plans.edit_targets(p, u, Y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH",
                                                                  "value": 0.9}]),
    "set_document": lambda p, u: plans.set_document(p, u, Y1, "1/KH"),
    "publish": lambda p, u: plans.publish(p, u, Y1),
    "discard_draft": lambda p, u: plans.discard_draft(p, u, Y1),
    "import_targets": lambda p, u: plans.import_targets(p, u, plans.export_toml(default_catalog(), Y0).encode(),
                                                        "x.toml"),
    "open_school_year": lambda p, u: registry.open_school_year(p, u, Y1),
    "add_school": lambda p, u: registry.add_school(p, u, "TH901", "Trường X", "TH", "cong_lap", "Phường 1", "Q3",
                                                   "01/09/2024"),
    "update_school": lambda p, u: registry.update_school(p, u, "TH001", "01/09/2024", name="Tên khác"),
    "close_school": lambda p, u: registry.close_school(p, u, "TH002", "01/09/2024"),
    "merge_schools": lambda p, u: registry.merge_schools(p, u, "TH002", "TH001", "01/09/2024"),
    "add_unit": lambda p, u: registry.add_unit(p, u, "PX1", "Phường X", "phuong", None, "01/07/2025"),
    "update_unit": lambda p, u: registry.update_unit(p, u, "Q3", "01/07/2025", name="Tên khác"),
    "create_accounts": lambda p, u: accounts.create_accounts(p, u, "a.xlsx",
                                                             accounts_xlsx([("moi.a", "A", "Lãnh đạo Phòng", None)])),
    "reset_password": lambda p, u: accounts.reset_password(p, u, "ht.thcs001"),
    "set_active": lambda p, u: accounts.set_active(p, u, "ht.thcs001", False),
    "update_account": lambda p, u: accounts.update_account(p, u, "ht.thcs001", "chuyen_vien", None),
}


def test_only_the_leadership_may_change_anything(admin_db):
    """Every write function refuses a chuyên viên, a principal, a school's data-entry account and no
    user at all, writes nothing, and audits the attempt; the leadership's same call goes through."""
    path = admin_db
    before = table_digest(path)
    for name, call in WRITES.items():
        for who in (STAFF, PRINCIPAL, ENTRY, None):
            with pytest.raises(admin.AdminError, match="chỉ lãnh đạo Phòng"):
                call(path, who)
    assert table_digest(path) == before
    assert plans.drafts(path) == [] and accounts.must_change_users(path) == set()
    refused = [r for r in admin.history(path) if r["code"] == "qt_tu_choi"]
    assert len(refused) == 4 * len(WRITES)
    assert {r["detail"]["vai_tro"] for r in refused} == {"Chuyên viên Phòng", "Hiệu trưởng", "Nhập liệu của trường",
                                                         "không có"}
    # planted: the same calls by the leadership do change things (the refusal is the role's, not the call's)
    WRITES["start_draft"](path, LEAD)
    WRITES["close_school"](path, LEAD)
    assert plans.drafts(path) == [Y1] and table_digest(path) != before


# ---- targets ---------------------------------------------------------------------------------------

def test_a_published_year_never_changes_and_a_new_version_keeps_the_history(admin_db):
    path = admin_db
    plans.start_draft(path, LEAD, Y1)
    plans.set_document(path, LEAD, Y1, "1/KH-GDĐT")
    plans.publish(path, LEAD, Y1)
    with pytest.raises(admin.AdminError, match="chưa có bản nháp"):
        plans.edit_targets(path, LEAD, Y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.6}])
    # correcting it: a new draft from the published year itself, then version 2
    d = plans.start_draft(path, LEAD, Y1, from_year=Y1)
    assert d["base_version"] == 1
    plans.edit_targets(path, LEAD, Y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.6, "near": 0.5}])
    plans.set_document(path, LEAD, Y1, "2/KH-GDĐT")
    assert plans.publish(path, LEAD, Y1) == 2
    v1 = read(path, "SELECT value FROM plan_targets WHERE school_year = ? AND version = 1 AND indicator_code = "
                    "'tin_hoc_quoc_te' AND level = 'TH'", [Y1])
    assert v1 == [(0.4,)]  # version 1 as published
    old = {(r["indicator"], r["level"]): r["value"] for r in plans.version_rows(path, Y1, 1)}
    assert old[("tin_hoc_quoc_te", "TH")] == 0.4 and len(old) == len(plans.rows_in_force(default_catalog(), Y0))
    assert summary(path, Y1, "HK1")["target"] == 0.6
    hist = plans.published_versions(path)
    assert (hist[["version", "document", "in_force"]].values.tolist()
            == [[2, "2/KH-GDĐT", True], [1, "1/KH-GDĐT", False]])
    # a draft started before someone else published is refused at publishing (nothing lost silently)
    plans.start_draft(path, LEAD, Y1, from_year=Y1)
    plans.set_document(path, LEAD, Y1, "3/KH")
    with db.writing(path) as con:  # another version lands meanwhile
        con.execute("INSERT INTO target_plans VALUES (?, 3, 'x', ?, 'khac', now())", [Y1, Y1])
    with pytest.raises(admin.AdminError, match="đã được công bố phiên bản 3"):
        plans.publish(path, LEAD, Y1)


def test_a_bad_edit_is_refused_whole_with_the_indicator_named(admin_db):
    path = admin_db
    d = plans.start_draft(path, LEAD, Y1)
    with pytest.raises(admin.AdminError) as e:
        plans.edit_targets(path, LEAD, Y1, [
            {"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.5},                 # fine alone
            {"indicator": "tin_hoc_quoc_te", "level": "THCS", "value": 0.3, "near": 0.4},  # near above value
            {"indicator": "lms_thcs", "level": "THCS", "clause": " "}])                     # no clause
    text = str(e.value)
    assert "Học sinh học Tin học theo chuẩn quốc tế (Trung học cơ sở): cần 0% ≤ gần đạt (40%) ≤ chỉ tiêu (30%)" in text
    assert "thiếu điều khoản" in text
    assert plans.draft(path, Y1)["rows"] == d["rows"]  # not even the good change
    with pytest.raises(admin.AdminError,
                       match="Học sinh học Tin học theo chuẩn quốc tế \\(Tiểu học\\): chỉ tiêu và ngưỡng"):
        plans.edit_targets(path, LEAD, Y1, admin.editor_changes(d, admin.draft_frame(default_catalog(), d).assign(
            **{"Chỉ tiêu (%)": "bốn mươi"})))
    with pytest.raises(admin.AdminError, match="đã được .* sửa lúc .* sau khi bạn mở"):
        plans.edit_targets(path, LEAD, Y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.5}], version=99)
    with pytest.raises(admin.AdminError, match="số văn bản"):
        plans.publish(path, LEAD, Y1)


def test_targets_move_as_a_file_with_the_command_line(admin_db, tmp_path, capsys, sample_db):
    from kpi.cli import main

    path = admin_db
    plans.start_draft(path, LEAD, Y1)
    plans.edit_targets(path, LEAD, Y1, [{"indicator": "gv_tin_chuan_hoa", "level": "TH", "value": 0.85, "near": 0.8}])
    plans.set_document(path, LEAD, Y1, "77/KH-GDĐT")
    plans.publish(path, LEAD, Y1)
    out = tmp_path / "y1.toml"
    assert main(["targets", "export", "--year", Y1, "--out", str(out), "--db", str(path)]) == 0
    other = tmp_path / "other.duckdb"
    other.write_bytes(sample_db.read_bytes())
    assert main(["targets", "import", str(out), "--publish", "--db", str(other), "--user", "lanhdao"]) == 0
    assert "phiên bản 1" in capsys.readouterr().out
    assert plans.rows_in_force(plans.catalog_of(other), Y1) == plans.rows_in_force(plans.catalog_of(path), Y1)
    assert plans.published_versions(other)["document"].tolist() == ["77/KH-GDĐT"]
    # a broken file: refused with the file and the entry named, nothing written
    bad = tmp_path / "bad.toml"
    bad.write_text(out.read_text(encoding="utf-8").replace("value = 0.85", "value = 1.5", 1), encoding="utf-8")
    before = table_digest(other)
    assert main(["targets", "import", str(bad), "--db", str(other), "--user", "lanhdao"]) == 1
    err = capsys.readouterr().err
    assert f"Tệp {bad} không hợp lệ" in err and "gv_tin_chuan_hoa" in err
    assert table_digest(other) == before and plans.drafts(other) == []


def test_the_shipped_targets_stay_the_default(sample_db, con):
    """A database where nothing was published in the app uses targets.toml as it is."""
    assert queries.plan_targets(con).empty
    cat = plans.catalog_with_plans(con)
    assert cat.targets == default_catalog().targets


# ---- schools and units --------------------------------------------------------------------------

def test_a_merged_school_keeps_its_history_and_stops_being_expected(admin_db):
    path = admin_db
    y0 = summary(path, Y0, "CN")
    accounts_of = read(path, "SELECT user_name FROM users WHERE school_id = 'TH001' AND active")
    assert accounts_of  # the sample's principal and data-entry account
    disabled = registry.merge_schools(path, LEAD, "TH001", "TH002", "15/06/2024")  # after Y0's CN deadline
    assert sorted(disabled) == sorted(u for (u,) in accounts_of)
    assert (summary(path, Y0, "CN")[["numerator", "schools_expected"]].tolist()
            == y0[["numerator", "schools_expected"]].tolist())
    registry.open_school_year(path, LEAD, Y1)
    assert summary(path, Y1, "HK1")["schools_expected"] == y0["schools_expected"] - 1
    c = db.connect(path)
    shown = admin.schools_frame(queries.admin_schools(c))
    cat = plans.catalog_with_plans(c)
    # the merged school's history stays reachable by name in its periods (Chỉ tiêu's school table)
    y0_schools = queries.school_values(c, cat, Scope.everything(), "tin_hoc_quoc_te", (Y0, "CN"))
    y1_schools = queries.school_values(c, cat, Scope.everything(), "tin_hoc_quoc_te", (Y1, "HK1"))
    c.close()
    assert "TH001" in set(y0_schools["school_id"]) and "TH001" not in set(y1_schools["school_id"])
    assert "TH002" in set(y1_schools["school_id"])
    assert shown.loc[shown["Mã trường"] == "TH001", "Tình trạng"].iloc[0] == "Đã sáp nhập vào TH002 từ 15/06/2024"
    # and its own page, for the periods it existed in (the office's Trường page)
    name = read(path, "SELECT name FROM schools WHERE school_id = 'TH001'")[0][0]
    page = app_test("truong", user="lanhdao", truong="TH001", nam_hoc=Y0, ky="CN")
    assert not page.exception and page.title[0].value == name
    card = views.views_for(path).scorecard(Scope.everything(), "TH001", Y0, "CN")
    assert card.has_data and card.cards  # its figures of that period, as before the merge
    later = app_test("truong", user="lanhdao", truong="TH001", nam_hoc=Y1, ky="HK1")
    assert not later.exception and later.title[0].value != name  # not a school of that period: not offered
    with pytest.raises(admin.AdminError, match="đã đóng"):
        registry.close_school(path, LEAD, "TH001", "01/09/2024")
    with pytest.raises(admin.AdminError, match="chính nó"):
        registry.merge_schools(path, LEAD, "TH002", "TH002", "01/09/2024")


def test_the_unit_tree_is_editable_with_its_dates(admin_db):
    path = admin_db
    root = read(path, "SELECT unit_id FROM units WHERE parent_id IS NULL")[0][0]
    registry.add_unit(path, LEAD, "p.ban-co", "Phường Bàn Cờ", "phuong", root, "01/07/2025")
    registry.update_school(path, LEAD, "TH003", "01/07/2025", unit_id="P.BAN-CO")
    c = db.connect(path)
    try:
        assert queries.school_list(c, Scope("P.BAN-CO"))["school_id"].tolist() == ["TH003"]
    finally:
        c.close()
    # the move counts from its day: periods before it keep the school in its former unit
    old_unit = read(path, "SELECT unit_id FROM school_units WHERE school_id = 'TH003'")[0][0]
    registry.open_school_year(path, LEAD, "2025-2026")
    n_th = summary(path, Y0, "CN", scope=Scope(old_unit))["schools_expected"]
    assert summary(path, "2025-2026", "HK1", scope=Scope(old_unit))["schools_expected"] == n_th - 1
    assert summary(path, Y0, "CN", scope=Scope("P.BAN-CO"))["schools_expected"] == 0
    assert summary(path, "2025-2026", "HK1", scope=Scope("P.BAN-CO"))["schools_expected"] == 1
    assert summary(path, Y0, "CN")["schools_expected"] == n_th  # the whole city: unchanged
    with pytest.raises(admin.AdminError, match="sau lần đổi đơn vị trước"):
        registry.update_school(path, LEAD, "TH003", "01/01/2025", unit_id=old_unit)
    with pytest.raises(admin.AdminError, match="dưới chính nó"):
        registry.update_unit(path, LEAD, root, "01/07/2025", parent_id="P.BAN-CO")
    with pytest.raises(admin.AdminError, match="không phải ngày"):
        registry.add_unit(path, LEAD, "P.X", "Phường X", "phuong", root, "31/02/2025")
    changes = read(path, "SELECT kind, object_id, effective_on FROM reference_changes ORDER BY change_id")
    assert [(k, o, str(d)) for k, o, d in changes] == [("don_vi_them", "P.BAN-CO", "2025-07-01"),
                                                       ("truong_sua", "TH003", "2025-07-01"),
                                                       ("nam_hoc_mo", "2025-2026", "2026-01-10")]


# ---- accounts -----------------------------------------------------------------------------------

def test_a_bad_accounts_file_names_file_sheet_row_and_column_and_writes_nothing(admin_db):
    path = admin_db
    before = table_digest(path)
    data = accounts_xlsx([
        ("Bad Name", "A", "Hiệu trưởng", "TH003"),
        ("ok.one", None, "Hiệu trưởng", "TH004"),
        ("ok.two", "B", "Giáo viên", None),
        ("ok.three", "C", "Hiệu trưởng", "XX999"),
        ("ok.one", "D", "Lãnh đạo Phòng", None),
        ("ok.four", "E", "Chuyên viên Phòng", "TH005"),
    ])
    with pytest.raises(admin.AdminError) as e:
        accounts.create_accounts(path, LEAD, "tk.xlsx", data)
    text = str(e.value)
    assert text.startswith("Tệp tk.xlsx, trang Tài khoản: 6 lỗi, chưa tạo tài khoản nào")
    for part in ("dòng 2, cột A (Tên đăng nhập): 'Bad Name' không hợp lệ", "dòng 3, cột B (Họ và tên): thiếu họ và tên",
                 "dòng 4, cột C (Vai trò): 'Giáo viên' không phải vai trò",
                 "dòng 5, cột D (Mã trường): không có trường đang hoạt động mã 'XX999'",
                 "dòng 6, cột A (Tên đăng nhập): 'ok.one' trùng với dòng 3",
                 "dòng 7, cột D (Mã trường): Chuyên viên Phòng không gắn với trường"):
        assert part in text, part
    assert table_digest(path) == before and accounts.must_change_users(path) == set()
    # columns in another order are still named by their own letter; a missing column is said
    swapped = accounts_xlsx([("TH003", "Hiệu trưởng", "X", "ok")], header=("Mã trường", "Vai trò", "Họ và tên",
                                                                          "Tên đăng nhập"))
    with pytest.raises(admin.AdminError, match=r"dòng 2, cột D \(Tên đăng nhập\): 'ok' không hợp lệ"):
        accounts.preview_accounts(path, "doi_cot.xlsx", swapped)
    with pytest.raises(admin.AdminError, match="Tệp thieu.xlsx, trang Tài khoản, dòng 1: thiếu cột Vai trò"):
        accounts.preview_accounts(path, "thieu.xlsx",
                                  accounts_xlsx([("a.b", "A")], header=("Tên đăng nhập", "Họ và tên")))
    with pytest.raises(admin.AdminError, match="Tệp hong.xlsx: tệp không phải XLSX"):
        accounts.preview_accounts(path, "hong.xlsx", b"%PDF-1.4 not a workbook")
    wb = openpyxl.load_workbook(io.BytesIO(accounts_xlsx([("f.one", "F", "Hiệu trưởng", "TH003")])))
    wb.active["B2"] = '=HYPERLINK("http://x","y")'
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(admin.AdminError, match=r"dòng 2, cột B \(Họ và tên\): ô chứa công thức"):
        accounts.preview_accounts(path, "cong_thuc.xlsx", buf.getvalue())
    assert table_digest(path) == before


def test_the_template_from_the_app_reads_back(admin_db):
    sheet, rows, cols = accounts.read_accounts_file("bieu_mau.xlsx", accounts.accounts_template([("TH001", "A")]))
    assert sheet == "Tài khoản" and [r["user_name"] for r in rows] == ["ht.th999"]
    assert cols == {"user_name": 0, "display_name": 1, "role": 2, "school_id": 3}


def test_a_principal_who_changes_school_is_moved_not_duplicated(admin_db):
    path = admin_db
    assert read(path, "SELECT count(*) FROM users WHERE role = 'hieu_truong' AND school_id = 'TH003'") == [(0,)]
    result = accounts.create_accounts(path, LEAD, "chuyen.xlsx", accounts_xlsx([
        ("ht.th001", "Hiệu trưởng TH001 (mẫu)", "Hiệu trưởng", "TH003"),   # moves to TH003
        ("ht.moi", "Hiệu trưởng mới của TH001", "Hiệu trưởng", "TH001")]))  # takes TH001 over
    assert [u for u, _ in result.created] == ["ht.moi"]
    assert result.changed == [("ht.th001", "trường TH001 → TH003")] and result.disabled == []
    assert read(path, "SELECT count(*), min(school_id) FROM users WHERE user_name = 'ht.th001'") == [(1, "TH003")]
    assert accounts.must_change_users(path) == {"ht.moi"}  # the moved principal keeps the own password
    # one at a time: a principal moved to a school that has one disables the previous one
    disabled = accounts.update_account(path, LEAD, "ht.thcs001", "hieu_truong", "TH003")
    assert disabled == [("ht.th001", "trường TH003 có hiệu trưởng mới (ht.thcs001)")]
    assert read(path, "SELECT user_name FROM users WHERE role = 'hieu_truong' AND school_id = 'TH003' AND active") \
        == [("ht.thcs001",)]
    with pytest.raises(admin.AdminError, match="chính mình"):
        accounts.update_account(path, LEAD, "lanhdao", "chuyen_vien", None)
    with pytest.raises(admin.AdminError, match="Trường TH003 đã có hiệu trưởng dùng tài khoản ht.thcs001"):
        accounts.set_active(path, LEAD, "ht.th001", True)  # the old principal back beside the new one: no


def test_a_reset_password_must_be_changed_and_ends_the_sessions(admin_db):
    path = admin_db
    sessions = auth.Sessions(b"k", store=state.store_for(path))
    token = sessions.issue("ht.thcs001")
    temp = accounts.reset_password(path, LEAD, "ht.thcs001")
    assert sessions.check(token) is None and accounts.must_change(path, "ht.thcs001")
    user = User("ht.thcs001", "x", "hieu_truong", "THCS001", None)
    p1, p2 = "một câu khá dài để nhớ", "một câu khác cũng dài"
    with pytest.raises(admin.AdminError, match="hiện tại không đúng"):  # the password before the reset is gone
        accounts.change_password(path, user, "dulieumau", p1, p1)
    with pytest.raises(admin.AdminError, match="không khớp"):
        accounts.change_password(path, user, temp, p1, p2)
    accounts.change_password(path, user, temp, p1, p1)
    assert not accounts.must_change(path, "ht.thcs001")
    temp2 = accounts.reset_password(path, LEAD, "ht.thcs001")
    for again in (p1, temp2):  # the password before the reset, the reset one itself
        with pytest.raises(admin.AdminError, match="khác mật khẩu trước đó"):
            accounts.change_password(path, user, temp2, again, again)
    other = sessions.issue("ht.thcs001")
    mine = sessions.issue("ht.thcs001")
    accounts.change_password(path, user, temp2, p2, p2, keep_session=auth.Sessions(b"k")._claims(mine)["s"])
    assert sessions.check(other) is None and sessions.check(mine) == "ht.thcs001"  # only the other one ends
    accounts.set_active(path, LEAD, "ht.thcs001", False)
    c = db.connect(path)
    with pytest.raises(auth.AuthError):
        auth.authenticate(c, "ht.thcs001", p2, auth.Throttle(state.store_for(path)))
    c.close()
    detail = [r["detail"] for r in admin.history(path) if r["code"] in ("qt_tai_khoan_dat_lai", "qt_tai_khoan_khoa")]
    assert detail == [{"tai_khoan": "ht.thcs001"}] * 3
    logged = json.dumps(admin.history(path), ensure_ascii=False)
    assert all(secret not in logged for secret in (temp, temp2, p1, p2))
    assert read(path, "SELECT password_hash LIKE '$2b$10$%' FROM users WHERE user_name = 'ht.thcs001'") == [(True,)]


@pytest.mark.parametrize("password, refused", [
    ("ngắn", "ít nhất 10"),
    ("x" * 129, "tối đa 128"),
    ("matkhau123", "phổ biến"),
    ("Password123", "phổ biến"),
    ("1234567890", "phổ biến"),
    ("abcdefghijk", "liên tiếp"),
    ("zzzzzzzzzzzz", "lặp lại"),
    ("ht.th001-rat-dai", "tên đăng nhập"),
    ("dulieumau-cu", None),
    ("ba con mèo ngủ trưa", None),            # spaces and Vietnamese: fine, no composition rules
    ("x" * 128, "lặp lại"),
    ("tràng an " * 14, None),                # 126 characters
])
def test_password_rules_favour_length_over_composition(password, refused):
    got = accounts.password_problem(password, "ht.th001")
    assert (got is None) if refused is None else (refused in got), got


def test_the_previous_password_is_refused():
    old = auth.hash_password("mot-cau-cu-da-dung")
    assert "khác mật khẩu trước đó" in accounts.password_problem("mot-cau-cu-da-dung", "a.b", (None, old))
    assert accounts.password_problem("mot-cau-moi-chua-dung", "a.b", (None, old)) is None


# ---- the page ------------------------------------------------------------------------------------

def test_the_page_lets_the_leadership_change_and_others_only_read(admin_db):
    at = app_test("quan_tri", user="lanhdao")
    assert not at.exception and at.title[0].value == "Quản trị"
    at.selectbox(key="qt_year").set_value(Y1).run()
    at.button(key="qt_start").click().run()
    assert not at.exception and plans.draft(admin_db, Y1) is not None
    assert any("Đã tạo bản nháp chỉ tiêu năm học 2024-2025" in s.value for s in at.success)
    for tab in ("Trường và đơn vị", "Tài khoản", "Lịch sử"):
        t = app_test("quan_tri", user="lanhdao", qt_tab=tab)
        assert not t.exception, tab
        assert t.dataframe, tab
    hist = app_test("quan_tri", user="lanhdao", qt_tab="Lịch sử")
    assert "Tạo bản nháp chỉ tiêu" in hist.dataframe[0].value.to_csv()
    staff = app_test("quan_tri", user="chuyenvien")
    assert not staff.exception and any("chỉ xem" in i.value for i in staff.info)
    staff.selectbox(key="qt_year").set_value(Y1).run()
    assert staff.button(key="qt_publish").disabled and staff.button(key="qt_discard").disabled
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app_test(None, user="ht.th001").switch_page("pages/quan_tri.py").run()


@pytest.mark.parametrize("cells, expected", [
    ({}, []),                                                                       # nothing touched
    ({"Chỉ tiêu (%)": "50"}, [{"value": 0.5}]),
    ({"Chỉ tiêu (%)": "40,0"}, []),                                                 # the same value, written otherwise
    ({"Gần đạt từ (%)": "37,5", "Điều khoản": " II.10b "}, [{"near": 0.375, "clause": "II.10b"}]),
    ({"Gần đạt từ (%)": "37.5 %"}, [{"near": 0.375}]),
    ({"Căn cứ": "Phòng đề xuất (kế hoạch không nêu số)"}, [{"basis": "phong_de_xuat"}]),
    ({"Chỉ tiêu (%)": None}, [{"value": None}]),                                    # emptied: passed on, refused later
    ({"Chỉ tiêu (%)": "năm mươi"}, [{"value": "năm mươi"}]),
])
def test_the_table_editor_becomes_changes(cells, expected):
    cat = default_catalog()
    d = {"rows": [r for r in plans.rows_in_force(cat, Y0) if r["indicator"] == "tin_hoc_quoc_te"]}
    frame = admin.draft_frame(cat, d)
    key = "tin_hoc_quoc_te|TH"
    assert frame.loc[key, "Chỉ tiêu (%)"] == "40" and frame.loc[key, "Gần đạt từ (%)"] == "35"
    assert frame.loc[key, "Căn cứ"] == "Chỉ tiêu trong kế hoạch"
    edited = frame.copy()
    for col, v in cells.items():
        edited[col] = edited[col].astype(object)
        edited.loc[key, col] = v
    assert admin.editor_changes(d, edited) == [{"indicator": "tin_hoc_quoc_te", "level": "TH", **e} for e in expected]


def test_a_store_made_before_the_administration_tables_gains_them(writable_db):
    """A state store already at version 4 without Quản trị's tables (made before they were written
    into state.py) gets them on first use; nothing else is touched."""
    import sqlite3

    store_file = state.state_path(writable_db)
    raw = sqlite3.connect(store_file)
    raw.executescript(state.schema(since=1, until=3))
    raw.execute(f"PRAGMA user_version={state.SCHEMA_VERSION}")
    raw.execute("INSERT INTO audit (at, user_name, action) VALUES (1, 'x', 'dang_nhap')")
    raw.commit()
    assert "target_drafts" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    plans.start_draft(writable_db, LEAD, Y1)
    assert {"target_drafts", "account_passwords"} <= {r[0] for r in state.store_for(writable_db).read(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert plans.drafts(writable_db) == [Y1] and not accounts.must_change(writable_db, "lanhdao")
    assert state.store_for(writable_db).read("SELECT count(*) FROM audit WHERE action = 'dang_nhap'") == [(1,)]


def test_a_password_set_on_the_command_line_is_changed_at_the_first_login(writable_db, monkeypatch):
    from kpi.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-tam-thoi-1\n"))
    assert main(["users", "add", "cv.hai", "--role", "chuyen_vien", "--db", str(writable_db), "--password-stdin",
                 "--user", "lanhdao"]) == 0
    assert accounts.must_change(writable_db, "cv.hai") and not accounts.must_change(writable_db, "chuyenvien")


def test_the_new_year_set_up_through_the_page(admin_db):
    """The same year set up by clicking through Quản trị (AppTest drives every widget it can; the
    table editor's cells and the file upload are not drivable there: the edit goes through the
    function the "Lưu" button calls, the accounts file is covered above and in the browser test)."""
    import datetime as dt

    path = admin_db
    th = [r[0] for r in read(path, "SELECT school_id FROM schools WHERE level = 'TH' AND active ORDER BY school_id")]
    ward, unit = read(path, "SELECT ward, unit_id FROM schools WHERE school_id = ?", [th[2]])[0]
    at = app_test("quan_tri", user="lanhdao")
    at.selectbox(key="qt_year").set_value(Y1).run()
    at.button(key="qt_start").click().run()
    d = plans.draft(path, Y1)
    assert d is not None and d["source_year"] == Y0
    plans.edit_targets(path, LEAD, Y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.55}], d["version"])
    at.run()
    at.text_input(key="qt_doc").input("12/KH-GDĐT").run()
    at.button(key="qt_doc_save").click().run()
    at.button(key="qt_publish").click().run()
    assert not at.exception and any("phiên bản 1" in s.value for s in at.success)
    at.button(key="qt_open_year").click().run()
    assert any("Đã mở kỳ báo cáo năm học 2024-2025" in s.value for s in at.success)

    s = app_test("quan_tri", user="lanhdao", qt_tab="Trường và đơn vị")
    s.selectbox(key="qt_e_school").set_value(th[2])
    s.date_input(key="qt_e_day").set_value(dt.date(2024, 9, 1))
    s.text_input(key="qt_c_reason").input("sáp nhập địa giới")
    s.button(key="qt_close").click().run()
    assert not s.exception and any(f"Đã đóng trường {th[2]}" in m.value for m in s.success)
    s.text_input(key="qt_s_id").input("TH950")
    s.text_input(key="qt_s_name").input("Trường Tiểu học Ven Sông (mẫu)")
    s.selectbox(key="qt_s_level").set_value("TH")
    s.text_input(key="qt_s_ward").input(ward)
    s.selectbox(key="qt_s_unit").set_value(unit)
    s.date_input(key="qt_s_opened").set_value(dt.date(2024, 8, 15))
    s.button(key="qt_s_submit").click().run()
    assert not s.exception and any("Đã thêm trường TH950" in m.value for m in s.success)

    row = summary(path, Y1, "HK1")
    assert row["target"] == 0.55 and row["schools_expected"] == len(th)  # one closed, one added
    assert summary(path, Y0, "CN")["schools_expected"] == len(th)       # the year before as it was
    staff = app_test("quan_tri", user="chuyenvien", qt_tab="Lịch sử")
    shown = staff.dataframe[0].value.to_csv()
    for what in ("Công bố chỉ tiêu", "Đóng trường", "Thêm trường", "Mở kỳ báo cáo năm học", "Sửa chỉ tiêu"):
        assert what in shown, what
