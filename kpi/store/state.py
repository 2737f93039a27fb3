"""The shared state store: small, frequent writes that every worker process must see at once.

DuckDB lets one process write a file or many processes read it, never both, and the analytics
file is read by every app worker. What workers write often and in small pieces (sessions opened
and revoked, wrong-password counters, the audit of logins and downloads, the schools' drafts and
submissions and the Phòng's review decisions: kpi.workflows.entry) lives here instead: SQLite in WAL mode beside the
DuckDB file (`data/kpi.duckdb` → `data/kpi.state.sqlite`, or `$KPI_STATE`). Many processes may
read and write it at once, readers never wait for a writer, and it survives restarts. Each
process keeps one connection per file, used under a lock (every statement here takes well under
a millisecond). When the workers run on several machines, this is the piece that moves to
PostgreSQL; nothing else holds shared mutable state.

Its schema and every statement run against it are files: kpi/sql/state/schema.sql (the tables, by
version) and kpi/sql/state/<group>.sql (named statements, values bound), read through `sql`
(kpi.store.state_base). With `KPI_STORE=postgresql://…` (or `python -m kpi serve --store …`) the
store is a PostgreSQL database instead (kpi.store.state_pg), with the same interface: several app
machines then share one store. `store_for` gives whichever is configured; `STORE_ERRORS` /
`STORE_DOWN` are what either raises.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

from kpi.common import faults
from kpi.store import state_pg
from kpi.store.state_base import (
    _TABLES,
    PRIVATE,
    SCHEMA_VERSION,
    STATE_SQL,
    StoreBase,
    audit_in,
    bump,
    named,
    schema,
    sql,
    statements,
)

__all__ = ["PRIVATE", "SCHEMA_VERSION", "STATE_SQL", "STORE_DOWN", "STORE_ERRORS", "Store", "StoreBase", "_TABLES",
           "audit_in", "bump", "forget", "has_store", "named", "schema", "sql", "state_path", "statements", "store_for"]

# what a store's failure is, on either dialect (callers catch these, never a driver's own module)
STORE_ERRORS = (sqlite3.Error, psycopg.Error)
STORE_DOWN = (sqlite3.OperationalError, psycopg.OperationalError)  # the file or the server, not a statement


def state_path(db_path: str | os.PathLike) -> Path:
    """The store beside a DuckDB file: $KPI_STATE, else `<name>.state.sqlite` in the same folder."""
    env = os.environ.get("KPI_STATE")
    if env:
        return Path(env)
    p = Path(db_path)
    return p.with_name(p.stem + ".state.sqlite")


class Store(StoreBase):
    """One SQLite file in WAL mode, shared by every process of the app (kpi.store.state_pg.PgStore: the
    same interface on PostgreSQL)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._pid = -1
        self._upgraded, self._retry_at = False, 0.0
        self.read_only = False  # opened read-only because the disk refused more (see _connect)

    def _connect(self) -> sqlite3.Connection:
        if self._con is None or self._pid != os.getpid():  # never share a connection across fork
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):  # a new store is its owner's only from the start (exists: fine)
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
                con = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
                for setting in ("connection.wal", "connection.synchronous", "connection.busy_timeout"):
                    con.execute(sql(setting))
                self.read_only = False
            except (sqlite3.OperationalError, OSError) as e:
                if faults.kind_of(e) != "readonly" or not self.path.exists():
                    raise
                # a read-only disk: nothing can change the file, so read it as it is (writes say so)
                faults.log.error("Kho trạng thái %s chỉ đọc được (%s): chỉ đọc cho đến khi ghi được", self.path, e)
                con = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1", uri=True,
                                      isolation_level=None, check_same_thread=False)
                self.read_only = True
            self._con, self._pid = con, os.getpid()
            self._upgraded = self.read_only
            for p in (self.path, f"{self.path}-wal", f"{self.path}-shm"):  # SQLite gives them the umask's mode
                with contextlib.suppress(OSError):
                    os.chmod(p, PRIVATE)
        if not self._upgraded and time.time() >= self._retry_at:
            self._upgrade(self._con)
        return self._con

    def _upgrade(self, con: sqlite3.Connection) -> None:
        have = {r[0] for r in con.execute(sql("connection.tables"))}
        # a store made while a version's tables were only reserved (user_version already 4) gains them too
        if con.execute(sql("connection.user_version")).fetchone()[0] < SCHEMA_VERSION or not _TABLES <= have:
            # idempotent (CREATE ... IF NOT EXISTS): an older store gains the new tables, and
            # two processes starting at once both succeed
            try:
                con.executescript(schema())  # its last line sets user_version
            except sqlite3.OperationalError as e:  # a full or read-only disk: reads go on, the next use retries
                if faults.unavailable(e, "kho trạng thái (nâng cấp cấu trúc)", self.path) is None:
                    raise
                self._retry_at = time.time() + 30
                return
        self._upgraded = True

    def read(self, query: str, params=()) -> list[tuple]:
        """Rows of one query (a statement of `sql`)."""
        with self._lock:
            return self._connect().execute(query, params).fetchall()

    @contextlib.contextmanager
    def reading(self):
        """The connection, for several reads in a row (under this process's lock; no transaction)."""
        with self._lock:
            yield self._connect()

    @contextlib.contextmanager
    def write(self):
        """A write transaction (BEGIN IMMEDIATE: writers queue, readers go on); yields the connection.

        A store that cannot be written (disk full, read-only, locked too long, I/O error) raises
        kpi.common.faults.StoreUnavailable (its Vietnamese sentence; the cause logged); nothing is written."""
        with self._lock:
            if self.read_only:  # the disk may take writes again: reopen normally
                self._con.close()
                self._con = None
            with faults.guarded("kho trạng thái", self.path):
                con = self._connect()
                con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException as e:
                with contextlib.suppress(sqlite3.Error):  # a full disk may have rolled it back already
                    con.execute("ROLLBACK")
                mapped = faults.unavailable(e, "kho trạng thái", self.path) if isinstance(e, sqlite3.Error) else None
                if mapped is not None and mapped is not e:
                    raise mapped from e
                raise
            try:
                con.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                mapped = faults.unavailable(e, "kho trạng thái", self.path)
                if mapped is None:
                    raise
                raise mapped from e

    def checkpoint(self) -> None:
        """Write the WAL's pages into the main file (so that a copy of the file alone holds everything)."""
        with self._lock:
            self._connect().execute(sql("connection.checkpoint"))

    def copy_to(self, target: str | os.PathLike) -> None:
        """A consistent copy of the whole store (SQLite's backup: safe while others write)."""
        with self._lock:
            with contextlib.suppress(FileExistsError):
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
            out = sqlite3.connect(target)
            try:
                self._connect().backup(out)
            finally:
                out.close()

    def ensure_tables(self, since: int = 1) -> None:
        """The tables versions `since`.. added, made when missing (CREATE TABLE IF NOT EXISTS only: safe
        beside other processes)."""
        with self._lock:
            self._connect().executescript(schema(since=since))

    def close(self) -> None:
        """Close this process's connection (the next use opens another)."""
        with self._lock:
            if self._con is not None and self._pid == os.getpid():
                self._con.close()
            self._con = None


_STORES: dict[object, StoreBase] = {}
_STORES_LOCK = threading.Lock()


def store_url() -> str | None:
    """The PostgreSQL store configured for this process ($KPI_STORE, set by `kpi serve --store`), or None
    (the SQLite store beside the analytics file)."""
    return os.environ.get("KPI_STORE") or None


def store_for(db_path: str | os.PathLike) -> Store | state_pg.PgStore:
    """The (process-wide) state store of a DuckDB file: the PostgreSQL database of $KPI_STORE when it is
    set (every machine shares it), else the SQLite file beside the DuckDB file."""
    url = store_url()
    key = url or state_path(db_path).resolve()
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = state_pg.PgStore(url) if url else Store(key)
        return _STORES[key]


def has_store(db_path: str | os.PathLike) -> bool:
    """Whether the file has a state store yet: a PostgreSQL one is configured, or the SQLite file exists."""
    return store_url() is not None or state_path(db_path).exists()


def forget(key) -> None:
    """Drop (and close) a process-wide store: its URL, or the SQLite file's path (the tests' fresh stores)."""
    with _STORES_LOCK:
        store = _STORES.pop(key if isinstance(key, str) and state_pg.URL.match(key) else Path(key).resolve(), None)
    if store is not None:
        store.close()
