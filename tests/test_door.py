"""The one door for every write (kpi.writes.door, issue 24): table-driven over WRITES, every write refuses an
ended session (logged out, disabled, idle-expired, password changed, school or role changed since the
page was drawn), a wrong role and, where its row says so, a locked period, a published year, a closed
school or a missing version, and writes nothing; over-long text is refused; a convention test finds
any write function outside the table and any page or CLI call that goes around the door; a form
left open after its session ended cannot save; reverts obey locks, approvals and publications."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import io
import json
import re
import time
from pathlib import Path

import pytest

from kpi.admin import auth
from kpi.imports import importer
from kpi.store import db, state
from kpi.views import cache as views
from kpi.writes import door
from tests.conftest import ROOT, app_test

Y, R = "2023-2024", "CN"
S = "TH001"            # the principal's school (ht.th001, nl.th001 in the sample)
ACCOUNT = {"lanh_dao": "lanhdao", "chuyen_vien": "chuyenvien", "hieu_truong": "ht.th001",
           "truong_nhap_lieu": "nl.th001"}
REASON = "Số liệu cần xem lại"


@pytest.fixture()
def path(entry_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(entry_db))
    return entry_db


def user(path, name) -> auth.User:
    c = db.connect(path)
    try:
        return auth.user_from_row(auth.user_row(c, name))
    finally:
        c.close()


def store_digest(path) -> str:
    """Every table of the state store but the bookkeeping (sessions, login counters, the audit)."""
    h = hashlib.sha256()
    s = state.store_for(path)
    for (name,) in s.read("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                          "('sessions', 'login_failures', 'audit', 'sqlite_sequence') ORDER BY 1"):
        h.update(name.encode() + repr(sorted(map(repr, s.read(f'SELECT * FROM "{name}"')))).encode())
    return h.hexdigest()


def everything(path) -> tuple[str, str]:
    """The analytics file's bytes (any write through db.writing swaps in a new file: a new data
    version) and the state store's tables."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), store_digest(path)


def refusals(path, name) -> int:
    rows = state.store_for(path).read("SELECT detail FROM audit WHERE action = 'tu_choi'")
    return sum(1 for (d,) in rows if d and json.loads(d).get("viec") == name)


# ---- what each write is called with (a well-formed call; the door refuses before it runs) -----------

def _desk(path, u):
    return views.views_for(path).desk(u.scope)


def _assessor(path, u):
    return views.views_for(path).assessor(u.scope)


def _entry(path, u):
    return (_desk(path, u),), {"school_id": S, "year": Y, "rnd": R}


