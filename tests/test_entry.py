"""Schools' entries in the shared state store: drafts across workers, stale saves refused, isolation,
review decisions with reasons, approval into the district figures in one transaction, lock and
reopen, timeliness from the school's submission, the audit of every action, many saves at once."""

import json
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from kpi.admin import auth
from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.store import db, queries, state
from kpi.views import cache as views
from kpi.workflows import entry
from tests.conftest import ROOT, table_digest

CAT = default_catalog()
PERIOD = ("2023-2024", "CN")
OFFICE = auth.User("chuyenvien", "Chuyên viên", "chuyen_vien", None, None)
LEADER = auth.User("lanhdao", "Lãnh đạo", "lanh_dao", None, None)


def principal(sid: str, role: str = "hieu_truong") -> auth.User:
    return auth.User(f"ht.{sid.lower()}", f"Hiệu trưởng {sid}", role, sid, None)


def desk(path, user) -> entry.Desk:
    return views.views_for(path).desk(user.scope)


def form(path, sid):
    return views.views_for(path).entry_form(Scope.everything(), sid, *PERIOD)


def values_of(path, sid) -> dict:
    """What the form starts from: the school's approved values of the period, as the form shows them."""
    from kpi.domain.checks import shown_value

    f = form(path, sid)
    return {c: shown_value(CAT.fields[c], v) for c, v in f.approved.items()}


def _fresh_school(path) -> str:
    """A school with no entry and no figures of the open period (it did not submit), with figures of
    the period before (its form has a previous period to compare with)."""
    store = state.store_for(path)
    have = {s for s, _ in store.read(state.sql("entries.period_states"), dict(zip(("school_year", "round"), PERIOD)))}
    c = db.connect(path)
    try:
        rows = c.execute("""SELECT s.school_id FROM schools s WHERE NOT EXISTS (
                              SELECT 1 FROM submissions b WHERE b.school_id = s.school_id AND b.school_year = ?
                              AND b.round = ?) AND EXISTS (SELECT 1 FROM submissions b WHERE b.school_id = s.school_id
                              AND b.school_year = '2023-2024' AND b.round = 'HK1')
                            ORDER BY s.level = 'TH' DESC, 1""", list(PERIOD)).fetchall()
    finally:
        c.close()
    return next(s for (s,) in rows if s not in have)


def level(path, sid) -> str:
    return views.views_for(path).scope_levels(Scope.everything())[0][sid]


def _previous(path, sid):
    f = form(path, sid)
    return f.previous, f.previous_label


def _filled(path, sid) -> dict:
    """A complete, clean entry for a school: its previous period's values."""
    from kpi.domain.checks import shown_value

    prev, _ = _previous(path, sid)
    return {c: shown_value(CAT.fields[c], v) for c, v in prev.items()}


def test_the_sample_has_every_state(entry_db):
    rows = state.store_for(entry_db).read("SELECT state, count(*), count(reason) FROM entries GROUP BY state")
    got = {s: (n, r) for s, n, r in rows}
    assert set(got) == {"nhap", "da_nop", "tra_lai", "da_duyet"} and all(n >= 2 for n, _ in got.values())
    assert got["tra_lai"][1] == got["tra_lai"][0]  # every return has its reason
    locked = state.store_for(entry_db).read("SELECT DISTINCT school_year, round FROM period_locks")
    assert locked == [("2023-2024", "HK1")]


