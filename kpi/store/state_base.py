"""What both state stores share (kpi.store.state: SQLite; kpi.store.state_pg: PostgreSQL): the statements
read from kpi/sql/state/, per dialect, and the store's own operations written once over `read`/`write`.

Statements: kpi/sql/state/<group>.sql holds what both dialects run as written; where PostgreSQL needs
its own text (an `INSERT OR REPLACE`, `json_each`, `IS NOT` between values, a `RETURNING`), the
statement of the same name in kpi/sql/state/postgresql/<group>.sql takes its place there. The group
`connection` is each dialect's own (SQLite's PRAGMAs in kpi/sql/state/connection.sql, PostgreSQL's
locks and schema version in kpi/sql/state/postgresql/connection.sql). Callers name a statement
(`sql("sessions.touch")`), and bind values by name (`:name`); a PostgreSQL connection finds that
statement's own text, with its parameters turned into psycopg's `%(name)s` once, at load.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from functools import lru_cache
from pathlib import Path

STATE_SQL = Path(__file__).resolve().parents[1] / "sql" / "state"
PG_SQL = STATE_SQL / "postgresql"
OWN_GROUPS = frozenset({"connection"})  # each dialect's own statements, not a translation of the other's
_NAME = re.compile(r"^-- name: (\w+)\n", re.MULTILINE)
_VERSION = re.compile(r"^-- version (\d+):", re.MULTILINE)
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_QUOTED = re.compile(r"('(?:[^']|'')*')")
PRIVATE = 0o600  # sessions, password flags and evidence: the store is its owner's only (with -wal, -shm)


def _parse(path: Path) -> dict[str, str]:
    parts = _NAME.split(path.read_text(encoding="utf-8"))
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


@lru_cache(maxsize=None)
def statements(group: str, dialect: str = "sqlite") -> dict[str, str]:
    """The named statements of a group in a dialect ('sqlite' or 'postgresql'): name → text (its header
    comment included). SQLite's are kpi/sql/state/<group>.sql; PostgreSQL's are those, each replaced by
    the statement of the same name in kpi/sql/state/postgresql/<group>.sql when there is one.

    A file holds one group (a table, or what one module does): a header comment, then per statement
    a line ``-- name: <name>``, a comment stating what it reads or changes and its ``Parameters:``
    (named, bound: ``:name``), and the one statement."""
    if dialect == "sqlite":
        return _parse(STATE_SQL / f"{group}.sql")
    own = PG_SQL / f"{group}.sql"
    if group in OWN_GROUPS:
        return _parse(own)
    return _parse(STATE_SQL / f"{group}.sql") | (_parse(own) if own.exists() else {})


def sql(name: str) -> str:
    """The statement ``<group>.<name>`` of kpi/sql/state/<group>.sql (every statement run against the
    state store is one; its values bound as named parameters). A PostgreSQL store's connection runs
    that statement's PostgreSQL text (kpi.store.state_pg)."""
    group, _, statement = name.partition(".")
    return statements(group)[statement]


def named(name: str, rows) -> list[dict]:
    """Rows given in the order of a statement's parameters (as they first appear in it: a table's
    columns for a plain insert) as the named parameters it binds, for executemany."""
    body = "\n".join(ln for ln in sql(name).splitlines() if not ln.startswith("--"))
    names = list(dict.fromkeys(_PARAM.findall(body)))
    return [dict(zip(names, row, strict=True)) for row in rows]


def pyformat(text: str) -> str:
    """A statement's text as psycopg runs it: comments and the final semicolon dropped, every literal
    `%` doubled, every `:name` (never a `::` cast, never inside a quoted string) as `%(name)s`."""
    body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("--")).strip().rstrip(";")
    parts = _QUOTED.split(body)
    return "".join(p.replace("%", "%%") if i % 2 else _PARAM.sub(r"%(\1)s", p.replace("%", "%%"))
                   for i, p in enumerate(parts))


def _sections(text: str) -> list[tuple[int, int]]:
    return [(int(m.group(1)), m.start()) for m in _VERSION.finditer(text)]


@lru_cache(maxsize=None)
def schema(since: int = 1, until: int | None = None) -> str:
    """kpi/sql/state/schema.sql: the whole script (it ends by setting the version), or the tables
    that versions `since`..`until` added (its sections ``-- version N:``; no version set)."""
    text = (STATE_SQL / "schema.sql").read_text(encoding="utf-8")
    if since == 1 and until is None:
        return text
    marks = _sections(text)
    begin = next(pos for v, pos in marks if v == since)
    stop = next((pos for v, pos in marks if until is not None and v == until + 1), None)
    if stop is None:
        stop = text.index("\n-- the schema's version")
    return text[begin:stop]


@lru_cache(maxsize=None)
def pg_schema() -> dict[int, str]:
    """kpi/sql/state/postgresql/schema.sql by version: N → the section ``-- version N:`` (its tables)."""
    text = (PG_SQL / "schema.sql").read_text(encoding="utf-8")
    marks = _sections(text)
    ends = [pos for _, pos in marks[1:]] + [len(text)]
    return {v: text[pos:end] for (v, pos), end in zip(marks, ends)}


