"""Shared fixtures: one generated sample database per test session (like Datasette's fixtures)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from kpi.store import db, state, state_pg
from kpi.tools.sample import build_sample
from tests import pg

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KPI_SECRET", "khoa-bi-mat-chi-dung-cho-kiem-thu")


# `make test` runs the suite on three pytest-xdist workers (`-n 3 --dist loadscope`, see the Makefile): each
# module is one unit of work, so its shared setup (a server, a browser walk, a frozen database) is made once,
# on one worker. The costliest modules are handed out first (longest first, so that the workers end
# together); the rest follow in file order (--no-loadscope-reorder). Order from `--durations` here.
HEAVY_FIRST = ["test_look_pages", "test_privacy", "test_a11y", "test_browser", "test_phone", "test_serve_faults",
               "test_import_safety", "test_export", "test_export_check", "test_one_truth", "test_browser_entry",
               "test_browser_assessment", "test_pages", "test_text", "test_access", "test_serve", "test_machines",
               "test_replica", "test_door"]


def pytest_collection_modifyitems(config, items):
    """On an xdist worker: the costliest modules first (a plain run keeps the file order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


def until(check, seconds: float, step: float = 0.2) -> bool:
    """Whether `check()` comes true within `seconds` (asked every `step` s, and once more at the end)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


def token_for(user_name: str) -> str:
    """A signed session token for a user (what the login route puts in the cookie)."""
    from kpi.admin import auth

    return auth.sessions().issue(user_name)


def app_test(page: str | None = None, user: str | None = "lanhdao", **params):
    """Run dashboard.py as `user` (None = not logged in), then open `page` through its navigation."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    if user:
        at.session_state["_kpi_token"] = token_for(user)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    return at


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """The district sample (53 schools, 3 school years, seed 7), built once, never written by tests.
    Under pytest-xdist the first worker builds it once for the run and every worker takes its own
    copy (the file and its state store), so the workers' servers never share a file."""
    path = tmp_path_factory.mktemp("db") / "sample.duckdb"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        built = _built_once(tmp_path_factory.getbasetemp().parent / "sample")
        shutil.copy2(built, path)  # with its 0600 mode
        _copy_store(built.with_name(built.stem + ".state.sqlite"), path.with_name(path.stem + ".state.sqlite"))
    else:
        build_sample(path, schools=53, years=3, seed=7)
    os.environ["KPI_DB"] = str(path)
    return path


def _built_once(shared: Path) -> Path:
    """The sample built in `shared` (a folder of this run that every worker sees) by whichever
    worker comes first; the others wait on the lock and find it built."""
    shared.mkdir(exist_ok=True)
    path = shared / "sample.duckdb"
    with open(shared / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "built").exists():
            build_sample(path, schools=53, years=3, seed=7)
            (shared / "built").touch()
    return path


def _copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite state store (its backup), private (0600) as kpi.store.state makes it."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src, out = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()


@pytest.fixture()
def con(sample_db):
    c = db.connect(sample_db)
    yield c
    c.close()


@pytest.fixture()
def writable_db(sample_db, tmp_path) -> Path:
    """A private copy of the sample that a test may change."""
    path = tmp_path / "copy.duckdb"
    path.write_bytes(sample_db.read_bytes())
    return path


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    # Streamlit caches live for the whole process, across AppTest instances.
    yield
    import sys

    from kpi.views import cache as views

    views.forget_all()
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()


@pytest.fixture()
def entry_db(sample_db, tmp_path) -> Path:
    """A private copy of the sample with its state store (the schools' entries in every state)."""
    from kpi.store import state

    path = tmp_path / "copy.duckdb"
    path.write_bytes(sample_db.read_bytes())
    state.store_for(sample_db).copy_to(state.state_path(path))
    return path


# ---- the state store on PostgreSQL (tests/pg.py): one server per test process, a database per test -----------

STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for this test process (a worker of xdist has its own), in a temporary
    folder, stopped at the end; the statements run on it are recorded in tests.pg.RAN. Missing
    binaries fail the tests that need it (CI installs them: `make sysdeps`), never skip them."""
    if pg.binaries() is None:
        pytest.fail(pg.MISSING, pytrace=False)
    server = pg.Server().start()
    resolve, own = state_pg.resolve, state_pg.own
    state_pg.resolve, state_pg.own = pg.recording(resolve), pg.recording_own(own)
    try:
        yield server
    finally:
        state_pg.resolve, state_pg.own = resolve, own
        server.stop()


@pytest.fixture(scope="session")
def pg_sample_source(sample_db, tmp_path_factory) -> Path:
    """The sample's SQLite state store as the PostgreSQL template was loaded from it: a frozen copy (tests
    sharing the sample in this process add sessions to the live one afterwards)."""
    frozen = tmp_path_factory.mktemp("pg_sample") / "sample.state.sqlite"
    state.Store(state.state_path(sample_db)).copy_to(frozen)
    return frozen


@pytest.fixture(scope="session")
def pg_sample(pg_server, pg_sample_source) -> str:
    """The name of a template database holding the sample's state store (loaded once per process)."""
    url = pg_server.new_database()
    store = state_pg.PgStore(url)
    state_pg.load_from(store, pg_sample_source)
    store.close()
    return pg.dbname(url)


@pytest.fixture()
def pg_store(pg_server, pg_sample, monkeypatch) -> str:
    """A fresh PostgreSQL store holding the sample's state (a copy of the template), configured as the
    process's store ($KPI_STORE) for this test; its URL. Dropped after the test."""
    url = pg_server.new_database(pg_sample)
    monkeypatch.setenv("KPI_STORE", url)
    yield url
    state.forget(url)
    pg_server.drop(url)


def on_store(request, path: Path) -> Path:
    """For a fixture parametrized over STORES: on 'postgresql', the store of `path` is a fresh PostgreSQL
    copy of the sample's state (pg_store) instead of the SQLite file beside it."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_store")
    return path


def table_digest(path: Path) -> str:
    """SHA-256 over every table's rows in a canonical order: equal digests = equal contents."""
    c = db.connect(path)
    try:
        h = hashlib.sha256()
        for (name,) in c.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall():
            if name == "meta":
                rows = c.execute("SELECT * FROM meta WHERE key <> 'data_version' ORDER BY ALL").fetchall()
            elif name == "users":  # bcrypt salts are random by design
                rows = c.execute("SELECT * EXCLUDE (password_hash) FROM users ORDER BY ALL").fetchall()
            else:
                rows = c.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
            h.update(name.encode())
            h.update(repr(rows).encode())
        return h.hexdigest()
    finally:
        c.close()



@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Playwright drives Debian's chromium (the system package, nothing fetched), offline: every
    host name but the local server's resolves to nothing, so a page that asked the internet for a
    script, a font or an icon would show it broken in the tests instead of silently loading it."""
    return {"executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]}


def run_async(coro):
    """Run a coroutine to its end from a test, in a thread of its own: a browser test's sync
    Playwright may have left an event loop running in this thread (asyncio.run would refuse)."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

