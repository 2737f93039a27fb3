"""Faults as they really happen (issue 28): a process killed (SIGKILL) before, during, between and
after the two writes of an approval, a publication and a revert, then repaired: the district
figures, the workflow state and the audit agree; a full disk under the state store and a read-only
disk under the analytics file: pages still read, every write says in Vietnamese what happened and
that nothing was lost, the CLI exits non-zero without a traceback. Each with a planted defect."""

import json
import os
import subprocess
import sys

import pytest

from kpi.admin import auth
from kpi.common import faults
from kpi.imports import importer
from kpi.store import db, recovery, state
from kpi.views import cache as views
from tests.conftest import ROOT, app_test, run_async, token_for
from tests.test_entry import OFFICE, PERIOD, _fresh_school, _submit, desk

YEAR = "2023-2024"

_APPROVE = """
import sys
from pathlib import Path
from kpi.admin import auth
from kpi.views import cache as views
path, sid, version = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
office = auth.User("chuyenvien", "Chuyên viên", "chuyen_vien", None, None)
print(views.views_for(path).desk(office.scope).approve(office, [(sid, version)], "2023-2024", "CN"))
"""
_PUBLISH = """
import sys
from pathlib import Path
from kpi.admin import auth
from kpi.views import cache as views
path = Path(sys.argv[1])
office = auth.User("chuyenvien", "Chuyên viên", "chuyen_vien", None, None)
print(views.views_for(path).assessor(office.scope).publish(office, "2023-2024"))
"""
_REVERT = """
import sys
from kpi.imports import importer
print(importer.revert(sys.argv[1], int(sys.argv[2]), "chuyenvien"))
"""


def _dying(code: str, step: str, *args) -> subprocess.CompletedProcess:
    """Run `code` in a child python that kills itself (SIGKILL) at `step` (kpi.common.faults.point)."""
    env = {**os.environ, "KPI_FAULT": step}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


# ---- an approval killed at every step ----------------------------------------------------------

def _story(path, sid) -> tuple:
    """(entry state, approval imports of the school, its 'duyet' audit rows, its submissions row in
    the analytics file, unfinished intents): what must agree."""
    store = state.store_for(path)
    st = store.read("SELECT state FROM entries WHERE school_id = ? AND school_year = ? AND round = ?",
                    (sid, *PERIOD))[0][0]
    audits = store.read("SELECT count(*) FROM audit WHERE action = 'duyet' AND json_extract(detail, '$.truong') = ?",
                        (sid,))[0][0]
    c = db.connect(path)
    try:
        imports = c.execute("SELECT count(*) FROM imports WHERE source = 'nhap_lieu' AND file_name LIKE ?",
                            [f"%: {sid}"]).fetchall()[0][0]
        subs = c.execute("SELECT count(*) FROM submissions WHERE school_id = ? AND school_year = ? AND round = ?",
                         [sid, *PERIOD]).fetchall()[0][0]
    finally:
        c.close()
    return st, imports, audits, subs, len(recovery.pending(store))


def _agree(story: tuple) -> None:
    """Figures counted ⇔ entry approved ⇔ audited, and nothing left unfinished."""
    st, imports, audits, subs, pending = story
    assert pending == 0, story
    assert st in ("da_nop", "da_duyet"), story
    assert (imports, audits, subs) == ((1, 1, 1) if st == "da_duyet" else (0, 0, 0)), story


# step → (what the kill leaves before repair, the entry's state after repair)
STEPS = {
    "before_analytics": (("da_nop", 0, 0, 0, 1), "da_nop"),   # intent recorded, nothing written
    "before_swap": (("da_nop", 0, 0, 0, 1), "da_nop"),        # the copy written, never swapped in
    "after_analytics": (("da_nop", 1, 0, 1, 1), "da_duyet"),  # figures counted, entry waiting: half-done
    "after_store": (("da_duyet", 1, 1, 1, 0), "da_duyet"),    # both done
}


