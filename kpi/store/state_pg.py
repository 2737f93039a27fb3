"""The shared state store on PostgreSQL: what kpi.store.state holds in a SQLite file, held by one PostgreSQL
database that several app machines share (`KPI_STORE=postgresql://…`, or `python -m kpi serve --store`).

The same interface as kpi.store.state.Store: `read`, `reading`, `write` (yields a connection whose
`execute`, `executemany`, `fetchone`, `fetchall`, `rowcount`, `lastrowid` callers use as they use
sqlite3's), `copy_to`, `checkpoint`, and the operations of kpi.store.state_base.StoreBase. A caller
names a statement (`state.sql("entries.save")`); the connection here runs that statement's PostgreSQL
text (kpi/sql/state/postgresql/<group>.sql where it differs, else the shared one), its `:name`
parameters turned into psycopg's `%(name)s` once, at load.

One connection per process (opened again after a fork; the child never touches the parent's socket),
used under a lock, in autocommit: a read sees what was committed, never waits for a writer.
Writers: `write()` is a READ COMMITTED transaction that first takes one transaction-level advisory
lock (kpi/sql/state/postgresql/connection.sql: writer), so writers run one at a time across every
process of every machine, as SQLite's BEGIN IMMEDIATE makes them within one: a version checked and
then written, a counter bumped, a draft read then replaced, all see no other writer between their
statements. A writer waits at most 10 s for it (lock_timeout), then fails as a busy SQLite does.

Failures: a server that cannot be reached, a disk full or a read-only server raise
kpi.common.faults.StoreUnavailable with its Vietnamese sentence (the cause logged); nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
import weakref
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import psycopg

from kpi.common import faults
from kpi.store.state_base import (
    _TABLES,
    COPY,
    OWN_GROUPS,
    PRIVATE,
    STATE_SQL,
    StoreBase,
    named,
    pg_schema,
    pyformat,
    schema,
    sql,
    statements,
)

URL = re.compile(r"^postgres(?:ql)?://")


@lru_cache(maxsize=None)
def _by_text() -> dict[str, tuple[str, str]]:
    """Every named statement's SQLite text (what `state.sql` gives callers) → (its name, its PostgreSQL text)."""
    out = {}
    for p in sorted(STATE_SQL.glob("*.sql")):
        if p.stem == "schema" or p.stem in OWN_GROUPS:
            continue
        pg = statements(p.stem, "postgresql")
        for name, text in statements(p.stem).items():
            out[text] = (f"{p.stem}.{name}", pyformat(pg[name]))
    return out


def resolve(query: str) -> tuple[str, str]:
    """(name, PostgreSQL text) of a statement given as `state.sql` gives it."""
    try:
        return _by_text()[query]
    except KeyError:
        raise ValueError(f"not a named statement of kpi/sql/state: {query[:60]!r}") from None


@lru_cache(maxsize=None)
def own(name: str) -> str:
    """A statement of kpi/sql/state/postgresql/connection.sql, as psycopg runs it."""
    return pyformat(statements("connection", "postgresql")[name])


class _Returning:
    """The cursor of a statement with RETURNING: its first value is `lastrowid` (sqlite3's name for it)."""

    def __init__(self, cur):
        self.cur, self.rowcount = cur, cur.rowcount

    @property
    def lastrowid(self):
        row = self.cur.fetchone()
        return row[0] if row else None

    def fetchone(self):
        return self.cur.fetchone()

    def fetchall(self):
        return self.cur.fetchall()


class _BoolAsInt(psycopg.adapt.Dumper):
    """A Python bool bound as 0 or 1, as sqlite3 binds it (the store's flags are INTEGER columns)."""

    oid = psycopg.adapters.types["int4"].oid

    def dump(self, obj) -> bytes:
        return b"1" if obj else b"0"


class PgConnection:
    """A psycopg connection spoken to as kpi's callers speak to sqlite3: named statements, named values."""

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw

    def execute(self, query: str, params=None):
        name, text = resolve(query)
        cur = self.raw.execute(text, params or {})  # always a mapping: a literal %% becomes % again
        return _Returning(cur) if name == "evidence.add" else cur

    def executemany(self, query: str, seq):
        _, text = resolve(query)
        cur = self.raw.cursor()
        cur.executemany(text, list(seq))
        return cur


