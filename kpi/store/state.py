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
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote

from kpi.common import faults

SCHEMA_VERSION = 5  # 1: sessions, login counters, audit; 2: + the schools' entries (kpi.workflows.entry);
# 3: + the yearly maturity assessment (issue 19); 4: + administration (issue 20); 5: + intents (issue 28)

_SCHEMA = """
-- one row per login session (the id is inside the signed cookie); revoked_at set = refused
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    issued_at  REAL NOT NULL,
    last_seen  REAL NOT NULL,
    revoked_at REAL,
    reason     TEXT,
    client     TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name);
-- one row per throttled key ('u:<user name>' or 'a:<client address>')
CREATE TABLE IF NOT EXISTS login_failures (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at REAL NOT NULL,
    last_at  REAL NOT NULL
);
-- one row per audited action (login, logout, refused login, download, a save, a submission, a
-- review decision, ...)
CREATE TABLE IF NOT EXISTS audit (
    audit_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    user_name TEXT,
    action    TEXT NOT NULL,
    detail    TEXT,
    client    TEXT
);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action);
-- version 2: the schools' figures entered in the app, the workflow of kpi.domain.workflow (kpi.workflows.entry).
-- entries: one row per school × period that entered the workflow. version: +1 at every change (a
-- save made on an older version is refused: two people never overwrite each other silently).
-- first_submitted_at: the first submission (timeliness); submitted_at: the latest. decided_*:
-- the Phòng's latest decision; reason: why it returned or reopened the entry (the school sees it).
CREATE TABLE IF NOT EXISTS entries (
    school_id          TEXT NOT NULL,
    school_year        TEXT NOT NULL,
    round              TEXT NOT NULL,
    state              TEXT NOT NULL,
    version            INTEGER NOT NULL,
    updated_at         REAL NOT NULL,
    updated_by         TEXT NOT NULL,
    submitted_at       REAL,
    submitted_by       TEXT,
    first_submitted_at REAL,
    decided_at         REAL,
    decided_by         TEXT,
    reason             TEXT,
    source             TEXT,
    PRIMARY KEY (school_id, school_year, round)
);
CREATE INDEX IF NOT EXISTS entries_period ON entries (school_year, round, state);
-- entry_values: one row per field an entry holds: raw = as typed (a draft may hold text that is
-- not a number yet), value = parsed (NULL when it does not parse), flags = the soft checks it set
-- off at its last save (rule codes of checks.toml, comma-separated), explanation = the school's.
CREATE TABLE IF NOT EXISTS entry_values (
    school_id   TEXT NOT NULL,
    school_year TEXT NOT NULL,
    round       TEXT NOT NULL,
    field_code  TEXT NOT NULL,
    raw         TEXT,
    value       REAL,
    flags       TEXT,
    explanation TEXT,
    PRIMARY KEY (school_id, school_year, round, field_code)
);
-- period_locks: one row per school × period the Phòng locked (khóa kỳ); a locked school changes
-- only after the Phòng reopens it (mở lại).
CREATE TABLE IF NOT EXISTS period_locks (
    school_id   TEXT NOT NULL,
    school_year TEXT NOT NULL,
    round       TEXT NOT NULL,
    locked_at   REAL NOT NULL,
    locked_by   TEXT NOT NULL,
    PRIMARY KEY (school_id, school_year, round)
);
-- counters: 'workflow' is bumped by every change of the tables above (readers cache by it)
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- version 3: the yearly maturity assessment (self-assessment, evidence, review, publication).
-- assessments: one row per school × school year that entered the yearly maturity assessment
-- (kpi.workflows.assessment). state ∈ kpi.workflows.assessment.STATES; version +1 at every change (a save made on an
-- older version is refused); submitted_*: the latest submission; decided_*: the Phòng's latest
-- decision; reason: why it returned or reopened it (the school sees it); publication_id: the
-- publication (analytics file, table publications) that holds its final points.
CREATE TABLE IF NOT EXISTS assessments (
    school_id      TEXT NOT NULL,
    school_year    TEXT NOT NULL,
    state          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    updated_at     REAL NOT NULL,
    updated_by     TEXT NOT NULL,
    submitted_at   REAL,
    submitted_by   TEXT,
    decided_at     REAL,
    decided_by     TEXT,
    reason         TEXT,
    publication_id TEXT,
    PRIMARY KEY (school_id, school_year)
);
CREATE INDEX IF NOT EXISTS assessments_year ON assessments (school_year, state);
-- assessment_items: one row per school × year × criterion: the school's points (self_met for a
-- mandatory condition) and note; the Phòng's verified points, its comment, who verified;
-- returned = 1 while the Phòng asks the school to redo this criterion.
CREATE TABLE IF NOT EXISTS assessment_items (
    school_id       TEXT NOT NULL,
    school_year     TEXT NOT NULL,
    criterion_code  TEXT NOT NULL,
    self_points     REAL,
    self_met        INTEGER,
    note            TEXT,
    verified_points REAL,
    verified_met    INTEGER,
    comment         TEXT,
    returned        INTEGER NOT NULL DEFAULT 0,
    verified_by     TEXT,
    verified_at     REAL,
    PRIMARY KEY (school_id, school_year, criterion_code)
);
-- assessment_evidence: one row per evidence file (minh chứng) of a criterion; kind checked from the
-- bytes (kpi.workflows.assessment.KINDS); content = the file itself (a BLOB: it goes with the store's backup,
-- is written in the transaction that audits it, and no uploaded name ever becomes a path).
CREATE TABLE IF NOT EXISTS assessment_evidence (
    evidence_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id      TEXT NOT NULL,
    school_year    TEXT NOT NULL,
    criterion_code TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    content        BLOB NOT NULL,
    uploaded_at    REAL NOT NULL,
    uploaded_by    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assessment_evidence_school ON assessment_evidence (school_id, school_year);
-- assessment_cycles: the Phòng's settings of a school year's cycle: the deadline (ISO date) and the
-- threshold (points) above which a self-assessed score far from the computed one is flagged.
CREATE TABLE IF NOT EXISTS assessment_cycles (
    school_year TEXT PRIMARY KEY,
    deadline    TEXT NOT NULL,
    threshold   REAL NOT NULL,
    set_by      TEXT,
    set_at      REAL
);
-- (the counters row 'assessment' is bumped by every change of the four tables above)

-- version 4: administration (targets per school year, schools and units, accounts).
-- target_drafts: one row per school year whose targets the office is preparing (kpi.admin.plans); rows =
-- JSON list of {indicator, level, value, near, clause, basis}; version +1 at every save (a save made
-- on an older version is refused). Publishing writes the plan into the analytics file and drops it.
CREATE TABLE IF NOT EXISTS target_drafts (
    school_year  TEXT PRIMARY KEY,
    source_year  TEXT NOT NULL,
    base_version INTEGER NOT NULL,
    document     TEXT NOT NULL,
    rows         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   REAL NOT NULL
);
-- account_passwords: per account, whether the password must be changed at the next login (a first
-- or reset password) and the previous password's bcrypt hash (never reused: kpi.admin.accounts).
CREATE TABLE IF NOT EXISTS account_passwords (
    user_name     TEXT PRIMARY KEY,
    must_change   INTEGER NOT NULL,
    previous_hash TEXT,
    changed_at    REAL NOT NULL,
    changed_by    TEXT NOT NULL
);

-- version 5: writes that span this store and the analytics file (kpi.store.recovery, issue 28).
-- intents: one row per such write, recorded here BEFORE the analytics file is written: kind (what:
-- 'duyet', 'cong_bo', 'hoan_tac'), who, keys = JSON of what it changes and the outcome the store
-- side must reach; state 'cho' (pending) until the store side is done ('xong', with result = JSON of
-- what the analytics write returned, e.g. the import id) or the analytics write is known not to
-- have landed ('huy'). The analytics file holds meta key 'intent:<intent_id>' written in the same
-- DuckDB transaction as the change, which is how a repair tells the two apart.
CREATE TABLE IF NOT EXISTS intents (
    intent_id  TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_name  TEXT,
    keys       TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at REAL NOT NULL,
    done_at    REAL,
    result     TEXT
);
CREATE INDEX IF NOT EXISTS intents_state ON intents (state);
"""


