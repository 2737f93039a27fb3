"""Validation rules as data (kpi/definitions/checks.toml): each rule with its exact message, the same
hard checks in a file and in the form, soft checks that need an explanation, and the loader's
"valid fixture + one mutation" messages."""

import shutil

import pytest

from kpi.catalog.model import DEFINITIONS, CatalogError, default_catalog, load_catalog
from kpi.domain import checks
from kpi.imports import parse
from tests.test_importer import GOOD_HEAD, H

CAT = default_catalog()
# a plausible primary school, every check passing against its previous period
BASE = {"hs_tong": "1.000", "gv_tong": "40", "cbql_gv_tong": "44", "phong_hoc": "30", "hs_khoi345": "590",
        "hs_khoi345_hoc_tin": "590", "gv_tin": "3", "gv_tai_khoan_bdtx": "38", "phong_hoc_trinh_chieu": "20",
        "mon_hoc": "11", "co_lms": "Có", "lms_lop5": "Không"}
PREVIOUS = {"hs_tong": 980.0, "gv_tong": 39.0, "cbql_gv_tong": 43.0, "phong_hoc": 30.0, "gv_tin": 3.0,
            "mon_hoc": 11.0, "co_lms": 1.0, "lms_lop5": 0.0}


def _check(changes: dict, explanations: dict | None = None, final: bool = False, previous=PREVIOUS):
    return checks.check_form({**BASE, **changes}, explanations or {}, "TH", CAT, previous, "2023-2024 HK1", final)


def test_the_base_school_passes_everything():
    r = _check({}, final=True)
    assert r.problems == {} and r.flags == {} and r.can_submit
    assert r.values["hs_tong"] == 1000.0 and r.values["co_lms"] == 1.0 and r.values["lms_lop5"] == 0.0


# (field changes, field, rule, exact message) for every rule of checks.toml and every built-in check
HARD = [
    ({"hs_tong": "một nghìn"}, "hs_tong", "không phải là số"),
    ({"hs_tong": "17,5%"}, "hs_tong", "không phải là số: ghi số lượng (ví dụ 181), không ghi tỉ lệ phần trăm"),
    ({"hs_tong": "12,5"}, "hs_tong", "cần số nguyên"),
    ({"hs_tong": "20.000"}, "hs_tong", "ngoài giới hạn cho phép (0 đến 10000)"),
    ({"co_lms": "có lẽ"}, "co_lms", "không nhận ra có/không (ghi Có hoặc Không)"),
    ({"hs_khoi345_hoc_tin": "600"}, "hs_khoi345_hoc_tin", "lớn hơn mẫu số 'Số học sinh khối lớp 3, 4, 5' (590)"),
    ({"gv_tong": "50"}, "gv_tong", "lớn hơn 'Tổng số cán bộ quản lý và giáo viên' (44); giáo viên là một phần của "
                                   "cán bộ quản lý và giáo viên"),
]


@pytest.mark.parametrize("changes, field, message", HARD, ids=[h[2][:30] for h in HARD])
def test_hard_checks(changes, field, message):
    r = _check(changes, final=True)
    assert r.problems == {field: [message]} and not r.can_submit
    assert r.messages(CAT) == [f"{CAT.fields[field].label_vi}: {message}"]
    assert _check(changes).problems == {field: [message]}  # shown while typing too


def test_a_required_field_is_asked_for_only_on_submitting():
    assert _check({"hs_tong": ""}).problems == {}
    assert _check({"hs_tong": ""}, final=True).problems == {"hs_tong": ["thiếu số liệu bắt buộc"]}


