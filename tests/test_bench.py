"""The benchmark's own pieces (the numbers themselves come from `python -m kpi bench`, not tests)."""

import contextlib
import importlib
import os
import subprocess
import sys
import time

from kpi.tools import bench, loadbench


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


# ---- the load bench's report (kpi.tools.loadbench): what a person feels, from fabricated runs ----------------

class _Sampled:
    """Stands for loadbench.Sampler after a run."""

    def __init__(self, peak: float):
        self.peak, self.peak_by_kind, self.processes = peak, {"worker": peak}, 5
        self.samples = [(0.0, peak * 0.5, 1.0), (0.5, peak * 0.7, 1.0), (1.0, peak, 1.0), (1.5, peak * 0.6, 1.0)]


def _load_run(first_minute_s: float = 0.3, later_s: float = 0.3, light_s: float = 0.1, login_s: float = 0.2,
              schools: int = 53_000, think=(3, 10), memory_mb: float = 1000.0, cpu_s: float = 20.0,
              slow_first: int = 100):
    """A fabricated load run: 100 runs of Tổng quan in the first minute after health (the first
    `slow_first` of them taking `first_minute_s`, the others `later_s`) and 100 after, 20 of Đổi mật
    khẩu; its summary with the verdicts (as run_load makes them)."""
    t0 = 1_000_000.0
    runs = [("Tổng quan", "lanh_dao", first_minute_s if i < slow_first else later_s, t0 + 0.5 * i)
            for i in range(100)]
    runs += [("Tổng quan", "lanh_dao", later_s, t0 + 60 + 0.5 * i) for i in range(100)]
    runs += [("Đổi mật khẩu", "hieu_truong", light_s, t0 + 5 * i) for i in range(20)]
    res = {"runs": runs, "logins": [login_s] * 10, "index_loads": [0.05] * 10, "errors": []}
    out = loadbench.summarise(res, None, cpu_s, 100.0, 200.0, 120.0, _Sampled(memory_mb), 5.0, t0)
    out.update({"idle_memory_mb": memory_mb * 0.3})
    out.update({"sessions": 60, "seconds": 120, "think": list(think), "workers": 2, "principals": 53, "office": 7,
                "accounts": 60, "schools": schools, "machine": "x", "at": "2026-12-06T18:00",
                "saves": {"lost": 0}})
    out["targets"] = loadbench.verdicts(out)
    return out


def test_load_report_shows_the_first_minute_the_windows_and_the_light_page():
    r = _load_run(first_minute_s=0.9, later_s=0.2)
    assert r["first_minute"]["runs"] == 100 + 12 and r["first_minute"]["p95_s"] == 0.9
    assert r["after_first_minute"]["p95_s"] == 0.2
    assert [w["from_s"] for w in r["windows"]][:5] == [0, 15, 30, 45, 60] and r["windows"][0]["p95_s"] == 0.9
    assert r["windows"][4]["p95_s"] == 0.2
    assert r["light_runs"] == 20 and r["light_p95_s"] == 0.1
    text = loadbench.report(r)
    assert "- phút đầu (từ lúc máy chủ trả lời health, người dùng vào ngay): 112 lượt, p95 0,90 s" in text
    assert "0–15 s 0,90 s" in text and "60–75 s 0,20 s" in text
    assert "- trang nhẹ (Đổi mật khẩu) dưới tải: 20 lượt, p95 0,10 s" in text
    assert "(5 tiến trình; tiến trình Streamlit 1.000 MB)" in text
    assert ("- bộ nhớ trong lượt đo: trung vị 700 MB, lúc kết thúc 600 MB, 10 giây sau khi mọi người dừng 300 MB"
            in text)  # not only the peak
    assert "- quốc gia (issue 29): p95 ≤ 1,5 s trong phút đầu: đạt" in text


def test_a_slow_first_minute_fails_its_line_though_the_whole_run_passes():
    good, slow = _load_run(), _load_run(first_minute_s=3.0, later_s=0.2, slow_first=10)
    assert all(v for k, v in good["targets"].items() if "issue 29" in k), good["targets"]
    assert slow["targets"]["quốc gia (issue 29): p95 ≤ 1,5 s trong phút đầu"] is False
    assert slow["targets"]["phút đầu p95 ≤ 2 s"] is False
    # 10 slow runs of 220: the whole run's p95 alone would not have shown them
    assert slow["p95_s"] == 0.2 and slow["targets"]["quốc gia (issue 29): p95 ≤ 1,5 s cả lượt đo"]


