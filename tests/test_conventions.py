"""House rules that keep the layers apart (STYLE.md)."""

import ast
import re
from pathlib import Path

from kpi.store import db

ROOT = Path(__file__).resolve().parents[1]
PAGE_DEF = re.compile(r'"(\w+)": \("[^"]+", "([^"]+)"\)')  # kpi.common.access.PAGES entries (dashboard.py routes by them)


# DESIGN's named exception: the tools that drive Streamlit for the benches (AppTest page runs, the
# load bench's simulated browsers speaking Streamlit's protocol). Nothing of the product imports them.
DRIVES_STREAMLIT = {"kpi/tools/page_bench.py", "kpi/tools/load_client.py"}

# The writers of the analytics file (DuckDB): their statements live in kpi/sql/write/ (kpi.store.db.statement).
WRITE_DIR = ROOT / "kpi" / "sql" / "write"
WRITERS = ["kpi/store/db.py", "kpi/store/derived.py", "kpi/imports/importer.py", "kpi/imports/parse.py",
           "kpi/imports/problems.py", "kpi/workflows/publication.py", "kpi/workflows/snapshots.py"]
STATEMENT = re.compile(r"^-- @statement (\w+)\n", re.MULTILINE)
INCLUDE = re.compile(r"^-- @include ([\w.]+)$", re.MULTILINE)
NAMED = re.compile(r'statement\(f?"(\w+)(?:\.(\w+))?"')
DML = re.compile(r"\b(SELECT\s[\s\S]*\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|"
                 r"(ALTER|DROP)\s+TABLE|CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+)?TABLE)\s")


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
    included = set(INCLUDE.findall("\n".join(p.read_text(encoding="utf-8") for p in WRITE_DIR.glob("*.sql"))))
    unused = [p.name for p in (ROOT / "kpi" / "sql").glob("*.sql")
              if f'"{p.stem}"' not in sources and f'"{p.name}"' not in sources and p.stem not in included]
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


def statements_of(text: str) -> dict[str | None, str]:
    """A write file's statements: {part: text} for a group (``-- @statement part`` lines), else {None: text}."""
    pieces = STATEMENT.split(text)
    return dict(zip(pieces[1::2], pieces[2::2])) if len(pieces) > 1 else {None: text}


def statement_problems(name: str, text: str) -> list[str]:
    """What breaks the write files' rules: a header saying what the file writes; for each statement a
    comment saying what it writes or reads and a ``-- parameters:`` line naming every ``$name`` and as many
    names as it has ``?`` ("none" when it has no parameter); values bound, never formatted in."""
    problems = [] if text.startswith("-- ") else [f"{name}: no header comment"]
    for part, body in statements_of(text).items():
        where = f"{name}.{part}" if part else name
        lines = body.strip().splitlines()
        comment = [x for x in lines if x.startswith("--") and not x.startswith("-- @")]
        code = "\n".join(x for x in lines if not x.startswith("--"))
        said = " ".join(x[2:].strip() for x in comment)
        if part and not (lines and lines[0].startswith("-- ") and not lines[0].startswith("-- parameters")):
            problems.append(f"{where}: no comment saying what it does")
        if "parameters:" not in said:
            problems.append(f"{where}: no parameters line")
            continue
        params = said.split("parameters:", 1)[1].strip()
        for dollar in sorted(set(re.findall(r"\$(\w+)", code))):
            if f"${dollar}" not in params:
                problems.append(f"{where}: ${dollar} not named in its parameters line")
        if "?" in code and len(params.split(",")) != code.count("?"):
            problems.append(f"{where}: {code.count('?')} '?' but parameters: {params}")
        if "?" not in code and "$" not in code and not INCLUDE.search(body) and params != "none":
            problems.append(f"{where}: no parameter, but its parameters line says {params!r}")
        if re.search(r"[{}]|%s|%\(", code):
            problems.append(f"{where}: a value formatted into the text")
    return problems


def test_every_write_statement_states_what_it_writes_and_binds_its_parameters():
    files = sorted(WRITE_DIR.glob("*.sql"))
    assert files
    assert [p for f in files for p in statement_problems(f.name, f.read_text(encoding="utf-8"))] == []
    # planted: no header; a parameter not named; a '?' too many; a value formatted in; no parameters line
    planted = ("-- kpi.x: writes t.\n\n-- @statement a\n-- Writes t.\n-- parameters: $id\n"
               "DELETE FROM t WHERE id = $id AND y = $year\n\n"
               "-- @statement b\n-- Writes t.\n-- parameters: id\nINSERT INTO t VALUES (?, ?)\n\n"
               "-- @statement c\n-- Writes t.\n-- parameters: none\nDELETE FROM {table}\n\n"
               "-- @statement d\n-- Writes t.\nDELETE FROM t\n")
    assert statement_problems("x.sql", planted) == [
        "x.sql.a: $year not named in its parameters line", "x.sql.b: 2 '?' but parameters: id",
        "x.sql.c: a value formatted into the text", "x.sql.d: no parameters line"]
    assert statement_problems("y.sql", "DELETE FROM t\n") == ["y.sql: no header comment", "y.sql: no parameters line"]


def unused_statements(files: dict[str, str], sources: str) -> list[str]:
    """Write files no module names, and statements named in the sources that no file holds."""
    unused = [f for f in files if f'"{f}"' not in sources and f'"{f}.' not in sources]
    missing = [f"{f}.{part}" if part else f for f, part in NAMED.findall(sources)
               if f not in files or (part and part not in statements_of(files[f]))]
    return unused + missing


def test_every_write_statement_is_used_and_every_one_named_exists():
    files = {p.stem: p.read_text(encoding="utf-8") for p in WRITE_DIR.glob("*.sql")}
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kpi").rglob("*.py"))
    assert unused_statements(files, sources) == []
    # planted: a file nobody names, a part and a file that do not exist
    planted = {**files, "orphan": "-- kpi.x: nothing.\n-- parameters: none\nDELETE FROM t\n"}
    more = sources + '\ndb.statement("meta.nope")\ndb.statement("gone")\n'
    assert unused_statements(planted, more) == ["orphan", "meta.nope", "gone"]


def sql_in_source(text: str) -> list[str]:
    """SQL statements written in a module's source instead of kpi/sql/write/ (the state store's, passed
    to its ``read``, and regular expressions over schema.sql aside)."""
    tree = ast.parse(text)
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr == "read" or (isinstance(node.func.value, ast.Name) and node.func.value.id == "re")):
            skip |= {id(n) for arg in node.args for n in ast.walk(arg)}
    return [node.value.strip()[:60] for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and DML.search(node.value)]


def test_the_writers_hold_no_sql():
    found = {f: sql_in_source((ROOT / f).read_text(encoding="utf-8")) for f in WRITERS}
    assert {f: s for f, s in found.items() if s} == {}
    # planted: a statement with a value formatted in; the state store's statements stay where they are
    planted = ('def f(con, store, x):\n    store.read("SELECT a FROM entries WHERE b = ?", (x,))\n'
               '    con.execute(f"DELETE FROM observations WHERE import_id = {x}")\n')
    assert sql_in_source(planted) == ["DELETE FROM observations WHERE import_id ="]


def test_a_statement_is_its_part_of_the_file():
    text = db.statement("meta.set")
    assert "INSERT OR REPLACE INTO meta VALUES (?, ?)" in text and "UPDATE" not in text
    full = db.statement("index_refresh.insert_points")
    assert full.count("-- @include") == 0 and "INSERT INTO index_points" in full and "WITH" in full
