"""The one door every write goes through (issue 24): pages and the command line call `act`, never a
write function itself.

At the moment of the action the door
- re-reads who acts: a page hands over its session cookie's token and the user it was drawn for;
  the session is checked again in the shared state store (logged out, idle-expired, revoked by a
  disabled account or a changed password) and the users row is read again (disabled, role or school
  changed since the page was drawn). The command line names an existing active account (`--user`).
  An ended session is refused with a Vietnamese sentence that gives the way back (/dang-nhap);
- checks the role against the write's row of `WRITES`, and the scope (a school account: its own
  school only);
- checks the state the row names: a locked period, a published year, a closed school, the version
  the user saw;
- bounds every text the user typed (values, explanations, reasons, notes, names);
- then calls the write function with the user it just read (never the one captured when the page
  was drawn); that function audits in its own store transaction. Every refusal is audited too
  (action 'tu_choi', detail {"viec": the write's name, "ly_do": why}).

No Streamlit here (pages pass the token: `pages._frame.session_token()`).
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kpi.admin import accounts, auth, plans, registry
from kpi.common.access import ROLES, SCHOOL_ROLES
from kpi.domain import workflow
from kpi.imports import importer
from kpi.store import db, state
from kpi.workflows import assessment, entry, snapshots

LOGIN_PATH = "/dang-nhap"
ENDED = ("Phiên đăng nhập của bạn đã kết thúc (đã đăng xuất, quá lâu không dùng, tài khoản bị khóa hoặc đổi mật "
         "khẩu, hoặc vai trò hay trường của tài khoản vừa thay đổi), nên thao tác chưa được thực hiện và không có gì "
         f"được ghi. Hãy đăng nhập lại tại trang {LOGIN_PATH} rồi làm lại.")

OFFICE = ("lanh_dao", "chuyen_vien")       # the Phòng's accounts
LEADERSHIP = ("lanh_dao",)                 # Quản trị (kpi.admin.shared.ADMIN_ROLES)
EVERYONE = tuple(ROLES)

# bounds on typed text (characters): what a person could mean to type, far below what hurts
VALUE_MAX = 100        # one figure as typed in a draft
TEXT_MAX = 2000        # any other text argument without a bound of its own
NAME_MAX = 255         # names: school, unit, account, file, snapshot, document number
KEYS_MAX = 2000        # entries of one dict or list argument (fields, criteria, changes)


class Refused(ValueError):
    """The door said no; `message` in Vietnamese; `ended`: the session is over (log in again)."""

    def __init__(self, message: str, problems: list[str] | None = None, ended: bool = False):
        super().__init__(message)
        self.problems = problems or [message]
        self.ended = ended


@dataclass(frozen=True)
class Page:
    """Who acts from a page: the session token (cookie) and the user the page was drawn for."""

    token: str | None
    drawn: Any = None


@dataclass(frozen=True)
class Cli:
    """Who acts from the command line: the name of an existing, active account."""

    user_name: str | None


@dataclass(frozen=True)
class Bootstrap:
    """The command line creating the first leadership account of a database that has none
    (`first_leader`): the only write the door lets through without an existing account."""

    user_name: str = "dong_lenh"


def first_leader(path, role: str):
    """Who creates an account when `python -m kpi users add` names no --user: Bootstrap while the
    database has no active leadership account and the new one is leadership; else Refused."""
    with db.reading(path) as con:
        leaders = con.execute("SELECT count(*) FROM users WHERE active AND role IN ?",
                              [list(LEADERSHIP)]).fetchall()[0][0]
    if leaders or role not in LEADERSHIP:
        raise Refused("Cần ghi tài khoản thực hiện: --user TÊN (một tài khoản lãnh đạo Phòng đang hoạt động). Chỉ tài "
                      "khoản lãnh đạo đầu tiên của một cơ sở dữ liệu chưa có lãnh đạo nào được tạo không cần --user.")
    return Bootstrap()


@dataclass(frozen=True)
class Write:
    """One row of `WRITES`. `actor`: the function's parameter that receives the acting user
    (`actor_name`: its user name instead of the User); `fixed`: arguments the row sets itself;
    `checks` ⊆ {"locked", "published", "closed", "version"}; `bounds`: parameter → most characters
    of that text (or of every text inside a dict or list); any other text gets TEXT_MAX."""

    name: str
    label: str
    roles: tuple
    fn: Callable
    actor: str = "user"
    actor_name: bool = False
    checks: frozenset = frozenset()
    bounds: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)


def _add_user(path, actor, user_name: str, display_name: str, role: str, password: str,
              school_id: str | None = None, unit_id: str | None = None) -> None:
    """`python -m kpi users add`: a new account that changes its password at the first login."""
    auth.add_user(path, user_name, display_name, role, password, school_id, unit_id)
    accounts.require_change(path, user_name, actor.user_name)


def _set_password(path, actor, user_name: str, password: str) -> None:
    """`python -m kpi users reset-password`: a password given on the command line, changed at the next login."""
    auth.reset_password(path, user_name, password)
    accounts.require_change(path, user_name, actor.user_name)


_ENTRY = workflow.SCHOOL
_ASSESS = assessment.PRINCIPAL
_ENTRY_TEXT = {"raw": VALUE_MAX, "explanations": 1000, "source": NAME_MAX + 20}
_REASON = {"reason": entry.REASON_MAX}


def _rows() -> list[Write]:
    E, A = entry.Desk, assessment.Assessor
    lk, pub, cl, ver = "locked", "published", "closed", "version"
    rows = [
        # the schools' figures (kpi.workflows.entry)
        Write("so_lieu_luu", "lưu nháp số liệu", tuple(_ENTRY), E.save, checks=frozenset({lk, cl, ver}),
              bounds=_ENTRY_TEXT, fixed={"submit": False}),
        Write("so_lieu_nop", "nộp số liệu", tuple(_ENTRY), E.save, checks=frozenset({lk, cl, ver}),
              bounds=_ENTRY_TEXT, fixed={"submit": True}),
        Write("so_lieu_tra_lai", "trả lại số liệu", tuple(workflow.OFFICE), E.send_back, checks=frozenset({lk, ver}),
              bounds=_REASON),
        Write("so_lieu_duyet", "duyệt số liệu", tuple(workflow.OFFICE), E.approve, checks=frozenset({lk})),
        Write("so_lieu_mo_lai", "mở lại số liệu", tuple(workflow.OFFICE), E.reopen, bounds=_REASON),
        Write("ky_khoa", "khóa kỳ", tuple(workflow.OFFICE), E.lock),
        # the yearly maturity assessment (kpi.workflows.assessment)
        Write("danh_gia_luu", "lưu nháp bản tự đánh giá", tuple(_ASSESS), A.save, checks=frozenset({pub, cl, ver}),
              bounds={"values": assessment.NOTE_MAX}, fixed={"submit": False}),
        Write("danh_gia_nop", "nộp bản tự đánh giá", tuple(_ASSESS), A.save, checks=frozenset({pub, cl, ver}),
              bounds={"values": assessment.NOTE_MAX}, fixed={"submit": True}),
        Write("minh_chung_dinh_kem", "đính kèm minh chứng", tuple(_ASSESS), A.attach, checks=frozenset({pub, cl}),
              bounds={"name": NAME_MAX, "code": 40}),
        Write("minh_chung_go", "gỡ minh chứng", tuple(_ASSESS), A.detach),
        Write("minh_chung_tai", "tải minh chứng", tuple(_ASSESS) + tuple(assessment.OFFICE), A.evidence_file),
        Write("danh_gia_xac_nhan", "xác nhận điểm tiêu chí", tuple(assessment.OFFICE), A.verify,
              checks=frozenset({pub, ver}), bounds={"comment": assessment.REASON_MAX, "points": 40, "code": 40}),
        Write("danh_gia_tra_lai", "trả lại bản tự đánh giá", tuple(assessment.OFFICE), A.send_back,
              checks=frozenset({pub, ver}), bounds={"reason": assessment.REASON_MAX,
                                                    "criteria": assessment.REASON_MAX}),
        Write("danh_gia_duyet", "duyệt bản tự đánh giá", tuple(assessment.OFFICE), A.approve,
              checks=frozenset({pub, ver})),
        Write("danh_gia_mo_lai", "mở lại bản tự đánh giá", tuple(assessment.OFFICE), A.reopen,
              checks=frozenset({pub}), bounds={"reason": assessment.REASON_MAX}),
        Write("danh_gia_cong_bo", "công bố kết quả đánh giá", tuple(assessment.OFFICE), A.publish),
        Write("danh_gia_han", "đặt hạn nộp và ngưỡng chênh lệch", tuple(assessment.OFFICE), A.set_cycle),
        # files of figures (kpi.imports.importer), snapshots (kpi.workflows.snapshots)
        Write("nhap_tep", "nhập tệp số liệu", OFFICE, importer.import_file, actor_name=True,
              bounds={"name": NAME_MAX}),
        Write("hoan_tac", "hoàn tác lần nhập", OFFICE, importer.revert, actor_name=True),
        Write("chot_so_lieu", "chốt số liệu", OFFICE, snapshots.freeze, actor_name=True, bounds={"name": NAME_MAX}),
        # Quản trị: targets (kpi.admin.plans), schools and units (kpi.admin.registry),
        # accounts (kpi.admin.accounts, kpi.admin.auth)
        Write("chi_tieu_tao_nhap", "tạo bản nháp chỉ tiêu", LEADERSHIP, plans.start_draft, actor="actor"),
        Write("chi_tieu_sua", "sửa bản nháp chỉ tiêu", LEADERSHIP, plans.edit_targets, actor="actor",
              bounds={"changes": NAME_MAX}),
        Write("chi_tieu_so_van_ban", "lưu số văn bản kế hoạch", LEADERSHIP, plans.set_document, actor="actor",
              bounds={"document": NAME_MAX}),
        Write("chi_tieu_huy_nhap", "hủy bản nháp chỉ tiêu", LEADERSHIP, plans.discard_draft, actor="actor"),
        Write("chi_tieu_cong_bo", "công bố chỉ tiêu", LEADERSHIP, plans.publish, actor="actor"),
        Write("chi_tieu_nhap_tep", "nhập chỉ tiêu từ tệp", LEADERSHIP, plans.import_targets, actor="actor",
              bounds={"file_name": NAME_MAX}),
        Write("truong_them", "thêm trường", LEADERSHIP, registry.add_school, actor="actor",
              bounds={"school_id": 40, "name": NAME_MAX, "ward": NAME_MAX}),
        Write("truong_sua", "sửa thông tin trường", LEADERSHIP, registry.update_school, actor="actor",
              bounds={"name": NAME_MAX, "ward": NAME_MAX}),
        Write("truong_dong", "đóng trường", LEADERSHIP, registry.close_school, actor="actor",
              bounds={"reason": entry.REASON_MAX}),
        Write("truong_sap_nhap", "sáp nhập trường", LEADERSHIP, registry.merge_schools, actor="actor"),
        Write("nam_hoc_mo", "mở kỳ báo cáo năm học", LEADERSHIP, registry.open_school_year, actor="actor"),
        Write("don_vi_them", "thêm đơn vị", LEADERSHIP, registry.add_unit, actor="actor",
              bounds={"unit_id": 40, "name": NAME_MAX}),
        Write("don_vi_sua", "sửa đơn vị", LEADERSHIP, registry.update_unit, actor="actor", bounds={"name": NAME_MAX}),
        Write("tai_khoan_tao_tu_tep", "tạo tài khoản từ tệp", LEADERSHIP, accounts.create_accounts, actor="actor",
              bounds={"file_name": NAME_MAX}),
        Write("tai_khoan_sua", "đổi vai trò hoặc trường của tài khoản", LEADERSHIP, accounts.update_account,
              actor="actor", bounds={"user_name": 64, "school_id": 40}),
        Write("tai_khoan_dat_lai", "đặt lại mật khẩu", LEADERSHIP, accounts.reset_password, actor="actor",
              bounds={"user_name": 64}),
        Write("tai_khoan_khoa", "khóa hoặc mở khóa tài khoản", LEADERSHIP, accounts.set_active, actor="actor",
              bounds={"user_name": 64}),
        Write("tai_khoan_them", "thêm tài khoản", LEADERSHIP, _add_user, actor="actor",
              bounds={"user_name": 64, "display_name": NAME_MAX, "password": accounts.MAX_LENGTH}),
        Write("tai_khoan_dat_mat_khau", "đặt mật khẩu cho tài khoản", LEADERSHIP, _set_password, actor="actor",
              bounds={"user_name": 64, "password": accounts.MAX_LENGTH}),
        Write("doi_mat_khau", "đổi mật khẩu", EVERYONE, accounts.change_password,
              bounds={"current": accounts.MAX_LENGTH, "new": accounts.MAX_LENGTH, "repeat": accounts.MAX_LENGTH}),
    ]
    return rows


WRITES: dict[str, Write] = {w.name: w for w in _rows()}
# Called with the file's path and the acting user's name after every write the door let through (pages/_data:
# the writer then reads the newest file version at once, while other readers are served the old one until the
# new is warm; a button's callback runs before the page's frame knows its user, so the door names the user).
AFTER_WRITE: list[Callable[[Path, str], None]] = []


# ---- who acts --------------------------------------------------------------------------------------

def _sessions(path: Path) -> auth.Sessions:
    """The sessions of the store beside `path` (the app's own, auth.sessions(), when it is that file)."""
    s = auth.sessions()
    store = state.store_for(path)
    if s.store.path == store.path:
        return s
    return auth.Sessions(s.key, store=store, idle_minutes=s.idle / 60, lifetime_hours=s.lifetime / 3600,
                         clock=s.clock)


def _users_row(path: Path, user_name: str) -> dict | None:
    with db.reading(path) as con:
        return auth.user_row(con, user_name)


def who(path: Path, identity) -> auth.User:
    """The user acting now, read again from the store (Refused when the session or account ended)."""
    if isinstance(identity, Cli):
        name = (identity.user_name or "").strip().lower()
        if not name:
            raise Refused("Cần ghi tài khoản thực hiện: --user TÊN (một tài khoản đang hoạt động của Phòng).")
        row = _users_row(path, name)
        if row is None or not row["active"]:
            raise Refused(f"Tài khoản '{name}' không có hoặc đã bị khóa: dòng lệnh chỉ chạy thay một tài khoản đang "
                          "hoạt động (--user TÊN).")
        return auth.user_from_row(row)
    if isinstance(identity, Bootstrap):
        first_leader(path, LEADERSHIP[0])  # still none: no one else can have made one meanwhile
        return auth.User(identity.user_name, "Dòng lệnh (tạo tài khoản đầu tiên)", LEADERSHIP[0], None, None)
    if not isinstance(identity, Page):
        raise Refused(ENDED, ended=True)
    name = _sessions(path).check(identity.token)
    row = _users_row(path, name) if name else None
    if row is None or not row["active"]:
        raise Refused(ENDED, ended=True)
    fresh = auth.user_from_row(row)
    drawn = identity.drawn
    if drawn is not None and (getattr(drawn, "user_name", None), getattr(drawn, "role", None),
                              getattr(drawn, "school_id", None)) != (fresh.user_name, fresh.role, fresh.school_id):
        raise Refused(ENDED, ended=True)
    return fresh


# ---- the checks -------------------------------------------------------------------------------------

def _path_of(args: dict) -> Path:
    if args.get("path") is not None:
        return Path(args["path"])
    obj = args.get("self")
    if obj is not None and getattr(obj, "path", None) is not None:
        return Path(obj.path)
    return db.db_path()


def _schools(args: dict) -> list[str]:
    if isinstance(args.get("school_id"), str):
        return [args["school_id"]]
    items = args.get("items")
    if isinstance(items, (list, tuple)):
        return [str(i[0]) for i in items if isinstance(i, (list, tuple)) and i]
    return []


def _year(args: dict) -> str | None:
    y = args.get("year", args.get("school_year"))
    return y if isinstance(y, str) else None


def _round(args: dict) -> str | None:
    r = args.get("rnd", args.get("round"))
    return r if isinstance(r, str) else None


def _too_long(value, limit: int, what: str, out: list[str], depth: int = 0) -> None:
    if isinstance(value, str):
        if len(value) > limit:
            out.append(f"{what}: quá dài ({len(value):,} ký tự; tối đa {limit:,})".replace(",", "."))
    elif isinstance(value, dict):
        if len(value) > KEYS_MAX:
            out.append(f"{what}: quá nhiều mục ({len(value)}; tối đa {KEYS_MAX})")
            return
        for k, v in value.items():
            _too_long(k, NAME_MAX, what, out, depth + 1)
            _too_long(v, limit, f"{what} {str(k)[:40]}" if depth == 0 else what, out, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        if len(value) > KEYS_MAX:
            out.append(f"{what}: quá nhiều mục ({len(value)}; tối đa {KEYS_MAX})")
            return
        for v in value:
            _too_long(v, limit, what, out, depth + 1)


def _bounds(w: Write, args: dict) -> list[str]:
    out: list[str] = []
    for name, value in args.items():
        if name in ("self", "path", w.actor) or isinstance(value, (bytes, bytearray)):
            continue
        _too_long(value, w.bounds.get(name, TEXT_MAX), name, out)
    return out


def locked(path: Path, school_id: str, year: str, rnd: str) -> bool:
    """Whether the Phòng locked the school's period and has not reopened it (kpi.workflows.entry)."""
    return bool(importer.locked_keys(path, [(school_id, year, rnd)]))


def published(path: Path, school_id: str | None, year: str) -> str | None:
    """The publication that holds the school's results of the year (None: not published)."""
    try:
        with db.reading(path) as con:
            if school_id is None:
                rows = con.execute("SELECT publication_id FROM publications WHERE school_year = ? ORDER BY 1 DESC",
                                   [year]).fetchall()
            else:
                rows = con.execute("SELECT DISTINCT publication_id FROM publication_scores WHERE school_id = ? AND "
                                   "school_year = ? ORDER BY 1 DESC", [school_id, year]).fetchall()
    except Exception:  # noqa: BLE001 - a file older than the publications table has none
        return None
    return rows[0][0] if rows else None


def closed(path: Path, school_id: str) -> dt.date | bool | None:
    """The day a closed school stopped (True when unknown); None while it is open."""
    with db.reading(path) as con:
        row = con.execute("SELECT s.active, d.closed_on FROM schools s LEFT JOIN school_dates d USING (school_id) "
                          "WHERE s.school_id = ?", [school_id]).fetchall()
    if not row or row[0][0]:
        return None
    return row[0][1] or True


def _state(w: Write, args: dict, path: Path) -> str | None:
    """Why the state of what the write touches refuses it (None: nothing refuses)."""
    schools, year, rnd = _schools(args), _year(args), _round(args)
    if "version" in w.checks and not isinstance(args.get("version"), int):
        return "thiếu phiên bản đã xem: tải lại trang rồi làm lại"
    if "closed" in w.checks:
        for sid in schools:
            day = closed(path, sid)
            if day is not None:
                since = f" từ {day:%d/%m/%Y}" if isinstance(day, dt.date) else ""
                return f"trường {sid} đã đóng{since}: không nhập hay nộp thêm"
    if "locked" in w.checks and year and rnd:
        for sid in schools:
            if locked(path, sid, year, rnd):
                return f"kỳ {year} {rnd} của trường {sid} đã khóa: cần Phòng mở lại trước"
    if "published" in w.checks and year:
        for sid in schools or [None]:
            if sid is None:
                continue
            pid = published(path, sid, year)
            if pid:
                return f"kết quả năm học {year} của trường {sid} đã công bố ({pid}) và không còn thay đổi"
    return None


# ---- the door ---------------------------------------------------------------------------------------

def _refuse(path: Path, w_name: str, user_name: str | None, why: str, detail: dict | None = None) -> None:
    try:
        state.store_for(path).audit("tu_choi", user_name, {"viec": w_name, "ly_do": why, **(detail or {})})
    except Exception:  # noqa: BLE001 - a refusal is told even when the audit cannot be written
        pass


def act(name: str, identity, /, *args, **kwargs):
    """Do the write `name` of WRITES for whoever `identity` is now (Page or Cli): the arguments are
    the write function's own, without its acting user (the door puts the user it read in). Returns
    what the function returns; raises Refused (nothing written, the refusal audited), or whatever
    the function itself refuses with."""
    w = WRITES[name]
    sig = inspect.signature(w.fn)
    before = list(sig.parameters).index(w.actor)
    if len(args) > before:  # a positional argument would take the acting user's place
        raise TypeError(f"door.act({name!r}): give the arguments after {list(sig.parameters)[:before]} by name")
    try:
        bound = sig.bind_partial(*args, **{**kwargs, **w.fixed})
    except TypeError as e:
        raise TypeError(f"door.act({name!r}): {e}") from None
    a = bound.arguments
    path = _path_of(a)
    if isinstance(identity, Bootstrap) and (name != "tai_khoan_them" or a.get("role") not in LEADERSHIP):
        _refuse(path, name, identity.user_name, "khong_co_tai_khoan")
        raise Refused("Cần ghi tài khoản thực hiện: --user TÊN (một tài khoản lãnh đạo Phòng đang hoạt động).")
    try:
        user = who(path, identity)
    except Refused as r:
        drawn = getattr(identity, "drawn", None)
        _refuse(path, name, getattr(drawn, "user_name", None) or getattr(identity, "user_name", None),
                "phien_ket_thuc" if r.ended else "tai_khoan")
        raise
    if user.role not in w.roles:
        _refuse(path, name, user.user_name, "vai_tro", {"vai_tro": user.role})
        raise Refused(f"Tài khoản {ROLES.get(user.role, user.role)} không được {w.label}; việc này do "
                      f"{', '.join(ROLES[r] for r in w.roles)} làm.")
    if user.role in SCHOOL_ROLES and any(s != user.school_id for s in _schools(a)):
        _refuse(path, name, user.user_name, "ngoai_pham_vi", {"truong": _schools(a)[:5]})
        raise Refused("Bạn không có quyền với trường này: mỗi tài khoản trường chỉ làm việc với trường mình.")
    too_long = _bounds(w, a)
    if too_long:
        _refuse(path, name, user.user_name, "qua_dai", {"muc": too_long[:5]})
        raise Refused(f"Chưa {w.label} được: nội dung quá dài.", too_long[:20])
    why = _state(w, a, path)
    if why:
        _refuse(path, name, user.user_name, "trang_thai", {"chi_tiet": why})
        raise Refused(f"Không {w.label} được: {why}.")
    a[w.actor] = user.user_name if w.actor_name else user
    out = w.fn(*bound.args, **bound.kwargs)
    for listener in AFTER_WRITE:
        listener(path, user.user_name)
    return out
