"""Page timings for `python -m kpi bench`: full page runs through AppTest (the Streamlit side of
the benchmark lives here, so that kpi/ never imports streamlit). kpi.tools.bench runs this module in a
child process and reads its results:

    python -m pages._bench times SPECS.pickle OUT.pickle COLD WARM
    python -m pages._bench memory SPECS.pickle OUT.pickle SESSIONS
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from kpi.admin import auth
from kpi.store import db
from kpi.tools import bench
from kpi.views import cache as views

ROOT = Path(__file__).resolve().parents[1]


def _app(page: str | None, user: str, params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    at.session_state["_kpi_token"] = auth.sessions().issue(user)
    for k, v in params.items():
        at.query_params[k] = v
    return at


def time_page(page: str, user: str, params: dict, cold_runs: int = 3, warm_runs: int = 5,
              state: dict | None = None) -> dict:
    """Server time of full runs of one page: cold (caches cleared) and warm (same session rerun),
    in ms; and the queries the page ran (for timing DuckDB alone). `state`: widget values set
    before the runs (e.g. which tab is open: hidden tabs do not run)."""
    cold, warm, recorded = [], [], []
    for i in range(cold_runs):
        at = _app(page, user, params)
        at.run()  # the frame and its default page first; then the page, cold, is timed
        at.switch_page(f"pages/{page}.py")
        for k, v in (state or {}).items():
            at.session_state[k] = v
        st.cache_data.clear()
        st.cache_resource.clear()
        views.forget_all()
        log = [] if i == 0 else None  # the first cold run notes its queries (kpi.store.queries.Recording)
        t = time.perf_counter()
        views.views_for(db.db_path(), recorder=log)  # the file version the page then finds, built as it would
        at.run()
        cold.append((time.perf_counter() - t) * 1000)
        if i == 0:
            recorded = log
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].message}")
    for _ in range(warm_runs):
        t = time.perf_counter()
        at.run()
        warm.append((time.perf_counter() - t) * 1000)
    return {"cold_ms": cold, "warm_ms": warm, "queries": recorded}


def open_sessions(n: int, specs: list) -> list:
    """`n` sessions kept alive by the caller (for memory), spread over `specs` (kpi.tools.bench.page_specs:
    every page and tab); past the first round each reopens its page on the previous school year, so
    the caches hold what many different users would leave in them."""
    out = []
    for i in range(n):
        _, page, user, params, state = specs[i % len(specs)]
        if i >= len(specs) and "nam_hoc" in params:
            params = {**params, "nam_hoc": "2022-2023"}
        at = _app(page, user, params)
        at.run()
        at.switch_page(f"pages/{page}.py")
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].message}")
        out.append(at)
    return out


def main(argv: list[str]) -> int:
    import pickle


    mode, specs_file, out_file, *numbers = argv
    with open(specs_file, "rb") as f:
        specs = pickle.load(f)
    if mode == "times":
        cold, warm = int(numbers[0]), int(numbers[1])
        out = [time_page(page, user, params, cold, warm, state) for _, page, user, params, state in specs]
    else:
        sessions = open_sessions(int(numbers[0]), specs)
        out = {"peak_rss_mb": bench.peak_rss_mb(), "sessions": len(sessions)}
    with open(out_file, "wb") as f:
        pickle.dump(out, f)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
