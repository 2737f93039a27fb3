"""Chốt số liệu: freeze a reporting round's figures into an immutable, hashed snapshot.

A snapshot of period P holds every observation and submission of the periods up to and including
P, and the maturity entries of the school years up to P's, as they were when frozen: the round's
figures and the trend behind them. A school's submission is its first arrival, whichever came
first: a file the Phòng imported or the school's own submission in the app (the state store's
entries), exactly what the live pages count (kpi/sql/submission_status.sql), so a pack from the
snapshot states the same on time / late / not submitted as the page did when it was frozen.
Later imports never change it. Its content hash (SHA-256 of the rows in a canonical order) lets
anyone check months later that a pack came from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa

from kpi.common import faults
from kpi.store import db, state
from kpi.workflows.entry import local


def content_hash(con, snapshot_id: str) -> str:
    """SHA-256 over the snapshot's rows, canonically ordered."""
    h = hashlib.sha256()
    for table, part in (("snapshot_observations", "observation_rows"), ("snapshot_scores", "score_rows"),
                        ("snapshot_submissions", "submission_rows")):
        rows = con.execute(db.statement(f"snapshot.{part}"), [snapshot_id]).fetchall()
        h.update(table.encode())
        for r in rows:
            h.update(repr(r).encode("utf-8"))
    return h.hexdigest()


_APP_SUBS = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string()),
                      ("first_submitted_at", pa.timestamp("us"))])


def app_submissions(path, school_year: str, round: str) -> pa.Table:
    """The schools' first submissions in the app (kpi.workflows.entry; submitted, returned or approved alike)
    of the periods up to and including (school_year, round), in Vietnamese wall-clock time."""
    try:  # a snapshot without them would call those schools "chưa nộp"
        rows = state.store_for(path).read(state.sql("entries.first_submissions"))
    except (*state.STORE_ERRORS, faults.StoreUnavailable, OSError) as e:
        raise ValueError("Không đọc được các lần nộp số liệu trên ứng dụng (kho trạng thái bên cạnh tệp dữ liệu), "
                         "nên chưa chốt: bản chốt sẽ thiếu các trường đã nộp. Thử lại sau ít phút; nếu vẫn lỗi, "
                         "báo người quản trị hệ thống.") from e
    data = [(sid, y, r, local(t)) for sid, y, r, t in rows
            if y < school_year or (y == school_year and (r == round or r == "HK1"))]
    columns = list(zip(*data)) if data else [()] * len(_APP_SUBS)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, _APP_SUBS)], schema=_APP_SUBS)


def freeze(path, school_year: str, round: str, name: str, user: str, now: dt.datetime | None = None) -> str:
    """Freeze the figures of a period (and the periods before it); return the snapshot id."""
    now = now or dt.datetime.now()
    app = app_submissions(path, school_year, round)  # read before the writer holds the file
    with db.writing(path) as con:
        if not con.execute(db.statement("snapshot.period"), [school_year, round]).fetchall():
            raise ValueError(f"Không có kỳ báo cáo {school_year} {round}.")
        n = con.execute(db.statement("snapshot.count"), [school_year, round]).fetchall()[0][0]
        sid = f"{school_year}-{round}-{n + 1:02d}"
        params = {"y": school_year, "r": round, "id": sid}
        con.execute(db.statement("snapshot.observations"), params)
        con.execute(db.statement("snapshot.scores"), {"y": school_year, "id": sid})
        con.register("app_submissions", app)
        con.execute(db.statement("snapshot.submissions"), params)
        con.unregister("app_submissions")
        digest = content_hash(con, sid)
        con.execute(db.statement("snapshot.record"),
                    [sid, name or f"Chốt số liệu {school_year} {round}", school_year, round, user, now, digest])
    return sid


def snapshot_info(con, snapshot_id: str) -> dict | None:
    """The snapshot's record (id, name, period, who, when, hash), or None."""
    rows = con.execute(db.statement("snapshot.info"), [snapshot_id]).fetchall()
    if not rows:
        return None
    return dict(zip(("snapshot_id", "name", "school_year", "round", "created_by", "created_at", "content_hash"),
                    rows[0]))
