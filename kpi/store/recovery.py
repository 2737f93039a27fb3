"""Writes that span the two stores are finished or undone: an intent log in the state store.

An approval (kpi.workflows.entry), a publication of the maturity results (kpi.workflows.assessment) and the revert of
an import (kpi.imports.importer) change the analytics file (DuckDB, through kpi.store.db.writing) and the state
store (SQLite, kpi.store.state): two files, two transactions. Under the writers' lock, such a write

1. records its intent in the store (table `intents`: what, who, which keys, the outcome the store
   side must reach), state 'cho', BEFORE anything else;
2. writes the analytics file, recording meta key ``intent:<id>`` (what it wrote, e.g. the import
   id) in the same DuckDB transaction, so the file says whether that write landed;
3. completes the store side (entries approved, ...) with its audit rows and marks the intent 'xong',
   in one store transaction.

A process that dies anywhere leaves at most one intent 'cho'. `repair(path)` (every server start,
and every such writer before it writes) finishes it when the analytics write landed (step 3, the
audit rows marked ``phuc_hoi``) and otherwise drops it ('huy': nothing changed, the entries stay
submitted), so the district figures, the workflow state and the audit always agree.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid

from kpi.common import faults
from kpi.store import db, state

log = logging.getLogger("kpi.store.recovery")

LABELS = {"duyet": "duyệt số liệu", "cong_bo": "công bố kết quả đánh giá", "hoan_tac": "hoàn tác lần nhập"}
PARTIAL = ("Số liệu đã được ghi vào tệp số liệu nhưng chưa ghi xong trạng thái và nhật ký vì {reason}; không mất "
           "gì: hệ thống tự hoàn tất việc này ở lần ghi kế tiếp hoặc khi máy chủ khởi động lại. Vui lòng báo quản "
           "trị hệ thống.")


# ---- the store side of each kind: (store connection, user, keys, result, repaired) ----------------

def _finish_approval(con, user: str, keys: dict, result: dict, repaired: bool) -> None:
    year, rnd, now = keys["year"], keys["round"], keys["now"]
    for sid, version in keys["items"]:
        done = con.execute(state.sql("entries.approve"), {"school_id": sid, "school_year": year, "round": rnd,
                                                          "version": version, "now": now, "user_name": user}).rowcount
        if done:
            detail = {"truong": sid, "ky": f"{year} {rnd}", "phien_ban": version + 1, "lan_nhap": result["import_id"]}
            state.audit_in(con, "duyet", user, detail | ({"phuc_hoi": 1} if repaired else {}), now=now)
    state.bump(con, "workflow")


def _finish_publication(con, user: str, keys: dict, result: dict, repaired: bool) -> None:
    year, pid = keys["year"], result["publication_id"]
    for sid in keys["schools"]:
        con.execute(state.sql("assessments.publish"), {"school_id": sid, "school_year": year, "publication_id": pid})
    state.bump(con, "assessment")
    detail = {"nam_hoc": year, "lan_cong_bo": pid, "truong": len(keys["schools"])}
    state.audit_in(con, "danh_gia_cong_bo", user, detail | ({"phuc_hoi": 1} if repaired else {}), now=keys["now"])


def _finish_revert(con, user: str, keys: dict, result: dict, repaired: bool) -> None:
    detail = {"lan_nhap": keys["import_id"], "lan_hoan_tac": result.get("revert_id")}
    state.audit_in(con, "hoan_tac_nhap", user, detail | ({"phuc_hoi": 1} if repaired else {}), now=keys.get("now"))


FINISH = {"duyet": _finish_approval, "cong_bo": _finish_publication, "hoan_tac": _finish_revert}


# ---- the steps -----------------------------------------------------------------------------------

def begin(store: state.Store, kind: str, user_name: str | None, keys: dict, now: float | None = None) -> str:
    """Step 1: record the intent (state 'cho'); returns its id. Call under the writers' lock."""
    if kind not in FINISH:
        raise ValueError(kind)
    intent_id = uuid.uuid4().hex
    with store.write() as con:
        con.execute(state.sql("intents.add"), {"intent_id": intent_id, "kind": kind, "user_name": user_name,
                                               "keys": json.dumps(keys, ensure_ascii=False),
                                               "now": time.time() if now is None else now})
    return intent_id


def landed_in(con, intent_id: str, result: dict) -> None:
    """Step 2: inside the analytics file's write transaction (kpi.store.db.writing), record that this
    intent's write is part of it and what it wrote. The marks of earlier intents go: the writer
    repaired them all under the same lock before it began, so none of them is asked about again."""
    con.execute("DELETE FROM meta WHERE key LIKE 'intent:%'")
    db.set_meta(con, f"intent:{intent_id}", json.dumps(result, ensure_ascii=False))


