"""Công bố kết quả đánh giá: a school year's maturity results, written and frozen (issue 19).

The office's publication (kpi.workflows.assessment.Assessor.publish) hands the approved schools' final points
to `write`, which, in one transaction through the single writer (kpi.store.db.writing), replaces those
schools' criterion entries of that year in `criterion_scores` (the school's points as self_points /
self_met, the office's as verified_points / verified_met: the precedence kpi.domain.scoring applies),
keeps what it replaced in `criterion_history` under one imports row (source 'danh_gia'), rescores
the stored index for them, and freezes the rows in `publication_scores` with a SHA-256 content
hash in `publications`, like a snapshot. Other years are never touched: they stay as published.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_date
from kpi.store import db, derived


def content_hash(con, publication_id: str) -> str:
    """SHA-256 over the publication's rows, canonically ordered."""
    h = hashlib.sha256()
    for r in con.execute(db.statement("publication.rows"), [publication_id]).fetchall():
        h.update(repr(r).encode("utf-8"))
    return h.hexdigest()


def write(path, school_year: str, rows: list[tuple], schools: list[str], user: str, now: dt.datetime,
          catalog: Catalog, crossing=None) -> str:
    """Write and freeze a publication through the single writer; `rows`: (school, year, criterion,
    self_points, self_met, verified_points, verified_met). Returns the publication id
    (e.g. 'CB-2023-2024-01'). `crossing` (kpi.store.recovery.Crossing): the intent this write carries out,
    recorded in the same transaction."""
    with db.writing(path) as con:
        pid = write_in(con, school_year, rows, schools, user, now, catalog)
        if crossing is not None:
            crossing.landed(con, {"publication_id": pid})
        return pid


def write_in(con, school_year: str, rows: list[tuple], schools: list[str], user: str, now: dt.datetime,
             catalog: Catalog, rescore: bool = True) -> str:
    """`write` inside a writer transaction the caller holds (the sample builds its file in one)."""
    n = con.execute(db.statement("publication.count"), [school_year]).fetchall()[0][0]
    pid = f"CB-{school_year}-{n + 1:02d}"
    import_id = con.execute(db.statement("publication.next_import")).fetchall()[0][0]
    changed = 0
    for sid, year, code, sp, sm, vp, vm in rows:
        old = con.execute(db.statement("publication.stored"), [sid, year, code]).fetchall()
        if old and tuple(old[0][:4]) == (sp, sm, vp, vm):
            continue
        o = old[0] if old else (None,) * 6
        con.execute(db.statement("publication.keep"), [import_id, sid, year, code, *o, bool(old)])
        con.execute(db.statement("publication.remove"), [sid, year, code])
        con.execute(db.statement("publication.put"), [sid, year, code, sp, sm, vp, vm, import_id])
        changed += 1
    if changed:  # an imports row (inspect, revert) only when the entries changed
        con.execute(db.statement("publication.record"),
                    [import_id, user, now, now, f"Công bố kết quả đánh giá CĐS {school_year} ({pid})",
                     hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest(), len(rows), changed])
        if rescore:
            derived.refresh_index(con, catalog, [school_year], list(schools))
    con.executemany(db.statement("publication.freeze"), [[pid, *r] for r in rows])
    digest = content_hash(con, pid)
    con.execute(db.statement("publication.publish"),
                [pid, school_year, user, now, len(schools), import_id if changed else None, digest])
    return pid


def latest(pubs, school_year: str) -> dict | None:
    """The newest publication of a school year among `pubs` (kpi.store.queries.publications rows), or None."""
    if pubs is None or not len(pubs):
        return None
    mine = pubs[pubs["school_year"] == school_year]
    return None if mine.empty else mine.sort_values("published_at", ascending=False).iloc[0].to_dict()


def sentence(pubs, school_year: str, school: bool = False) -> tuple[bool, str]:
    """(published, what the index pages, the scorecard and the exports say about the year's results).
    `school`: said to / about one school (whether it is in the publication)."""
    p = latest(pubs, school_year)
    if p is None:
        return False, (f"Kết quả năm học {school_year} chưa công bố: điểm tính từ bản tự đánh giá và số liệu hiện có, "
                       "có thể còn thay đổi khi Phòng thẩm định.")
    if school and not bool(p.get("includes_school", True)):
        return False, (f"Kết quả năm học {school_year} đã công bố ngày {fmt_date(p['published_at'])} nhưng chưa gồm "
                       "trường này (bản tự đánh giá chưa được duyệt): điểm hiện có là tạm tính.")
    return True, (f"Kết quả đã công bố: lần công bố {p['publication_id']} ngày {fmt_date(p['published_at'])} "
                  f"({p['schools']} trường), mã kiểm tra {str(p['content_hash'])[:12]}…; điểm là điểm Phòng xác nhận.")