SOFT = [
    ({"hs_khoi345": "1.010", "hs_khoi345_hoc_tin": "600"}, "hs_khoi345", "vuot_so_hoc_sinh",
     "1.010 lớn hơn tổng số học sinh của trường (1.000); kiểm tra lại hoặc giải thích"),
    ({"gv_tai_khoan_bdtx": "41"}, "gv_tai_khoan_bdtx", "vuot_so_giao_vien",
     "41 lớn hơn tổng số giáo viên của trường (40); kiểm tra lại hoặc giải thích"),
    ({"phong_hoc_trinh_chieu": "33"}, "phong_hoc_trinh_chieu", "vuot_so_phong_hoc",
     "33 lớn hơn tổng số phòng học (30); kiểm tra lại hoặc giải thích"),
    ({"mon_hoc": "16"}, "mon_hoc", "bien_dong_lon",
     "tăng 45,5% so với kỳ trước (2023-2024 HK1: 11 → 16), quá 30%; kiểm tra lại hoặc giải thích"),
    ({"phong_hoc": "20", "phong_hoc_trinh_chieu": "20"}, "phong_hoc", "bien_dong_lon",
     "giảm 33,3% so với kỳ trước (2023-2024 HK1: 30 → 20), quá 30%; kiểm tra lại hoặc giải thích"),
    ({"lms_lop5": "Có"}, "lms_lop5", "khong_thanh_co",
     "kỳ trước (2023-2024 HK1) là Không, kỳ này là Có; ghi ngắn gọn đã triển khai gì, từ khi nào"),
    ({"co_lms": "Không"}, "co_lms", "co_thanh_khong",
     "kỳ trước (2023-2024 HK1) là Có, kỳ này là Không; kiểm tra lại hoặc giải thích vì sao ngừng"),
]


@pytest.mark.parametrize("changes, field, rule, message", SOFT, ids=[s[2] for s in SOFT])
def test_soft_checks_need_an_explanation(changes, field, rule, message):
    r = _check(changes, final=True)
    assert r.problems == {}
    assert [(f.field, f.rule, f.message) for fs in r.flags.values() for f in fs] == [(field, rule, message)]
    assert r.explanation_problems == {field: "cần giải thích ngắn (ít nhất 5 ký tự) trước khi nộp"}
    assert not r.can_submit
    assert _check(changes).explanation_problems == {}  # a draft is not asked for it (yet)
    short = _check(changes, {field: "ok"}, final=True)
    assert not short.can_submit
    explained = _check(changes, {field: "Trường mới nhận thêm điểm trường"}, final=True)
    assert explained.can_submit and explained.flag_codes(field) == [rule]
    long = _check(changes, {field: "x" * 501})
    assert long.explanation_problems == {field: "giải thích quá dài (tối đa 500 ký tự)"}


def test_soft_check_thresholds_hold_at_their_edges():
    assert _check({"mon_hoc": "14"}).flags == {}                         # +27%: under 30%
    assert _check({"hs_tong": "1.274"}).flags == {}                      # +30,0%: not more than 30%
    assert "hs_tong" in _check({"hs_tong": "1.275"}).flags               # +30,1%
    assert _check({"gv_tin": "9"}, previous={**PREVIOUS, "gv_tin": 3.0}).flags == {}  # base 3 < min_base 10
    assert _check({"lms_lop5": "Có"}, previous={}).flags == {}           # nothing to compare with


def test_a_file_gets_the_same_hard_checks_as_the_form(sample_db, con):
    """The rule added in checks.toml (teachers ≤ managers and teachers) refuses a file's row with the
    same message the form shows: one validation for both paths."""
    text = f"{GOOD_HEAD}\nTH001,2023-2024,CN,1000,50,44\n"
    parsed = parse.validate("gv.csv", text.encode(), con)
    form = _check({"gv_tong": "50"})
    assert [p.message for p in parsed.problems] == form.problems["gv_tong"]
    assert parsed.problems[0].column == f"E ({H['gv_tong']})"
    ok = parse.validate("gv.csv", f"{GOOD_HEAD}\nTH001,2023-2024,CN,1000,44,44\n".encode(), con)
    assert ok.problems == []


def test_the_sample_passes_the_hard_checks(con):
    """The generated figures obey every hard rule (so a school's figures start clean), and the guard
    can fail: one planted value breaks it."""
    rows = con.execute("SELECT school_id, level FROM schools").fetchall()
    values = {}
    for sid, code, v in con.execute("SELECT school_id, field_code, value FROM observations WHERE "
                                    "school_year = '2023-2024' AND round = 'CN'").fetchall():
        values.setdefault(sid, {})[code] = v
    bad = [sid for sid, _ in rows if sid in values and checks.pair_problems(values[sid], CAT)]
    assert bad == []
    sid = next(s for s, lv in rows if s in values and lv == "TH")
    planted = {**values[sid], "gv_tong": values[sid]["cbql_gv_tong"] + 1}
    assert checks.pair_problems(planted, CAT) == [("gv_tong", CAT.checks.rules[0].message.format(
        limit_label="Tổng số cán bộ quản lý và giáo viên", limit=f"{planted['cbql_gv_tong']:g}", value=""))]


