"""The state store on both dialects (kpi.store.state: SQLite; kpi.store.state_pg: PostgreSQL, issue 27): the
same operations and workflows give the same answers on a real PostgreSQL server (tests/pg.py) as on
the SQLite file; writers are serialised across processes; the schema upgrades once when two processes
start together; a server that cannot be reached or refuses writes answers in Vietnamese; a copy of a
PostgreSQL store is a SQLite store holding every row; and every named statement of kpi/sql/state has
run on PostgreSQL (the last test here)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time

import psycopg
import pyarrow.compute as pc
import pytest

from kpi import cli
from kpi.admin import accounts, auth, plans
from kpi.admin import shared as admin
from kpi.admin.auth import User
from kpi.common import faults
from kpi.imports import importer
from kpi.serving import command
from kpi.store import recovery, state, state_base, state_pg
from kpi.tools import sample
from kpi.tools.sample import SAMPLE_PDF
from kpi.workflows import assessment_read, entry, snapshots
from tests import pg
from tests.conftest import ROOT, STORES, on_store
from tests.test_assessment import test_reopen_detach_and_stale_decisions as reopen_and_detach
from tests.test_assessment import test_the_whole_cycle_to_a_publication_the_index_reads as whole_cycle
from tests.test_entry import OFFICE, PERIOD, _fresh_school, _submit, desk, principal

LEAD = User("lanhdao", "Lãnh đạo Phòng (mẫu)", "lanh_dao", None, None)
PRINCIPAL = User("ht.th001", "Hiệu trưởng TH001 (mẫu)", "hieu_truong", "TH001", None)


@pytest.fixture(params=STORES)
def entry_db(request, entry_db):
    """The sample's copy on either state store."""
    return on_store(request, entry_db)


@pytest.fixture(params=STORES)
def fresh(request, tmp_path):
    """A factory of store objects over one new, empty store of either dialect (each object has its own
    connection, as two processes would)."""
    if request.param == "sqlite":
        yield lambda: state.Store(tmp_path / "s.sqlite")
        return
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    made = []
    yield lambda: made.append(state_pg.PgStore(url)) or made[-1]
    for s in made:
        s.close()
    server.drop(url)


# ---- the store's own operations ---------------------------------------------------------------------

def test_sessions_throttles_audit_and_counters_answer_alike(fresh):
    a, b = fresh(), fresh()
    a.session_open("s1", "ht.th001", 100.0, "10.0.0.1")
    a.session_open("s2", "ht.th001", 100.0)
    b.session_touch("s1", 150.0)
    b.session_touch("s1", 120.0)  # never back
    assert a.session("s1") == {"user_name": "ht.th001", "issued_at": 100.0, "last_seen": 150.0, "revoked_at": None,
                               "reason": None}
    assert a.recent_users(140.0) == ["ht.th001"] and a.recent_users(200.0) == []
    b.session_revoke("s1", 160.0, "dang_xuat")
    assert a.session("s1")["revoked_at"] == 160.0 and a.sessions_revoke_user("ht.th001", 170.0, "khoa") == 1
    a.sessions_forget(165.0)
    assert a.session("s1") is None and a.session("s2")["reason"] == "khoa"
    for at in (10.0, 11.0, 12.0):
        a.failure_add("u:x", at, 60.0)
    assert b.failures("u:x") == (3, 10.0, 12.0)
    b.failure_add("u:x", 100.0, 60.0)  # the window passed: counting starts over
    assert a.failures("u:x") == (1, 100.0, 100.0)
    a.failure_clear("u:x")
    assert a.failures("u:x") == (0, 0.0, 0.0)
    a.audit("dang_nhap", "ht.th001", {"ghi_chu": "thử 100%"}, "10.0.0.1", now=5.0)
    b.audit("tai_xuong", None)
    rows = a.audit_rows(10)
    assert [r["action"] for r in rows] == ["tai_xuong", "dang_nhap"] and json.loads(rows[1]["detail"]) == {
        "ghi_chu": "thử 100%"}
    assert [r["at"] for r in b.audit_rows(10, "dang_nhap")] == [5.0]
    assert b.read(state.sql("audit.count"), {"action": "dang_nhap"}) == [(1,)]
    with a.write() as con:
        state.bump(con, "workflow")
        state.bump(con, "workflow")
    assert (b.workflow_version(), b.assessment_version()) == (2, 0)