@pytest.mark.parametrize("step", STEPS)
def test_an_approval_killed_at_each_step_is_finished_or_dropped(entry_db, step):
    sid = _fresh_school(entry_db)
    sub = _submit(entry_db, sid)
    p = _dying(_APPROVE, step, entry_db, sid, sub.version)
    assert p.returncode == -9, p.stderr[-800:]
    left, final = STEPS[step]
    assert _story(entry_db, sid) == left
    done = recovery.repair(entry_db)
    assert len(done) == left[-1]
    _agree(_story(entry_db, sid))
    assert _story(entry_db, sid)[0] == final
    assert recovery.repair(entry_db) == []  # idempotent
    if final == "da_nop":  # dropped: approving again works and counts once
        desk(entry_db, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
        _agree(_story(entry_db, sid))
        assert _story(entry_db, sid)[0] == "da_duyet"


def test_the_planted_half_done_approval_is_caught(entry_db, monkeypatch):
    """Planted: repair disabled (as before issue 28): the kill between the two writes leaves figures
    counted for an entry still waiting and without audit; the agreement check fails."""
    sid = _fresh_school(entry_db)
    sub = _submit(entry_db, sid)
    assert _dying(_APPROVE, "after_analytics", entry_db, sid, sub.version).returncode == -9
    monkeypatch.setattr(recovery, "repair", lambda *a, **k: [])
    recovery.repair(entry_db)
    with pytest.raises(AssertionError):
        _agree(_story(entry_db, sid))


def test_the_next_writer_repairs_before_it_writes(entry_db):
    """No restart: the next approval (of another school) first finishes the one a kill left half-done."""
    first = _fresh_school(entry_db)
    sub = _submit(entry_db, first)
    assert _dying(_APPROVE, "after_analytics", entry_db, first, sub.version).returncode == -9
    second = _fresh_school(entry_db)
    sub2 = _submit(entry_db, second)
    desk(entry_db, OFFICE).approve(OFFICE, [(second, sub2.version)], *PERIOD)
    for sid in (first, second):
        _agree(_story(entry_db, sid))
        assert _story(entry_db, sid)[0] == "da_duyet"
    repaired = state.store_for(entry_db).read("SELECT detail FROM audit WHERE action = 'duyet' "
                                              "AND json_extract(detail, '$.truong') = ?", (first,))
    assert json.loads(repaired[0][0])["phuc_hoi"] == 1  # the audit says the repair finished it


def test_every_server_start_repairs(monkeypatch):
    """warm_up_quietly (each worker) and `kpi serve` (the supervisor) call the repair (each worker's
    call is counted: a warm-up without it fails here)."""
    from kpi.serving import serve
    from pages import _data

    calls = []
    monkeypatch.setattr(recovery, "repair_quietly", lambda path: calls.append(path) or [])
    monkeypatch.setattr(_data, "warm_up", lambda: None)
    _data.warm_up_quietly()
    assert calls == [db.db_path()]
    import inspect

    assert "recovery.repair_quietly(" in inspect.getsource(serve)  # the supervisor's start (kpi serve)


# ---- a publication and a revert killed between their two writes -------------------------------

def _published(path) -> tuple:
    store = state.store_for(path)
    states = dict(store.read("SELECT state, count(*) FROM assessments WHERE school_year = ? GROUP BY state", (YEAR,)))
    audits = store.read("SELECT count(*) FROM audit WHERE action = 'danh_gia_cong_bo'")[0][0]
    c = db.connect(path)
    try:
        pubs = c.execute("SELECT count(*) FROM publications WHERE school_year = ?", [YEAR]).fetchall()[0][0]
    finally:
        c.close()
    return states.get("da_cong_bo", 0), pubs, audits, len(recovery.pending(store))


@pytest.mark.parametrize("repair", [True, False], ids=["repaired", "planted_no_repair"])
def test_a_publication_killed_between_its_writes_is_finished(entry_db, repair):
    before = _published(entry_db)
    assert before[0] == 0 and before[1] == 0
    assert _dying(_PUBLISH, "after_analytics", entry_db).returncode == -9
    assert _published(entry_db)[:2] == (0, 1)  # published in the file, not in the workflow
    if repair:
        recovery.repair(entry_db)
    published, pubs, audits, pending = _published(entry_db)
    ok = published > 0 and pubs == 1 and audits == before[2] + 1 and pending == 0
    assert ok is repair  # planted: without the repair the publication stays half-done


@pytest.mark.parametrize("repair", [True, False], ids=["repaired", "planted_no_repair"])
def test_a_revert_killed_between_its_writes_gets_its_audit(entry_db, repair):
    # a file import of a school with no entry (an approval's import may not be undone: kpi.writes.door)
    sid = _fresh_school(entry_db)
    import_id = importer.import_file(entry_db, "mot_truong.csv", _import_csv(sid), "chuyenvien").import_id
    assert _dying(_REVERT, "after_analytics", entry_db, import_id).returncode == -9
    if repair:
        recovery.repair(entry_db)
    store = state.store_for(entry_db)
    audited = store.read("SELECT count(*) FROM audit WHERE action = 'hoan_tac_nhap' "
                         "AND json_extract(detail, '$.lan_nhap') = ?", (import_id,))[0][0]
    c = db.connect(entry_db)
    status = c.execute("SELECT status FROM imports WHERE import_id = ?", [import_id]).fetchall()[0][0]
    c.close()
    assert status == "reverted"
    assert (audited == 1 and not recovery.pending(store)) is repair


# ---- disks that refuse writes ------------------------------------------------------------------

@pytest.fixture()
def tmpfs(tmp_path):
    """A small tmpfs mounted for the test (root only): a disk that can be filled or made read-only."""
    if os.geteuid() != 0:
        pytest.skip("cần quyền root để gắn một tmpfs (mount -t tmpfs) cho phép thử ổ đầy / chỉ đọc")
    where = tmp_path / "disk"
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"không gắn được tmpfs ở đây: {r.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(where) -> None:
    """Fill the disk to the last byte."""
    with open(where / "filler", "wb", buffering=0) as fh:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while fh.write(b"\0" * size):
                    pass
            except OSError:
                pass


def _vietnamese_refusal(text: str, kind: str) -> None:
    """The sentence of kpi.common.faults: what happened, that nothing was lost; no English, no path."""
    assert text.startswith(faults.SENTENCE[kind]), text
    assert "chưa có gì thay đổi" in text and "/" not in text and "Error" not in text, text


def test_a_full_disk_under_the_store_reads_on_and_refuses_saves_in_vietnamese(entry_db, tmpfs, monkeypatch):
    store_path = tmpfs / "kpi.state.sqlite"
    state.store_for(entry_db).copy_to(store_path)
    monkeypatch.setenv("KPI_STATE", str(store_path))
    monkeypatch.setenv("KPI_DB", str(entry_db))
    at = app_test("nop_so_lieu", user="ht.th001")
    at.text_input(key="nsl_gv_tin").set_value("7").run()
    at.button(key="nsl_save").click().run()
    assert not at.exception and any("Đã lưu nháp" in s.value for s in at.success)
    store = state.store_for(entry_db)
    assert store.path == store_path
    token = token_for("ht.th001")  # (for the planted runs below: issued while the disk has room)
    with store.write() as con:  # the sessions were last marked a while ago: the next page run marks them
        con.execute("UPDATE sessions SET last_seen = last_seen - 120")
    _fill(tmpfs)

    def check_reads_and_save(at):
        at.text_input(key="nsl_gv_tin").set_value("9").run()  # a page run: the session mark fails, quietly
        assert not at.exception, at.exception
        at.button(key="nsl_save").click().run()
        assert not at.exception, at.exception
        _vietnamese_refusal(at.error[0].value, "full")
        d = views.views_for(entry_db).desk(auth.User("ht.th001", "", "hieu_truong", "TH001", None).scope)
        assert d.entry("TH001", *PERIOD).raw["gv_tin"] == "7"  # the earlier draft is intact
        at.switch_page("pages/chi_tieu.py").run()
        assert not at.exception and at.title, at.exception  # another reading page

    check_reads_and_save(at)
    from streamlit.testing.v1 import AppTest

    # planted, one at a time: the session mark not best-effort (every page run fails), and the store's
    # errors not turned into the sentence (the save shows a raw sqlite3 error). The session is still
    # unmarked: the failed marks changed nothing.
    plants = [(auth.Sessions, "_best_effort", lambda self, write, *a: write(*a)),
              (faults, "unavailable", lambda *a, **k: None)]
    for owner, name, broken in plants:
        with monkeypatch.context() as m:
            m.setattr(owner, name, broken)
            again = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
            again.session_state["_kpi_token"] = token
            with pytest.raises(AssertionError):
                again.run()
                assert not again.exception, again.exception
                again.switch_page("pages/nop_so_lieu.py").run()
                check_reads_and_save(again)


def _import_csv(sid: str) -> bytes:
    from kpi.catalog.model import default_catalog

    cat = default_catalog()
    h = {f.code: f"{f.label_vi} ({f.unit})" for f in cat.fields.values()}
    head = f"Mã trường,Năm học,Kỳ,{h['hs_tong']},{h['gv_tong']},{h['cbql_gv_tong']}"
    return f"{head}\n{sid},2023-2024,CN,100,10,12\n".encode()


def test_a_read_only_disk_under_the_analytics_file_refuses_in_vietnamese(entry_db, tmpfs, tmp_path, monkeypatch,
                                                                         caplog):
    path = tmpfs / "kpi.duckdb"
    path.write_bytes(entry_db.read_bytes())
    store_path = tmp_path / "elsewhere.state.sqlite"
    state.store_for(entry_db).copy_to(store_path)
    monkeypatch.setenv("KPI_STATE", str(store_path))
    sid = _fresh_school(path)
    sub = _submit(path, sid)
    csv = tmp_path / "truong.csv"
    csv.write_bytes(_import_csv(_fresh_school(path)))  # a school with no entry: the import would write
    c = db.connect(path)
    imports = c.execute("SELECT count(*) FROM imports").fetchall()[0][0]
    c.close()
    r = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    def check_approve():
        try:
            desk(path, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
        except Exception as e:  # noqa: BLE001 - whatever it is, it must be the sentence
            _vietnamese_refusal(str(e), "readonly")
        else:
            raise AssertionError("approved on a read-only disk")
        assert desk(path, OFFICE).entry(sid, *PERIOD).state == "da_nop"
        c = db.connect(path)
        assert c.execute("SELECT count(*) FROM imports").fetchall()[0][0] == imports  # no new import
        c.close()
        assert recovery.pending(state.store_for(path)) == []

    def check_cli(prelude=""):
        code = (f"import sys\n{prelude}\nfrom kpi.cli import main\n"
                f"sys.exit(main(['import', '--db', {str(path)!r}, '--user', 'chuyenvien', {str(csv)!r}]))")
        p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "KPI_STATE": str(store_path)})
        assert p.returncode == 1, (p.returncode, p.stderr[-800:])
        assert "Traceback" not in p.stderr and p.stdout == "", p.stderr[-800:]
        _vietnamese_refusal(p.stderr.strip().removeprefix("Lỗi: "), "readonly")

    with caplog.at_level("ERROR", logger="kpi.common.faults"):
        check_approve()
    assert str(path) in caplog.text and "Read-only file system" in caplog.text  # the server log: which file, why
    check_cli()
    # planted: the disk's error not turned into the sentence (Python's OSError with the path leaks)
    with pytest.raises(AssertionError):
        check_cli("from kpi.common import faults\nfaults.unavailable = lambda *a, **k: None")
    monkeypatch.setattr(faults, "unavailable", lambda *a, **k: None)
    with pytest.raises(AssertionError):
        check_approve()


