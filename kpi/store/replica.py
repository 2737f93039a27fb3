"""Several machines, one set of figures (issue 27, item 2): each machine's analytics file follows the
write log in the shared PostgreSQL store.

Every write to the analytics file goes through kpi.store.db.writing. With a shared store
(`KPI_STORE=postgresql://…`) a writer holds the cluster's analytics lock, brings its file up to the
log's head, writes its copy, appends the write to the log (kpi.store.replay: its statements and the
tables they read) with the file's data version and content fingerprint, then swaps the copy in.
Every other machine applies the entries it lacks (`kpi.store.db.catch_up`), checking after each that
its content has the fingerprint the writer's had: two machines holding the same log seq hold the
same figures, and a machine that does not is stopped loudly (kpi.store.db.Divergence), never served.

Here: the `Follower` that `kpi serve` runs beside its workers (it polls the log's head and catches
up within about a second of a write made on another machine), and `status` (what `kpi version`
prints: data version, log seq, fingerprint, so that two machines can be compared).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import duckdb

from kpi.common import exiting, faults
from kpi.store import db, state

log = logging.getLogger("kpi.store.replica")

POLL_S = float(os.environ.get("KPI_FOLLOW_S", "0.5"))


def status(path: str | os.PathLike) -> dict:
    """The file's data version, the log seq it holds, its content fingerprint (computed now) and the
    one its last write recorded; with a shared store, the log's head and its last entry's machine."""
    path = Path(path)
    con = db.connect(path)
    try:
        meta = dict(con.execute(db.statement("replica.meta")).fetchall())
        out = {"data_version": int(meta.get("data_version", 0)), "log_seq": int(meta.get("log_seq", 0)),
               "content_sha256": db.fingerprint(con), "recorded_sha256": meta.get("content_sha256")}
    finally:
        con.close()
    store = db.shared_store(path)
    if store is not None:
        last = store.log_last() or {}
        out |= {"log_head": last.get("seq", 0), "log_machine": last.get("machine"),
                "log_sha256": last.get("content_sha256")}
    return out


class Follower:
    """A thread that keeps the file at the shared log's head: every `interval` seconds it reads the
    head (one indexed query) and, when this file is behind, applies what it lacks. A store that cannot
    be reached is retried at the next poll; a divergence stops the follower and stays in `error`."""

    def __init__(self, path: str | os.PathLike, interval: float = POLL_S):
        self.path = Path(path)
        self.interval = interval
        self.store = db.shared_store(self.path)
        self.applied = 0
        self.error: str | None = None
        self._seen = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kpi-follower", daemon=True)

    def start(self) -> Follower:
        """Start following (nothing to follow on one machine: the thread is not started)."""
        if self.store is not None:
            exiting.stop_at_exit(self._thread, self._stop.set)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following (waits for an application in progress)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def step(self) -> int:
        """One poll: the entries applied (0 when the file is at the head)."""
        head = self.store.log_head()
        if head <= self._seen:
            return 0
        n = db.catch_up(self.path, self.store)
        self._seen = db.file_log_seq(self.path)
        if n:
            self.applied += n
            log.info("Đã cập nhật %d lần ghi từ máy khác (đến lần ghi #%d)", n, self._seen)
        return n

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except db.Divergence as e:
                self.error = str(e)
                log.critical("%s", e)
                return
            # the store or the disk: retried at the next poll
            except (faults.StoreUnavailable, *state.STORE_ERRORS, duckdb.Error, OSError) as e:
                log.warning("Chưa cập nhật được số liệu từ nhật ký ghi chung: %s: %s", type(e).__name__, e)
            self._stop.wait(self.interval)

