"""The figures on every machine (issue 27, item 2): two analytics files copied from the same sample (two
"machines") share one PostgreSQL store (tests/pg.py). Every write through either is appended to the
store's write log; the other applies it (kpi.store.db.catch_up) and ends with the same content
fingerprint and the same `kpi summary`. Writes from both stay in one order; a writer killed between
the log's append and its swap catches up on restart; a write that skipped the log, an entry altered
and a recorder that misses a table are each caught by the fingerprint. On one machine (SQLite)
nothing is recorded."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout

import psycopg
import pyarrow as pa
import pytest

from kpi import cli
from kpi.imports import importer
from kpi.serving import serve
from kpi.store import db, recovery, replay, replica, state
from kpi.workflows import snapshots
from tests import test_admin as admin_writes
from tests import test_state_dialects as dialects
from tests.conftest import ROOT
from tests.test_entry import OFFICE, PERIOD, _fresh_school, _submit, desk
from tests.test_faults import _APPROVE, _dying
from tests.test_importer import _fill, _template


@pytest.fixture()
def machines(pg_store, entry_db, tmp_path):
    """(A, B): two copies of the sample, each its own machine's file, one PostgreSQL store."""
    b = tmp_path / "b" / "copy.duckdb"
    b.parent.mkdir()
    shutil.copy2(entry_db, b)
    return entry_db, b


def _summary(path) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["summary", "--db", str(path), "--year", PERIOD[0], "--round", PERIOD[1],
                         "--format", "csv"]) == 0
    return out.getvalue()


def _same(a, b) -> None:
    va, vb = replica.status(a), replica.status(b)
    assert va["content_sha256"] == vb["content_sha256"] == va["recorded_sha256"] == vb["recorded_sha256"]
    assert (va["data_version"], va["log_seq"]) == (vb["data_version"], vb["log_seq"]) and va["log_seq"] > 0
    assert va["log_head"] == va["log_seq"]
    assert _summary(a) == _summary(b)


def _import(path, sid=None, value=900) -> int:
    """An import through `path` of one primary school's figures (a TH school outside the workflow,
    unless `sid` is given)."""
    sid = sid or _fresh_primary(path)
    filled = _fill(_template(path), {(sid, "hs_tong"): value, (sid, "gv_tong"): 40, (sid, "cbql_gv_tong"): 44,
                                     (sid, "hs_chung_chi_tin"): 181})
    return importer.import_file(path, "truong.xlsx", filled, "chuyenvien").import_id


def _fresh_primary(path) -> str:
    taken = {s for s, _ in state.store_for(path).read(state.sql("entries.period_states"),
                                                       dict(zip(("school_year", "round"), PERIOD)))}
    c = db.connect(path)
    try:
        rows = c.execute("SELECT school_id FROM schools WHERE level = 'TH' ORDER BY 1 DESC").fetchall()
    finally:
        c.close()
    return next(s for (s,) in rows if s not in taken)


def _approve(path, sid) -> None:
    sub = _submit(path, sid)
    desk(path, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)


def test_an_import_and_an_approval_on_a_reach_b_with_the_same_fingerprint(machines):
    a, b = machines
    before = _summary(b)
    _import(a)
    _approve(a, _fresh_school(a))
    store = state.store_for(a)
    assert store.log_head() == 2 and db.file_log_seq(a) == 2 and db.file_log_seq(b) == 0
    assert _summary(b) == before != _summary(a)  # B has not taken them yet
    assert db.catch_up(b) == 2 and db.catch_up(b) == 0
    _same(a, b)
    # the CLI says so: `kpi version` prints the same three values on both
    out = []
    for p in (a, b):
        buf = io.StringIO()
        with redirect_stdout(buf):
            assert cli.main(["version", "--db", str(p), "--format", "json"]) == 0
        out.append(json.loads(buf.getvalue()))
    assert out[0] == out[1] and out[0]["log_seq"] == 2