CASES = {
    "so_lieu_luu": lambda p, u: ((_desk(p, u),), dict(school_id=S, year=Y, rnd=R, raw={"gv_tin": "7"},
                                                      explanations={}, version=0)),
    "so_lieu_nop": lambda p, u: ((_desk(p, u),), dict(school_id=S, year=Y, rnd=R, raw={"gv_tin": "7"},
                                                      explanations={}, version=0)),
    "so_lieu_tra_lai": lambda p, u: ((_desk(p, u),), dict(school_id=S, year=Y, rnd=R, version=1, reason=REASON)),
    "so_lieu_duyet": lambda p, u: ((_desk(p, u),), dict(items=[(S, 1)], year=Y, rnd=R)),
    "so_lieu_mo_lai": lambda p, u: ((_desk(p, u),), dict(school_id=S, year=Y, rnd=R, reason=REASON)),
    "ky_khoa": lambda p, u: ((_desk(p, u),), dict(year=Y, rnd=R)),
    "danh_gia_luu": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, values={}, version=0)),
    "danh_gia_nop": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, values={}, version=0)),
    "minh_chung_dinh_kem": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, code="DH1", name="a.pdf",
                                                                  data=b"%PDF-1.4\n%%EOF\n")),
    "minh_chung_go": lambda p, u: ((_assessor(p, u),), dict(evidence_id=1)),
    "minh_chung_tai": lambda p, u: ((_assessor(p, u),), dict(evidence_id=1)),
    "danh_gia_xac_nhan": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, code="DH4", points="5",
                                                                comment="", version=1)),
    "danh_gia_tra_lai": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, version=1, reason=REASON,
                                                               criteria={})),
    "danh_gia_duyet": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, version=1)),
    "danh_gia_mo_lai": lambda p, u: ((_assessor(p, u),), dict(school_id=S, year=Y, reason=REASON)),
    "danh_gia_cong_bo": lambda p, u: ((_assessor(p, u),), dict(year=Y)),
    "danh_gia_han": lambda p, u: ((_assessor(p, u),), dict(year=Y, deadline=dt.date(2024, 6, 30), threshold=10.0)),
    "nhap_tep": lambda p, u: ((), dict(path=p, name="a.csv", data=b"ma_truong\n")),
    "hoan_tac": lambda p, u: ((), dict(path=p, import_id=1)),
    "chot_so_lieu": lambda p, u: ((), dict(path=p, school_year=Y, round=R, name="Họp")),
    "chi_tieu_tao_nhap": lambda p, u: ((), dict(path=p, school_year="2024-2025")),
    "chi_tieu_sua": lambda p, u: ((), dict(path=p, school_year="2024-2025", changes=[])),
    "chi_tieu_so_van_ban": lambda p, u: ((), dict(path=p, school_year="2024-2025", document="1/KH-GDĐT")),
    "chi_tieu_huy_nhap": lambda p, u: ((), dict(path=p, school_year="2024-2025")),
    "chi_tieu_cong_bo": lambda p, u: ((), dict(path=p, school_year="2024-2025")),
    "chi_tieu_nhap_tep": lambda p, u: ((), dict(path=p, data=b"", file_name="a.toml")),
    "truong_them": lambda p, u: ((), dict(path=p, school_id="TH999", name="Trường mới", level="TH",
                                          ownership="cong_lap", ward="Phường 1", unit_id="x",
                                          opened_on=dt.date(2024, 9, 1))),
    "truong_sua": lambda p, u: ((), dict(path=p, school_id="TH002", effective_on=dt.date(2024, 9, 1), name="Tên mới")),
    "truong_dong": lambda p, u: ((), dict(path=p, school_id="TH002", closed_on=dt.date(2024, 9, 1), reason=REASON)),
    "truong_sap_nhap": lambda p, u: ((), dict(path=p, school_id="TH002", into="TH003", merged_on=dt.date(2024, 9, 1))),
    "nam_hoc_mo": lambda p, u: ((), dict(path=p, school_year="2030-2031")),
    "don_vi_them": lambda p, u: ((), dict(path=p, unit_id="PX", name="Phường X", kind="phuong", parent_id=None,
                                          effective_on=dt.date(2024, 9, 1))),
    "don_vi_sua": lambda p, u: ((), dict(path=p, unit_id="x", effective_on=dt.date(2024, 9, 1), name="Tên mới")),
    "tai_khoan_tao_tu_tep": lambda p, u: ((), dict(path=p, file_name="a.xlsx", data=b"")),
    "tai_khoan_sua": lambda p, u: ((), dict(path=p, user_name="ht.thcs001", role="chuyen_vien", school_id=None)),
    "tai_khoan_dat_lai": lambda p, u: ((), dict(path=p, user_name="ht.thcs001")),
    "tai_khoan_khoa": lambda p, u: ((), dict(path=p, user_name="ht.thcs001", active=False)),
    "tai_khoan_them": lambda p, u: ((), dict(path=p, user_name="cv.moi", display_name="Chuyên viên mới",
                                             role="chuyen_vien", password="mat-khau-moi-dai")),
    "tai_khoan_dat_mat_khau": lambda p, u: ((), dict(path=p, user_name="ht.thcs001", password="mat-khau-moi-dai")),
    "doi_mat_khau": lambda p, u: ((), dict(path=p, current=auth.DEMO_PASSWORD, new="mot cau de nho moi",
                                           repeat="mot cau de nho moi")),
}


def test_every_write_has_a_case():
    """A write added to WRITES without a case here fails (so every row is proven below)."""
    assert set(CASES) == set(door.WRITES)


def _allowed(w) -> str:
    return next(ACCOUNT[r] for r in ("hieu_truong", "chuyen_vien", "lanh_dao", "truong_nhap_lieu") if r in w.roles)


def _wrong(w) -> str | None:
    return next((ACCOUNT[r] for r in ACCOUNT if r not in w.roles), None)