def test_each_issue_29_target_fails_on_its_own_violation():
    national = "quốc gia (issue 29): "
    assert not _load_run(later_s=2.5)["targets"][national + "mọi trang p95 ≤ 2 s"]
    assert not _load_run(cpu_s=40.0)["targets"][national + "CPU ≤ 100 ms mỗi lượt"]  # 40 s / 220 runs = 182 ms
    assert not _load_run(memory_mb=1600)["targets"][national + "mọi tiến trình máy chủ ≤ 1,5 GB (PSS)"]
    rush = "giờ cao điểm (issue 29): "
    kw = {"schools": 53, "think": (1, 3), "cpu_s": 10.0}
    ok = _load_run(**kw)["targets"]
    assert all(v for k, v in ok.items() if "issue 29" in k) and not any(national in k for k in ok), ok
    assert not _load_run(**{**kw, "light_s": 0.8})["targets"][rush + "trang nhẹ (Đổi mật khẩu) p95 ≤ 0,5 s"]
    assert not _load_run(**{**kw, "login_s": 0.8})["targets"][rush + "đăng nhập p95 ≤ 0,5 s"]
    assert not _load_run(**kw, memory_mb=1100)["targets"][rush + "mọi tiến trình máy chủ ≤ 1 GB (PSS)"]
    assert not _load_run(**{**kw, "cpu_s": 20.0})["targets"][rush + "CPU ≤ 60 ms mỗi lượt"]
    assert not any("issue 29" in k for k in _load_run(schools=53)["targets"])  # a district normal day: no such line


def test_the_meeting_pack_under_load_is_judged_from_the_chromium_run():
    """The Chromium's meeting pack (pages._load.meeting_pack): its seconds from the click against 10 s; a
    pack not made at all (timed out) fails its line, never passes as 0 s (the planted, former reading)."""
    line = "bộ báo cáo họp lần đầu, dưới tải, ≤ 10 s từ lúc bấm (issue 29)"

    def judged(pack):
        r = _load_run()
        res = {"runs": [("Tổng quan", "lanh_dao", 0.3, 1.0)], "logins": [0.1], "index_loads": [0.05], "errors": []}
        chrome = {"runs": [], "errors": [], "pack": pack}
        r.update(loadbench.summarise(res, chrome, 1.0, 1.0, 2.0, 10.0, _Sampled(900.0), 0.1),
                 **{k: r[k] for k in ("sessions", "seconds", "think", "workers", "principals", "office", "accounts",
                                      "schools", "machine", "at", "saves")})
        r["targets"] = loadbench.verdicts(r)
        return r

    fast, slow = judged({"seconds": 6.5}), judged({"seconds": 10.8})
    none = judged({"seconds": None, "error": "Timeout"})
    assert fast["targets"][line] is True and slow["targets"][line] is False and none["targets"][line] is False
    assert line not in _load_run()["targets"]  # no Chromium, no pack: no such line
    assert "lần đầu, dưới tải: 6,50 s từ lúc bấm" in loadbench.report(fast)
    assert "dưới tải: không xong (Timeout)" in loadbench.report(none)


def test_server_memory_counts_a_process_that_left_the_tree():
    """A grandchild whose parent exited (reparented away from the server) still counts, by its session;
    the plain descendants' walk (the planted, older way) misses it."""
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                               "p = subprocess.Popen([sys.executable, '-c', 'import os, subprocess, sys, time; "
                               "subprocess.Popen([sys.executable, \"-c\", \"import time; time.sleep(30)\"]); "
                               "time.sleep(30)'], start_new_session=True); "
                               "print(p.pid, flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        leader = int(parent.stdout.readline())
        deadline = time.time() + 10
        while len(loadbench.tree(leader)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        grandchild = [p for p in loadbench.tree(leader) if p != leader][0]
        os.kill(leader, 9)  # the session's leader exits: its child goes to init (or a subreaper)
        time.sleep(0.3)
        assert grandchild not in loadbench.tree(parent.pid)  # the planted way: descendants only
        assert grandchild in loadbench.server_processes(parent.pid)
    finally:
        for p in loadbench.server_processes(parent.pid):
            if p != os.getpid():
                with contextlib.suppress(OSError):
                    os.kill(p, 9)
        parent.wait()