def test_a_store_that_refuses_the_second_write_leaves_it_to_repair(entry_db, monkeypatch):
    """The store refuses the approval's completion (after the figures landed): the user is told in
    Vietnamese that the rest is finished automatically; the repair finishes it."""
    sid = _fresh_school(entry_db)
    sub = _submit(entry_db, sid)
    real = recovery.complete

    def refusing(*a, **k):
        raise faults.StoreUnavailable("locked")

    monkeypatch.setattr(recovery, "complete", refusing)
    with pytest.raises(faults.StoreUnavailable) as e:
        desk(entry_db, OFFICE).approve(OFFICE, [(sid, sub.version)], *PERIOD)
    assert "hệ thống tự hoàn tất" in str(e.value) and "/" not in str(e.value)
    assert _story(entry_db, sid)[:2] == ("da_nop", 1)
    monkeypatch.setattr(recovery, "complete", real)
    recovery.repair(entry_db)
    _agree(_story(entry_db, sid))


def _post_login(handler, user: str, password: str):
    """Call a login route with a form POST (the ASGI request the browser sends), return its response."""
    from urllib.parse import urlencode

    from starlette.requests import Request

    body = urlencode({"user": user, "password": password}).encode()
    scope = {"type": "http", "method": "POST", "path": "/dang-nhap", "headers": [
        (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())],
        "query_string": b"", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8501), "scheme": "http"}
    sent = []

    async def receive():
        if sent:
            return {"type": "http.disconnect"}
        sent.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    return run_async(handler(Request(scope, receive)))