def _refused(path, name, identity, args, kwargs, match: str) -> None:
    before, n = everything(path), refusals(path, name)
    with pytest.raises(door.Refused, match=match):
        door.act(name, identity, *args, **kwargs)
    assert everything(path) == before, f"{name}: something was written"
    assert refusals(path, name) == n + 1, f"{name}: the refusal was not audited"


def _set(path, sql: str, params: list) -> None:
    with db.writing(path) as c:
        c.execute(sql, params)


@pytest.mark.parametrize("name", sorted(door.WRITES))
def test_each_write_refuses_an_ended_session_and_a_wrong_role(path, name):
    w = door.WRITES[name]
    who = _allowed(w)
    me = user(path, who)
    args, kwargs = CASES[name](path, me)
    sessions = auth.sessions()
    # logged out (in another tab)
    tok = sessions.issue(who)
    sessions.revoke(tok)
    _refused(path, name, door.Page(tok, me), args, kwargs, "đăng nhập lại tại trang /dang-nhap")
    # idle-expired
    tok = sessions.issue(who)
    sid = auth.session_id(tok)
    with state.store_for(path).write() as c:
        c.execute("UPDATE sessions SET last_seen = ? WHERE session_id = ?", (time.time() - 3 * 3600, sid))
    _refused(path, name, door.Page(tok, me), args, kwargs, "Phiên đăng nhập")
    # a forged or missing token
    _refused(path, name, door.Page(None, me), args, kwargs, "Phiên đăng nhập")
    # the account disabled (its sessions are revoked too; here the row alone is what refuses)
    tok = sessions.issue(who)
    _set(path, "UPDATE users SET active = FALSE WHERE user_name = ?", [who])
    _refused(path, name, door.Page(tok, me), args, kwargs, "Phiên đăng nhập")
    _set(path, "UPDATE users SET active = TRUE WHERE user_name = ?", [who])
    # the password changed (every session of the account ends)
    tok = sessions.issue(who)
    sessions.revoke_user(who, "doi_mat_khau")
    _refused(path, name, door.Page(tok, me), args, kwargs, "Phiên đăng nhập")
    # the school (or role) changed since the page was drawn
    tok = sessions.issue(who)
    other = auth.User(me.user_name, me.display_name, me.role, "THCS001" if me.school_id else None, me.unit_id) \
        if me.school_id else auth.User(me.user_name, me.display_name, "hieu_truong", S, me.unit_id)
    _refused(path, name, door.Page(tok, other), args, kwargs, "Phiên đăng nhập")
    # a wrong role, with a live session
    bad = _wrong(w)
    if bad is not None:
        u = user(path, bad)
        a2, k2 = CASES[name](path, u)
        _refused(path, name, door.Page(sessions.issue(bad), u), a2, k2, "không được")
    # the command line: a disabled or unknown account is refused the same way
    _refused(path, name, door.Cli("khong.co.ai"), args, kwargs, "không có hoặc đã bị khóa")


STATE = {"locked", "published", "closed", "version"}


@pytest.mark.parametrize("name", sorted(n for n, w in door.WRITES.items() if w.checks & STATE))
def test_each_write_refuses_the_state_its_row_names(path, name):
    w = door.WRITES[name]
    who = _allowed(w)
    me = user(path, who)
    tok = auth.sessions().issue(who)
    args, kwargs = CASES[name](path, me)
    if "version" in w.checks:
        _refused(path, name, door.Page(tok, me), args, {**kwargs, "version": None}, "phiên bản")
    if "closed" in w.checks:
        _set(path, "UPDATE schools SET active = FALSE WHERE school_id = ?", [S])
        _refused(path, name, door.Page(tok, me), args, kwargs, f"trường {S} đã đóng")
        _set(path, "UPDATE schools SET active = TRUE WHERE school_id = ?", [S])
    if "locked" in w.checks:
        with state.store_for(path).write() as c:
            c.execute("INSERT OR IGNORE INTO period_locks VALUES (?, ?, ?, ?, 'chuyenvien')", (S, Y, R, time.time()))
            c.execute("UPDATE entries SET state = 'da_khoa' WHERE school_id = ? AND school_year = ? AND round = ?",
                      (S, Y, R))
        _refused(path, name, door.Page(tok, me), args, kwargs, "đã khóa")
    if "published" in w.checks:
        _set(path, "INSERT INTO publication_scores VALUES ('CB-THU', ?, ?, 'DH1', 1, NULL, 1, NULL)", [S, Y])
        _refused(path, name, door.Page(tok, me), args, kwargs, "đã công bố")