SCHEMA_VERSION = int(re.search(r"^PRAGMA user_version = (\d+);", schema(), re.MULTILINE).group(1))
_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema()))

# every table of the store, in an order that copies it whole (kpi.store.state_pg: copy_to, load_from):
# table → (its rows, one new row), statements of kpi/sql/state/copy.sql
COPY = {
    "sessions": ("copy.sessions", "copy.sessions_add"),
    "login_failures": ("copy.login_failures", "copy.login_failures_add"),
    "audit": ("copy.audit", "copy.audit_add"),
    "entries": ("copy.entries", "copy.entries_add"),
    "entry_values": ("copy.entry_values", "copy.entry_values_add"),
    "period_locks": ("copy.period_locks", "copy.period_locks_add"),
    "counters": ("copy.counters", "copy.counters_add"),
    "assessments": ("copy.assessments", "copy.assessments_add"),
    "assessment_items": ("copy.assessment_items", "copy.assessment_items_add"),
    "assessment_evidence": ("copy.assessment_evidence", "copy.assessment_evidence_add"),
    "assessment_cycles": ("copy.assessment_cycles", "copy.assessment_cycles_add"),
    "target_drafts": ("copy.target_drafts", "copy.target_drafts_add"),
    "account_passwords": ("copy.account_passwords", "copy.account_passwords_add"),
    "intents": ("copy.intents", "copy.intents_add"),
}


class StoreBase:
    """The store's operations, the same on both dialects: a subclass gives `read`, `reading`, `write`."""

    path: object
    dialect = "sqlite"

    def read(self, query: str, params=()) -> list[tuple]:
        raise NotImplementedError

    def write(self):
        raise NotImplementedError

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
        return tuple(rows[0]) if rows else (0, 0.0, 0.0)

    def failure_add(self, key: str, now: float, window: float) -> None:
        """Count one failure; a count whose last failure is older than `window` starts over."""
        with self.write() as con:
            con.execute(sql("login_failures.add"), {"key": key, "now": now, "window": window})

    def failure_clear(self, key: str) -> None:
        with self.write() as con:
            con.execute(sql("login_failures.clear"), {"key": key})

    # ---- audit and versions ------------------------------------------------------------------

    def audit(self, action: str, user_name: str | None = None, detail: dict | None = None,
              client: str | None = None, now: float | None = None) -> None:
        """Record one action (who, what, when, from where)."""
        with self.write() as con:
            audit_in(con, action, user_name, detail, client, now)

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


    # ---- the analytics file's write log (kpi.store.db: several machines) -------------------------------

    shared = False  # one store for several machines (PostgreSQL): the analytics file's writes are logged

    def log_head(self) -> int:
        """The newest entry's seq of the analytics file's write log (0: empty)."""
        return self.read(sql("analytics_log.head"))[0][0]

    def log_after(self, after: int, limit: int = 50) -> list[tuple[int, int, str, bytes]]:
        """(seq, data_version, content_sha256, entry) of the entries after `after`, oldest first."""
        return [(s, v, h, bytes(e)) for s, v, h, e in self.read(sql("analytics_log.after"),
                                                                  {"after": after, "limit": limit})]

    def log_last(self) -> dict | None:
        """The newest entry (without its write): seq, data_version, content_sha256, created_at, machine."""
        rows = self.read(sql("analytics_log.last"))
        return dict(zip(("seq", "data_version", "content_sha256", "created_at", "machine"), rows[0])) if rows else None

    def log_append(self, seq: int, data_version: int, content_sha256: str, entry: bytes, machine: str,
                   now: float | None = None) -> None:
        """Append one entry (a seq already taken is refused by the key)."""
        with self.write() as con:
            con.execute(sql("analytics_log.append"), {"seq": seq, "data_version": data_version,
                                                      "content_sha256": content_sha256, "entry": entry,
                                                      "created_at": time.time() if now is None else now,
                                                      "machine": machine})

    def log_trim(self, before: float, keep: int) -> int:
        """Drop the entries written before `before` (epoch seconds) but the newest `keep`; how many."""
        with self.write() as con:
            cur = con.execute(sql("analytics_log.trim"), {"before": before, "keep": keep})
            return max(0, cur.rowcount or 0)

    def log_first(self) -> int:
        """The oldest entry's seq still in the log (0: empty)."""
        return self.read(sql("analytics_log.first"))[0][0]

    def analytics_lock(self):
        """The analytics file's writers' lock across machines: on one machine the file's own lock is
        enough (nothing to hold here); PostgreSQL's store holds an advisory lock."""
        return contextlib.nullcontext()


def audit_in(con, action: str, user_name: str | None = None, detail: dict | None = None,
             client: str | None = None, now: float | None = None) -> None:
    """Record one action inside a write transaction the caller holds (with the change it records)."""
    con.execute(sql("audit.add"), {"at": time.time() if now is None else now, "user_name": user_name, "action": action,
                                   "detail": json.dumps(detail, ensure_ascii=False) if detail else None,
                                   "client": client})


def bump(con, counter: str) -> None:
    """Inside a write transaction: the named version readers cache by ('workflow', 'assessment') +1."""
    con.execute(sql("counters.bump"), {"name": counter})