def test_writes_from_both_machines_stay_in_one_order(machines, monkeypatch):
    a, b = machines
    s1 = _fresh_school(a)
    monkeypatch.setenv("KPI_MACHINE", "may-a")
    _approve(a, s1)
    monkeypatch.setenv("KPI_MACHINE", "may-b")
    s2 = _fresh_school(b)  # B's file lacks A's approval, but the store knows s1 is taken
    assert s2 != s1
    _approve(b, s2)  # B's writer first catches up with A's approval, then writes after it
    monkeypatch.setenv("KPI_MACHINE", "may-a")
    _import(a, value=700)  # A catches up with B's approval first
    store = state.store_for(a)
    with psycopg.connect(os.environ["KPI_STORE"]) as con:
        rows = con.execute("SELECT seq, machine, data_version FROM analytics_log ORDER BY seq").fetchall()
    assert [(s, m) for s, m, _ in rows] == [(1, "may-a"), (2, "may-b"), (3, "may-a")]
    assert [v for *_, v in rows] == sorted(v for *_, v in rows)
    db.catch_up(b)
    _same(a, b)
    assert store.log_head() == 3
    c = db.connect(b)
    try:  # both approvals are in B's figures, in the order they were made
        got = c.execute("SELECT school_id FROM submissions WHERE school_year = ? AND round = ? AND school_id IN (?, ?) "
                        "ORDER BY import_id", [*PERIOD, s1, s2]).fetchall()
    finally:
        c.close()
    assert got == [(s1,), (s2,)]


def test_two_writers_on_two_machines_at_once_take_turns(machines):
    """Two threads, one per machine, writing at the same moment: the cluster's lock makes them one
    after the other, each after catching up with the other's write."""
    a, b = machines
    sa, sb = _fresh_school(a), None
    subs = {sa: _submit(a, sa)}
    sb = _fresh_school(a)
    subs[sb] = _submit(a, sb)
    errors = []

    def approve(path, sid):
        try:
            desk(path, OFFICE).approve(OFFICE, [(sid, subs[sid].version)], *PERIOD)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=approve, args=(a, sa)), threading.Thread(target=approve, args=(b, sb))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert state.store_for(a).log_head() == 2
    db.catch_up(a)
    db.catch_up(b)
    _same(a, b)


def test_every_kind_of_write_reaches_the_other_machine(machines, monkeypatch):
    """The workflows run through A on PostgreSQL (the dialect tests' own stories: submissions, returns,
    approvals, a period locked and reopened, the maturity assessment to its publication, targets and
    passwords; then every administration write of tests/test_admin.py, a snapshot and an import with
    its revert): B takes the whole log and holds the same content."""
    a, b = machines
    monkeypatch.setenv("KPI_DB", str(a))
    importer.revert(a, _import(a, value=650), "chuyenvien")  # first: the entry story locks the period
    dialects.test_the_entry_workflow_end_to_end(a)
    dialects.test_the_assessment_cycle_and_its_audit(a)
    dialects.test_targets_and_accounts_on_the_store(a, monkeypatch)
    done = []
    for name, call in admin_writes.WRITES.items():
        try:
            call(a, admin_writes.LEAD)
            done.append(name)
        except admin_writes.admin.AdminError:  # refused by what an earlier one did (a school merged, ...)
            pass
    assert len(done) >= 10, done
    snapshots.freeze(a, *PERIOD, "chot-ky", "chuyenvien")
    n = state.store_for(a).log_head()
    assert n >= 15 and db.catch_up(b) == n
    _same(a, b)


def test_a_writer_killed_between_the_log_and_its_swap_catches_up_on_restart(machines):
    a, b = machines
    sid = _fresh_school(a)
    sub = _submit(a, sid)
    p = _dying(_APPROVE, "before_swap", a, sid, sub.version)  # KPI_STORE is inherited: a PostgreSQL machine
    assert p.returncode == -9, p.stderr[-800:]
    store = state.store_for(a)
    assert store.log_head() == 1 and db.file_log_seq(a) == 0  # the log took the write, the file did not
    assert len(recovery.pending(store)) == 1
    # the restart: the server's start repairs the intent, catching the file up first
    assert len(recovery.repair(a)) == 1
    assert db.file_log_seq(a) == 1 and recovery.pending(store) == []
    assert _state_of(store, sid) == "da_duyet"
    db.catch_up(b)
    _same(a, b)