def test_a_draft_saved_in_one_worker_is_read_by_another_and_a_stale_save_is_refused(entry_db):
    """Two stores on one file are two workers: a draft saved through one is read by the other, and a
    save made on a version the other has moved past is refused, naming who changed it and when."""
    sid = _fresh_school(entry_db)
    cat_levels = {sid: level(entry_db, sid)}
    a = entry.Desk(entry_db, state.Store(state.state_path(entry_db)), CAT, cat_levels, PERIOD)
    b = entry.Desk(entry_db, state.Store(state.state_path(entry_db)), CAT, cat_levels, PERIOD)
    me = principal(sid)
    colleague = auth.User(f"nl.{sid.lower()}", "Nhập liệu", "truong_nhap_lieu", sid, None)
    first = a.save(me, sid, *PERIOD, {"hs_tong": "1.200"}, {}, version=0, now=1_717_200_000)
    assert (first.state, first.version, first.raw) == ("nhap", 1, {"hs_tong": "1.200"})
    seen = b.entry(sid, *PERIOD)  # the other worker reads it at once
    assert (seen.version, seen.raw, seen.values) == (1, {"hs_tong": "1.200"}, {"hs_tong": 1200.0})
    b.save(colleague, sid, *PERIOD, {"hs_tong": "1.210", "gv_tong": "abc"}, {}, version=1, now=1_717_200_060)
    with pytest.raises(entry.Conflict) as stale:  # worker A's user still holds version 1
        a.save(me, sid, *PERIOD, {"hs_tong": "1.300"}, {}, version=1)
    assert str(stale.value) == ("Nội dung đã được nl." + sid.lower() + " sửa lúc 07:01 01/06/2024 (trạng thái: đang "
                                "nhập (nháp)); tải lại để xem. Thay đổi của bạn chưa được lưu.")
    kept = a.entry(sid, *PERIOD)
    assert kept.version == 2 and kept.raw == {"hs_tong": "1.210", "gv_tong": "abc"}  # a draft keeps what was typed
    assert "gv_tong" not in kept.values  # ... but it is not a value
    # the same user in a second window is told too
    with pytest.raises(entry.Conflict, match="bạn \\(ở một cửa sổ khác\\)"):
        b.save(colleague, sid, *PERIOD, {"hs_tong": "1"}, {}, version=1)


def test_no_one_reaches_another_school(entry_db):
    """A principal's desk holds only the own school; a forged request naming another school is refused
    and audited. The same calls for the own school work (the guard can pass)."""
    own, other = "TH001", "TH002"
    d = desk(entry_db, principal(own))
    assert list(d.schools) == [own]
    assert d.entry(own, *PERIOD).school_id == own
    with pytest.raises(entry.EntryError, match="không có quyền"):
        d.entry(other, *PERIOD)
    with pytest.raises(entry.EntryError, match="chỉ nhập và nộp số liệu của trường mình"):
        d.save(principal(own), other, *PERIOD, {"hs_tong": "1"}, {}, 0)
    office_desk = desk(entry_db, OFFICE)  # a desk that does hold both schools: the user's school still rules
    with pytest.raises(entry.EntryError, match="chỉ nhập và nộp số liệu của trường mình"):
        office_desk.save(principal(own), other, *PERIOD, {"hs_tong": "1"}, {}, 0)
    with pytest.raises(entry.EntryError, match="Tài khoản Hiệu trưởng không được duyệt"):
        d.approve(principal(own), [(own, d.entry(own, *PERIOD).version)], *PERIOD)
    refused = state.store_for(entry_db).audit_rows(action="tu_choi")
    assert len(refused) == 2 and {json.loads(r["detail"])["truong"] for r in refused} == {other}
    assert views.views_for(entry_db).entry_form(Scope.school(own), other, *PERIOD) is None
    assert views.views_for(entry_db).entry_form(Scope.school(own), own, *PERIOD) is not None


def test_a_submission_passes_every_check_and_explains_every_flag(entry_db):
    sid = _fresh_school(entry_db)
    d = desk(entry_db, OFFICE)
    prev, label = _previous(entry_db, sid)
    values = _filled(entry_db, sid)
    with pytest.raises(entry.EntryError) as bad:
        d.save(principal(sid), sid, *PERIOD, {**values, "hs_tong": "20.000"}, {}, 0, prev, label, submit=True)
    assert "Tổng số học sinh (trẻ): ngoài giới hạn cho phép (0 đến 10000)" in bad.value.problems
    jump = {**values, "hs_tong": str(int(prev["hs_tong"] * 1.5))}
    with pytest.raises(entry.EntryError) as unexplained:
        d.save(principal(sid), sid, *PERIOD, jump, {}, 0, prev, label, submit=True)
    assert unexplained.value.problems == [
        "Tổng số học sinh (trẻ): cần giải thích ngắn (ít nhất 5 ký tự) trước khi nộp"]
    assert d.entry(sid, *PERIOD).version == 0  # nothing written by a refused submission
    done = d.save(principal(sid), sid, *PERIOD, jump, {"hs_tong": "Sáp nhập điểm trường"}, 0, prev, label,
                  submit=True, now=1_716_000_000)
    assert done.state == "da_nop" and done.flags == {"hs_tong": ("bien_dong_lon",)}
    assert done.explanations == {"hs_tong": "Sáp nhập điểm trường"} and done.first_submitted_at == 1_716_000_000
    with pytest.raises(Exception, match="Không thể lưu nháp: số liệu đã nộp, đang chờ Phòng duyệt"):
        d.save(principal(sid), sid, *PERIOD, jump, {}, done.version, prev, label)