def test_the_login_on_a_failing_store_answers_a_vietnamese_page(entry_db, monkeypatch):
    """The store refuses the new session: a Vietnamese login page (503), never a 500. Planted: the
    route without its guard lets the exception escape (a 500 for the server)."""
    from pages import _web

    monkeypatch.setenv("KPI_DB", str(entry_db))

    def refusing(*a, **k):
        raise faults.StoreUnavailable("full")

    monkeypatch.setattr(state.Store, "session_open", refusing)
    r = _post_login(_web._said(_web.login), "chuyenvien", auth.DEMO_PASSWORD)
    text = r.body.decode()
    assert r.status_code == 503 and faults.SENTENCE["full"] in text and "Error" not in text
    assert 'value="chuyenvien"' in text  # the form again, with the name typed
    with pytest.raises(faults.StoreUnavailable):
        _post_login(_web.login, "chuyenvien", auth.DEMO_PASSWORD)


def _close_stores() -> None:
    """Close this process's store connections (a file open for writing keeps a tmpfs from going read-only)."""
    for s in list(state._STORES.values()):  # SQLite's and any PostgreSQL store an earlier test left
        s.close()


def test_a_read_only_disk_under_the_store_reads_on_and_refuses_the_approval(entry_db, tmpfs, monkeypatch):
    """The issue's own trial: the store read-only, press Duyệt: the Vietnamese sentence, no new import,
    the entry still 'da_nop'; the review page reads on (the store opened read-only)."""
    from streamlit.testing.v1 import AppTest

    store_path = tmpfs / "kpi.state.sqlite"
    state.store_for(entry_db).copy_to(store_path)
    monkeypatch.setenv("KPI_STATE", str(store_path))
    monkeypatch.setenv("KPI_DB", str(entry_db))
    sid = _fresh_school(entry_db)
    _submit(entry_db, sid)
    token = token_for("chuyenvien")
    with state.store_for(entry_db).write() as con:
        con.execute("UPDATE sessions SET last_seen = last_seen - 120")
    c = db.connect(entry_db)
    imports = c.execute("SELECT count(*) FROM imports").fetchall()[0][0]
    c.close()
    _close_stores()
    r = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    def check():
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
        at.session_state["_kpi_token"] = token
        at.query_params["nam_hoc"], at.query_params["ky"] = PERIOD
        at.run()
        assert not at.exception, at.exception
        at.switch_page("pages/duyet.py").run()
        assert not at.exception and at.title[0].value == "Duyệt số liệu", at.exception
        at.selectbox(key="w_dy_truong").select(sid).run()
        at.button(key="dy_approve").click().run()
        assert not at.exception, at.exception
        _vietnamese_refusal(at.error[0].value, "readonly")
        assert desk(entry_db, OFFICE).entry(sid, *PERIOD).state == "da_nop"
        c = db.connect(entry_db)
        assert c.execute("SELECT count(*) FROM imports").fetchall()[0][0] == imports  # no new import
        c.close()

    check()
    _close_stores()
    # planted: the store's refusals not recognised (no read-only opening, raw sqlite3 errors): caught
    monkeypatch.setattr(faults, "kind_of", lambda e: None)
    with pytest.raises(AssertionError):
        check()