RULE = '''
[[rule]]
code = "moi"
label_vi = "Quy tắc mới"
severity = "soft"
kind = "at_most"
fields = ["hs_khoi345"]
limit = "hs_tong"
message = "{value} lớn hơn {limit}"
'''
# (text to replace (None = append), replacement, the exact message)
MUTATIONS = [
    (None, RULE.replace('kind = "at_most"', 'kind = "at_least"'),
     "checks.toml: moi: kind 'at_least' không hợp lệ; chỉ được dùng ['at_most', 'change', 'flip']"),
    (None, RULE.replace('severity = "soft"', 'severity = "warning"'),
     "checks.toml: moi: severity 'warning' không hợp lệ; chỉ được dùng ['hard', 'soft']"),
    (None, RULE.replace('["hs_khoi345"]', '["hs_khoi_345"]'),
     "checks.toml: moi: chỉ tiêu 'hs_khoi_345' không có trong fields.toml"),
    (None, RULE.replace('limit = "hs_tong"', 'limit = "co_lms"'),
     "checks.toml: moi: chỉ tiêu 'co_lms' có kind 'bool', cần ['count', 'number']"),
    (None, RULE.replace("{value} lớn hơn {limit}", "{value} lớn hơn {gioi_han}"),
     "checks.toml: moi: chỗ điền ['gioi_han'] không dùng được; chỉ được dùng ['value', 'limit', 'limit_label']"),
    (None, RULE.replace('limit = "hs_tong"\n', ''), "checks.toml: moi: thiếu khóa bắt buộc 'limit'"),
    (None, RULE.replace('code = "moi"', 'code = "bien_dong_lon"'), "checks.toml: bien_dong_lon: mã bị trùng"),
    ("share = 0.3", "share = 0", "checks.toml: bien_dong_lon: share phải là số lớn hơn 0 (tỉ lệ, 0.3 = 30%), gặp 0"),
    ("before = 0", "before = 2", "checks.toml: khong_thanh_co: before phải là 1 (Có) hoặc 0 (Không), gặp 2"),
    ('kind = "flip"\nbefore = 0', 'kind = "flip"\nbefore = 0\nfields = ["hs_tong"]',
     "checks.toml: khong_thanh_co: chỉ tiêu 'hs_tong' có kind 'count', cần ['bool']"),
    ('whole = "cần số nguyên"\n', "", "checks.toml: builtin.whole: thiếu lời nhắn của kiểm tra có sẵn"),
    ("bounds = \"ngoài giới hạn cho phép ({min} đến {max})\"", "bounds = \"ngoài giới hạn ({min} đến {toi_da})\"",
     "checks.toml: builtin.bounds: chỗ điền ['toi_da'] không dùng được; chỉ được dùng ['min', 'max']"),
    ("min_chars = 5", "min_chars = 600", "checks.toml: explanation: cần 0 < min_chars ≤ max_chars (min_chars = 600, "
                                         "max_chars = 500)"),
]


@pytest.mark.parametrize("old, new, expected", MUTATIONS, ids=[m[2].split(": ", 2)[-1][:40] for m in MUTATIONS])
def test_one_mutation_one_message(tmp_path, old, new, expected):
    d = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, d)
    f = d / "checks.toml"
    text = f.read_text(encoding="utf-8")
    if old is None:
        text += new
    else:
        assert old in text, "the fixture no longer contains the text this case mutates"
        text = text.replace(old, new, 1)
    f.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        load_catalog(d)
    assert e.value.problems == [expected]


def test_the_added_rule_loads_and_acts(tmp_path):
    """The valid fixture of the mutations above: a rule added as data changes what is flagged."""
    d = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, d)
    (d / "checks.toml").write_text((d / "checks.toml").read_text(encoding="utf-8") + RULE, encoding="utf-8")
    cat = load_catalog(d)
    r = checks.check_form({**BASE, "hs_khoi345": "1.010", "hs_khoi345_hoc_tin": "600"}, {}, "TH", cat, PREVIOUS)
    assert [f.rule for f in r.flags["hs_khoi345"]] == ["vuot_so_hoc_sinh", "moi"]
    assert r.flags["hs_khoi345"][1].message == "1.010 lớn hơn 1.000"