def masked(url: str) -> str:
    """The URL without its password (for the log and the store's name)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


_LIVE: weakref.WeakSet = weakref.WeakSet()
_DEVNULL = os.open(os.devnull, os.O_RDWR)


def _disown_after_fork() -> None:
    """In a forked child: the parent's sockets become /dev/null, so that closing the inherited connection
    (libpq sends the server a goodbye) never ends the parent's session."""
    for store in list(_LIVE):
        raw = store._raw
        if raw is not None and not raw.closed:
            with contextlib.suppress(Exception):
                os.dup2(_DEVNULL, raw.fileno())


os.register_at_fork(after_in_child=lambda: _disown_after_fork())  # looked up at each fork (a test replaces it)


class PgStore(StoreBase):
    """The state store in one PostgreSQL database, shared by every process of every app machine."""

    dialect = "postgresql"
    read_only = False

    def __init__(self, url: str):
        if not URL.match(url):
            raise ValueError("KPI_STORE phải là địa chỉ PostgreSQL dạng postgresql://người_dùng@máy/cơ_sở_dữ_liệu.")
        self.url, self.path = url, masked(url)
        self._lock = threading.Lock()
        self._raw: psycopg.Connection | None = None
        self._con: PgConnection | None = None
        self._pid = -1
        self._upgraded = False
        _LIVE.add(self)

    def _connect(self) -> PgConnection:
        if self._raw is None or self._pid != os.getpid() or self._raw.closed or self._raw.broken:
            if self._raw is not None and self._pid == os.getpid():
                with contextlib.suppress(Exception):
                    self._raw.close()
            self._raw = self._con = None
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name="kpi")
            raw.adapters.register_dumper(bool, _BoolAsInt)
            raw.execute(own("settings"))
            self._raw, self._con, self._pid = raw, PgConnection(raw), os.getpid()
        if not self._upgraded:
            self._upgrade(self._raw)
        return self._con

    def _upgrade(self, raw: psycopg.Connection) -> None:
        """The schema's sections newer than the version recorded, each in a transaction, under the upgrade
        lock (a process starting beside another waits, then finds them applied); a database missing one of
        the tables runs them all again (every statement is CREATE ... IF NOT EXISTS)."""
        tables = {r[0] for r in raw.execute(own("tables"))}
        if "kpi_schema_version" in tables and _TABLES <= tables and \
                raw.execute(own("version")).fetchone()[0] >= max(pg_schema()):
            self._upgraded = True  # nothing to write (a read-only server reads on)
            return
        raw.execute(own("upgrade_lock"))
        try:
            raw.execute(own("version_table"))
            have = raw.execute(own("version")).fetchone()[0]
            missing = not _TABLES <= {r[0] for r in raw.execute(own("tables"))}
            for version, text in sorted(pg_schema().items()):
                if version > have or missing:
                    with raw.transaction():
                        raw.execute(text)  # no values: the section's statements in one go
                        raw.execute(own("version_set"), {"version": version, "now": time.time()})
        finally:
            with contextlib.suppress(psycopg.Error):
                raw.execute(own("upgrade_unlock"))
        self._upgraded = True

    def ensure_tables(self, since: int = 1) -> None:
        """Every table of the schema there (the upgrade on connecting makes them all)."""
        with self._lock, self._reading_guard():
            self._connect()

    @contextlib.contextmanager
    def _reading_guard(self):
        """A server that cannot be reached: StoreUnavailable with the reading sentence (logged)."""
        try:
            yield
        except psycopg.Error as e:
            kind = faults.kind_of(e)
            if kind is None:
                raise
            faults.log.error("Không đọc được kho trạng thái %s (%s): %s: %s", self.path, kind, type(e).__name__, e)
            raise faults.StoreUnavailable(kind, e, faults.read_sentence(kind)) from e

    def read(self, query: str, params=()) -> list[tuple]:
        """Rows of one query (a statement of `sql`); a connection the server dropped is opened again once."""
        with self._lock, self._reading_guard():
            try:
                return self._connect().execute(query, params or {}).fetchall()
            except psycopg.OperationalError:
                if self._raw is None or not (self._raw.broken or self._raw.closed):
                    raise
            return self._connect().execute(query, params or {}).fetchall()

    @contextlib.contextmanager
    def reading(self):
        """The connection, for several reads in a row (under this process's lock; no transaction)."""
        with self._lock:
            with self._reading_guard():
                con = self._connect()
            yield con

    def _begin(self) -> tuple[PgConnection, psycopg.Connection]:
        """A write transaction begun, holding the writers' lock; a connection the server dropped since
        its last use (a restart, a failover) is opened again once (nothing was written on it)."""
        for attempt in (0, 1):
            con = self._connect()
            raw = self._raw
            try:
                raw.execute("BEGIN")
                raw.execute(own("writer"))
                return con, raw
            except psycopg.OperationalError:
                if attempt or not (raw.broken or raw.closed):
                    with contextlib.suppress(psycopg.Error):
                        raw.execute("ROLLBACK")
                    raise
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
                raise
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def write(self):
        """A write transaction, writers one at a time across every machine (the advisory writers' lock,
        then READ COMMITTED); yields the connection. A store that cannot be reached or written raises
        kpi.common.faults.StoreUnavailable (its Vietnamese sentence; the cause logged); nothing is written."""
        with self._lock:
            with faults.guarded("kho trạng thái", self.path):
                con, raw = self._begin()
            try:
                yield con
            except BaseException as e:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
                mapped = faults.unavailable(e, "kho trạng thái", self.path) if isinstance(e, psycopg.Error) else None
                if mapped is not None and mapped is not e:
                    raise mapped from e
                raise
            try:
                raw.execute("COMMIT")
            except psycopg.Error as e:
                with contextlib.suppress(psycopg.Error):
                    raw.execute("ROLLBACK")
                mapped = faults.unavailable(e, "kho trạng thái", self.path)
                if mapped is None:
                    raise
                raise mapped from e

    shared = True

    @contextlib.contextmanager
    def analytics_lock(self):
        """The analytics file's writers' lock across every machine (kpi.store.db.writing): an advisory lock
        held by a connection of its own until the block ends; a process killed meanwhile loses the
        connection, and the lock with it. Waits up to 10 minutes for another machine's writer."""
        with faults.guarded("kho trạng thái", self.path):
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name="kpi-analytics")
        try:
            with faults.guarded("kho trạng thái", self.path):
                raw.execute(own("analytics_wait"))
                raw.execute(own("analytics_lock"))
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):
                    raw.execute(own("analytics_unlock"))
        finally:
            raw.close()

    def checkpoint(self) -> None:
        """Nothing to do: the server keeps its own files (SQLite's store writes its WAL back here)."""

    def copy_to(self, target: str | os.PathLike) -> None:
        """A consistent copy of the whole store as a SQLite store file (kpi/sql/state/schema.sql): every
        table read in one REPEATABLE READ transaction, so the copy holds what one moment held."""
        for leftover in (f"{target}-wal", f"{target}-shm", str(target)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
        out = sqlite3.connect(target)
        try:
            out.executescript(schema())
            with self._lock, self._reading_guard():
                con = self._connect()
                self._raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    for rows_of, add in COPY.values():
                        out.executemany(sql(add), named(add, con.execute(sql(rows_of)).fetchall()))
                finally:
                    self._raw.execute("ROLLBACK")
            out.commit()
        finally:
            out.close()

    def close(self) -> None:
        """Close this process's connection (the next use opens another)."""
        with self._lock:
            if self._raw is not None and self._pid == os.getpid():
                with contextlib.suppress(Exception):
                    self._raw.close()
            self._raw = self._con = None


def load_from(store: PgStore, source: str | os.PathLike) -> dict[str, int]:
    """A SQLite state store's rows copied into an empty PostgreSQL store, in one write transaction
    (moving one office's machine to PostgreSQL); returns the rows per table."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    counts = {}
    try:
        with store.write() as con:
            for table, (rows_of, add) in COPY.items():
                rows = src.execute(sql(rows_of)).fetchall()
                if rows:
                    con.executemany(sql(add), named(add, rows))
                counts[table] = len(rows)
            store._raw.execute(own("audit_identity"))
            store._raw.execute(own("evidence_identity"))
    finally:
        src.close()
    return counts