def test_the_state_checks_can_fail(path):
    """Planted: the same checks on an open, unlocked, unpublished school pass (a check that always
    refused would pass the tests above too)."""
    me = user(path, "ht.th001")
    w = door.WRITES["so_lieu_luu"]
    _, kwargs = CASES["so_lieu_luu"](path, me)
    assert door._state(w, kwargs, path) is None
    assert door._state(door.WRITES["danh_gia_luu"], CASES["danh_gia_luu"](path, me)[1], path) is None


def test_a_live_session_passes_the_door_and_the_fresh_user_acts(path):
    """Planted counterpart of the refusals: the same call with a live session writes, as the user the
    door read (not a stale one the page captured)."""
    me = user(path, "nl.th001")
    tok = auth.sessions().issue("nl.th001")
    e = _desk(path, me).entry(S, Y, R)
    saved = door.act("so_lieu_luu", door.Page(tok, me), _desk(path, me), school_id=S, year=Y, rnd=R,
                     raw={"gv_tin": "7"}, explanations={}, version=e.version)
    assert saved.updated_by == "nl.th001" and saved.raw.get("gv_tin") == "7"


def test_over_long_text_is_refused_and_not_stored(path):
    """A draft value of 3,000,000 characters (the widgets' max_chars is not enforced by the server), a
    long explanation, a long return reason: refused in Vietnamese, nothing written."""
    me = user(path, "ht.th001")
    tok = auth.sessions().issue("ht.th001")
    e = _desk(path, me).entry(S, Y, R)
    base = dict(school_id=S, year=Y, rnd=R, explanations={}, version=e.version)
    _refused(path, "so_lieu_luu", door.Page(tok, me), (_desk(path, me),), {**base, "raw": {"gv_tin": "9" * 3_000_000}},
             "quá dài")
    _refused(path, "so_lieu_luu", door.Page(tok, me), (_desk(path, me),),
             {**base, "raw": {}, "explanations": {"gv_tin": "x" * 5000}}, "quá dài")
    _refused(path, "danh_gia_luu", door.Page(tok, me), (_assessor(path, me),),
             dict(school_id=S, year=Y, values={"DH4": {"points": 5, "note": "n" * 20000}}, version=0), "quá dài")
    cv = user(path, "chuyenvien")
    _refused(path, "so_lieu_tra_lai", door.Page(auth.sessions().issue("chuyenvien"), cv), (_desk(path, cv),),
             dict(school_id=S, year=Y, rnd=R, version=1, reason="r" * 10_000), "quá dài")
    assert "9" * 1000 not in json.dumps(state.store_for(path).read("SELECT raw FROM entry_values"))


# ---- the convention: every write in the table, pages and the CLI only through the door --------------

MARKERS = ("store.write()", "db.writing(", "writer_lock", "self.write()", ".write() as")
# writers that are not a person's action: session bookkeeping and the audit, the writers' lock
# itself, building a database (init, the sample, the bench's copies), the stored index recomputed
# from the same figures (`rescore`), and the lower layers a WRITES row's function calls
LOWER = {
    "auth.add_user",            # door row tai_khoan_them (door._add_user)
    "auth.set_active",          # door row tai_khoan_khoa (accounts.set_active)
    "auth.reset_password",      # door row tai_khoan_dat_mat_khau (door._set_password)
    "publication.write",        # door row danh_gia_cong_bo (Assessor.publish)
}
INTERNAL = {
    "state_base.StoreBase.session_open", "state_base.StoreBase.session_touch", "state_base.StoreBase.session_revoke",
    "state_base.StoreBase.sessions_revoke_user", "state_base.StoreBase.sessions_forget",
    "state_base.StoreBase.failure_add", "state_base.StoreBase.failure_clear", "state_base.StoreBase.audit",
    "db.writer_lock", "cli.cmd_init", "sample.build_sample",
    "state_pg.load_from",  # an office's SQLite store moved into an empty PostgreSQL one (building a store)
    "loadbench.prepare_database", "derived.rescore",
    # the intent log of writes that span both stores (kpi.store.recovery): called inside a WRITES row's
    # function (begin, complete, crossing) or at a start to finish what a crash left (repair, drop)
    "recovery.begin", "recovery.complete", "recovery.crossing", "recovery.repair", "recovery.drop",
    # the change transaction of the versioned record (kpi.workflows.record): opened only inside the
    # entry's and the assessment's own writes (Desk.save, Assessor.attach, ...), which are rows
    "record.RecordDesk.change",
    # the analytics file's write log (several machines): appended inside kpi.store.db.writing only, and
    # trimmed there after every LOG_TRIM_EVERY-th append
    "state_base.StoreBase.log_append", "state_base.StoreBase.log_trim",
} | LOWER