def _state_of(store, sid) -> str:
    return dict(store.read(state.sql("entries.period_states"), dict(zip(("school_year", "round"), PERIOD))))[sid]


# step → (log entries after the kill, A's file seq after it, the entry's state once repaired)
KILLS = {
    "before_analytics": (0, 0, "da_nop"),   # intent recorded, nothing written: dropped
    "before_swap": (1, 0, "da_duyet"),      # the log took it, A's file did not: landed (in the log)
    "after_analytics": (1, 1, "da_duyet"),  # in the log and A's file, the store side not done
    "after_store": (1, 1, "da_duyet"),      # all done
}


@pytest.mark.parametrize("step", KILLS)
def test_what_a_killed_machine_left_is_finished_by_the_other(machines, step):
    """Machine A dies (SIGKILL) at each step of an approval and stays down; B's next writer finishes
    or drops what A left (its file caught up first), B's users go on; A restarted catches up."""
    a, b = machines
    sid = _fresh_school(a)
    sub = _submit(a, sid)
    assert _dying(_APPROVE, step, a, sid, sub.version).returncode == -9
    store = state.store_for(a)
    logged, seq, final = KILLS[step]
    assert (store.log_head(), db.file_log_seq(a)) == (logged, seq)
    recovery.repair(b)
    assert recovery.pending(store) == [] and _state_of(store, sid) == final
    if final == "da_nop":  # dropped: approved again through B, counted once
        desk(b, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
    assert db.catch_up(a) == 1 - seq
    db.catch_up(b)  # (its follower's job; nothing was left to repair after after_store)
    _same(a, b)


def test_a_write_that_skips_the_log_is_caught(machines, monkeypatch):
    """Planted: A's file written with the log turned off (a writer that skips it); the next entry
    made on B does not give A B's fingerprint: A refuses to catch up, and to write."""
    a, b = machines
    with monkeypatch.context() as m:
        m.setattr(db, "shared_store", lambda path: None)
        _import(a)
    assert db.file_log_seq(a) == 0 and state.store_for(a).log_head() == 0
    _approve(b, _fresh_school(b))
    with pytest.raises(db.Divergence, match="khác các máy khác"):
        db.catch_up(a)
    assert db.file_log_seq(a) == 0  # nothing swapped in
    with pytest.raises(db.Divergence):
        _import(a, value=777)
    # the CLI says it in Vietnamese, exit 1
    p = subprocess.run([sys.executable, "-m", "kpi", "version", "--db", str(a), "--catch-up"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.startswith("Lỗi: Tệp số liệu") and "Traceback" not in p.stderr


def test_an_altered_entry_is_caught(machines):
    """Planted: an entry of the log changed after it was written (one figure of the table its
    statements read): the machine that applies it does not reach the fingerprint the writer had."""
    a, b = machines
    _import(a, value=900)
    _approve(a, _fresh_school(a))  # B takes both in one copy: the fingerprint at its end catches the first
    seq, dv, digest, entry = state.store_for(a).log_after(0)[0]
    ops = replay.unpack(entry)
    tampered = _tamper(ops)
    assert replay.pack(tampered) != entry
    with psycopg.connect(os.environ["KPI_STORE"]) as con:
        con.execute("UPDATE analytics_log SET entry = %s WHERE seq = %s", [replay.pack(tampered), seq])
    with pytest.raises(db.Divergence, match="sau lần ghi #1–#2 \\(dấu vân tay"):
        db.catch_up(b)
    assert db.file_log_seq(b) == 0


def _tamper(ops: list[tuple]) -> list[tuple]:
    """The ops with the first figure of the first registered table holding one changed by 0.5."""
    out, done = [], False
    for op in ops:
        if op[0] == "register" and not done:
            t = op[2]
            for i, f in enumerate(t.schema):
                if pa.types.is_floating(f.type) and t.num_rows and t.column(i)[0].as_py() is not None:
                    col = t.column(i).to_pylist()
                    col[0] += 0.5
                    op, done = ("register", op[1], t.set_column(i, f, pa.array(col, type=f.type))), True
                    break
        out.append(op)
    assert done
    return out


def test_a_recorder_that_misses_a_table_is_caught(machines, monkeypatch):
    """Planted: registrations not recorded (the statements that read them are): B cannot replay."""
    a, b = machines
    with monkeypatch.context() as m:
        m.setattr(replay.Recorder, "_note", lambda self, op: self.ops.append(op))
        _import(a)
    with pytest.raises(db.Divergence, match="không áp dụng được"):  # the table the statements read is missing
        db.catch_up(b)
    assert db.file_log_seq(b) == 0


def test_the_follower_brings_b_within_seconds(machines):
    a, b = machines
    follower = replica.Follower(b, interval=0.2).start()
    try:
        _approve(a, _fresh_school(a))
        t0 = time.monotonic()  # from the write's end: the follower's delay, not the write's own time on a busy CI
        while db.file_log_seq(b) < 1 and time.monotonic() - t0 < 15:
            time.sleep(0.05)
        took = time.monotonic() - t0
    finally:
        follower.stop()
    assert follower.error is None and follower.applied == 1 and took < 5, took
    _same(a, b)


def _prepared(path, run_dir) -> None:
    """`kpi serve`'s start up to its workers (no nginx, no worker): tidy, catch up, upgrade, repair."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = serve.Server(port=port, workers=1, db_path=path, run_dir=run_dir, nginx="nginx")
    try:
        srv._prepare()
    finally:
        srv.lock.release()


def test_a_machine_catches_up_before_it_serves(machines, tmp_path, monkeypatch):
    a, b = machines
    _approve(a, _fresh_school(a))
    _prepared(b, tmp_path / "run")
    _same(a, b)
    # planted: a start that does not catch up serves the file as it was
    _approve(a, _fresh_school(a))
    monkeypatch.setattr(db, "catch_up", lambda *a, **k: 0)
    _prepared(b, tmp_path / "run2")
    assert db.file_log_seq(b) == 1 < state.store_for(a).log_head()


def test_one_machine_records_nothing(entry_db, monkeypatch):
    """On SQLite (no KPI_STORE) an approval writes no log entry and no log seq: nothing changes."""
    monkeypatch.delenv("KPI_STORE", raising=False)
    _approve(entry_db, _fresh_school(entry_db))
    store = state.store_for(entry_db)
    assert not store.shared and store.log_head() == 0 and db.file_log_seq(entry_db) == 0
    assert db.catch_up(entry_db) == 0 and replica.status(entry_db)["recorded_sha256"] is None


def test_the_log_is_trimmed_and_a_machine_behind_it_is_told_to_copy_a_good_file(machines, monkeypatch):
    """The write log keeps db.LOG_KEEP_DAYS of writes and never fewer than the newest LOG_KEEP_MIN,
    trimmed at every LOG_TRIM_EVERY-th write. A machine still within what is kept catches up; one
    further behind is stopped (Divergence) with what to do, its file untouched. Planted: a trim that
    drops the newest entries (keep 0) leaves no head for a fresh machine to check against."""
    a, b = machines
    c = b.with_name("c.duckdb")
    shutil.copy2(b, c)
    monkeypatch.setattr(db, "LOG_KEEP_MIN", 2)
    monkeypatch.setattr(db, "LOG_TRIM_EVERY", 3)
    store = state.store_for(a)
    _import(a, value=900)
    assert db.catch_up(c) == 1  # C follows the first write, then stops
    with psycopg.connect(os.environ["KPI_STORE"]) as con:  # the first two writes are 40 days old
        con.execute("UPDATE analytics_log SET created_at = created_at - 40 * 86400")
    _import(a, value=901)
    assert store.log_first() == 1  # the second write is not a third: nothing trimmed yet
    _approve(a, _fresh_school(a))  # the third: trimmed to the newest two (the old ones are 40 days old)
    assert (store.log_first(), store.log_head()) == (2, 3)
    assert db.catch_up(c) == 2  # C needed #2 and #3: both kept
    _same(a, c)
    before = b.read_bytes()
    with pytest.raises(db.Divergence, match=r"dừng ở lần ghi #0, .*chỉ còn giữ từ lần ghi #2.*Chép tệp số liệu"):
        db.catch_up(b)
    assert b.read_bytes() == before
    assert store.log_trim(time.time(), 0) == 2 and store.log_head() == 0  # planted: keep 0 empties the log
