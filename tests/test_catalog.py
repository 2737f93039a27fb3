"""Catalog: the shipped definitions load; each validation rule, broken alone, gives its exact message."""

import shutil

import pytest

from kpi.catalog.model import DEFINITIONS, CatalogError, load_catalog


def test_shipped_catalog_loads():
    cat = load_catalog()
    clauses = {i.clause for i in cat.indicators.values()}
    # every numbered target of section II named by the plan, and the measurable tasks
    assert {"II.9", "II.10", "II.11", "II.12", "II.13", "II.14", "II.16", "II.1c"} <= clauses
    assert {"I.2b", "I.2c", "I.2d", "I.2e", "I.2f", "I.2g", "I.2h", "I.4", "I.5", "I.6a", "I.6c",
            "I.7a", "I.7e", "I.7f", "I.8"} <= clauses
    by_clause = {}
    for i in cat.indicators.values():
        by_clause.setdefault(i.clause, []).append(i.code)
    assert len(by_clause["II.10"]) == 4 and len(by_clause["II.11"]) == 2 and len(by_clause["II.12"]) == 2
    online = {t.level: t.value for t in cat.targets if t.indicator == "ty_trong_truc_tuyen"}
    assert online == {"TH": 0.15, "THCS": 0.175}
    # every indicator and field is labelled in Vietnamese
    assert all(i.label_vi for i in cat.indicators.values())
    assert all(f.label_vi and f.unit for f in cat.fields.values())


def test_maturity_tree():
    cat = load_catalog()
    c = cat.criteria
    assert c["DH"].max_points == 100 and c["QT"].max_points == 100
    assert {k for k, v in c.items() if v.mandatory} == {"DH1", "DH2", "QT1", "QT2"}
    assert c["QT_GAP"].rule == "placeholder" and c["QT_GAP"].provisional
    assert not c["DH3.1"].provisional and c["DH4"].provisional
    assert cat.index.level2_from == 50 and cat.index.level2_to == 75
    assert cat.index.mandatory_unmet == "cap_level_1" and cat.index.combine_groups == "min"


def test_target_carries_forward_to_later_years_only():
    cat = load_catalog()
    t = cat.target_for("ty_trong_truc_tuyen", "THCS", "2024-2025")
    assert t.school_year == "2023-2024" and t.value == 0.175
    assert cat.target_for("ty_trong_truc_tuyen", "THCS", "2022-2023") is None


EXTRA_INDICATOR = '''
[[indicator]]
code = "moi"
label_vi = "Chỉ số mới"
kind = "bool"
field = "co_lms"
levels = ["THCS"]
theme = "day_hoc_truc_tuyen"
clause = "II.9"
gap_unit = "trường"
'''


def _target(indicator, levels='["THCS"]', year="2023-2024"):
    return (f'\n[[target]]\nindicator = "{indicator}"\nschool_year = "{year}"\nlevels = {levels}\n'
            'value = 1.0\nnear = 0.9\nclause = "II.9"\nbasis = "ke_hoach"\n')


