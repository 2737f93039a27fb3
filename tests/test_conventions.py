"""House rules that keep the layers apart (STYLE.md)."""

import ast
import re
from pathlib import Path

from kpi.store import state

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


# ---- the state store's SQL (kpi/sql/state/): schema by version, named statements, bound values --------

STATE_SQL = ROOT / "kpi" / "sql" / "state"
STATE_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", (STATE_SQL / "schema.sql").read_text("utf-8")))
# state-store SQL still written in Python by modules another change owns (kpi.imports.importer's
# reads of the entries and locks, kpi.workflows.snapshots' read of the submissions): to move to
# kpi/sql/state with those modules
STATE_SQL_ELSEWHERE = {"kpi/imports/importer.py", "kpi/workflows/snapshots.py"}


def _state_statements() -> dict[str, str]:
    """'group.name' → text of every named statement of kpi/sql/state/*.sql (schema.sql is a script)."""
    return {f"{p.stem}.{name}": text for p in sorted(STATE_SQL.glob("*.sql")) if p.stem != "schema"
            for name, text in state.statements(p.stem).items()}


def _unused_statements(statements: dict[str, str], sources: str) -> list[str]:
    return [name for name in statements if f'"{name}"' not in sources]


def _statement_problems(name: str, text: str) -> list[str]:
    """What breaks the convention in one statement: a header comment stating what it reads or
    changes, then 'Parameters:' naming every named parameter; values bound (named), never spliced."""
    lines = text.splitlines()
    header = [ln for ln in lines if ln.startswith("--")]
    body = "\n".join(ln for ln in lines if not ln.startswith("--"))
    body_no_strings = re.sub(r"'[^']*'", "''", body)
    params = set(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", body_no_strings))
    documented = " ".join(ln for ln in header if "Parameters:" in ln or ln.startswith("-- :"))
    problems = []
    if not lines or not lines[0].startswith("-- ") or "Parameters:" in lines[0]:
        problems.append(f"{name}: no header comment stating what it reads or changes")
    if params and "Parameters:" not in documented:
        problems.append(f"{name}: no 'Parameters:' line")
    problems += [f"{name}: parameter :{p} not named in its header" for p in sorted(params)
                 if f":{p}" not in documented]
    if re.search(r"\?|\{|\}|%s|%\(", body_no_strings):
        problems.append(f"{name}: a value not bound as a named parameter (?, {{}} or %s)")
    if body.count(";") > 1 or not body.strip():
        problems.append(f"{name}: not exactly one statement")
    return problems


def _state_sql_in_python(path: str, source: str) -> list[str]:
    """String literals of a module that run SQL on a state-store table (they belong in kpi/sql/state)."""
    tables = "|".join(sorted(STATE_TABLES))
    pattern = re.compile(rf"\b(FROM|INTO|UPDATE|JOIN|TABLE(?: IF NOT EXISTS)?)\s+({tables})\b")
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.search(node.value):
            out.append(f"{path}:{node.lineno}: {node.value.strip()[:60]}")
    return out


def test_every_state_statement_is_used():
    statements = _state_statements()
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kpi").rglob("*.py"))
    assert len(statements) > 50 and _unused_statements(statements, sources) == []
    # planted: a statement nothing runs any more is named
    assert _unused_statements(statements, sources.replace('"sessions.touch"', '"x"')) == ["sessions.touch"]


def test_every_state_statement_states_what_it_does_and_binds_its_values():
    statements = _state_statements()
    assert [p for name, text in statements.items() for p in _statement_problems(name, text)] == []
    for p in STATE_SQL.glob("*.sql"):
        assert p.read_text(encoding="utf-8").startswith("-- "), p.name
    # planted: each way of breaking it is caught
    good = statements["sessions.revoke"]
    bare = "\n".join(ln for ln in good.splitlines() if not ln.startswith("--"))
    assert _statement_problems("x", good) == []
    assert _statement_problems("x", bare) == ["x: no header comment stating what it reads or changes",
                                              "x: no 'Parameters:' line", "x: parameter :now not named in its header",
                                              "x: parameter :reason not named in its header",
                                              "x: parameter :session_id not named in its header"]
    assert _statement_problems("x", good.replace("reason = :reason", "reason = :why")) == [
        "x: parameter :why not named in its header"]
    spliced = "x: a value not bound as a named parameter (?, {} or %s)"
    assert _statement_problems("x", good.replace("= :reason", "= ?")) == [spliced]
    assert _statement_problems("x", good.replace("= :reason", "= '{}'".format("{reason}"))) == []  # text in a string
    assert _statement_problems("x", good.replace("= :reason", "= {reason}")) == [spliced]  # str.format
    assert _statement_problems("x", good + "\nDELETE FROM sessions;") == ["x: not exactly one statement"]


def test_no_state_store_sql_outside_its_files():
    offenders = []
    for path in sorted((ROOT / "kpi").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel not in STATE_SQL_ELSEWHERE:
            offenders += _state_sql_in_python(rel, path.read_text(encoding="utf-8"))
    assert offenders == []
    # planted: a statement written in Python again is found, with its place
    planted = 'def f(store):\n    return store.read("SELECT value FROM counters WHERE name = ?", ("x",))\n'
    assert _state_sql_in_python("m.py", planted) == ["m.py:2: SELECT value FROM counters WHERE name = ?"]
    assert _state_sql_in_python("m.py", 'q = "SELECT 1 FROM observations"') == []  # the analytics file's: not here


def test_state_schema_upgrades_in_place():
    """Every table and index of the state store is created IF NOT EXISTS (an older store gains what
    it lacks, two processes may upgrade at once), its sections are the versions 1..SCHEMA_VERSION."""
    def problems(text: str) -> list[str]:
        out = [s.strip()[:40] for s in re.findall(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX)\s+(?!IF NOT EXISTS)\w+", text)]
        versions = [int(v) for v in re.findall(r"^-- version (\d+):", text, re.MULTILINE)]
        if versions != list(range(1, state.SCHEMA_VERSION + 1)):
            out.append(f"versions {versions}")
        return out

    text = state.schema()
    assert problems(text) == [] and state._TABLES == STATE_TABLES
    assert problems(text.replace("CREATE TABLE IF NOT EXISTS audit", "CREATE TABLE audit")) == ["CREATE TABLE audit"]
    assert problems(text.replace("-- version 5:", "-- v5:")) == ["versions [1, 2, 3, 4]"]
