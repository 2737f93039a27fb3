"""House rules that keep the layers apart (STYLE.md)."""

import ast
import re
import tomllib
from pathlib import Path

from kpi.store import db, state, state_base

ROOT = Path(__file__).resolve().parents[1]
# kpi.common.access.PAGES entries (dashboard.py routes by them)
PAGE_DEF = re.compile(r'"(\w+)": \("[^"]+", "([^"]+)"\)')


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
    # the pages table dashboard.py routes by
    router = (ROOT / "kpi" / "common" / "access.py").read_text(encoding="utf-8")
    registered = {f"{name}.py" for name, _ in PAGE_DEF.findall(router)}
    files = {p.name for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")}
    assert files == registered


def test_every_sql_file_is_used():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kpi").rglob("*.py"))
    included = set(INCLUDE.findall("\n".join(p.read_text(encoding="utf-8") for p in  # a writer's or a query's part
                                              [*WRITE_DIR.glob("*.sql"), *(ROOT / "kpi" / "sql").glob("*.sql")])))
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


def test_every_server_runs_with_the_production_settings():
    """`kpi serve`'s workers, the tests' `streamlit run` servers and AppTest all read .streamlit/config.toml:
    no source watching and no full garbage collection after every run (`gc.collect(2)` took a third of a
    test server's CPU in the walk over every page), so a test measures and exercises what production runs."""
    from kpi.serving import serve

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["fileWatcherType"] == "none" and config["server"]["runOnSave"] is False
    assert config["runner"]["postScriptGC"] is False
    flags = serve.worker_command(8501)
    pairs = dict(zip(flags[5::2], flags[6::2]))
    assert pairs["--server.fileWatcherType"] == "none" and pairs["--runner.postScriptGC"] == "false"


def test_no_url_path_equals_a_page_file_name():
    # With a pages/ folder, Streamlit serves the first session after a start (and every AppTest run)
    # in its legacy mode, where /<file stem> runs that file alone; url paths that are never a file
    # stem always go through dashboard.py.
    # the pages table dashboard.py routes by
    router = (ROOT / "kpi" / "common" / "access.py").read_text(encoding="utf-8")
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
        offenders += _state_sql_in_python(rel, path.read_text(encoding="utf-8"))
    assert offenders == []
    # planted: a statement written in Python again is found, with its place
    planted = 'def f(store):\n    return store.read("SELECT value FROM counters WHERE name = ?", ("x",))\n'
    assert _state_sql_in_python("m.py", planted) == ["m.py:2: SELECT value FROM counters WHERE name = ?"]
    assert _state_sql_in_python("m.py", 'q = "SELECT 1 FROM observations"') == []  # the analytics file's: not here


# ---- the state store's two dialects: kpi/sql/state/postgresql/ (kpi.store.state_pg) ------------------------------

PG_SQL = STATE_SQL / "postgresql"
# SQLite's words PostgreSQL does not run: a shared statement using one needs PostgreSQL's own text
SQLITE_ONLY = re.compile(r"\bINSERT OR\b|\bPRAGMA\b|\bsqlite_master\b|\bjson_each\b|\browid\b|\bAUTOINCREMENT\b|"
                         r"\bstrftime\b|\bIS NOT :|\bIS :|\bGLOB\b|\blast_insert_rowid\b", re.IGNORECASE)


def _dialect_problems(shared: dict[str, dict[str, str]], own: dict[str, dict[str, str]]) -> list[str]:
    """What leaves a statement without a text in one dialect: a PostgreSQL file or statement with no SQLite
    one of that name (outside the groups each dialect has its own of), a shared statement in SQLite's
    own words with no PostgreSQL text, or a lastrowid read with no RETURNING on PostgreSQL."""
    problems = []
    for group, names in own.items():
        if group in state_base.OWN_GROUPS:
            continue
        if group not in shared:
            problems.append(f"postgresql/{group}.sql: no kpi/sql/state/{group}.sql")
            continue
        problems += [f"postgresql/{group}.{n}: no SQLite statement of that name" for n in names if n not in
                     shared[group]]
    for group, names in shared.items():
        if group in state_base.OWN_GROUPS:
            continue
        for name, text in names.items():
            body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("--"))
            if SQLITE_ONLY.search(body) and name not in own.get(group, {}):
                problems.append(f"{group}.{name}: SQLite's own words, no PostgreSQL text")
            if "lastrowid" in text and "RETURNING" not in own.get(group, {}).get(name, ""):
                problems.append(f"{group}.{name}: read as lastrowid, no RETURNING on PostgreSQL")
    return problems


