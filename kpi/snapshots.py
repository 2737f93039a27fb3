"""Chốt số liệu: freeze a reporting round's figures into an immutable, hashed snapshot.

A snapshot of period P holds every observation and submission of the periods up to and including
P, and the maturity entries of the school years up to P's, as they were when frozen: the round's
figures and the trend behind them. Later imports never change it. Its content hash (SHA-256 of
the rows in a canonical order) lets anyone check months later that a pack came from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from kpi import db

_PERIODS_UP_TO = "(school_year < $y OR (school_year = $y AND (round = $r OR round = 'HK1')))"


def content_hash(con, snapshot_id: str) -> str:
    """SHA-256 over the snapshot's rows, canonically ordered."""
    h = hashlib.sha256()
    for table in ("snapshot_observations", "snapshot_scores", "snapshot_submissions"):
        rows = con.execute(f"SELECT * EXCLUDE (snapshot_id) FROM {table} WHERE snapshot_id = ? ORDER BY ALL",
                           [snapshot_id]).fetchall()
        h.update(table.encode())
        for r in rows:
            h.update(repr(r).encode("utf-8"))
    return h.hexdigest()


def freeze(path, school_year: str, round: str, name: str, user: str, now: dt.datetime | None = None) -> str:
    """Freeze the figures of a period (and the periods before it); return the snapshot id."""
    now = now or dt.datetime.now()
    with db.writing(path) as con:
        if not con.execute("SELECT 1 FROM periods WHERE school_year = ? AND round = ?", [school_year, round]).fetchall():
            raise ValueError(f"Không có kỳ báo cáo {school_year} {round}.")
        n = con.execute("SELECT count(*) FROM snapshots WHERE school_year = ? AND round = ?",
                        [school_year, round]).fetchall()[0][0]
        sid = f"{school_year}-{round}-{n + 1:02d}"
        params = {"y": school_year, "r": round, "id": sid}
        con.execute(f"""INSERT INTO snapshot_observations
                        SELECT $id, school_id, school_year, round, field_code, value FROM observations
                        WHERE {_PERIODS_UP_TO}""", params)
        con.execute("""INSERT INTO snapshot_scores
                       SELECT $id, school_id, school_year, criterion_code, self_points, self_met,
                              verified_points, verified_met
                       FROM criterion_scores WHERE school_year <= $y""", {"y": school_year, "id": sid})
        con.execute(f"""INSERT INTO snapshot_submissions
                        SELECT $id, school_id, school_year, round, received_at, source FROM submissions
                        WHERE {_PERIODS_UP_TO}""", params)
        digest = content_hash(con, sid)
        con.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [sid, name or f"Chốt số liệu {school_year} {round}", school_year, round, user, now, digest])
    return sid


def snapshot_info(con, snapshot_id: str) -> dict | None:
    """The snapshot's record (id, name, period, who, when, hash), or None."""
    rows = con.execute("SELECT snapshot_id, name, school_year, round, created_by, created_at, content_hash "
                       "FROM snapshots WHERE snapshot_id = ?", [snapshot_id]).fetchall()
    if not rows:
        return None
    return dict(zip(("snapshot_id", "name", "school_year", "round", "created_by", "created_at", "content_hash"),
                    rows[0]))