def test_a_failed_write_leaves_nothing(fresh):
    a = fresh()
    with pytest.raises(RuntimeError, match="giữa chừng"):
        with a.write() as con:
            state.bump(con, "workflow")
            raise RuntimeError("giữa chừng")
    assert a.counter("workflow") == 0
    a.audit("sau_loi")  # the connection goes on
    assert a.read(state.sql("audit.count"), {"action": "sau_loi"}) == [(1,)]


def _racing_writers(make) -> list[int]:
    """Two writers, each in its own connection, each reading the counter then bumping it after a pause
    inside its transaction: what each saw."""
    seen, go = [], threading.Barrier(2, timeout=30)
    stores = [make(), make()]
    for store in stores:
        store.counter("workflow")  # connected (and upgraded) one after the other, before the race

    def writer(store):
        go.wait()
        with store.write() as con:
            row = con.execute(state.sql("counters.value"), {"name": "workflow"}).fetchone()
            time.sleep(0.3)
            state.bump(con, "workflow")
        seen.append(row[0] if row else 0)

    threads = [threading.Thread(target=writer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(seen)


def test_writers_are_serialised_as_begin_immediate_serialises_them(fresh, monkeypatch):
    assert _racing_writers(fresh) == [0, 1]  # the second writer saw the first one's change
    if isinstance(fresh(), state_pg.PgStore):
        # planted: without the writers' advisory lock both read the same version (a lost update)
        own = state_pg.own
        monkeypatch.setattr(state_pg, "own", lambda name: "SELECT 1" if name == "writer" else own(name))
        assert _racing_writers(fresh) == [2, 2]


def _lock_order(a, b) -> list[str]:
    """Who finished first when `a` holds the analytics lock and `b` asks for it meanwhile."""
    order = []

    def other():
        with b.analytics_lock():
            order.append("b")

    with a.analytics_lock():
        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.3)
        order.append("a")
    t.join(30)
    return order


def test_the_analytics_write_log_answers_alike_and_its_lock_holds_across_machines(fresh, monkeypatch):
    a, b = fresh(), fresh()
    assert (a.log_head(), a.log_last(), a.log_after(0)) == (0, None, [])
    a.log_append(1, 2, "ab" * 32, b"\x00ghi-1", "may-a", now=10.0)
    b.log_append(2, 3, "cd" * 32, b"ghi-2", "may-b", now=11.0)
    assert b.log_head() == 2
    assert a.log_after(0) == [(1, 2, "ab" * 32, b"\x00ghi-1"), (2, 3, "cd" * 32, b"ghi-2")]
    assert a.log_after(1, limit=1) == [(2, 3, "cd" * 32, b"ghi-2")]
    assert a.log_last() == {"seq": 2, "data_version": 3, "content_sha256": "cd" * 32, "created_at": 11.0,
                            "machine": "may-b"}
    with pytest.raises((faults.StoreUnavailable, *state.STORE_ERRORS)):  # a place taken is refused
        b.log_append(2, 4, "ef" * 32, b"khac", "may-a")
    assert a.log_head() == 2 and a.log_after(1) == [(2, 3, "cd" * 32, b"ghi-2")]
    # trimmed by age, the newest `keep` kept whatever their age
    assert a.log_first() == 1 and a.log_trim(10.5, 0) == 1 and (b.log_first(), b.log_head()) == (2, 2)
    assert a.log_trim(100.0, 1) == 0 and a.log_head() == 2
    # one writer of the analytics file at a time across machines; one machine needs no such lock
    assert _lock_order(a, b) == (["a", "b"] if a.shared else ["b", "a"])
    if a.shared:  # planted: without the advisory lock the other machine's writer goes in at once
        own = state_pg.own
        monkeypatch.setattr(state_pg, "own", lambda name: "SELECT 1" if name == "analytics_lock" else own(name))
        assert _lock_order(a, b) == ["b", "a"]


def test_two_processes_upgrade_a_new_database_once(pg_server):
    url = pg_server.new_database()
    code = ("import sys; from kpi.store import state_pg; s = state_pg.PgStore(sys.argv[1]); "
            "print(s.counter('workflow'))")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    with psycopg.connect(url) as con:
        versions = [r[0] for r in con.execute("SELECT version FROM kpi_schema_version ORDER BY 1")]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'public'")}
    assert versions == list(range(1, state.SCHEMA_VERSION + 1)) == sorted(state_base.pg_schema())
    assert state._TABLES <= tables
    pg_server.drop(url)


def test_an_unreachable_server_answers_in_vietnamese(tmp_path, caplog):
    store = state_pg.PgStore(f"postgresql://kpi@/khong_co?host={tmp_path}&connect_timeout=2")
    with pytest.raises(faults.StoreUnavailable) as e:
        store.session_touch("s1", 1.0)
    assert e.value.kind == "unreachable" and str(e.value).startswith(
        "Không ghi được dữ liệu vì không kết nối được máy chủ cơ sở dữ liệu dùng chung (PostgreSQL); chưa có gì")
    with pytest.raises(faults.StoreUnavailable, match="^Không đọc được dữ liệu vì không kết nối được máy chủ"):
        store.session("s1")
    assert "kpi@" in caplog.text and "OperationalError" in caplog.text
    # planted: an error in a statement (a bug) is not the store being down: it keeps its own exception
    assert faults.kind_of(psycopg.errors.UndefinedTable("relation \"x\" does not exist")) is None
    assert faults.kind_of(psycopg.errors.DiskFull("could not extend file")) == "full"
    with pytest.raises(ValueError, match="postgresql://"):
        state_pg.PgStore("mysql://kpi@x/y")


def test_a_connection_the_server_dropped_is_opened_again(pg_server, monkeypatch):
    url = pg_server.new_database()
    store = state_pg.PgStore(url)
    store.session_open("s1", "ht.th001", 1.0)
    for use in (lambda: store.session_touch("s1", 2.0), lambda: store.session("s1")):
        pid = store._raw.info.backend_pid
        with psycopg.connect(url, autocommit=True) as admin_con:  # the server ends the session (a restart)
            admin_con.execute("SELECT pg_terminate_backend(%s)", [pid])
        time.sleep(0.2)
        use()
        assert store._raw.info.backend_pid != pid
    assert store.session("s1")["last_seen"] == 2.0
    # planted: a store that never opens a dropped connection again fails the next use
    store._raw.close()
    monkeypatch.setattr(state_pg.PgStore, "_connect", lambda self: self._con)
    with pytest.raises(faults.StoreUnavailable):
        store.session_touch("s1", 3.0)
    monkeypatch.undo()
    store.close()
    pg_server.drop(url)


@pytest.mark.parametrize("entry_db", ["postgresql"], indirect=True)
def test_a_read_only_server_refuses_a_save_and_reads_on(pg_server, pg_store, entry_db):
    sid = _fresh_school(entry_db)
    pg_server.admin(f'ALTER DATABASE "{pg.dbname(pg_store)}" SET default_transaction_read_only = on')
    state.forget(pg_store)  # a new connection takes the setting
    with pytest.raises(faults.StoreUnavailable, match="^Không ghi được dữ liệu vì ổ đĩa máy chủ đang chỉ cho đọc"):
        desk(entry_db, principal(sid)).save(principal(sid), sid, *PERIOD, {"hs_tong": "1"}, {}, 0)
    assert desk(entry_db, OFFICE).entry(sid, *PERIOD).version == 0
    state.forget(pg_store)
    pg_server.admin(f'ALTER DATABASE "{pg.dbname(pg_store)}" SET default_transaction_read_only = off')


def _every_table_filled(store) -> None:
    """A row in each table the sample leaves empty (sessions, counters of failures, drafts, ...)."""
    store.session_open("s1", "ht.th001", 1.0, "10.0.0.1")
    store.failure_add("a:10.0.0.1", 1.0, 60.0)
    recovery.begin(store, "duyet", "chuyenvien", {"truong": "TH001"}, now=1.0)
    with store.write() as con:
        con.execute(state.sql("account_passwords.first"), {"user_name": "ht.th001", "now": 1.0, "by": "lanhdao"})
        con.execute(state.sql("assessments.cycle_set"), {"school_year": "2030-2031", "deadline": "2031-05-31",
                                                         "threshold": 10.0, "user_name": "lanhdao", "now": 1.0})
        con.execute(state.sql("target_drafts.add"), {"school_year": "2030-2031", "source_year": "2029-2030",
                                                     "base_version": 0, "document": "", "rows": "[]",
                                                     "user_name": "lanhdao", "now": 1.0})
        con.execute(state.sql("target_drafts.rebase"), {"school_year": "2030-2031", "base_version": 1})


def _rows(store) -> dict:
    return {table: store.read(state.sql(rows_of)) for table, (rows_of, _) in state_base.COPY.items()}


def test_a_copy_of_a_postgresql_store_is_a_sqlite_store_holding_every_row(pg_store, pg_server, pg_sample_source,
                                                                          sample_db, tmp_path):
    store = state.store_for(sample_db)
    assert isinstance(store, state_pg.PgStore)
    sqlite_rows = _rows(state.Store(pg_sample_source))
    assert _rows(store) == sqlite_rows  # the sample's SQLite store loaded into PostgreSQL row for row
    _every_table_filled(store)
    store.copy_to(tmp_path / "ban_sao.state.sqlite")
    copied = state.Store(tmp_path / "ban_sao.state.sqlite")
    held = _rows(store)
    assert all(held.values()) and _rows(copied) == held
    assert (tmp_path / "ban_sao.state.sqlite").stat().st_mode & 0o777 == 0o600
    # and back: the copy loaded into another PostgreSQL store holds the same rows
    url = pg_server.new_database()
    again = state_pg.PgStore(url)
    assert state_pg.load_from(again, tmp_path / "ban_sao.state.sqlite") == {t: len(r) for t, r in held.items()}
    assert _rows(again) == held
    # the next ids follow the largest copied (audit, evidence), on both dialects
    for s in (copied, again):
        s.audit("sau_ban_sao")
    assert copied.read(state.sql("copy.audit"))[-1][0] == again.read(state.sql("copy.audit"))[-1][0] == \
        held["audit"][-1][0] + 1
    again.close()
    pg_server.drop(url)


def _child_reconnects(store) -> None:
    """Fork a child that uses the store (its own connection) and closes the one it inherited."""
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        code = 1
        try:
            inherited = store._raw
            store.session("s1")
            inherited.close()  # libpq says goodbye on the socket it holds
            code = 0
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0


def test_a_forked_child_never_ends_the_parents_connection(pg_server, monkeypatch):
    url = pg_server.new_database()
    store = state_pg.PgStore(url)
    store.session_open("s1", "ht.th001", 1.0)
    raw = store._raw
    _child_reconnects(store)
    assert store.session("s1")["user_name"] == "ht.th001" and store._raw is raw  # the same session, unbroken
    # planted: a child that keeps the parent's socket ends the parent's session with its goodbye
    monkeypatch.setattr(state_pg, "_disown_after_fork", lambda: None)
    _child_reconnects(store)
    assert store.session("s1")["user_name"] == "ht.th001" and store._raw is not raw  # it had to reconnect
    store.close()
    pg_server.drop(url)


def test_serve_store_reaches_the_server_before_it_starts(pg_server, writable_db, monkeypatch, capsys):
    monkeypatch.setenv("KPI_STORE", "")  # (none; restored after the test, which sets it)
    url = pg_server.new_database()
    command.use_store(url, writable_db)
    assert os.environ["KPI_STORE"] == url and isinstance(state.store_for(writable_db), state_pg.PgStore)
    state.forget(url)
    pg_server.drop(url)
    assert cli.main(["serve", "--db", str(writable_db), "--store", "postgresql://kpi@/khong_co?host=/khong-co"]) == 1
    assert capsys.readouterr().err.startswith("Lỗi: Không dùng được kho trạng thái postgresql://kpi@/khong_co")
    assert cli.main(["serve", "--db", str(writable_db), "--store", "sqlite:///x"]) == 1
    assert "KPI_STORE phải là địa chỉ PostgreSQL" in capsys.readouterr().err
    # `python -m kpi serve` reads its arguments without kpi.cli (kpi/__main__.py): the same refusals
    wrong = "postgresql://kpi@/khong_co?host=/khong-co"
    assert command.main(["serve", "--db", str(writable_db), "--store", wrong]) == 1
    assert capsys.readouterr().err.startswith("Lỗi: Không dùng được kho trạng thái postgresql://kpi@/khong_co")


# ---- the workflows over the store ---------------------------------------------------------------------

def test_the_entry_workflow_end_to_end(entry_db):
    sid = _fresh_school(entry_db)
    store = state.store_for(entry_db)
    office = desk(entry_db, OFFICE)
    sub = _submit(entry_db, sid, now=1_716_000_000)
    office.send_back(OFFICE, sid, *PERIOD, sub.version, "Thiếu số liệu giáo viên")
    again = _submit(entry_db, sid)
    assert office.approve(OFFICE, [(sid, again.version)], *PERIOD).startswith("Đã duyệt")
    assert recovery.pending(store) == []
    intent = recovery.begin(store, "duyet", "chuyenvien", {"x": 1})
    assert [i for i, *_ in recovery.pending(store)] == [intent]
    recovery.drop(store, intent)
    assert recovery.pending(store) == []
    times = entry.entry_times(store, *PERIOD, PERIOD).to_pandas().set_index("school_id")
    assert times.loc[sid, "state"] == "da_duyet"
    assert entry.school_entry_times(store, sid, *PERIOD, PERIOD).to_pylist() == \
        entry.entry_times(store, *PERIOD, PERIOD).filter(pc.equal(pc.field("school_id"), sid)).to_pylist()
    obs, subs = entry.pending_tables(store)
    assert sid not in set(subs.column("school_id").to_pylist()) and obs.num_rows > 0
    assert entry.flagged_values(store, *PERIOD) is not None
    waiting = [(s, e.version) for s in office.schools if (e := office.entry(s, *PERIOD)).state == "da_nop"]
    office.approve(OFFICE, waiting, *PERIOD)
    office.lock(OFFICE, *PERIOD)
    assert importer.locked_keys(entry_db, [(sid, *PERIOD)]) == [(sid, *PERIOD)]
    other = _fresh_school(entry_db)
    opened = office.reopen(OFFICE, other, *PERIOD, "Mở cho trường chưa nộp")  # no entry yet: one is started
    assert opened.state == "tra_lai"
    # what an import's revert may not touch (kpi.imports.importer.revert_refusal): approved or locked schools
    decided = {s for (s,) in store.read(state.sql("entries.period_decided"), dict(zip(("school_year", "round"),
                                                                                      PERIOD)))}
    assert sid in decided and other not in decided
    first = snapshots.app_submissions(entry_db, *PERIOD)
    assert sid in set(first.column("school_id").to_pylist())
    assert store.read(state.sql("entries.count"))[0][0] > 0
    assert [r["action"] for r in store.audit_rows(3)] == ["mo_lai", "khoa_ky", "duyet"]
    assert list(entry.audit_rows(store, 3)["action"]) == ["mo_lai", "khoa_ky", "duyet"]


def test_the_assessment_cycle_and_its_audit(entry_db):
    from tests.test_assessment import YEAR, desk_for

    o = desk_for(entry_db, OFFICE)
    o.set_cycle(OFFICE, YEAR, dt.date(2024, 5, 31), 12.0)
    assert o.cycle(YEAR) == (dt.date(2024, 5, 31), 12.0)
    assert len(o.states(YEAR)) > 0
    table = assessment_read.audit_table(state.store_for(entry_db))
    assert len(table) > 0
    # a school that has not begun: its first evidence file starts its assessment
    reopen_and_detach(entry_db)
    whole_cycle(entry_db)  # the school's save and submission, the office's verify, return, approval, publication
    fresh_school = next(s for s in o.schools if o.assessment(OFFICE, s, YEAR).state == "chua_bat_dau")
    ht = User(f"ht.{fresh_school.lower()}", "HT", "hieu_truong", fresh_school, None)
    ev = desk_for(entry_db, ht).attach(ht, fresh_school, YEAR, "DH4", "ke_hoach.pdf", SAMPLE_PDF)
    assert desk_for(entry_db, ht).assessment(ht, fresh_school, YEAR).state == "nhap"
    assert desk_for(entry_db, ht).evidence_file(ht, ev.evidence_id)[2] == SAMPLE_PDF


def test_targets_and_accounts_on_the_store(entry_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(entry_db))
    y1 = "2024-2025"
    d = plans.start_draft(entry_db, LEAD, y1)
    plans.edit_targets(entry_db, LEAD, y1, [{"indicator": "tin_hoc_quoc_te", "level": "TH", "value": 0.5,
                                             "near": 0.45}], version=d["version"])
    assert plans.drafts(entry_db) == [y1]
    plans.discard_draft(entry_db, LEAD, y1)
    d = plans.start_draft(entry_db, LEAD, y1)
    plans.set_document(entry_db, LEAD, y1, "123/KH-GDĐT ngày 05/09/2024")
    assert plans.publish(entry_db, LEAD, y1) == 1 and plans.draft(entry_db, y1) is None
    new = accounts.reset_password(entry_db, LEAD, "ht.th001")
    assert accounts.must_change(entry_db, "ht.th001") and "ht.th001" in accounts.must_change_users(entry_db)
    sessions = auth.Sessions(b"k" * 32, store=state.store_for(entry_db))
    keep, other = sessions.issue("ht.th001"), sessions.issue("ht.th001")
    accounts.change_password(entry_db, PRINCIPAL, new, "ba con mèo ngủ trưa dưới gốc me",
                             "ba con mèo ngủ trưa dưới gốc me", keep_session=sessions._claims(keep)["s"])
    assert not accounts.must_change(entry_db, "ht.th001")
    assert sessions.check(keep) == "ht.th001" and sessions.check(other) is None
    codes = [r["code"] for r in admin.history(entry_db, 20)]
    assert codes[:4] == ["qt_tai_khoan_doi_mat_khau", "qt_tai_khoan_dat_lai", "qt_chi_tieu_cong_bo",
                         "qt_chi_tieu_van_ban"]


def test_the_sample_writes_its_state_on_either_store(fresh, tmp_path, monkeypatch):
    store = fresh()
    if isinstance(store, state_pg.PgStore):
        monkeypatch.setenv("KPI_STORE", store.url)
    else:
        monkeypatch.setenv("KPI_STATE", str(store.path))
    sample.build_sample(tmp_path / "mau.duckdb", schools=10, years=2, seed=3)
    assert store.read(state.sql("entries.count"))[0][0] > 0 and store.counter("workflow") > 0
    assert len(store.read(state.sql("copy.assessments"))) > 0
    state.forget(store.url if isinstance(store, state_pg.PgStore) else store.path)


# ---- every statement has run on PostgreSQL (after the tests above, in this process) ------------------

def every_statement() -> set[str]:
    """Every named statement of kpi/sql/state, and PostgreSQL's own connection statements."""
    names = {f"{p.stem}.{n}" for p in state.STATE_SQL.glob("*.sql") if p.stem not in ("schema", "connection")
             for n in state.statements(p.stem)}
    return names | {f"connection.{n}" for n in state.statements("connection", "postgresql")}


def not_run(ran: set[str]) -> list[str]:
    return sorted(every_statement() - ran)


def test_every_statement_ran_on_postgresql():
    """Run after the tests above (file order; xdist's loadscope keeps a module on one worker), together
    with the record's and the assessment's tests when they ran in this process."""
    assert not_run(pg.RAN) == [], " ".join(not_run(pg.RAN))
    # planted: a statement that never ran on PostgreSQL is named
    assert not_run(pg.RAN - {"entries.lock_add"}) == ["entries.lock_add"]