def test_a_download_whose_audit_the_store_refuses_goes_on(monkeypatch, caplog):
    """A download (a read) is audited best-effort: the record goes to the server log and the file is
    served. Planted: the refusal not caught (the download fails)."""
    from pages import _frame

    unavailable = faults.StoreUnavailable

    def refusing(*a, **k):
        raise unavailable("full")

    monkeypatch.setattr(state.Store, "audit", refusing)
    user = auth.User("chuyenvien", "Chuyên viên", "chuyen_vien", None, None)
    with caplog.at_level("WARNING", logger="kpi.audit"):
        _frame.audit("tai_bang", {"tep": "bang.csv"}, user)
    assert "tai_bang" in caplog.text and "chuyenvien" in caplog.text
    monkeypatch.setattr(faults, "StoreUnavailable", type("Other", (Exception,), {}))
    with pytest.raises(Exception, match="ổ đĩa máy chủ đã đầy"):
        _frame.audit("tai_bang", {"tep": "bang.csv"}, user)


def _kinds() -> dict:
    import errno
    import sqlite3

    import duckdb

    cases = {
        "database is locked": sqlite3.OperationalError("database is locked"),
        "database or disk is full": sqlite3.OperationalError("database or disk is full"),
        "readonly database": sqlite3.OperationalError("attempt to write a readonly database"),
        "disk I/O error": sqlite3.OperationalError("disk I/O error"),
        "ENOSPC": OSError(errno.ENOSPC, "No space left on device"),
        "EROFS": OSError(errno.EROFS, "Read-only file system"),
        "duckdb full": duckdb.IOException('IO Error: Could not write file "x": No space left on device'),
        "no such table": sqlite3.OperationalError("no such table: intents"),  # a bug, not the disk
        "integrity": sqlite3.IntegrityError("UNIQUE constraint failed"),
        "value": ValueError("database is locked"),  # only the libraries' own errors count
    }
    return {k: faults.kind_of(e) for k, e in cases.items()}


