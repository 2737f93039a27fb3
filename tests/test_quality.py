"""Chất lượng số liệu (kpi.domain.quality): outliers against the district's distribution, per field counts."""

import pandas as pd

from kpi.catalog.model import default_catalog
from kpi.domain import quality

CAT = default_catalog()


def _values(shares, pupils=1000):
    rows = []
    for i, s in enumerate(shares):
        sid = f"TH{i:03d}"
        rows += [(sid, f"Trường {i}", "TH", "hs_tong", float(pupils)),
                 (sid, f"Trường {i}", "TH", "hs_tin_quoc_te", float(round(pupils * s))),
                 (sid, f"Trường {i}", "TH", "mon_hoc", 11.0), (sid, f"Trường {i}", "TH", "co_lms", 1.0)]
    return pd.DataFrame(rows, columns=["school_id", "name", "level", "field_code", "value"])


def test_a_planted_outlier_is_found_and_a_clean_district_has_none():
    clean = _values([0.30, 0.32, 0.35, 0.28, 0.31, 0.33])
    assert quality.outliers(clean, CAT).empty  # mon_hoc alike everywhere, yes/no fields never outliers
    planted = _values([0.30, 0.32, 0.35, 0.28, 0.31, 0.95])
    far = quality.outliers(planted, CAT)
    assert list(zip(far["school_id"], far["field_code"], far["is_share"])) == [("TH005", "hs_tin_quoc_te", True)]
    table = quality.outlier_table(far, CAT)
    assert table.iloc[0]["Của trường"] == "95%" and table.iloc[0]["So sánh theo"] == "tỉ lệ trên mẫu số"
    assert quality.outliers(planted.iloc[:16], CAT).empty  # fewer than MIN_N schools: nothing is judged


def test_field_table_counts_reported_flagged_and_explained():
    values = _values([0.3, 0.3, 0.3, 0.3, 0.3, 0.95]).query("not (school_id == 'TH001' and field_code == 'mon_hoc')")
    flagged = pd.DataFrame({"school_id": ["TH000", "TH002"], "state": ["da_nop", "da_duyet"],
                            "field_code": ["mon_hoc", "mon_hoc"], "value": [16.0, 16.0],
                            "flags": ["bien_dong_lon", "bien_dong_lon"], "explanation": ["Thêm môn", None]})
    t = quality.field_table(values, flagged, {"TH": 7}, CAT).set_index("Chỉ tiêu thống kê")
    row = t.loc[CAT.fields["mon_hoc"].label_vi]
    assert (row["Phải báo cáo"], row["Đã báo cáo"], row["Bị cảnh báo"], row["Đã giải thích"]) == (7, 5, 2, 1)
    assert t.loc[CAT.fields["hs_tin_quoc_te"].label_vi, "Bất thường"] == 1
    assert CAT.fields["lms_thcs" if "lms_thcs" in CAT.fields else "day_hoc_ket_hop_lms"].label_vi not in t.index
