"""The shared state store: small, frequent writes that every worker process must see at once.

DuckDB lets one process write a file or many processes read it, never both, and the analytics
file is read by every app worker. What workers write often and in small pieces (sessions opened
and revoked, wrong-password counters, the audit of logins and downloads, the schools' drafts and
submissions and the Phòng's review decisions: kpi.workflows.entry) lives here instead: SQLite in WAL mode beside the
DuckDB file (`data/kpi.duckdb` → `data/kpi.state.sqlite`, or `$KPI_STATE`). Many processes may
read and write it at once, readers never wait for a writer, and it survives restarts. Each
process keeps one connection per file, used under a lock (every statement here takes well under
a millisecond). When the workers run on several machines, this is the piece to move to
PostgreSQL; nothing else holds shared mutable state.

Its schema and every statement run against it are files: kpi/sql/state/schema.sql (the tables, by
version) and kpi/sql/state/<group>.sql (named statements, values bound), read through `sql`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from kpi.common import faults

STATE_SQL = Path(__file__).resolve().parents[1] / "sql" / "state"
_NAME = re.compile(r"^-- name: (\w+)\n", re.MULTILINE)
_VERSION = re.compile(r"^-- version (\d+):", re.MULTILINE)


@lru_cache(maxsize=None)
def statements(group: str) -> dict[str, str]:
    """The named statements of kpi/sql/state/<group>.sql: name → text (its header comment included).

    A file holds one group (a table, or what one module does): a header comment, then per statement
    a line ``-- name: <name>``, a comment stating what it reads or changes and its ``Parameters:``
    (named, bound: ``:name``), and the one statement."""
    parts = _NAME.split((STATE_SQL / f"{group}.sql").read_text(encoding="utf-8"))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def sql(name: str) -> str:
    """The statement ``<group>.<name>`` of kpi/sql/state/<group>.sql (every statement run against the
    state store is one; its values bound as named parameters)."""
    group, _, statement = name.partition(".")
    return statements(group)[statement]


def named(name: str, rows) -> list[dict]:
    """Rows given in the order of a statement's parameters (as they first appear in it: a table's
    columns for a plain insert) as the named parameters it binds, for executemany."""
    body = "\n".join(ln for ln in sql(name).splitlines() if not ln.startswith("--"))
    names = list(dict.fromkeys(re.findall(r"(?<![:\w]):(\w+)", body)))
    return [dict(zip(names, row, strict=True)) for row in rows]


@lru_cache(maxsize=None)
def schema(since: int = 1, until: int | None = None) -> str:
    """kpi/sql/state/schema.sql: the whole script (it ends by setting the version), or the tables
    that versions `since`..`until` added (its sections ``-- version N:``; no version set)."""
    text = (STATE_SQL / "schema.sql").read_text(encoding="utf-8")
    if since == 1 and until is None:
        return text
    marks = [(int(m.group(1)), m.start()) for m in _VERSION.finditer(text)]
    begin = next(pos for v, pos in marks if v == since)
    stop = next((pos for v, pos in marks if until is not None and v == until + 1), None)
    if stop is None:
        stop = text.index("\n-- the schema's version")
    return text[begin:stop]


SCHEMA_VERSION = int(re.search(r"^PRAGMA user_version = (\d+);", schema(), re.MULTILINE).group(1))
_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema()))


def state_path(db_path: str | os.PathLike) -> Path:
    """The store beside a DuckDB file: $KPI_STATE, else `<name>.state.sqlite` in the same folder."""
    env = os.environ.get("KPI_STATE")
    if env:
        return Path(env)
    p = Path(db_path)
    return p.with_name(p.stem + ".state.sqlite")


PRIVATE = 0o600  # sessions, password flags and evidence: the store is its owner's only (with -wal, -shm)


class Store:
    """One SQLite file in WAL mode, shared by every process of the app."""

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

    # ---- sessions ------------------------------------------------------------------------

    def session_open(self, session_id: str, user_name: str, now: float, client: str | None = None) -> None:
        with self.write() as con:
            con.execute(sql("sessions.open"), {"session_id": session_id, "user_name": user_name, "now": now,
                                                "client": client})

    def session(self, session_id: str) -> dict | None:
        rows = self.read(sql("sessions.get"), {"session_id": session_id})
        if not rows:
            return None
        return dict(zip(("user_name", "issued_at", "last_seen", "revoked_at", "reason"), rows[0]))

    def session_touch(self, session_id: str, now: float) -> None:
        with self.write() as con:
            con.execute(sql("sessions.touch"), {"session_id": session_id, "now": now})

    def session_revoke(self, session_id: str, now: float, reason: str) -> None:
        with self.write() as con:
            con.execute(sql("sessions.revoke"), {"session_id": session_id, "now": now, "reason": reason})

    def sessions_revoke_user(self, user_name: str, now: float, reason: str) -> int:
        """Revoke every open session of a user; returns how many."""
        with self.write() as con:
            return con.execute(sql("sessions.revoke_user"),
                               {"user_name": user_name, "now": now, "reason": reason}).rowcount

    def recent_users(self, since: float) -> list[str]:
        """User names with a session used since `since`, most recently used first."""
        return [r[0] for r in self.read(sql("sessions.recent_users"), {"since": since})]

    def sessions_forget(self, before: float) -> None:
        """Drop sessions that ended (revoked or last used) before `before`."""
        with self.write() as con:
            con.execute(sql("sessions.forget"), {"before": before})

    # ---- wrong-password counters -----------------------------------------------------------

    def failures(self, key: str) -> tuple[int, float, float]:
        """(failures, first_at, last_at) of a throttled key; (0, 0, 0) when clean."""
        rows = self.read(sql("login_failures.get"), {"key": key})
        return rows[0] if rows else (0, 0.0, 0.0)

    def failure_add(self, key: str, now: float, window: float) -> None:
        """Count one failure; a count whose last failure is older than `window` starts over."""
        with self.write() as con:
            con.execute(sql("login_failures.add"), {"key": key, "now": now, "window": window})

    def failure_clear(self, key: str) -> None:
        with self.write() as con:
            con.execute(sql("login_failures.clear"), {"key": key})

    # ---- audit -----------------------------------------------------------------------------

    def audit(self, action: str, user_name: str | None = None, detail: dict | None = None,
              client: str | None = None, now: float | None = None) -> None:
        """Record one action (who, what, when, from where)."""
        with self.write() as con:
            audit_in(con, action, user_name, detail, client, now)

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

    def workflow_version(self) -> int:
        """The version of the schools' entries: bumped by every save, submission and decision."""
        return self.counter("workflow")

    def assessment_version(self) -> int:
        """The version of the yearly maturity assessment (kpi.workflows.assessment): bumped by every change."""
        return self.counter("assessment")

    def counter(self, name: str) -> int:
        """A named version of the counters table ('workflow', 'assessment'); 0 before its first change."""
        rows = self.read(sql("counters.value"), {"name": name})
        return rows[0][0] if rows else 0

    def audit_rows(self, limit: int = 100, action: str | None = None) -> list[dict]:
        """The newest audit rows first."""
        rows = self.read(sql("audit.newest"), {"action": action or None, "limit": limit})
        return [dict(zip(("at", "user_name", "action", "detail", "client"), r)) for r in rows]


def audit_in(con: sqlite3.Connection, action: str, user_name: str | None = None, detail: dict | None = None,
             client: str | None = None, now: float | None = None) -> None:
    """Record one action inside a write transaction the caller holds (with the change it records)."""
    con.execute(sql("audit.add"), {"at": time.time() if now is None else now, "user_name": user_name, "action": action,
                                   "detail": json.dumps(detail, ensure_ascii=False) if detail else None,
                                   "client": client})


def bump(con: sqlite3.Connection, counter: str) -> None:
    """Inside a write transaction: the named version readers cache by ('workflow', 'assessment') +1."""
    con.execute(sql("counters.bump"), {"name": counter})


_STORES: dict[Path, Store] = {}
_STORES_LOCK = threading.Lock()


def store_for(db_path: str | os.PathLike) -> Store:
    """The (process-wide) store beside a DuckDB file."""
    path = state_path(db_path).resolve()
    with _STORES_LOCK:
        if path not in _STORES:
            _STORES[path] = Store(path)
        return _STORES[path]
