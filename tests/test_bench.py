"""The benchmark's own pieces (the numbers themselves come from `python -m kpi bench`, not tests)."""

import importlib

from kpi.tools import bench


def test_page_timing_records_queries_and_floor(sample_db):
    pages_bench = importlib.import_module("pages._bench")
    r = pages_bench.time_page("tong_quan", "lanhdao", {"nam_hoc": "2023-2024", "ky": "CN"}, 1, 1)
    names = [q[0] for q in r["queries"]]
    assert "district_summary" in names and "maturity_counts@stored" in names
    assert len(r["cold_ms"]) == 1 and len(r["warm_ms"]) == 1
    assert bench._floor_ms(sample_db, r["queries"], repeat=1) > 0


def test_import_timing_and_report(sample_db):
    took, rows = bench._import_s(sample_db, 100)
    assert rows == 100 and took > 0
    load, compute = bench._naive_ms(sample_db, "2023-2024", "CN")
    r = {"schools": 53, "years": 3, "machine": "x", "at": "2026-11-29T05:00", "naive_load_ms": load,
         "naive_compute_ms": compute, "import_s": took, "import_rows": rows, "pack_s": 12.0,
         "memory_mb_20_sessions": 300.0,
         "pages": [{"page": "Tổng quan", "cold_median_ms": 300, "cold_p95_ms": 320, "warm_median_ms": 90,
                    "warm_p95_ms": 120, "queries": 12, "floor_ms": 30, "page_over_floor": 10.0,
                    "baseline_over_page": 0.5}]}
    r["targets"] = bench._verdicts(r)
    text = bench.report(r)
    assert "| Tổng quan | 300 ms / 320 ms | 90 ms / 120 ms | 30 ms | 10× | 0,5× |" in text
    assert "- mọi trang ≤ 150 ms khi ấm: đạt" in text and "- bộ báo cáo họp ≤ 15 s: đạt" in text