# (file, text to replace (None = append), replacement, the exact message)
CASES = [
    ("fields.toml", 'unit = "học sinh"\nkind = "count"\nlevels = ["MN", "TH", "THCS", "GDTX"]\nmin = 0\nmax = 10000',
     'kind = "count"\nlevels = ["MN", "TH", "THCS", "GDTX"]\nmin = 0\nmax = 10000',
     "fields.toml: hs_tong: thiếu khóa bắt buộc 'unit'"),
    ("fields.toml", 'kind = "count"', 'kind = "integer"',
     "fields.toml: hs_tong: kind 'integer' không hợp lệ; chỉ được dùng ['count', 'bool', 'number']"),
    ("fields.toml", 'levels = ["MN", "TH", "THCS", "GDTX"]', 'levels = ["MN", "TH", "THCS", "THPT", "GDTX"]',
     "fields.toml: hs_tong: cấp học không hợp lệ ['THPT']; chỉ được dùng ['MN', 'TH', 'THCS', 'GDTX']"),
    ("fields.toml", "min = 0\nmax = 10000", "min = 20000\nmax = 10000",
     "fields.toml: hs_tong: min (20000) lớn hơn max (10000)"),
    ("fields.toml", None,
     '\n[[field]]\ncode = "hs_tong"\nlabel_vi = "Trùng"\nunit = "hs"\nkind = "count"\nlevels = ["TH"]\n',
     "fields.toml: hs_tong: mã bị trùng"),
    ("fields.toml", 'code = "gv_tong"', 'code = "GV-tong"',
     "fields.toml: GV-tong: mã chỉ gồm chữ thường không dấu, số và '_'"),
    ("fields.toml", None, "\n[[field]\n", None),  # syntax: message checked by prefix below
    ("indicators.toml", 'kind = "bool"\nfield = "co_lms"\nlevels = ["THCS"]',
     'kind = "mean"\nfield = "co_lms"\nlevels = ["THCS"]',
     "indicators.toml: lms_thcs: kind 'mean' không hợp lệ; chỉ được dùng ['ratio', 'bool']"),
    ("indicators.toml", 'denominator = "hs_khoi345"\n', "",
     "indicators.toml: tin_hoc_khoi345: thiếu khóa bắt buộc 'denominator'"),
    ("indicators.toml", 'field = "lms_lop5"\n', 'field = "lms_lop5"\ndenominator = "hs_tong"\n',
     "indicators.toml: lms_lop5: chỉ số có/không không có mẫu số"),
    ("indicators.toml", 'numerator = "hs_khoi345_hoc_tin"', 'numerator = "hs_lop345_hoc_tin"',
     "indicators.toml: tin_hoc_khoi345: trường tử số 'hs_lop345_hoc_tin' không có trong fields.toml"),
    ("indicators.toml", 'field = "lms_lop5"\nlevels = ["TH"]', 'field = "lms_lop5"\nlevels = ["TH", "THCS"]',
     "indicators.toml: lms_lop5: trường tử số 'lms_lop5' không được báo cáo ở cấp ['THCS']"),
    ("indicators.toml", 'field = "co_lms"\nlevels = ["THCS"]', 'field = "hs_tong"\nlevels = ["THCS"]',
     "indicators.toml: lms_thcs: trường tử số 'hs_tong' có kind 'count', cần ['bool']"),
    ("indicators.toml", 'theme = "tin_hoc"\nclause = "II.10"\ngap_unit = "giáo viên"',
     'theme = "tin_hoc_quoc_te"\nclause = "II.10"\ngap_unit = "giáo viên"',
     "indicators.toml: gv_tin_chuan_hoa: nhóm 'tin_hoc_quoc_te' không có trong danh sách [[theme]]"),
    ("indicators.toml", None, EXTRA_INDICATOR, "targets.toml: moi: chỉ số chưa có chỉ tiêu nào"),
    ("targets.toml", 'indicator = "lms_thcs"\nschool_year = "2023-2024"',
     'indicator = "lms_thcs"\nschool_year = "2023-2025"',
     "targets.toml: lms_thcs: năm học '2023-2025' không đúng dạng 2023-2024"),
    ("targets.toml", "value = 0.40\nnear = 0.35", "value = 0.40\nnear = 0.45",
     "targets.toml: tin_hoc_quoc_te: cần 0 ≤ near ≤ value ≤ 1 (near = 0.45, value = 0.4)"),
    ("targets.toml", 'clause = "II.9"\nbasis = "ke_hoach"', 'clause = "II.9"\nbasis = "so_giao"',
     "targets.toml: lms_thcs: basis 'so_giao' không hợp lệ; chỉ được dùng ['ke_hoach', 'phong_de_xuat']"),
    ("targets.toml", None, _target("lms_thpt"), "targets.toml: lms_thpt: chỉ số không có trong indicators.toml"),
    ("targets.toml", None, _target("lms_thcs", '["TH"]'),
     "targets.toml: lms_thcs: cấp TH không thuộc các cấp của chỉ số ['THCS']"),
    ("targets.toml", None, _target("lms_thcs"),
     "targets.toml: lms_thcs: chỉ tiêu trùng cho năm học 2023-2024, cấp THCS"),
    ("criteria.csv", "DH,DH3.1,DH3,", "DH,DH3.1,DH9,",
     "criteria.csv: DH3.1: tiêu chí cha 'DH9' không tồn tại"),
    ("criteria.csv", ",6,false,false,entered,,,,high,", ",6 điểm,false,false,entered,,,,high,",
     "criteria.csv: DH3.1: max_points '6 điểm' không phải là số"),
    ("criteria.csv", ",6,false,false,entered,,,,high,", ",7,false,false,entered,,,,high,",
     "criteria.csv: DH3: tổng điểm tối đa của các tiêu chí con là 31, khác 30"),
    ("criteria.csv", ",6,false,false,entered,,,,high,", ",6,false,false,manual,,,,high,",
     "criteria.csv: DH3.1: rule 'manual' không hợp lệ; chỉ được dùng "
     "['group', 'sum', 'condition', 'entered', 'info', 'placeholder']"),
    ("criteria.csv", ",6,false,false,entered,,,,high,", ",6,no,false,entered,,,,high,",
     "criteria.csv: DH3.1: cột mandatory phải là true hoặc false (gặp 'no')"),
    ("criteria.csv", "ratio,phong_hoc_trinh_chieu,phong_hoc,", "ratio,phong_hoc_trinh_chieu,phong_hoc_x,",
     "criteria.csv: DH7.1: denominator_field 'phong_hoc_x' không có trong fields.toml"),
    ("criteria.csv", ",0,true,false,condition,,,,high,", ",0,true,false,entered,,,,high,",
     "criteria.csv: DH1: tiêu chí bắt buộc phải có rule 'condition' và 0 điểm"),
    ("index.toml", "level2_from = 50", "level2_from = 80", "index.toml: bands: level2_from phải nhỏ hơn level2_to"),
    ("index.toml", 'combine_groups = "min"', 'combine_groups = "average"',
     "index.toml: rules.combine_groups: giá trị 'average' không hợp lệ; chỉ được dùng ['min', 'dh', 'qt']"),
    ("index.toml", 'precedence = ["verified", "self", "computed"]', 'precedence = ["verified", "guess"]',
     "index.toml: rules.precedence: nguồn điểm ['guess'] không hợp lệ; chỉ được dùng "
     "['verified', 'self', 'computed']"),
]