def _submit(path, sid, now=None, **changes):
    d = desk(path, OFFICE)
    prev, label = _previous(path, sid)
    e = d.entry(sid, *PERIOD)
    return d.save(principal(sid), sid, *PERIOD, {**_filled(path, sid), **changes}, {}, e.version, prev, label,
                  submit=True, now=now)


def _district(path, code="tin_hoc_quoc_te", pending=False):
    v = views.views_for(path)
    sc = Scope.everything().with_pending(v.workflow_version()) if pending else Scope.everything()
    s = v.summary(sc, *PERIOD)
    return s[(s.indicator_code == code) & (s.level == "TH")].iloc[0]


def test_approval_moves_the_district_figure_and_the_pending_switch_shows_it_before(entry_db):
    sid = _fresh_school(entry_db)
    assert level(entry_db, sid) == "TH"
    before, others = _district(entry_db), _district(entry_db, pending=True)  # the sample's own pending schools
    assert others.schools_reporting > before.schools_reporting
    pupils = int(_previous(entry_db, sid)[0]["hs_tong"])
    sub = _submit(entry_db, sid, now=1_716_000_000, hs_tin_quoc_te=str(pupils // 2))  # 18/05/2024 09:40
    assert _district(entry_db).equals(before)  # submitted, not approved: the district figure is unchanged
    pending = _district(entry_db, pending=True)
    assert pending.schools_reporting == others.schools_reporting + 1
    assert pending.numerator == others.numerator + pupils // 2 and pending.denominator == others.denominator + pupils
    with pytest.raises(entry.EntryError, match="Tài khoản Lãnh đạo Phòng không được duyệt"):
        desk(entry_db, LEADER).approve(LEADER, [(sid, sub.version)], *PERIOD)
    with pytest.raises(entry.EntryError, match="sửa lúc"):  # a stale view of the submission is refused
        desk(entry_db, OFFICE).approve(OFFICE, [(sid, sub.version - 1)], *PERIOD)
    message = desk(entry_db, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
    assert message.startswith("Đã duyệt 1 trường (lần nhập #2)")
    after = _district(entry_db)
    assert (after.numerator, after.denominator, after.schools_reporting) == (
        before.numerator + pupils // 2, before.denominator + pupils, before.schools_reporting + 1)
    assert _district(entry_db, pending=True).numerator == pending.numerator  # now counted as approved
    c = db.connect(entry_db)
    try:
        got = c.execute("SELECT received_at, source FROM submissions WHERE school_id = ? AND school_year = ? "
                        "AND round = ?", [sid, *PERIOD]).fetchall()
        imp = c.execute("SELECT user_name, source, rows FROM imports WHERE import_id = 2").fetchall()
    finally:
        c.close()
    assert [(str(got[0][0]), got[0][1])] == [("2024-05-18 09:40:00", "nhap_lieu")]  # the school's own moment
    assert imp == [("chuyenvien", "nhap_lieu", 1)]
    e = desk(entry_db, OFFICE).entry(sid, *PERIOD)
    assert e.state == "da_duyet" and e.decided_by == "chuyenvien"
    status = views.views_for(entry_db).submission_status(Scope.everything(), *PERIOD)
    row = status[status.school_id == sid].iloc[0]
    assert (row.status, row.state, row.source) == ("dung_han", "da_duyet", "nhap_lieu")


def test_approval_is_one_transaction(entry_db, monkeypatch):
    """A failure inside the approval's write leaves the analytics file as it was and the entry
    submitted (planted: the index refresh fails after the values were written)."""
    sid = _fresh_school(entry_db)
    sub = _submit(entry_db, sid)
    digest = table_digest(entry_db)
    from kpi.store import derived

    def broken(*a, **k):
        raise RuntimeError("hỏng giữa chừng")

    monkeypatch.setattr(derived, "refresh_index", broken)
    with pytest.raises(RuntimeError):
        desk(entry_db, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
    assert table_digest(entry_db) == digest
    assert desk(entry_db, OFFICE).entry(sid, *PERIOD).state == "da_nop"
    monkeypatch.undo()
    desk(entry_db, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
    assert table_digest(entry_db) != digest


def test_a_return_reaches_the_school_with_its_reason(entry_db):
    sid = _fresh_school(entry_db)
    sub = _submit(entry_db, sid)
    office = desk(entry_db, OFFICE)
    with pytest.raises(entry.EntryError, match="Cần ghi lý do trả lại"):
        office.send_back(OFFICE, sid, *PERIOD, sub.version, "  ")
    back = office.send_back(OFFICE, sid, *PERIOD, sub.version, "Số giáo viên Tin học chưa khớp với danh sách")
    seen = desk(entry_db, principal(sid)).entry(sid, *PERIOD)
    assert (seen.state, seen.reason) == ("tra_lai", "Số giáo viên Tin học chưa khớp với danh sách")
    assert "Phòng đã trả lại" in seen.status_sentence()
    again = _submit(entry_db, sid)  # the school corrects and submits again
    assert again.state == "da_nop" and again.version == back.version + 1
    assert again.first_submitted_at == sub.first_submitted_at  # timeliness counts the first submission


def test_lock_and_reopen(entry_db):
    office = desk(entry_db, OFFICE)
    waiting = [(s, e.version) for s in office.schools if (e := office.entry(s, *PERIOD)).state == "da_nop"]
    assert waiting
    with pytest.raises(entry.EntryError, match=f"còn {len(waiting)} trường đã nộp đang chờ duyệt"):
        office.lock(OFFICE, *PERIOD)
    office.approve(OFFICE, waiting, *PERIOD)
    assert office.lock(OFFICE, *PERIOD).startswith("Đã khóa kỳ 2023-2024 CN cho 53 trường")
    sid = _fresh_school(entry_db)
    with pytest.raises(Exception, match="Không thể lưu nháp: kỳ báo cáo đã khóa"):
        desk(entry_db, principal(sid)).save(principal(sid), sid, *PERIOD, {"hs_tong": "1"}, {}, 0)
    done = waiting[0][0]
    assert office.entry(done, *PERIOD).state == "da_khoa"
    with pytest.raises(entry.EntryError, match="Cần ghi lý do mở lại"):
        office.reopen(OFFICE, done, *PERIOD, "")
    with pytest.raises(Exception, match="không được mở lại"):
        desk(entry_db, principal(done)).reopen(principal(done), done, *PERIOD, "tự mở lại cho nhanh")
    opened = office.reopen(OFFICE, done, *PERIOD, "Sửa số học sinh sau khi rà soát")
    assert (opened.state, opened.reason) == ("tra_lai", "Sửa số học sinh sau khi rà soát")
    again = _submit(entry_db, done)
    office.approve(OFFICE, [(done, again.version)], *PERIOD)
    assert office.entry(done, *PERIOD).state == "da_khoa"  # approved in a locked period: locked again
    actions = [(r["action"], r["user_name"]) for r in state.store_for(entry_db).audit_rows(20)]
    assert ("khoa_ky", "chuyenvien") in actions and ("mo_lai", "chuyenvien") in actions


def test_every_action_is_audited_with_who_and_when(entry_db):
    sid = _fresh_school(entry_db)
    store = state.store_for(entry_db)
    start = store.read("SELECT max(audit_id) FROM audit")[0][0]
    d = desk(entry_db, OFFICE)
    d.save(principal(sid), sid, *PERIOD, {"hs_tong": "900"}, {}, 0, now=1_716_000_000)
    sub = _submit(entry_db, sid)
    d.send_back(OFFICE, sid, *PERIOD, sub.version, "Thiếu số liệu giáo viên")
    again = _submit(entry_db, sid)
    d.approve(OFFICE, [(sid, again.version)], *PERIOD)
    d.reopen(OFFICE, sid, *PERIOD, "Rà soát lại theo yêu cầu của Sở")
    rows = store.read("SELECT action, user_name, at, detail FROM audit WHERE audit_id > ? ORDER BY audit_id", (start,))
    assert [(a, u) for a, u, _, _ in rows] == [
        ("luu_nhap", f"ht.{sid.lower()}"), ("nop_so_lieu", f"ht.{sid.lower()}"), ("tra_lai", "chuyenvien"),
        ("nop_so_lieu", f"ht.{sid.lower()}"), ("duyet", "chuyenvien"), ("mo_lai", "chuyenvien")]
    assert rows[0][2] == 1_716_000_000 and all(json.loads(d)["truong"] == sid for *_, d in rows)
    assert json.loads(rows[2][3])["ly_do"] == "Thiếu số liệu giáo viên"


def test_timeliness_comes_from_the_moment_the_school_submitted(entry_db):
    """A school that submitted in the app before the deadline is on time even if the Phòng approves
    later; one that submitted after it is late by the days it was late; none submitted is missing."""
    on_time = _fresh_school(entry_db)
    _submit(entry_db, on_time, now=1_716_120_000)   # 19/05/2024
    late = _fresh_school(entry_db)
    _submit(entry_db, late, now=1_716_811_200)      # 27/05/2024 19:00
    status = views.views_for(entry_db).submission_status(Scope.everything(), *PERIOD).set_index("school_id")
    assert status.at[on_time, "status"] == "dung_han" and status.at[on_time, "state"] == "da_nop"
    assert status.at[late, "status"] == "tre" and status.at[late, "days_late"] == 7
    assert (status["status"] == "chua_nop").sum() >= 1


def test_many_saves_at_once_across_processes_lose_nothing(entry_db):
    """Four processes (workers) save drafts for 40 schools at the same moment, each school five times:
    every save lands, in order, and is audited."""
    store = state.store_for(entry_db)
    start = store.read("SELECT coalesce(max(audit_id), 0) FROM audit")[0][0]
    c = db.connect(entry_db)
    schools = [s for (s,) in c.execute("SELECT school_id FROM schools ORDER BY 1").fetchall()]
    c.close()
    have = {s for s, _ in store.read(state.sql("entries.period_states"), dict(zip(("school_year", "round"), PERIOD)))}
    schools = [s for s in schools if s not in have][:40]
    code = """
import sys, time
from pathlib import Path
from kpi.admin import auth
from kpi.store import state
from kpi.workflows import entry
from kpi.catalog.model import default_catalog
path, schools, go = Path(sys.argv[1]), sys.argv[2].split(","), float(sys.argv[3])
store = state.Store(state.state_path(path))
d = entry.Desk(path, store, default_catalog(), {s: "MN" for s in schools}, ("2023-2024", "CN"))
while time.time() < go:
    time.sleep(0.005)
for n in range(5):
    for s in schools:
        u = auth.User("ht." + s.lower(), "", "hieu_truong", s, None)
        d.save(u, s, "2023-2024", "CN", {"hs_tong": str(100 + n)}, {}, n)
print("ok")
"""
    go = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", code, str(entry_db), ",".join(schools[i::4]), str(go)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [o.strip() for o, _ in outs] == ["ok"] * 4, [e[-500:] for _, e in outs]
    got = dict(store.read(f"SELECT school_id, version FROM entries WHERE school_id IN ({','.join('?' * len(schools))}) "
                          "AND school_year = ? AND round = ?", (*schools, *PERIOD)))
    assert got == {s: 5 for s in schools}
    values = dict(store.read("SELECT school_id, raw FROM entry_values WHERE field_code = 'hs_tong' AND school_year = ? "
                             "AND round = ?", PERIOD))
    assert all(values[s] == "104" for s in schools)
    saves = store.read("SELECT count(*) FROM audit WHERE audit_id > ? AND action = 'luu_nhap'", (start,))[0][0]
    assert saves == 5 * len(schools)


def test_a_version_1_store_gains_the_entry_tables(tmp_path):
    """The store's migration is idempotent: a store of version 1 (sessions and audit only) keeps its
    rows and gains the tables; opening it again (another process) changes nothing."""
    path = tmp_path / "old.state.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""CREATE TABLE sessions (session_id TEXT PRIMARY KEY, user_name TEXT NOT NULL, issued_at REAL
                         NOT NULL, last_seen REAL NOT NULL, revoked_at REAL, reason TEXT, client TEXT);
                         CREATE TABLE audit (audit_id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, """
                      """user_name TEXT,
                         action TEXT NOT NULL, detail TEXT, client TEXT);
                         INSERT INTO audit (at, user_name, action) VALUES (1, 'lanhdao', 'dang_nhap');
                         PRAGMA user_version = 1;""")
    con.close()
    s = state.Store(path)
    assert s.workflow_version() == 0 and s.read("SELECT count(*) FROM entries") == [(0,)]
    assert s.audit_rows()[0]["action"] == "dang_nhap"
    assert s.read("PRAGMA user_version") == [(state.SCHEMA_VERSION,)]
    assert s.assessment_version() == 0 and s.read("SELECT count(*) FROM assessment_evidence") == [(0,)]  # version 3
    again = state.Store(path)
    assert again.read("SELECT count(*) FROM audit") == [(1,)]


def test_a_school_file_fills_the_form_through_the_import_checks(entry_db):
    from tests.test_importer import GOOD_HEAD

    sid = _fresh_school(entry_db)
    c = db.connect(entry_db)
    try:
        good = f"{GOOD_HEAD}\n{sid},2023-2024,CN,1.234,40,44\n".encode()
        assert entry.values_from_file("t.csv", good, sid, *PERIOD, c, CAT) == (
            {"hs_tong": "1.234", "gv_tong": "40", "cbql_gv_tong": "44"}, [])
        bad = f"{GOOD_HEAD}\n{sid},2023-2024,CN,1234,50,44\n".encode()
        values, problems = entry.values_from_file("t.csv", bad, sid, *PERIOD, c, CAT)
        assert values == {} and problems == [
            "t.csv, trang 'CSV', dòng 2, cột E (Tổng số giáo viên (giáo viên)): lớn hơn 'Tổng số cán bộ quản lý "
            "và giáo viên' (44); giáo viên là một phần của cán bộ quản lý và giáo viên (giá trị: '50')"]
        other = f"{GOOD_HEAD}\n{sid},2023-2024,CN,1234,40,44\nTH002,2023-2024,CN,1000,40,44\n".encode()
        values, problems = entry.values_from_file("t.csv", other, sid, *PERIOD, c, CAT)
        assert values == {} and "tệp có số liệu của trường hoặc kỳ khác (TH002 2023-2024 CN)" in problems[0]
    finally:
        c.close()
    assert queries  # the import's query layer is what read the file's schools and periods


def test_the_school_page_counts_the_submission_made_in_the_app(entry_db):
    """The Trường page's submission sentence reads the app too: a school that submitted in the app
    (not yet approved) is not 'Chưa nộp'; one with nothing submitted still is."""
    store = state.store_for(entry_db)
    c = db.connect(entry_db)
    try:
        files = {s for (s,) in c.execute("SELECT school_id FROM submissions WHERE school_year = ? AND round = ?",
                                          list(PERIOD)).fetchall()}
    finally:
        c.close()
    sid = next(s for (s,) in store.read("SELECT school_id FROM entries WHERE state = 'da_nop' ORDER BY 1")
               if s not in files)
    v = views.views_for(entry_db)
    card = v.scorecard(Scope.school(sid), sid, *PERIOD)
    assert card.submission.startswith("Đã nộp đúng hạn ngày 1") and "chờ Phòng duyệt" in card.submission
    missing = _fresh_school(entry_db)
    assert v.scorecard(Scope.school(missing), missing, *PERIOD).submission.startswith("Chưa nộp báo cáo kỳ này")


def test_a_schools_submission_status_is_read_again_only_when_its_own_entry_changes(entry_db):
    """A scorecard's submission row (kpi.views.quality.submission_status for one school) equals the row of
    the whole period's (one truth); another school's save leaves it as it was, without a new query (a save
    anywhere bumps the entries' version: before, every scorecard then queried again); the school's own save
    changes it."""
    from kpi.views import quality

    store = state.store_for(entry_db)
    v = views.views_for(entry_db)
    open_ = entry.open_period(v.periods())
    schools = [s for (s,) in store.read("SELECT DISTINCT school_id FROM entries ORDER BY 1")][:6]
    schools.append(_fresh_school(entry_db))
    whole = entry.entry_times(store, *PERIOD, open_)
    for sid in schools:
        sc = Scope.school(sid)
        every = queries.submission_status(v.con, sc, *PERIOD, whole, PERIOD == open_)
        pd.testing.assert_frame_equal(quality.submission_status(v, sc, *PERIOD), every)
    mine, other = schools[-1], _fresh_school_other(entry_db, schools[-1])
    before = quality.submission_status(v, Scope.school(mine), *PERIOD)
    entry.Desk(entry_db, store, CAT, {other: level(entry_db, other)}, PERIOD).save(
        principal(other), other, *PERIOD, {"hs_tong": "1.200"}, {}, version=0)
    misses = v.misses
    assert quality.submission_status(v, Scope.school(mine), *PERIOD) is before and v.misses == misses
    entry.Desk(entry_db, store, CAT, {mine: level(entry_db, mine)}, PERIOD).save(
        principal(mine), mine, *PERIOD, {"hs_tong": "1.200"}, {}, version=0)
    after = quality.submission_status(v, Scope.school(mine), *PERIOD)
    assert list(before["state"]) == ["chua_nhap"] and list(after["state"]) == ["nhap"]


def _fresh_school_other(path, besides: str) -> str:
    """Another school with no entry in the period than `besides`."""
    have = {s for s, _ in state.store_for(path).read(state.sql("entries.period_states"),
                                                     dict(zip(("school_year", "round"), PERIOD)))}
    c = db.connect(path)
    try:
        return next(s for (s,) in c.execute("SELECT school_id FROM schools ORDER BY 1").fetchall()
                    if s not in have and s != besides)
    finally:
        c.close()


def test_a_locked_period_refuses_an_import_until_the_school_is_reopened(entry_db):
    """The sample locked 2023-2024 HK1: the Phòng's own import of a file for it is refused, naming the
    school; reopened, the school's file goes in. Planted contrast: the open period imports."""
    from kpi.imports import importer
    from tests.test_importer import GOOD_HEAD

    hk1 = f"{GOOD_HEAD}\nTH002,2023-2024,HK1,1200,40,44\n".encode()
    with pytest.raises(importer.ImportRejected) as refused:
        importer.import_file(entry_db, "hk1.csv", hk1, "chuyenvien", dry_run=True)
    assert [p.message for p in refused.value.problems] == [
        "kỳ 2023-2024 HK1 của trường TH002 đã khóa (Phòng đã duyệt và khóa kỳ); mở lại trường trên trang Duyệt số "
        "liệu trước khi nhập"]
    cn = f"{GOOD_HEAD}\nTH002,2023-2024,CN,1200,40,44\n".encode()
    assert importer.import_file(entry_db, "cn.csv", cn, "chuyenvien").import_id == 2
    desk(entry_db, OFFICE).reopen(OFFICE, "TH002", "2023-2024", "HK1", "Nhập lại tệp đã sửa của trường")
    assert importer.import_file(entry_db, "hk1.csv", hk1, "chuyenvien").import_id == 3


def test_a_version_2_file_takes_the_data_entry_role(writable_db):
    """Schema 3 lets users have the role truong_nhap_lieu (a school's data-entry account): a version 2
    file's users table (whose CHECK refused it) is rebuilt by the next writer, its rows kept."""
    import duckdb

    con = duckdb.connect(str(writable_db))
    before = con.execute("SELECT * EXCLUDE (password_hash) FROM users ORDER BY 1").fetchall()
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.execute("CREATE TABLE users_v3 AS SELECT * FROM users")
    con.execute("DROP TABLE users")
    con.execute("""CREATE TABLE users (user_name VARCHAR PRIMARY KEY, display_name VARCHAR NOT NULL,
                   role VARCHAR NOT NULL CHECK (role IN ('lanh_dao', 'chuyen_vien', 'hieu_truong')),
                   school_id VARCHAR, unit_id VARCHAR, password_hash VARCHAR NOT NULL,
                   active BOOLEAN NOT NULL DEFAULT TRUE, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
                   CHECK (role <> 'hieu_truong' OR school_id IS NOT NULL))""")
    con.execute("INSERT INTO users SELECT * FROM users_v3 WHERE role <> 'truong_nhap_lieu'")
    con.execute("DROP TABLE users_v3")
    with pytest.raises(duckdb.ConstraintException):  # planted: version 2 refuses the role
        con.execute("INSERT INTO users VALUES ('x', 'X', 'truong_nhap_lieu', 'TH001', NULL, 'h', TRUE, now(), now())")
    con.close()
    auth.add_user(writable_db, "nl.th002", "Nhập liệu TH002", "truong_nhap_lieu", "mat-khau-dai-du", "TH002")
    with pytest.raises(auth.AuthError, match="cần mã trường"):
        auth.add_user(writable_db, "nl.x", "X", "truong_nhap_lieu", "mat-khau-dai-du")
    c = db.connect(writable_db)
    try:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [(db.SCHEMA_VERSION,)]
        after = c.execute("SELECT * EXCLUDE (password_hash) FROM users WHERE user_name <> 'nl.th002' "
                          "AND role <> 'truong_nhap_lieu' ORDER BY 1").fetchall()
        user = auth.user_from_row(auth.user_row(c, "nl.th002"))
    finally:
        c.close()
    assert after == [r for r in before if r[2] != "truong_nhap_lieu"]
    assert user.scope == Scope.school("TH002", "PGD_Q3")  # own school only, like the principal


def _fetch(path, query: str) -> list[tuple]:
    c = db.connect(path)
    try:
        return c.execute(query).fetchall()
    finally:
        c.close()


def _physical(path) -> list[tuple]:
    """observations' keys in the order the table holds them (DuckDB keeps the order rows went in)."""
    return _fetch(path, "SELECT school_year, round, school_id, field_code FROM observations")


def _rows(path) -> list[tuple]:
    return _fetch(path, "SELECT * FROM observations ORDER BY ALL")


def test_a_version_3_file_keeps_its_observations_by_period_then_school(writable_db):
    """Schema 4 keeps observations by period, then school, then field (a principal's queries read one
    school; DuckDB's zone maps then skip the other schools' row groups): a version 3 file (by period,
    then field) is reordered by the next writer, every row kept."""
    import duckdb

    con = duckdb.connect(str(writable_db))
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.execute("CREATE TEMP TABLE o AS SELECT * FROM observations")
    con.execute("DELETE FROM observations")
    con.execute("INSERT INTO observations SELECT * FROM o ORDER BY school_year, round, field_code, school_id")
    con.close()
    old = _physical(writable_db)
    assert old != sorted(old)  # planted: version 3's order is caught by the same check
    before = _rows(writable_db)
    auth.add_user(writable_db, "nl.th003", "Nhập liệu TH003", "truong_nhap_lieu", "mat-khau-dai-du", "TH003")
    now = _physical(writable_db)
    assert now == sorted(now) and sorted(now) == sorted(old)
    assert _rows(writable_db) == before
    assert _fetch(writable_db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(db.SCHEMA_VERSION,)]
