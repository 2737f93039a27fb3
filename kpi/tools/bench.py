"""`python -m kpi bench`: how fast every page, an import and a meeting pack are, at a given scale.

For each page: server time of a full page run through Streamlit's AppTest, cold (caches cleared)
and warm (rerun), median and p95; the DuckDB time of the same page's queries alone (the floor)
and the ratio; a naive baseline in the same run (the page's core figures with pandas on the raw
observations loaded into memory, as many dashboards do) and the ratio. Then the import of a
1.000-row file, a full district meeting pack (PPTX), and peak memory with 20 sessions open.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from kpi.catalog.model import default_catalog
from kpi.common.formatting import fmt_int, fmt_number
from kpi.exports import export
from kpi.imports import importer
from kpi.store import db, derived, queries
from kpi.tools import import_bench
from kpi.tools.sample import build_sample

BENCH_DIR = db.ROOT / "data" / "bench"

TARGETS = {
    "district_warm_ms": 150, "national_cold_ms": 1500, "national_warm_ms": 300, "floor_ratio": 3.0,
    "baseline_ratio": 5.0, "import_s": 5.0, "pack_s": 15.0, "memory_mb": 1024,
}


def _q(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


def bench_db(schools: int, years: int) -> Path:
    """The benchmark database of that size (built once, reused)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"bench-{schools}-{years}.duckdb"
    if not path.exists():
        t = time.perf_counter()
        build_sample(path, schools=schools, years=years, seed=7)
        print(f"  tạo cơ sở dữ liệu {path.name}: {fmt_number(time.perf_counter() - t, 1)} s", file=sys.stderr)
    db.upgrade(path)  # a file built by an older version
    con = db.connect(path)
    try:
        current = derived.stored_valid(queries.meta(con), default_catalog())
    finally:
        con.close()
    if not current:  # a file from an older version, or the rules changed: as `python -m kpi rescore`
        t = time.perf_counter()
        derived.rescore(path, default_catalog())
        print(f"  chấm lại chỉ số CĐS: {fmt_number(time.perf_counter() - t, 1)} s", file=sys.stderr)
    return path