def _dialect_files() -> tuple[dict, dict]:
    shared = {p.stem: state.statements(p.stem) for p in STATE_SQL.glob("*.sql") if p.stem != "schema"}
    own = {p.stem: state_base._parse(p) for p in PG_SQL.glob("*.sql") if p.stem != "schema"}
    return shared, own


def test_every_statement_has_a_text_in_both_dialects():
    shared, own = _dialect_files()
    assert own and _dialect_problems(shared, own) == []
    # every statement resolves in both dialects, and PostgreSQL's runs as psycopg's (no `:name` left)
    for group in shared:
        if group in state_base.OWN_GROUPS:
            continue
        pg = state.statements(group, "postgresql")
        assert pg.keys() == shared[group].keys(), group
        assert all(not re.search(r"(?<![:\w]):[A-Za-z_]", state_base.pyformat(x)) for x in pg.values()), group
    # planted: a statement missing in PostgreSQL's file, one only there, a lastrowid without RETURNING
    pruned = {g: {n: x for n, x in names.items() if (g, n) != ("account_passwords", "first")}
              for g, names in own.items()}
    assert _dialect_problems(shared, pruned) == ["account_passwords.first: SQLite's own words, no PostgreSQL text"]
    extra = {**own, "sessions": {"touch_all": "-- x\nUPDATE sessions SET last_seen = 0;"}}
    assert _dialect_problems(shared, extra) == ["postgresql/sessions.touch_all: no SQLite statement of that name"]
    bare = {**own, "evidence": {"add": own["evidence"]["add"].replace("RETURNING evidence_id", "")}}
    assert _dialect_problems(shared, bare) == ["evidence.add: read as lastrowid, no RETURNING on PostgreSQL"]


def test_postgresql_statements_follow_the_same_convention():
    _, own = _dialect_files()
    problems = [p for group, names in own.items() for name, text in names.items()
                for p in _statement_problems(f"postgresql/{group}.{name}", text)]
    assert problems == []
    for p in PG_SQL.glob("*.sql"):
        assert p.read_text(encoding="utf-8").startswith("-- "), p.name
    used = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kpi" / "store").glob("state*.py"))
    assert [n for n in own["connection"] if f'own("{n}")' not in used] == []
    # planted: a PostgreSQL statement with a value spliced in is named
    spliced = own["audit"]["newest"].replace("LIMIT :limit", "LIMIT %s")
    assert _statement_problems("x", spliced) == ["x: a value not bound as a named parameter (?, {} or %s)"]


def test_postgresql_schema_has_the_same_versions_and_tables():
    text = (PG_SQL / "schema.sql").read_text(encoding="utf-8")
    assert sorted(state_base.pg_schema()) == list(range(1, state.SCHEMA_VERSION + 1))
    assert frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", text)) == STATE_TABLES
    assert re.findall(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX)\s+(?!IF NOT EXISTS)\w+", text) == []
    assert not SQLITE_ONLY.search(re.sub(r"--[^\n]*", "", text))  # its statements, not its comments


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
    assert problems(text.replace("-- version 6:", "-- v6:")) == ["versions [1, 2, 3, 4, 5]"]


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


def _icons_without_glyph(sources: dict[str, str]) -> list[str]:
    """Every `icon="…"` literal of the given page sources that is neither a Material icon (drawn with the font
    Streamlit serves itself) nor text the project's DejaVu Sans draws: an emoji needs a colour emoji font the
    reader's machine may not have (a Debian Chromium without one drew an empty box for 🔗, 🔒, 🔑, ⏳)."""
    from fontTools.ttLib import TTFont

    from kpi.display.measure import FONT_REGULAR

    cmap = TTFont(FONT_REGULAR).getBestCmap()
    bad = []
    for name, text in sources.items():
        for m in re.finditer(r'icon="([^"]+)"', text):
            icon = m.group(1)
            if icon.startswith(":material/"):
                continue
            if any(ord(ch) not in cmap for ch in icon if ch != "\ufe0f"):  # the emoji-style selector draws nothing
                bad.append(f"{name}: {icon}")
    return bad


def test_every_icon_is_drawn_without_an_emoji_font():
    pages = {p.name: p.read_text(encoding="utf-8") for p in [*(ROOT / "pages").glob("*.py"), ROOT / "dashboard.py"]}
    assert _icons_without_glyph(pages) == []
    assert _icons_without_glyph({"planted.py": 'st.info(note, icon="🔗")'}) == ["planted.py: 🔗"]