def landed(path, intent_id: str) -> dict | None:
    """What the analytics write of an intent recorded, or None when it never landed in the file (the
    file brought up to the cluster's write log first: a write another machine or a killed writer
    appended there landed, even if this file has not taken it yet)."""
    db.catch_up(path)
    try:
        con = db.connect(path)
    except Exception:  # no file: nothing landed
        return None
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [f"intent:{intent_id}"]).fetchall()
    finally:
        con.close()
    return json.loads(rows[0][0]) if rows else None


def complete(store: state.Store, intent_id: str, result: dict, repaired: bool = False) -> bool:
    """Step 3: the store side, its audit rows and the intent marked done, in one store transaction;
    False when the intent was no longer pending (finished or dropped already)."""
    with store.write() as con:
        row = con.execute(state.sql("intents.get"), {"intent_id": intent_id}).fetchone()
        if row is None or row[3] != "cho":
            return False
        kind, user, keys, _ = row
        FINISH[kind](con, user, json.loads(keys), result, repaired)
        con.execute(state.sql("intents.done"), {"intent_id": intent_id, "now": time.time(),
                                                "result": json.dumps(result, ensure_ascii=False)})
    return True


def drop(store: state.Store, intent_id: str) -> None:
    """The analytics write did not land: the intent is dropped, nothing else changes."""
    with store.write() as con:
        con.execute(state.sql("intents.drop"), {"intent_id": intent_id, "now": time.time()})


def pending(store: state.Store) -> list[tuple[str, str, str | None, dict]]:
    """(intent id, kind, user, keys) of every unfinished intent, oldest first."""
    return [(i, k, u, json.loads(keys)) for i, k, u, keys in store.read(state.sql("intents.pending"))]


class Crossing:
    """One write across both stores in progress (see `crossing`)."""

    def __init__(self, store: state.Store, path, intent_id: str):
        self.store, self.path, self.id = store, path, intent_id
        self.result: dict | None = None

    def landed(self, con, result: dict) -> None:
        """Call inside the analytics file's write transaction, with what it wrote."""
        landed_in(con, self.id, result)
        self.result = result


@contextlib.contextmanager
def crossing(store: state.Store, path, kind: str, user_name: str | None, keys: dict):
    """A write across both stores: repairs what an earlier writer left, records the intent, yields
    a Crossing (the body writes the analytics file through kpi.store.db.writing and calls
    ``crossing.landed(con, result)`` inside it), then completes the store side. When the body
    fails, the intent is dropped (the analytics write did not land) or completed (it did). When
    the store refuses the completion, raises StoreUnavailable saying the rest is done by repair."""
    with db.writer_lock(path):
        repair(path, store)
        c = Crossing(store, path, begin(store, kind, user_name, keys))
        faults.point("before_analytics")
        try:
            yield c
        except BaseException:
            with contextlib.suppress(faults.StoreUnavailable):  # left 'cho': the next repair decides
                result = landed(path, c.id)
                if result is None:
                    drop(store, c.id)
                else:
                    complete(store, c.id, result)
            raise
        faults.point("after_analytics")
        if c.result is None:  # the body wrote nothing (e.g. nothing changed): nothing to complete
            drop(store, c.id)
            return
        try:
            complete(store, c.id, c.result)
        except faults.StoreUnavailable as e:
            raise faults.StoreUnavailable(e.kind, e.cause, PARTIAL.format(reason=faults.REASON[e.kind])) from e
        faults.point("after_store")


def repair(path, store: state.Store | None = None) -> list[str]:
    """Complete or drop every unfinished intent of the file's store (under the writers' lock);
    returns one Vietnamese line per intent handled. Cheap when there is none (one store read)."""
    store = store or state.store_for(path)
    if not pending(store):
        return []
    out = []
    with db.writer_lock(path):  # waits for a writer at work: its intent is not stale until it ends
        for intent_id, kind, user, _keys in pending(store):
            result = landed(path, intent_id)
            if result is None:
                drop(store, intent_id)
                out.append(f"Bỏ việc {LABELS[kind]} dở dang của {user} (chưa ghi gì vào tệp số liệu).")
            else:
                complete(store, intent_id, result, repaired=True)
                out.append(f"Hoàn tất việc {LABELS[kind]} dở dang của {user} (đã ghi vào tệp số liệu).")
            log.warning("Sửa việc dở dang %s (%s): %s", intent_id, kind, out[-1])
    return out


def repair_quietly(path) -> list[str]:
    """`repair` at a server start: a store or file that cannot be read or written now is logged and
    left for the next writer (the start goes on)."""
    try:
        return repair(path)
    except Exception as e:  # never stop a start; the next writer repairs
        log.error("Không sửa được việc dở dang của %s: %s: %s", path, type(e).__name__, e)
        return []