def _floor_ms(path: Path, recorded: list, repeat: int = 3) -> float:
    """DuckDB alone: replay the page's queries on a fresh connection; best of `repeat`."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()  # opening the file is DuckDB work a cold page does too
        con = db.connect(path)
        for name, params, tables, source, views in recorded:
            queries.run(con, name, params, tables, source, views)
        best = min(best, (time.perf_counter() - t) * 1000)
        con.close()
    return best


def _naive_ms(path: Path, school_year: str, round: str) -> tuple[float, float]:
    """The naive way: every observation loaded into pandas (once), then the pooled district
    figures computed in pandas. Returns (load ms, compute ms)."""
    cat = default_catalog()
    con = db.connect(path)
    t = time.perf_counter()
    obs = con.execute("SELECT * FROM observations").df()
    schools = con.execute("SELECT school_id, level FROM schools").df()
    load = (time.perf_counter() - t) * 1000
    con.close()
    t = time.perf_counter()
    p = obs[(obs["school_year"] == school_year) & (obs["round"] == round)]
    wide = p.pivot_table(index="school_id", columns="field_code", values="value", aggfunc="first")
    wide = wide.join(schools.set_index("school_id"), how="right")
    for ind in cat.indicators.values():
        num = wide[ind.numerator] if ind.numerator in wide else pd.Series(dtype=float)
        den = (num.notna().astype(float).where(num.notna()) if ind.kind == "bool"
               else wide.get(ind.denominator, pd.Series(dtype=float)))
        ok = num.notna() & den.notna() & (den > 0)
        frame = pd.DataFrame({"level": wide["level"], "num": num, "den": den})[ok]
        frame.groupby("level")[["num", "den"]].sum()
    return load, (time.perf_counter() - t) * 1000


def _import_s(path: Path, rows: int = 1000) -> tuple[float, int]:
    """Import a CSV of `rows` school rows into a copy of the database; seconds and rows."""
    copy = path.with_name(path.stem + "-import.duckdb")
    copy.write_bytes(path.read_bytes())
    con = db.connect(copy)
    pairs = con.execute("""SELECT s.school_id, p.school_year, p.round FROM schools s CROSS JOIN periods p
                           ORDER BY p.school_year DESC, p.round, s.school_id LIMIT ?""", [rows]).fetchall()
    con.close()
    head = "Mã trường,Năm học,Kỳ,Tổng số học sinh (trẻ),Tổng số giáo viên,Tổng số cán bộ quản lý và giáo viên"
    lines = [head] + [f"{s},{y},{r},{500 + i % 400},{30 + i % 20},{34 + i % 20}" for i, (s, y, r) in enumerate(pairs)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    t = time.perf_counter()
    importer.import_file(copy, "bench.csv", data, "bench")
    took = time.perf_counter() - t
    for f in (copy, Path(str(copy) + ".lock")):
        f.unlink(missing_ok=True)
    return took, len(pairs)


def _pack_s(path: Path) -> dict[str, float]:
    """Seconds for the district meeting pack (kpi.exports.export.pack_timings: each format alone and all
    five at once from a cold chart cache, then all five again warm), the renderer started first
    (the Báo cáo page starts it when it opens; its start is reported apart)."""
    con = db.connect(path)
    try:
        return export.pack_timings(con)
    finally:
        con.close()


def page_specs(path: Path) -> list[tuple[str, str, str, dict, dict]]:
    """(label, page, user, query params, widget state) of every page and of the tabs that do work
    of their own (a hidden tab does not run, so each open tab is a page run of its own)."""
    con = db.connect(path)
    th = con.execute("SELECT school_id FROM schools WHERE level = 'TH' ORDER BY 1 LIMIT 1").fetchall()[0][0]
    principal = con.execute("SELECT user_name FROM users WHERE role = 'hieu_truong' AND school_id LIKE 'TH%' "
                            "ORDER BY 1 LIMIT 1").fetchall()[0][0]
    con.close()
    period = {"nam_hoc": "2023-2024", "ky": "CN"}
    target = {**period, "chi_tieu": "tin_hoc_quoc_te"}
    index = {"nam_hoc": "2023-2024"}
    return [
        ("Tổng quan", "tong_quan", "lanhdao", period, {}),
        ("Chỉ tiêu", "chi_tieu", "lanhdao", target, {}),
        ("Chỉ tiêu · bảng các trường", "chi_tieu", "lanhdao", target, {"ct_tab": "Bảng"}),
        ("So sánh", "so_sanh", "lanhdao", {}, {}),
        ("Chỉ số CĐS", "chi_so", "lanhdao", index, {}),
        ("Chỉ số CĐS · bản đồ nhiệt", "chi_so", "lanhdao", index, {"cs_tab": "Bản đồ nhiệt"}),
        ("Chỉ số CĐS · điểm mất", "chi_so", "lanhdao", index, {"cs_tab": "Điểm mất nhiều nhất"}),
        ("Chỉ số CĐS · thẩm định", "chi_so", "lanhdao", index, {"cs_tab": "Tự đánh giá và thẩm định"}),
        ("Chỉ số CĐS · lộ trình", "chi_so", "lanhdao", {**index, "cs_truong": th}, {"cs_tab": "Lộ trình lên mức"}),
        ("Trường (lãnh đạo)", "truong", "lanhdao", {**period, "truong": th}, {}),
        ("Trường (hiệu trưởng)", "truong", principal, period, {}),
        ("Dữ liệu", "du_lieu", "chuyenvien", period, {}),
        ("Báo cáo", "bao_cao", "chuyenvien", period, {}),
    ]


def run_bench(schools: int, years: int, quick: bool = False) -> dict:
    """Run everything at one scale; return the figures (also what --json writes)."""
    os.environ.setdefault("KPI_SECRET", "bench")
    path = bench_db(schools, years)
    os.environ["KPI_DB"] = str(path)
    cold_runs, warm_runs = (2, 3) if quick else (3, 5)
    load_ms, naive_ms = _naive_ms(path, "2023-2024", "CN")
    result = {"schools": schools, "years": years, "machine": _machine(), "at": dt.datetime.now().isoformat(),
              "naive_load_ms": load_ms, "naive_compute_ms": naive_ms, "pages": []}
    specs = page_specs(path)
    timed = _pages_bench("times", specs, cold_runs, warm_runs)
    for (label, page, user, params, state), r in zip(specs, timed):
        floor = _floor_ms(path, r["queries"])
        cold, warm = statistics.median(r["cold_ms"]), statistics.median(r["warm_ms"])
        result["pages"].append({
            "page": label, "cold_median_ms": cold, "cold_p95_ms": _q(r["cold_ms"], 0.95),
            "warm_median_ms": warm, "warm_p95_ms": _q(r["warm_ms"], 0.95), "queries": len(r["queries"]),
            "floor_ms": floor, "page_over_floor": cold / floor if floor else None,
            "baseline_over_page": (load_ms + naive_ms) / cold if cold else None,
        })
        print(f"  {label}: lạnh {cold:.0f} ms, ấm {warm:.0f} ms, DuckDB {floor:.0f} ms", file=sys.stderr)
    took, n = _import_s(path, 1000)
    result["import_s"], result["import_rows"] = took, n
    result["import_limits"] = import_bench.bench_limits(bench_db(53, 3))  # hostile files, each in a fresh process
    district = bench_db(53, 3)
    timings = json.loads(_in_subprocess(f"import json; print(json.dumps(bench._pack_s(Path({str(district)!r}))))"))
    result["pack"] = timings
    result["renderer_start_s"], result["pack_s"] = timings["renderer_start"], timings["all"]
    # a fresh process, as an app server would be: the pandas baseline above loads every row
    result["memory_mb_20_sessions"] = _pages_bench("memory", specs, 20)["peak_rss_mb"]
    result["targets"] = _verdicts(result)
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pages_bench(mode: str, specs: list, *numbers: int):
    """Run pages/_bench.py (the Streamlit side: AppTest page runs) in a fresh process on the same
    database and key; return what it measured."""
    import pickle
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        spec_file, out_file = Path(d) / "specs.pickle", Path(d) / "out.pickle"
        spec_file.write_bytes(pickle.dumps(specs))
        subprocess.run([sys.executable, "-m", "pages._bench", mode, str(spec_file), str(out_file),
                        *map(str, numbers)], check=True, cwd=db.ROOT,
                       env=dict(os.environ, STREAMLIT_LOGGER_LEVEL="error"))  # AppTest's warnings are noise here
        return pickle.loads(out_file.read_bytes())


def _limits_line(lim: dict) -> str:
    files = lim["files"]
    quick = [f for f in files if (f.get("target_seconds") or lim["target_seconds"]) <= lim["target_seconds"]]
    slow = [f for f in files if f not in quick]  # the largest file the limits let in: read whole, own limit
    worst_s = max((f["seconds"] or 0 for f in quick), default=0)
    worst_mb = max(f.get("peak_mb") or 0 for f in files)
    refused = [f for f in files if f["expected_refused"]]
    line = (f"- tệp nhập độc hại hoặc quá cỡ: {sum(f['ok'] for f in files)}/{len(files)} đúng như mong đợi "
            f"({len(refused)} tệp bị từ chối); lâu nhất {fmt_number(worst_s, 2)} s (giới hạn "
            f"{fmt_number(lim['target_seconds'])} s), bộ nhớ đỉnh của tiến trình {fmt_int(worst_mb)} MB (giới hạn "
            f"{fmt_int(lim['target_mb'])} MB)")
    for f in slow:
        line += (f"; tệp lớn nhất được đọc hết ({f['name']}): {fmt_number(f['seconds'] or 0, 2)} s (giới hạn "
                 f"{fmt_number(f['target_seconds'])} s)")
    return line


def _in_subprocess(code: str) -> str:
    """Run a snippet in a fresh Python (same database, same key); return its last output line."""
    import subprocess

    prelude = ("import resource, sys; from pathlib import Path; "
               f"sys.path.insert(0, {str(db.ROOT)!r}); from kpi.tools import bench; ")
    out = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, check=True,
                         env=dict(os.environ), cwd=db.ROOT)
    return out.stdout.strip().splitlines()[-1]


def _machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} lõi, Python {platform.python_version()}, {platform.system()}"


def _verdicts(r: dict) -> dict:
    national = r["schools"] >= 10000
    pages = r["pages"]
    out = {}
    if national:
        out["mọi trang ≤ 1,5 s khi lạnh"] = max(p["cold_median_ms"] for p in pages) <= TARGETS["national_cold_ms"]
        out["mọi trang ≤ 300 ms khi ấm"] = max(p["warm_median_ms"] for p in pages) <= TARGETS["national_warm_ms"]
        out["trang ≤ 3× thời gian truy vấn"] = max(p["page_over_floor"] or 0 for p in pages) <= TARGETS["floor_ratio"]
        out["nhanh ≥ 5× cách làm pandas"] = (min(p["baseline_over_page"] or 0 for p in pages)
                                             >= TARGETS["baseline_ratio"])
        out["bộ nhớ ≤ 1 GB với 20 phiên"] = r["memory_mb_20_sessions"] <= TARGETS["memory_mb"]
    else:
        out["mọi trang ≤ 150 ms khi ấm"] = max(p["warm_median_ms"] for p in pages) <= TARGETS["district_warm_ms"]
    out["nhập 1.000 dòng ≤ 5 s"] = r["import_s"] <= TARGETS["import_s"]
    out["bộ báo cáo họp ≤ 15 s"] = r["pack_s"] <= TARGETS["pack_s"]
    if "import_limits" in r:
        out["tệp quá cỡ bị từ chối ≤ 2 s, ≤ 200 MB"] = r["import_limits"]["ok"]
    return out


def report(r: dict) -> str:
    """The figures as a Markdown table (what the README quotes), numbers the Vietnamese way."""
    ms = lambda v: f"{fmt_int(v)} ms"  # noqa: E731
    x = lambda v: "—" if v is None else f"{fmt_number(v)}×"  # noqa: E731
    lines = [f"Quy mô: {fmt_int(r['schools'])} trường × {r['years']} năm học · máy: {r['machine']} · "
             f"{r['at'][:10]}", "",
             "| trang | lạnh (trung vị / p95) | ấm (trung vị / p95) | chỉ DuckDB | trang / DuckDB | pandas / trang |",
             "|---|---|---|---|---|---|"]
    for p in r["pages"]:
        lines.append(f"| {p['page']} | {ms(p['cold_median_ms'])} / {ms(p['cold_p95_ms'])} | "
                     f"{ms(p['warm_median_ms'])} / {ms(p['warm_p95_ms'])} | {ms(p['floor_ms'])} | "
                     f"{x(p['page_over_floor'])} | {x(p['baseline_over_page'])} |")
    lines += ["",
              f"- pandas (cách làm ngây thơ): nạp mọi số liệu {ms(r['naive_load_ms'])}, "
              f"tính {ms(r['naive_compute_ms'])}",
              f"- nhập tệp {fmt_int(r['import_rows'])} dòng: {fmt_number(r['import_s'])} s",
              f"- bộ báo cáo họp cấp quận, cả năm định dạng: {fmt_number(r['pack_s'])} s lần đầu, "
              f"{fmt_number(r.get('pack', {}).get('all_warm', 0))} s lần sau (từng định dạng lần đầu: "
              + ", ".join(f"{f.upper()} {fmt_number(r.get('pack', {}).get(f, 0))} s"
                          for f in ("pptx", "pdf", "xlsx", "html", "png")) +
              f"; khởi động trình vẽ biểu đồ, một lần khi mở trang Báo cáo: "
              f"{fmt_number(r.get('renderer_start_s', 0))} s)",
              *([_limits_line(r["import_limits"])] if "import_limits" in r else []),
              f"- bộ nhớ đỉnh với 20 phiên mở (mọi trang và thẻ, hai năm học): "
              f"{fmt_int(r['memory_mb_20_sessions'])} MB", ""]
    lines += [f"- {k}: {'đạt' if v else 'CHƯA ĐẠT'}" for k, v in r["targets"].items()]
    return "\n".join(lines)