def source_lines(text: str) -> list[str]:
    """The lines of a source as the parser (and ast.get_source_segment) splits them: at \r\n, \r, \n."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


def segment(lines: list[str], node) -> str:
    """ast.get_source_segment(text, node) over `lines` split once (it splits the whole text again on
    every call, character by character: 40 s over kpi/ per scan)."""
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
    return "".join([lines[first].encode()[node.col_offset:].decode(), *lines[first + 1:last],
                    lines[last].encode()[:node.end_col_offset].decode()])


def writers(sources: dict[str, str]) -> set[str]:
    """module.[Class.]function of every public function whose body opens a write."""
    out = set()
    for module, text in sources.items():
        lines = source_lines(text)

        def walk(node, prefix=""):
            for ch in ast.iter_child_nodes(node):
                if isinstance(ch, ast.ClassDef):
                    walk(ch, prefix + ch.name + ".")
                elif isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    # private helpers are reached only through their module's public functions
                    if not ch.name.startswith("_") and any(m in segment(lines, ch) for m in MARKERS):
                        out.add(f"{module}.{prefix}{ch.name}")
        walk(ast.parse(text))
    return out


def in_table() -> set[str]:
    return {f"{w.fn.__module__.rsplit('.', 1)[-1]}.{w.fn.__qualname__}" for w in door.WRITES.values()}


def unlisted(sources: dict[str, str]) -> set[str]:
    return writers(sources) - in_table() - INTERNAL


def kpi_sources() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "kpi").rglob("*.py"))
            if p.stem != "__init__"}


def test_every_function_that_writes_is_in_the_table():
    assert unlisted(kpi_sources()) == set()
    assert not (INTERNAL & in_table())  # one list or the other, never both
    planted = {**kpi_sources(), "moi": "from kpi.store import db\n\ndef sneak(path):\n    with db.writing(path) as c:\n"
                                      "        c.execute('DELETE FROM observations')\n"}
    assert unlisted(planted) == {"moi.sneak"}


def write_functions() -> set[tuple[str | None, str]]:
    """(module, name) of every write a page or the CLI must reach through the door: a method
    (module None: any object's) or a module's function (called as module.name or by its bare name)."""
    out = set()
    for q in in_table() | LOWER:
        module, *rest = q.split(".")
        out.add((None, rest[-1]) if len(rest) > 1 else (module, rest[0]))
    return out


def around_the_door(text: str) -> list[str]:
    """Calls of a write function not made through kpi.writes.door (`door.act`): a method of those names on
    any object but `door`, or a module function called through its module (however imported) or by
    a name imported from it."""
    fns = write_functions()
    methods = {n for m, n in fns if m is None}
    tree = ast.parse(text)
    modules, names = {}, {}  # alias → kpi module; alias → (kpi module, function)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kpi"):
            for a in node.names:
                if node.module.count(".") <= 1:  # `from kpi.<wing> import <module>`
                    modules[a.asname or a.name] = a.name
                else:
                    names[a.asname or a.name] = (node.module.rsplit(".", 1)[-1], a.name)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute):
            owner = f.value.id if isinstance(f.value, ast.Name) else None
            hit = (modules.get(owner), f.attr) in fns or (f.attr in methods and owner != "door")
            name = f.attr
        elif isinstance(f, ast.Name):
            name, hit = f.id, names.get(f.id) in fns
        else:
            continue
        if hit:
            out.append(f"{name} (line {node.lineno})")
    return out


def test_pages_and_the_cli_write_only_through_the_door():
    files = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "dashboard.py", ROOT / "kpi" / "cli.py"]
    found = {p.name: around_the_door(p.read_text(encoding="utf-8")) for p in files}
    assert {k: v for k, v in found.items() if v} == {}
    planted = ("from kpi.writes import door\nfrom kpi.imports import importer\n"
               "from kpi.workflows import snapshots as sn\nfrom kpi.admin.plans import publish\n"
               "importer.revert(path, 3, user.user_name)\n"
               "desk.save(user, 'TH001', '2023-2024', 'CN', {}, {}, 0)\n"
               "sn.freeze(path, '2023-2024', 'CN', '', 'x')\npublish(path, actor, '2024-2025')\n"
               "door.act('hoan_tac', who, path=path, import_id=3)\n")
    assert sorted(x.split(" ")[0] for x in around_the_door(planted)) == ["freeze", "publish", "revert", "save"]


# ---- the CLI: an identity, re-read and checked ------------------------------------------------------

def test_the_cli_acts_for_a_named_active_office_account(path, tmp_path, capsys, monkeypatch):
    from kpi.cli import main

    f = tmp_path / "a.csv"
    f.write_text("x\n", encoding="utf-8")
    before = everything(path)
    for argv, said in ((["import", str(f)], "--user"), (["import", str(f), "--user", "ht.th001"], "không được"),
                       (["snapshot", "--year", Y, "--round", R], "--user"),
                       (["import", "--revert", "1", "--user", "khong.co"], "không có hoặc đã bị khóa"),
                       (["users", "disable", "ht.thcs001"], "--user"),
                       (["users", "disable", "ht.thcs001", "--user", "chuyenvien"], "không được"),
                       (["targets", "publish", "--year", "2024-2025", "--user", "ht.th001"], "không được")):
        assert main([*argv, "--db", str(path)]) == 1, argv
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (argv, err)
    _set(path, "UPDATE users SET active = FALSE WHERE user_name = 'chuyenvien'", [])
    before = everything(path)
    assert main(["snapshot", "--year", Y, "--round", R, "--user", "chuyenvien", "--db", str(path)]) == 1
    assert "đã bị khóa" in capsys.readouterr().err and everything(path) == before
    # planted: an active office account is let through
    assert main(["snapshot", "--year", Y, "--round", R, "--user", "lanhdao", "--db", str(path)]) == 0
    assert everything(path) != before
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-moi-dai\n"))
    assert main(["users", "add", "cv.ba", "--role", "chuyen_vien", "--password-stdin", "--db", str(path)]) == 1
    assert "--user" in capsys.readouterr().err  # only a database without leadership takes a first account


# ---- the page: a form drawn while the session lived, saved after it ended ---------------------------

def _stored(path, sid):
    s = state.store_for(path)
    return s.read("SELECT version, updated_by FROM entries WHERE school_id = ? AND school_year = ? AND round = ?",
                  (sid, Y, R)), s.read("SELECT field_code, raw FROM entry_values WHERE school_id = ? AND "
                                      "school_year = ? AND round = ? ORDER BY 1", (sid, Y, R))


@pytest.mark.parametrize("end", ["dang_xuat", "khoa", "doi_truong"])
def test_a_form_left_open_cannot_save_after_its_session_ended(path, end):
    at = app_test("nop_so_lieu", user="nl.th001")
    assert not at.exception and at.title[0].value.startswith("Nộp số liệu")
    before, other = _stored(path, S), _stored(path, "TH002")
    at.text_input(key="nsl_gv_tin").set_value("9")
    if end == "dang_xuat":
        auth.sessions().revoke(at.session_state["_kpi_token"])
    elif end == "khoa":
        _set(path, "UPDATE users SET active = FALSE WHERE user_name = 'nl.th001'", [])
    else:
        _set(path, "UPDATE users SET school_id = 'TH002' WHERE user_name = 'nl.th001'", [])
    at.button(key="nsl_save").click().run()
    assert not at.exception
    assert _stored(path, S) == before and _stored(path, "TH002") == other
    assert refusals(path, "so_lieu_luu") == 1
    # the way back: the door's sentence (a fragment's own rerun) or the frame's login prompt (a full rerun)
    shown = " ".join(e.value for e in at.error) + " ".join(m.value for m in at.markdown)
    assert "/dang-nhap" in shown


def test_planted_the_same_form_saves_while_its_session_lives(path):
    at = app_test("nop_so_lieu", user="nl.th001")
    before = _stored(path, S)
    at.text_input(key="nsl_gv_tin").set_value("9")
    at.button(key="nsl_save").click().run()
    assert _stored(path, S) != before and ("gv_tin", "9") in _stored(path, S)[1]


def test_an_evidence_download_after_the_account_was_disabled_is_refused(path):
    """The download callable goes through the door when clicked: a disabled account gets nothing."""
    a = _assessor(path, user(path, "ht.th001"))
    me = user(path, "ht.th001")
    tok = auth.sessions().issue("ht.th001")
    door.act("minh_chung_dinh_kem", door.Page(tok, me), a, school_id=S, year=Y, code="DH1", name="mc.png",
             data=b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    eid = a.assessment(me, S, Y).evidence[-1].evidence_id
    assert door.act("minh_chung_tai", door.Page(tok, me), a, evidence_id=eid)[0] == "mc.png"  # planted: live
    _set(path, "UPDATE users SET active = FALSE WHERE user_name = 'ht.th001'", [])
    with pytest.raises(door.Refused, match="đăng nhập lại"):
        door.act("minh_chung_tai", door.Page(tok, me), a, evidence_id=eid)


# ---- reverts: office only; never under approved, locked or published figures ------------------------

def test_a_revert_never_undoes_approved_locked_or_published_figures(path):
    from tests.test_importer import GOOD_HEAD

    cv = door.Page(auth.sessions().issue("chuyenvien"), user(path, "chuyenvien"))
    office = user(path, "chuyenvien")
    # the import an approval wrote
    sid, version = state.store_for(path).read("SELECT school_id, version FROM entries WHERE school_year = ? AND "
                                              "round = ? AND state = 'da_nop' ORDER BY 1", (Y, R))[0]
    door.act("so_lieu_duyet", cv, _desk(path, office), items=[(sid, version)], year=Y, rnd=R)
    c = db.connect(path)
    approval = c.execute("SELECT max(import_id) FROM imports WHERE source = 'nhap_lieu'").fetchall()[0][0]
    c.close()
    before = everything(path)
    with pytest.raises(ValueError, match="đã duyệt"):
        door.act("hoan_tac", cv, path=path, import_id=approval)
    assert everything(path) == before
    # the import a publication wrote
    r = importer.import_file(path, "mot.csv", f"{GOOD_HEAD}\n{S},{Y},{R},1001,10,12\n".encode(), "chuyenvien")
    _set(path, "INSERT INTO publications VALUES ('CB-THU', ?, 'chuyenvien', now(), 1, ?, 'x')", [Y, r.import_id])
    before = everything(path)
    with pytest.raises(ValueError, match="công bố CB-THU"):
        door.act("hoan_tac", cv, path=path, import_id=r.import_id)
    assert everything(path) == before
    # a file's import that touches a locked school × period
    r = importer.import_file(path, "hai.csv", f"{GOOD_HEAD}\n{S},{Y},{R},1002,10,12\n".encode(), "chuyenvien")
    with state.store_for(path).write() as c:
        c.execute("INSERT OR IGNORE INTO period_locks VALUES (?, ?, ?, ?, 'chuyenvien')", (S, Y, R, time.time()))
        c.execute("UPDATE entries SET state = 'da_khoa' WHERE school_id = ? AND school_year = ? AND round = ?",
                  (S, Y, R))
    before = everything(path)
    with pytest.raises(ValueError, match=f"{S} {Y} {R}"):
        door.act("hoan_tac", cv, path=path, import_id=r.import_id)
    assert everything(path) == before
    # and from the command line, the same sentence and nothing written
    from kpi.cli import main

    assert main(["import", "--revert", str(r.import_id), "--user", "chuyenvien", "--db", str(path)]) == 1
    assert everything(path) == before
    # planted: once the school is reopened the same revert goes through
    with state.store_for(path).write() as c:
        c.execute("DELETE FROM period_locks WHERE school_id = ?", (S,))
        c.execute("UPDATE entries SET state = 'tra_lai' WHERE school_id = ? AND school_year = ? AND round = ?",
                  (S, Y, R))
    assert "Đã hoàn tác" in door.act("hoan_tac", cv, path=path, import_id=r.import_id)


# ---- closed schools stay decidable in the periods they existed in -----------------------------------

def test_a_closed_schools_waiting_submission_can_still_be_decided(path):
    from kpi.common.access import Scope

    v = views.views_for(path)
    waiting = state.store_for(path).read("SELECT school_id, version FROM entries WHERE school_year = ? AND round = ? "
                                         "AND state = 'da_nop' ORDER BY 1", (Y, R))
    sid, version = waiting[0]
    _set(path, "UPDATE schools SET active = FALSE WHERE school_id = ?", [sid])
    _set(path, "INSERT INTO school_dates VALUES (?, NULL, ?, NULL) ON CONFLICT (school_id) DO UPDATE SET "
               "closed_on = excluded.closed_on", [sid, dt.date(2024, 8, 1)])
    v = views.views_for(path)
    cv = user(path, "chuyenvien")
    today = v.desk(cv.scope)
    assert sid not in today.schools  # planted: today's desk alone does not know the closed school
    d = today.for_period(v.school_list(Scope(cv.scope.unit_id, None), (Y, R)))
    assert sid in d.schools
    tok = auth.sessions().issue("chuyenvien")
    door.act("so_lieu_tra_lai", door.Page(tok, cv), d, school_id=sid, year=Y, rnd=R, version=version, reason=REASON)
    assert d.entry(sid, Y, R).state == "tra_lai"


def test_only_the_first_leadership_account_of_an_empty_database_needs_no_user(tmp_path, monkeypatch, capsys):
    from kpi.cli import main

    p = tmp_path / "moi.duckdb"
    monkeypatch.setenv("KPI_DB", str(p))
    assert main(["init", "--db", str(p)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-lanh-dao-1\n"))
    assert main(["users", "add", "cv.dau", "--role", "chuyen_vien", "--password-stdin", "--db", str(p)]) == 1
    assert "--user" in capsys.readouterr().err  # the first account must be leadership
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-lanh-dao-1\n"))
    assert main(["users", "add", "ld.dau", "--role", "lanh_dao", "--password-stdin", "--db", str(p)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-lanh-dao-2\n"))
    assert main(["users", "add", "ld.hai", "--role", "lanh_dao", "--password-stdin", "--db", str(p)]) == 1
    assert "--user" in capsys.readouterr().err  # now there is one: every further account names who adds it
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-lanh-dao-2\n"))
    assert main(["users", "add", "ld.hai", "--role", "lanh_dao", "--password-stdin", "--user", "ld.dau",
                 "--db", str(p)]) == 0


def _swap_in_with(path: Path, sql: str) -> None:
    """What every writer does: a copy changed, then swapped in (a new file at the same path)."""
    copy = path.with_name(path.name + ".neu")
    copy.write_bytes(path.read_bytes())
    con = db.connect(copy, read_only=False)
    try:
        con.execute(sql)
    finally:
        con.close()
    copy.replace(path)


@pytest.mark.parametrize("planted", [False, True])
def test_the_checks_read_the_file_as_it_is_now_on_one_kept_connection(path, monkeypatch, planted):
    """The door's reads (who acts, a closed school) share one connection per file version (db.reading) and
    read a swapped-in file at once. Planted: a connection kept whatever the file's identity reads the old
    file, and a disabled account would still act."""
    if planted:
        monkeypatch.setattr(db, "file_identity", lambda p: (1, 1, 1))
    name = "ht.th001"
    assert door._users_row(path, name)["active"]
    kept = db._readers[str(path)][1]
    assert door.closed(path, "TH001") is None
    assert db._readers[str(path)][1] is kept  # the same connection while the file is unchanged
    _swap_in_with(path, f"UPDATE users SET active = false WHERE user_name = '{name}'")
    active = door._users_row(path, name)["active"]
    assert active is planted  # planted: the old file's row, still active
    assert (db._readers[str(path)][1] is kept) is planted
