"""The supervisor of `kpi serve` and its chart renderer live as long as the server and count in its memory
(issue 29: every process of the server ≤ 1,5 GB nationally): they import neither DuckDB nor pandas nor
pyarrow (they held about 100 MB each with them); the file's checks before a start run in a child."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kpi.serving import supervise
from tests.conftest import ROOT

HEAVY = ("duckdb", "pandas", "pyarrow", "numpy", "streamlit")


def _loaded_after(code: str, names: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of `names` a fresh interpreter holds after running `code`."""
    out = subprocess.run([sys.executable, "-c", code + f"\nimport json, sys; print(json.dumps([m for m in {names!r} "
                          "if m in sys.modules]))"], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("entry", [
    "import sys; sys.argv = ['kpi', 'serve']; import kpi.serving.command, kpi.serving.serve",
    "import runpy, sys; sys.argv = ['kpi', 'serve', '--help']\ntry: runpy.run_module('kpi', run_name='__main__')\n"
    "except SystemExit: pass",
    "import kpi.exports.renderer",
])
def test_the_supervisor_and_the_renderer_import_no_heavy_library(entry):
    assert _loaded_after(entry) == []


def test_the_check_catches_a_heavy_import():
    """Planted: the command line's other commands (kpi.cli) bring every one of them."""
    assert set(_loaded_after("import kpi.cli")) >= {"duckdb", "pandas", "pyarrow"}


def _answer():
    return {"value": 42}


def _refuse():
    raise ValueError("Tệp hỏng: không đọc được")


def test_in_child_returns_what_the_child_returned_and_its_refusal():
    assert supervise.in_child(_answer) == {"value": 42}
    with pytest.raises(RuntimeError, match="Tệp hỏng: không đọc được"):
        supervise.in_child(_refuse)


def test_what_the_child_imports_stays_in_the_child():
    code = ("from kpi.serving import supervise\n"
            "def answer():\n    import duckdb, pandas\n    return len(pandas.DataFrame({'a': [1, 2]}))\n"
            "assert supervise.in_child(answer) == 2")
    assert _loaded_after(code) == []


WRITERS = ("fpdf", "pptx", "openpyxl")  # the pack's and the scorecard's writers, the workbook reader: 29 MB a worker

PAGES_IMPORTS = """
import ast, importlib, os
import pages._data, pages._media, pages._web, pages._frame
for f in sorted(os.listdir("pages")):  # every page's own imports, as its first run makes them
    if f.endswith(".py") and not f.startswith("_"):
        for node in ast.parse(open(os.path.join("pages", f), encoding="utf-8").read()).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                importlib.import_module(node.module)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    importlib.import_module(a.name)
"""


def test_a_worker_loads_the_writers_only_when_it_writes():
    """A worker that never writes a pack, prints a scorecard or reads a workbook holds none of their libraries
    (issue 29: the server's memory); planted: the pack's own module brings them when it writes."""
    assert _loaded_after(PAGES_IMPORTS, WRITERS) == []
    wrote = PAGES_IMPORTS + """
from kpi.exports import export
from kpi.imports import import_read
for write in (export.to_pdf, export.to_pptx):
    try:
        write()  # the writer's module loads, then the call fails for want of a pack
    except TypeError:
        pass
import_read._sheet_xml()
"""
    assert _loaded_after(wrote, WRITERS) == list(WRITERS)


def test_a_worker_looks_at_streamlits_config_files_once_a_minute_not_five_times_a_second(tmp_path):
    """Issue 29: Streamlit polls its config and secrets files every 0,2 s whatever server.fileWatcherType says
    (1,5-2,1% of a worker's CPU under the national load); the app (dashboard.py, as a worker imports it) makes it a
    minute. A missing file watched for a second is hashed once (when the watch starts), not five more times.
    Planted: the same watch before the app is imported."""
    code = f"""
import sys, time
from streamlit.watcher import util
from streamlit.watcher import path_watcher, polling_path_watcher
calls = []
real = util.calc_hash_with_blocking_retries
util.calc_hash_with_blocking_retries = lambda *a, **k: calls.append(1) or real(*a, **k)
if sys.argv[1] == "app":
    import dashboard  # noqa: F401
path_watcher.watch_file({str(tmp_path / "config.toml")!r}, lambda p: None, watcher_type="poll",
                        allow_nonexistent=True)
time.sleep(1.1)
print(len(calls))
"""
    def hashes(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", code, mode], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        return int(out.stdout.strip().splitlines()[-1])

    assert hashes("app") == 1
    assert hashes("plain") >= 4  # planted: Streamlit's own period