@pytest.mark.parametrize("file, old, new, expected", CASES,
                         ids=[f"{c[0]}:{(c[3] or 'syntax').split(': ', 2)[-1][:40]}" for c in CASES])
def test_one_mutation_one_message(tmp_path, file, old, new, expected):
    d = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, d)
    text = (d / file).read_text(encoding="utf-8")
    if old is None:
        text += new
    else:
        assert old in text, "the fixture no longer contains the text this case mutates"
        text = text.replace(old, new, 1)
    (d / file).write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        load_catalog(d)
    if expected is None:
        assert len(e.value.problems) == 1 and e.value.problems[0].startswith(f"{file}: -: sai cú pháp TOML")
    else:
        assert e.value.problems == [expected]
    assert str(e.value).startswith("Danh mục không hợp lệ (1 lỗi):")


def test_every_problem_is_listed_at_once(tmp_path):
    d = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, d)
    f = d / "fields.toml"
    f.write_text(f.read_text(encoding="utf-8").replace('kind = "count"', 'kind = "integer"'), encoding="utf-8")
    t = d / "targets.toml"
    t.write_text(t.read_text(encoding="utf-8").replace('basis = "ke_hoach"', 'basis = "x"'), encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        load_catalog(d)
    files = {p.split(":")[0] for p in e.value.problems}
    assert files == {"fields.toml", "targets.toml"}
    assert len(e.value.problems) > 20
