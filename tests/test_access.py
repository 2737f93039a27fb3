"""Login, roles and scope: bcrypt-only password store, sessions, and what each role can reach."""

import re

import pytest

from kpi.admin import auth
from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import tables
from kpi.store import db, queries, state
from tests.conftest import ROOT, app_test

CAT = default_catalog()


def test_store_holds_only_bcrypt_hashes(con):
    rows = con.execute("SELECT user_name, password_hash FROM users").fetchall()
    assert len(rows) >= 4
    for name, h in rows:
        m = re.fullmatch(r"\$2b\$(\d\d)\$[./A-Za-z0-9]{53}", h)
        assert m and int(m.group(1)) >= 10, name  # cost factor at least 10
        assert auth.DEMO_PASSWORD not in h
        assert auth.check_password(auth.DEMO_PASSWORD, h)
    columns = {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'").fetchall()}
    assert not {"password", "mat_khau"} & columns


def test_authenticate(writable_db):
    c = db.connect(writable_db)
    throttle = auth.Throttle(store=state.store_for(writable_db))
    assert auth.authenticate(c, "lanhdao", auth.DEMO_PASSWORD, throttle).role == "lanh_dao"
    assert auth.authenticate(c, " LanhDao ", auth.DEMO_PASSWORD, throttle).user_name == "lanhdao"
    with pytest.raises(auth.AuthError) as wrong:
        auth.authenticate(c, "lanhdao", "sai-mat-khau", throttle)
    with pytest.raises(auth.AuthError) as unknown:
        auth.authenticate(c, "khong_co", auth.DEMO_PASSWORD, throttle)
    c.close()
    auth.set_active(writable_db, "ht.th001", False)
    c = db.connect(writable_db)
    with pytest.raises(auth.AuthError) as disabled:  # the right password of a disabled account
        auth.authenticate(c, "ht.th001", auth.DEMO_PASSWORD, throttle)
    c.close()
    # one answer for all three: it confirms neither a name nor a disabled account's password
    assert str(wrong.value) == str(unknown.value) == str(disabled.value) == auth.GENERIC_REFUSAL


def test_unknown_names_cost_what_known_names_cost(con, tmp_path):
    import time

    throttle = auth.Throttle(store=state.Store(tmp_path / "s.sqlite"), free=1000, free_address=1000)

    def took(name):
        t = time.perf_counter()
        with pytest.raises(auth.AuthError):
            auth.authenticate(con, name, "sai-mat-khau", throttle)
        return time.perf_counter() - t

    known = min(took("chuyenvien") for _ in range(7))
    unknown = min(took(f"khong-co-{i}") for i in range(7))
    # a bcrypt check either way (~50 ms): an unknown name is not answered in a fraction of the time
    assert unknown > 0.4 * known and unknown > 0.02, (known, unknown)


def test_wrong_passwords_are_slowed_down_per_account(con, tmp_path):
    now = [1000.0]
    store = state.Store(tmp_path / "s.sqlite")
    throttle = auth.Throttle(store=store, free=3, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(auth.AuthError, match="không đúng"):
            auth.authenticate(con, "chuyenvien", "sai", throttle)
    # the fourth try, even with the right password, must wait, and says how long
    with pytest.raises(auth.AuthError, match="Vui lòng chờ 2 giây rồi thử lại"):
        auth.authenticate(con, "chuyenvien", auth.DEMO_PASSWORD, throttle)
    # another worker, or the same server after a restart, sees the same count
    again = auth.Throttle(store=state.Store(tmp_path / "s.sqlite"), free=3, clock=lambda: now[0])
    assert again.wait_left("chuyenvien") == 2
    now[0] += 2.5
    assert auth.authenticate(con, "chuyenvien", auth.DEMO_PASSWORD, throttle).user_name == "chuyenvien"
    assert throttle.wait_left("chuyenvien") == 0


def test_many_names_from_one_address_are_slowed_down(con, tmp_path):
    now = [1000.0]
    throttle = auth.Throttle(store=state.Store(tmp_path / "s.sqlite"), free=3, free_address=10,
                             clock=lambda: now[0])
    for i in range(10):  # each name tried once: no account reaches its limit
        with pytest.raises(auth.AuthError, match="không đúng"):
            auth.authenticate(con, f"ten-{i}", "sai", throttle, client="203.0.113.7")
    with pytest.raises(auth.AuthError, match="Vui lòng chờ"):
        auth.authenticate(con, "ten-moi", "sai", throttle, client="203.0.113.7")
    # a right password from that address does not clear the address's count ...
    with pytest.raises(auth.AuthError, match="Vui lòng chờ"):
        auth.authenticate(con, "lanhdao", auth.DEMO_PASSWORD, throttle, client="203.0.113.7")
    # ... and another address is not slowed
    assert auth.authenticate(con, "lanhdao", auth.DEMO_PASSWORD, throttle, client="198.51.100.2")
    now[0] += 901  # counts older than the window start over
    assert auth.authenticate(con, "lanhdao", auth.DEMO_PASSWORD, throttle, client="203.0.113.7")


def test_sessions_sign_expire_and_revoke(writable_db):
    now = [5000.0]
    store = auth.Sessions(b"k" * 32, store=state.store_for(writable_db), idle_minutes=30, clock=lambda: now[0])
    token = store.issue("lanhdao")
    c = db.connect(writable_db)
    assert auth.user_for_token(c, token, store).user_name == "lanhdao"
    body, sig = token.rsplit(".", 1)
    forged = auth._b64(b'{"u": "chuyenvien", "s": "x", "t": 5000}') + "." + sig
    assert auth.user_for_token(c, forged, store) is None
    assert auth.Sessions(b"other-key" * 4, store=store.store).check(token) is None
    now[0] += 29 * 60
    assert store.check(token) == "lanhdao"  # used within the idle time: stays alive
    now[0] += 31 * 60
    assert store.check(token) is None  # idle too long
    second = store.issue("lanhdao")
    assert second != token and store.check(second) == "lanhdao"  # a new session id at every login
    store.revoke(second)
    assert store.check(second) is None
    third = store.issue("ht.th001")
    assert store.check(third) == "ht.th001"
    c.close()
    auth.set_active(writable_db, "ht.th001", False)
    c = db.connect(writable_db)
    assert auth.user_for_token(c, third, store) is None  # disabled users lose their sessions
    c.close()
    auth.set_active(writable_db, "ht.th001", True)
    assert store.check(third) is None  # ... for good: enabling again does not revive them


def test_a_logout_holds_in_every_process_and_after_a_restart(writable_db, tmp_path):
    """Two stores on one file stand for two workers (or one worker before and after a restart)."""
    a = auth.Sessions(b"k" * 32, store=state.Store(state.state_path(writable_db)))
    b = auth.Sessions(b"k" * 32, store=state.Store(state.state_path(writable_db)))
    token = a.issue("lanhdao")
    assert b.check(token) == "lanhdao"
    a.revoke(token)
    assert b.check(token) is None
    restarted = auth.Sessions(b"k" * 32, store=state.Store(state.state_path(writable_db)))
    assert restarted.check(token) is None
    # a password change ends the user's sessions everywhere
    other = b.issue("chuyenvien")
    auth.reset_password(writable_db, "chuyenvien", "mat-khau-moi-2026")
    assert a.check(other) is None and restarted.check(other) is None
    # a process started in another way in the same place (a subprocess) agrees
    import subprocess
    import sys

    token2 = a.issue("lanhdao")
    code = ("import sys; from kpi.admin import auth; from kpi.store import state; "
            "s = auth.Sessions(b'k' * 32, store=state.Store(sys.argv[1])); print(s.check(sys.argv[2]))")
    out = subprocess.run([sys.executable, "-c", code, str(state.state_path(writable_db)), token2],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    assert out == "lanhdao"
    a.revoke(token2)
    out = subprocess.run([sys.executable, "-c", code, str(state.state_path(writable_db)), token2],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    assert out == "None"


def test_users_cli(writable_db, monkeypatch, capsys):
    import io

    from kpi.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("matkhau-moi-123\n"))
    assert main(["users", "add", "ht.th002", "--role", "hieu_truong", "--school", "TH002", "--db", str(writable_db),
                 "--password-stdin", "--user", "lanhdao"]) == 0
    c = db.connect(writable_db)
    assert auth.authenticate(c, "ht.th002", "matkhau-moi-123").school_id == "TH002"
    c.close()
    assert main(["users", "add", "x", "--role", "hieu_truong", "--db", str(writable_db), "--password-stdin",
                 "--user", "lanhdao"]) == 1
    assert "cần mã trường" in capsys.readouterr().err
    assert main(["users", "list", "--db", str(writable_db)]) == 0
    out = capsys.readouterr().out
    assert "ht.th002" in out and "$2b$" not in out


ROLE_PAGES = {
    "lanhdao": {"Tổng quan", "Chỉ tiêu", "Ai đang chậm", "So sánh", "Chỉ số CĐS", "Trường", "Quản trị", "Đổi mật khẩu"},
    "chuyenvien": {"Tổng quan", "Chỉ tiêu", "Ai đang chậm", "So sánh", "Chỉ số CĐS", "Trường", "Dữ liệu",
                   "Duyệt số liệu", "Báo cáo", "Đánh giá CĐS", "Quản trị", "Đổi mật khẩu"},
    "ht.th001": {"Trường", "Chỉ tiêu", "Nộp số liệu", "Tự đánh giá CĐS", "Đổi mật khẩu"},
    "nl.th001": {"Nộp số liệu", "Trường", "Chỉ tiêu", "Đổi mật khẩu"},
}
ALL_PAGES = {"tong_quan", "chi_tieu", "ai_cham", "so_sanh", "chi_so", "truong", "du_lieu", "bao_cao", "nop_so_lieu",
             "duyet", "tu_danh_gia", "danh_gia", "quan_tri", "doi_mat_khau"}
PAGE_FOR_TITLE = {"Tổng quan": "tong_quan", "Chỉ tiêu": "chi_tieu", "Ai đang chậm": "ai_cham", "So sánh": "so_sanh",
                  "Chỉ số CĐS": "chi_so", "Trường": "truong", "Dữ liệu": "du_lieu",
                  "Báo cáo": "bao_cao", "Nộp số liệu": "nop_so_lieu", "Duyệt số liệu": "duyet",
                  "Tự đánh giá CĐS": "tu_danh_gia", "Đánh giá CĐS": "danh_gia",
                  "Quản trị": "quan_tri", "Đổi mật khẩu": "doi_mat_khau"}


@pytest.mark.parametrize("user", sorted(ROLE_PAGES))
def test_each_role_sees_only_its_pages(sample_db, user):
    allowed = {PAGE_FOR_TITLE[t] for t in ROLE_PAGES[user]}
    for page in sorted(allowed):
        at = app_test(page, user=user)
        assert not at.exception, (user, page)
        assert at.title, (user, page)
    for page in sorted(ALL_PAGES - allowed):
        at = app_test(None, user=user)
        first_title = at.title[0].value
        with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in this role's navigation
            at.switch_page(f"pages/{page}.py").run()
        again = app_test(None, user=user, **{"truong": "TH002"})
        assert again.title[0].value == first_title


def test_not_logged_in_reaches_nothing(sample_db):
    at = app_test(None, user=None, truong="TH002", chi_tieu="tin_hoc_quoc_te")
    assert not at.exception
    assert at.title[0].value == "Bảng điều khiển chuyển đổi số"
    assert not at.get("plotly_chart") and not at.dataframe
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/tong_quan.py").run()


def _other_schools(con, own):
    return [(sid, name) for sid, name in con.execute(
        "SELECT school_id, name FROM schools WHERE school_id <> ?", [own]).fetchall()]


def test_principal_sees_only_own_school_named(sample_db, con):
    own = con.execute("SELECT name FROM schools WHERE school_id = 'TH001'").fetchone()[0]
    # a principal naming another school in the URL still gets their own
    at = app_test("truong", user="ht.th001", truong="TH002")
    assert not at.exception and at.title[0].value == own
    assert not at.sidebar.selectbox or all(s.key != "w_truong" for s in at.sidebar.selectbox)
    page = app_test("chi_tieu", user="ht.th001", chi_tieu="tin_hoc_quoc_te")
    shown = "\n".join(m.value for m in page.markdown) + "\n".join(c.value for c in page.caption)
    page.session_state["ct_tab"] = "Bảng"  # the schools table
    page.run()
    shown += "\n".join(str(d.value.to_csv()) for d in page.dataframe) + "\n".join(m.value for m in page.markdown)
    shown += "\n".join(c.value for c in page.caption)
    for sid, name in _other_schools(con, "TH001"):
        assert name not in shown and sid not in shown
    assert own in shown


@pytest.mark.parametrize("code", ["tin_hoc_quoc_te", "chu_ky_so", "lms_lop5"])
def test_principal_exports_hold_no_other_school(con, code):
    scope = Scope.school("TH001")
    values = queries.school_values(con, CAT, scope, code, ("2023-2024", "CN"), ("2023-2024", "HK1"))
    assert values.is_own.sum() == 1 and len(values) > 1
    from tests.cells_check import csv_texts, xlsx_texts

    def exported(frame):  # what a reader of the CSV and XLSX downloads sees, read back cell by cell
        return "\n".join(csv_texts(tables.to_csv_bytes(frame)) + xlsx_texts(tables.to_xlsx_bytes(frame)))

    shown = exported(tables.school_table(values))
    others = _other_schools(con, "TH001")
    assert not [n for sid, n in others if n in shown or sid in shown] and _name(con, "TH001") in shown
    # the same check on the district's export does see the other schools (it can fail)
    everything = queries.school_values(con, CAT, Scope(), code, ("2023-2024", "CN"))
    district = exported(tables.school_table(everything))
    listed = [(sid, n) for sid, n in others if sid in set(everything.school_id)]
    assert listed and all(n in district and sid in district for sid, n in listed)
    assert queries.school_info(con, scope, "TH002", "2023-2024", "CN") is None
    assert queries.school_indicators(con, CAT, scope, "TH002", "2023-2024", "CN").empty
    assert queries.school_trend(con, CAT, scope, "TH002", "2023-2024").empty
    assert list(queries.school_list(con, scope).school_id) == ["TH001"]
    crit, schools = queries.maturity(con, CAT, scope, ["2023-2024"])
    assert set(schools.school_id.dropna()) == {"TH001"} and set(crit.school_id) == {"TH001"}
    for flagged_only in (True, False):
        review = queries.maturity_review(con, CAT, scope, "2023-2024", flagged_only)[0]
        assert set(review.school_id) <= {"TH001"}
    heat = queries.maturity_heatmap(con, CAT, scope, "2023-2024", "name", 100)
    assert len(heat) <= 1 and all(n == _name(con, "TH001") for n in heat.index)
    assert queries.maturity_counts(con, CAT, scope, ["2023-2024"]).schools.sum() <= 1


def _name(con, school_id):
    return con.execute("SELECT name FROM schools WHERE school_id = ?", [school_id]).fetchall()[0][0]