_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))


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
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash; WAL keeps it consistent
                con.execute("PRAGMA busy_timeout=10000")
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
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        # a store made while a version's tables were only reserved (user_version already 4) gains them too
        if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION or not _TABLES <= have:
            # idempotent (CREATE ... IF NOT EXISTS): an older store gains the new tables, and
            # two processes starting at once both succeed
            try:
                con.executescript(_SCHEMA)
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            except sqlite3.OperationalError as e:  # a full or read-only disk: reads go on, the next use retries
                if faults.unavailable(e, "kho trạng thái (nâng cấp cấu trúc)", self.path) is None:
                    raise
                self._retry_at = time.time() + 30
                return
        self._upgraded = True

    def read(self, sql: str, params=()) -> list[tuple]:
        """Rows of one query."""
        with self._lock:
            return self._connect().execute(sql, params).fetchall()

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
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                        (session_id, user_name, now, now, client))

    def session(self, session_id: str) -> dict | None:
        rows = self.read("SELECT user_name, issued_at, last_seen, revoked_at, reason FROM sessions "
                         "WHERE session_id = ?", (session_id,))
        if not rows:
            return None
        return dict(zip(("user_name", "issued_at", "last_seen", "revoked_at", "reason"), rows[0]))

    def session_touch(self, session_id: str, now: float) -> None:
        with self.write() as con:
            con.execute("UPDATE sessions SET last_seen = ? WHERE session_id = ? AND last_seen < ?",
                        (now, session_id, now))

    def session_revoke(self, session_id: str, now: float, reason: str) -> None:
        with self.write() as con:
            con.execute("UPDATE sessions SET revoked_at = ?, reason = ? WHERE session_id = ? AND revoked_at IS NULL",
                        (now, reason, session_id))

    def sessions_revoke_user(self, user_name: str, now: float, reason: str) -> int:
        """Revoke every open session of a user; returns how many."""
        with self.write() as con:
            return con.execute("UPDATE sessions SET revoked_at = ?, reason = ? "
                               "WHERE user_name = ? AND revoked_at IS NULL", (now, reason, user_name)).rowcount

    def recent_users(self, since: float) -> list[str]:
        """User names with a session used since `since`, most recently used first."""
        return [r[0] for r in self.read("SELECT user_name, max(last_seen) AS seen FROM sessions WHERE last_seen >= ? "
                                        "GROUP BY user_name ORDER BY seen DESC", (since,))]

    def sessions_forget(self, before: float) -> None:
        """Drop sessions that ended (revoked or last used) before `before`."""
        with self.write() as con:
            con.execute("DELETE FROM sessions WHERE coalesce(revoked_at, last_seen) < ?", (before,))

    # ---- wrong-password counters -----------------------------------------------------------

    def failures(self, key: str) -> tuple[int, float, float]:
        """(failures, first_at, last_at) of a throttled key; (0, 0, 0) when clean."""
        rows = self.read("SELECT failures, first_at, last_at FROM login_failures WHERE key = ?", (key,))
        return rows[0] if rows else (0, 0.0, 0.0)

    def failure_add(self, key: str, now: float, window: float) -> None:
        """Count one failure; a count whose last failure is older than `window` starts over."""
        with self.write() as con:
            con.execute("""
                INSERT INTO login_failures VALUES (?, 1, ?, ?)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN ? - last_at > ? THEN 1 ELSE failures + 1 END,
                    first_at = CASE WHEN ? - last_at > ? THEN ? ELSE first_at END,
                    last_at = ?""", (key, now, now, now, window, now, window, now, now))

    def failure_clear(self, key: str) -> None:
        with self.write() as con:
            con.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # ---- audit -----------------------------------------------------------------------------

    def audit(self, action: str, user_name: str | None = None, detail: dict | None = None,
              client: str | None = None, now: float | None = None) -> None:
        """Record one action (who, what, when, from where)."""
        with self.write() as con:
            audit_in(con, action, user_name, detail, client, now)

    def checkpoint(self) -> None:
        """Write the WAL's pages into the main file (so that a copy of the file alone holds everything)."""
        with self._lock:
            self._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
        rows = self.read("SELECT value FROM counters WHERE name = 'workflow'")
        return rows[0][0] if rows else 0

    def assessment_version(self) -> int:
        """The version of the yearly maturity assessment (kpi.workflows.assessment): bumped by every change."""
        rows = self.read("SELECT value FROM counters WHERE name = 'assessment'")
        return rows[0][0] if rows else 0

    def audit_rows(self, limit: int = 100, action: str | None = None) -> list[dict]:
        """The newest audit rows first."""
        where, params = ("WHERE action = ?", (action, limit)) if action else ("", (limit,))
        rows = self.read(f"SELECT at, user_name, action, detail, client FROM audit {where} "
                         "ORDER BY audit_id DESC LIMIT ?", params)
        return [dict(zip(("at", "user_name", "action", "detail", "client"), r)) for r in rows]


def audit_in(con: sqlite3.Connection, action: str, user_name: str | None = None, detail: dict | None = None,
             client: str | None = None, now: float | None = None) -> None:
    """Record one action inside a write transaction the caller holds (with the change it records)."""
    con.execute("INSERT INTO audit (at, user_name, action, detail, client) VALUES (?, ?, ?, ?, ?)",
                (time.time() if now is None else now, user_name, action,
                 json.dumps(detail, ensure_ascii=False) if detail else None, client))


_STORES: dict[Path, Store] = {}
_STORES_LOCK = threading.Lock()


def store_for(db_path: str | os.PathLike) -> Store:
    """The (process-wide) store beside a DuckDB file."""
    path = state_path(db_path).resolve()
    with _STORES_LOCK:
        if path not in _STORES:
            _STORES[path] = Store(path)
        return _STORES[path]