def test_which_errors_are_the_disk_saying_no(monkeypatch):
    """Only the disk's refusals (full, read-only, locked, I/O) become the sentence; a programming error
    keeps its own exception. Planted: the library texts not recognised (locked and full missed)."""
    expected = {"database is locked": "locked", "database or disk is full": "full", "readonly database": "readonly",
                "disk I/O error": "io", "ENOSPC": "full", "EROFS": "readonly", "duckdb full": "full",
                "no such table": None, "integrity": None, "value": None}
    assert _kinds() == expected
    monkeypatch.setattr(faults, "_TEXTS", ())
    assert _kinds() != expected


def test_a_full_disk_under_the_analytics_file_refuses_the_import_and_keeps_the_file(entry_db, tmpfs, tmp_path):
    """`kpi import` on a full disk: exit 1 with the sentence, no traceback, the file as it was and no
    half-written copy left. Planted: the disk's error not turned into the sentence (a traceback)."""
    from tests.conftest import table_digest

    path = tmpfs / "kpi.duckdb"
    path.write_bytes(entry_db.read_bytes())
    store_path = tmp_path / "elsewhere.state.sqlite"
    state.store_for(entry_db).copy_to(store_path)
    env = {**os.environ, "KPI_STATE": str(store_path)}
    csv = tmp_path / "truong.csv"
    with pytest.MonkeyPatch.context() as m:
        m.setenv("KPI_STATE", str(store_path))
        csv.write_bytes(_import_csv(_fresh_school(path)))
    digest = table_digest(path)
    _fill(tmpfs)

    def check(prelude=""):
        code = (f"import sys\n{prelude}\nfrom kpi.cli import main\n"
                f"sys.exit(main(['import', '--db', {str(path)!r}, '--user', 'chuyenvien', {str(csv)!r}]))")
        p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr[-800:]
        _vietnamese_refusal(p.stderr.strip().removeprefix("Lỗi: "), "full")
        assert table_digest(path) == digest
        assert sorted(f.name for f in tmpfs.iterdir()) == ["filler", "kpi.duckdb", "kpi.duckdb.lock"]

    check()
    with pytest.raises(AssertionError):
        check("from kpi.common import faults\nfaults.unavailable = lambda *a, **k: None")


# ---- the end of a process ----------------------------------------------------------------------

EXIT_PROBE = """
import sys, threading, time
sys.path.insert(0, {root!r})
from kpi.common import exiting
from kpi.store import db
stop = threading.Event()

def run():
    while not stop.is_set():
        db.connect({path!r}).close()

for _ in range(3):
    t = threading.Thread(target=run, daemon=True)
    if {registered}:
        exiting.stop_at_exit(t, stop.set)
    t.start()
time.sleep(0.5)
print("xong")
"""


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "planted"])
def test_a_process_ends_cleanly_while_its_threads_read_duckdb(sample_db, registered):
    """Background readers (the file watcher, warm-ups, the pack, the follower) still inside DuckDB when
    the interpreter finalizes abort the process with exit 134 after its work is done (seen at the end of
    `pytest tests/test_faults.py`). Registered with kpi.common.exiting they are stopped at exit and the
    process ends with 0; planted: the same threads unregistered abort it."""
    code = EXIT_PROBE.format(root=str(ROOT), path=str(sample_db), registered=registered)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "xong"
    if registered:
        assert out.returncode == 0, out.stderr[-2000:]
    else:
        assert out.returncode == -6 and "exception not rethrown" in out.stderr, (out.returncode, out.stderr[-500:])


def test_every_background_reader_is_stopped_at_exit(sample_db, monkeypatch):
    """The threads the product starts that read DuckDB are registered with kpi.common.exiting."""
    from kpi.common import exiting

    monkeypatch.setattr(exiting, "_THREADS", [])
    monkeypatch.setattr(exiting, "_EXITING", False)  # stop_all marks the process as ending: put back after
    stop = views.threading.Event()
    watcher = views.watch(sample_db, every=60, stop=stop)
    try:
        assert [t for t, _ in exiting._THREADS] == [watcher]
        assert exiting.stop_all(wait_s=5) == [] and not watcher.is_alive() and stop.is_set()
    finally:
        stop.set()
