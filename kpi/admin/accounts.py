"""Accounts run by the office from the app (Quản trị › Tài khoản), and the first-login password change.

- **Many at once from one Excel file** (the template comes from the app: `accounts_template`):
  every row is checked first and every problem named by file, sheet, row and column; one problem
  and nothing is written. Each new account gets a first password made here (shown once, to hand
  out) that the user must change at the first login. A row naming an account that exists changes
  it instead: a principal who takes over another school is moved (the account's school changes),
  never duplicated, and the school's previous principal account is disabled.
  User names compare case-insensitively and trimmed ("LanhDao" is the account "lanhdao"). A file
  never changes the uploader's own account; a row that creates an office account (lãnh đạo,
  chuyên viên) or changes one is applied only when confirmed row by row (`office` in the preview;
  `confirmed` in `create_accounts`). One file creates at most `MAX_NEW_PASSWORDS` accounts (each
  costs a bcrypt hash: ~55-75 ms of a core, so at most ~20 s of one worker).
- **One at a time**: reset the password (a new first password), disable / enable, change role or
  school.
- **Password rules** (NIST SP 800-63B): length over complexity: at least `MIN_LENGTH` characters,
  up to `MAX_LENGTH` (any characters, spaces included, no composition rules); refused: a common
  password, the user name, one repeated or sequential run of characters, and the previous
  password. Stored only as bcrypt hashes (kpi.admin.auth, cost ≥ 10).

The users table lives in the analytics file (written through kpi.store.db.writing); whether a password
must be changed and the previous password's hash live in the state store (`account_passwords`).
Every change is audited; every write but one's own password change is for the office's leadership
only (kpi.admin.shared).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import secrets
import time
from dataclasses import dataclass, field

from kpi.admin import auth
from kpi.admin.shared import AdminError, admin_store, require_leadership
from kpi.common import cells
from kpi.common.access import ROLES, SCHOOL_ROLES
from kpi.imports import import_read
from kpi.imports.templates import fold
from kpi.store import db, state

MIN_LENGTH = 10
MAX_LENGTH = 128
MAX_NEW_PASSWORDS = 300  # per file: 300 bcrypt hashes ≈ 17-22 s of one core on the 2-core server
OFFICE_ROLES = tuple(r for r in ROLES if r not in SCHOOL_ROLES)
SHEET = "Tài khoản"
COLUMNS = {"user_name": "Tên đăng nhập", "display_name": "Họ và tên", "role": "Vai trò", "school_id": "Mã trường"}
REQUIRED = ("user_name", "display_name", "role")
_USER = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# Role as written in the file: its code or its Vietnamese name, case and spacing aside.
_ROLE_NAMES = {**{fold(code): code for code in ROLES}, **{fold(label): code for code, label in ROLES.items()}}
# A short list of passwords attackers try first (current guidance: refuse commonly used ones).
COMMON = frozenset("""
123456789 1234567890 12345678910 0123456789 11111111111 1111111111 0000000000 1234512345 1234567890a
password password1 password12 password123 passw0rd123 qwertyuiop qwerty1234 qwerty12345 abc1234567
abcdefghij iloveyou123 1q2w3e4r5t 1qaz2wsx3edc zaq12wsxcde admin12345 administrator matkhau123
matkhau1234 matkhaumoi matkhau@123 vietnam123 vietnam1234 hochiminh123 saigon1234 dulieumau
dulieumau123 giaoduc123 truonghoc123 hieutruong phonggiaoduc 88888888888 66666666666 123123123123
""".split())


@dataclass
class AccountsResult:
    """What an accounts file did (or, as a preview, would do)."""

    created: list[tuple[str, str]] = field(default_factory=list)     # (user name, first password)
    changed: list[tuple[str, str]] = field(default_factory=list)     # (user name, what changed)
    disabled: list[tuple[str, str]] = field(default_factory=list)    # (user name, why)
    unchanged: list[str] = field(default_factory=list)
    # every row creating or changing an office account (lãnh đạo, chuyên viên), to confirm one by one:
    # (user name, what it does: "tạo mới: Lãnh đạo Phòng" / "vai trò Chuyên viên Phòng → …", Excel row)
    office: list[tuple[str, str, int]] = field(default_factory=list)


# ---- passwords ----------------------------------------------------------------------------------

def password_problem(password: str, user_name: str = "", previous_hashes: tuple = ()) -> str | None:
    """Why a new password is refused (Vietnamese), or None."""
    if len(password) < MIN_LENGTH:
        return f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự (câu dễ nhớ gồm vài từ là tốt nhất)."
    if len(password) > MAX_LENGTH:
        return f"Mật khẩu dài tối đa {MAX_LENGTH} ký tự."
    folded = password.casefold()
    compact = re.sub(r"\s+", "", folded)
    if folded in COMMON or compact in COMMON:
        return "Mật khẩu này quá phổ biến, dễ bị đoán: chọn mật khẩu khác."
    if user_name and user_name.casefold() in folded:
        return "Mật khẩu không được chứa tên đăng nhập."
    if len(set(compact)) <= 2:
        return "Mật khẩu không được chỉ lặp lại một hai ký tự."
    steps = {ord(b) - ord(a) for a, b in zip(compact, compact[1:])}
    if steps in ({1}, {-1}):
        return "Mật khẩu không được là một dãy ký tự liên tiếp (như 1234567890)."
    if any(h and auth.check_password(password, h) for h in previous_hashes):
        return "Mật khẩu mới phải khác mật khẩu trước đó."
    return None


def generate_password() -> str:
    """A first password to hand out: 3 groups of 4 letters and digits (no look-alikes), 14 characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def _hash(password: str) -> str:
    return auth.hash_password(password)  # the one place (long passphrases pre-hashed there)


def must_change(path, user_name: str) -> bool:
    """Whether the account must change its password before anything else (first or reset password)."""
    rows = admin_store(path).read(state.sql("account_passwords.must_change"), {"user_name": user_name})
    return bool(rows and rows[0][0])


def change_password(path, user, current: str, new: str, repeat: str, keep_session: str | None = None,
                    throttle: auth.Throttle | None = None) -> None:
    """The user's own password change (the first login's included): the current password proves
    it is them; the new one follows the rules and differs from the current and the previous one.
    Wrong current passwords are slowed down as at the login (`throttle`, default kpi.admin.auth.Throttle
    on the database's shared store; the same per-account count as the login's). Every other session
    of the account ends (`keep_session`: the id of the session making the change)."""
    throttle = throttle or auth.Throttle(admin_store(path))
    key = user.user_name.strip().lower()
    wait = throttle.wait_left(key)
    if wait > 0:
        raise AdminError(f"Nhập sai mật khẩu hiện tại nhiều lần. Vui lòng chờ {math.ceil(wait)} giây rồi thử lại.")
    if new != repeat:
        raise AdminError("Hai lần nhập mật khẩu mới không khớp.")
    con = db.connect(path)
    try:
        row = auth.user_row(con, key)
    finally:
        con.close()
    if row is None or not row["active"] or not auth.check_password(current, row["password_hash"]):
        throttle.failed(key)
        raise AdminError("Mật khẩu hiện tại không đúng.")
    throttle.cleared(key)
    prev = admin_store(path).read(state.sql("account_passwords.previous_hash"), {"user_name": user.user_name})
    problem = password_problem(new, user.user_name, (row["password_hash"], prev[0][0] if prev else None))
    if problem:
        raise AdminError(problem)
    hashed = _hash(new)
    with db.writing(path) as w:
        w.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE user_name = ?",
                  [hashed, dt.datetime.now(), user.user_name])
    _set_flag(path, user.user_name, False, row["password_hash"], user.user_name, "qt_tai_khoan_doi_mat_khau",
              {"tai_khoan": user.user_name})
    with admin_store(path).write() as sc:
        sc.execute(state.sql("sessions.revoke_others"), {"user_name": user.user_name, "now": time.time(),
                                                         "keep": keep_session})


def _set_flag(path, user_name, must: bool, previous_hash, by: str, action: str, detail: dict) -> None:
    now = time.time()
    with admin_store(path).write() as sc:
        sc.execute(state.sql("account_passwords.set"), {"user_name": user_name, "must_change": int(must),
                                                        "previous_hash": previous_hash, "now": now, "by": by})
        state.audit_in(sc, action, by, detail, now=now)


# ---- one account at a time ----------------------------------------------------------------------

def _same(a: str | None, b: str | None) -> bool:
    """Whether two user names are one account (case and surrounding spaces aside)."""
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _existing(con, user_name: str) -> dict:
    got = con.execute("SELECT user_name, role, school_id, active, password_hash FROM users "
                      "WHERE lower(user_name) = lower(trim(?))", [user_name]).fetchall()
    if not got:
        raise AdminError(f"Không có tài khoản '{user_name}'.")
    return dict(zip(("user_name", "role", "school_id", "active", "password_hash"), got[0]))


def reset_password(path, actor, user_name: str) -> str:
    """Give an account a new first password (returned, to hand out), to be changed at the next login."""
    require_leadership(path, actor, "đặt lại mật khẩu")
    password = generate_password()
    hashed = _hash(password)  # before taking the writers' lock
    with db.writing(path) as con:
        old = _existing(con, user_name)
        user_name = old["user_name"]
        con.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE user_name = ?",
                    [hashed, dt.datetime.now(), user_name])
    _set_flag(path, user_name, True, old["password_hash"], actor.user_name, "qt_tai_khoan_dat_lai",
              {"tai_khoan": user_name})
    auth.Sessions(b"", store=admin_store(path)).revoke_user(user_name, "dat_lai_mat_khau")
    return password


def set_active(path, actor, user_name: str, active: bool) -> None:
    """Disable (or enable again) an account; a disabled account cannot log in and loses its sessions."""
    require_leadership(path, actor, "khóa hoặc mở khóa tài khoản")
    if not active and _same(user_name, actor.user_name):
        raise AdminError("Không tự khóa tài khoản của chính mình.")
    con = db.connect(path)
    try:
        user_name = _existing(con, user_name)["user_name"]
    finally:
        con.close()
    if active:  # a school keeps one principal account: enabling an old one next to the new one is refused
        con = db.connect(path)
        try:
            other = con.execute("""SELECT o.user_name, o.school_id FROM users u JOIN users o
                                   ON o.school_id = u.school_id AND o.role = 'hieu_truong' AND o.active
                                   AND o.user_name <> u.user_name
                                   WHERE u.user_name = ? AND u.role = 'hieu_truong'""", [user_name]).fetchall()
        finally:
            con.close()
        if other:
            raise AdminError(f"Trường {other[0][1]} đã có hiệu trưởng dùng tài khoản {other[0][0]}: khóa tài khoản đó "
                             "trước, hoặc đổi trường của tài khoản này.")
    try:
        auth.set_active(path, user_name, active)
    except auth.AuthError as e:
        raise AdminError(str(e)) from e
    admin_store(path).audit("qt_tai_khoan_mo" if active else "qt_tai_khoan_khoa", actor.user_name,
                                {"tai_khoan": user_name})


def _principal_moves(con, moves: dict[str, str]) -> list[tuple[str, str]]:
    """The school principal accounts to disable when `moves` (user → school) give schools a new principal."""
    out = []
    for user_name, school in moves.items():
        for (other,) in con.execute("""SELECT user_name FROM users WHERE role = 'hieu_truong' AND active
                                       AND school_id = ? AND lower(user_name) <> lower(?)""",
                                    [school, user_name]).fetchall():
            if other.lower() not in moves:
                out.append((other, f"trường {school} có hiệu trưởng mới ({user_name})"))
    return out


def update_account(path, actor, user_name: str, role: str, school_id: str | None) -> list[tuple[str, str]]:
    """Change an account's role or school. A principal moved to a school takes that school over:
    the school's previous principal account is disabled (returned: (user name, why))."""
    require_leadership(path, actor, "đổi vai trò hoặc trường của tài khoản")
    if role not in ROLES:
        raise AdminError(f"Vai trò '{role}' không hợp lệ; chọn: {', '.join(ROLES.values())}.")
    school_id = (school_id or "").strip() or None
    if role in SCHOOL_ROLES and not school_id:
        raise AdminError(f"Tài khoản {ROLES[role].lower()} cần mã trường.")
    if role not in SCHOOL_ROLES:
        school_id = None
    if _same(user_name, actor.user_name):
        raise AdminError("Không tự đổi vai trò hoặc trường của tài khoản của chính mình.")
    with db.writing(path) as con:
        old = _existing(con, user_name)
        user_name = old["user_name"]
        if school_id and not con.execute("SELECT 1 FROM schools WHERE school_id = ? AND active",
                                         [school_id]).fetchall():
            raise AdminError(f"Không có trường đang hoạt động mã '{school_id}'.")
        disabled = _principal_moves(con, {user_name: school_id}) if role == "hieu_truong" else []
        con.execute("UPDATE users SET role = ?, school_id = ?, updated_at = ? WHERE user_name = ?",
                    [role, school_id, dt.datetime.now(), user_name])
        for other, _ in disabled:
            con.execute("UPDATE users SET active = FALSE, updated_at = ? WHERE user_name = ?",
                        [dt.datetime.now(), other])
    sessions = auth.Sessions(b"", store=admin_store(path))
    sessions.revoke_user(user_name, "doi_vai_tro")
    for other, _ in disabled:
        sessions.revoke_user(other, "khoa_tai_khoan")
    admin_store(path).audit("qt_tai_khoan_sua", actor.user_name, {
        "tai_khoan": user_name, "truoc": {"vai_tro": old["role"], "truong": old["school_id"]},
        "sau": {"vai_tro": role, "truong": school_id}, "khoa": [o for o, _ in disabled]})
    return disabled


# ---- many at once: the Excel file -------------------------------------------------------------

def accounts_template(school_rows: list[tuple[str, str]] | None = None) -> bytes:
    """The accounts file to fill: sheet 'Tài khoản' (headers and one example row) and a help sheet
    listing the roles and, when given, the schools (code, name)."""
    buf = io.BytesIO()
    wb = cells.workbook(buf)
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7"})
    ws = wb.add_worksheet(SHEET)
    cells.write_cells(ws, 0, 0, list(COLUMNS.values()), bold)
    cells.write_cells(ws, 1, 0, ["ht.th999", "Nguyễn Văn A (ví dụ: xóa dòng này)", ROLES["hieu_truong"], "TH999"])
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 34)
    ws.set_column(2, 2, 24)
    ws.set_column(3, 3, 14)
    ws.freeze_panes(1, 0)
    help_ws = wb.add_worksheet("Hướng dẫn")
    lines = ["Mỗi dòng một tài khoản. Tên đăng nhập: 3-64 ký tự a-z, 0-9, dấu chấm, gạch ngang, gạch dưới.",
             "Vai trò: ghi một trong các tên dưới đây. Hiệu trưởng và Nhập liệu của trường cần Mã trường.",
             "Mật khẩu lần đầu do ứng dụng tạo; người dùng phải đổi mật khẩu ở lần đăng nhập đầu tiên.",
             "Tài khoản đã có: dòng có tên đăng nhập đó đổi vai trò / trường của tài khoản (hiệu trưởng chuyển "
             "trường được chuyển, không tạo tài khoản mới). Tên đăng nhập không phân biệt chữ hoa, chữ thường.",
             f"Mỗi tệp tạo tối đa {MAX_NEW_PASSWORDS} tài khoản mới (nhiều hơn: chia thành nhiều tệp).",
             "Tệp không đổi tài khoản của chính người tải lên. Dòng tạo mới hoặc đổi tài khoản Lãnh đạo Phòng / "
             "Chuyên viên Phòng chỉ được áp dụng khi người tải lên đánh dấu xác nhận từng dòng ở bước xem trước.", ""]
    lines += [f"{label}" for label in ROLES.values()]
    for i, text in enumerate(lines):
        cells.write_cell(help_ws, i, 0, text)
    if school_rows:
        cells.write_cells(help_ws, len(lines) + 1, 0, ["Mã trường", "Tên trường"], bold)
        for j, (sid, name) in enumerate(school_rows):
            cells.write_cells(help_ws, len(lines) + 2 + j, 0, [sid, name])
    help_ws.set_column(0, 0, 16)
    help_ws.set_column(1, 1, 50)
    wb.close()
    return buf.getvalue()


def _header_score(row: list) -> int:
    wanted = {fold(h) for h in COLUMNS.values()}
    return sum(1 for c in row if c is not None and fold(c) in wanted)


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return " ".join(str(v).split())


def read_accounts_file(file_name: str, data: bytes) -> tuple[str, list[dict], dict]:
    """(sheet name, rows, columns) of an accounts file: each row {user_name, display_name, role,
    school_id, _row (the Excel row number)}, columns: key → 0-based column; AdminError naming file, sheet,
    row and column of every problem found in the file itself (the database's rules are checked by
    `plan_accounts`)."""
    try:
        sheets = import_read.read_book(file_name, data, _header_score)
    except import_read.Refused as e:
        where = f", trang {e.sheet}" if e.sheet and e.sheet != "—" else ""
        raise AdminError(f"Tệp {file_name}{where}: {e.message}.") from None
    sheet = next((s for s in sheets if fold(s.name) == fold(SHEET)), None) or next(
        (s for s in sheets if not s.hidden and any(_header_score(r) >= 2 for _, r in s.rows[:10])), None)
    if sheet is None:
        raise AdminError(f"Tệp {file_name}: không có trang '{SHEET}' (dùng biểu mẫu tải từ trang Quản trị).")
    where = f"Tệp {file_name}, trang {sheet.name}"
    head = next(((n, r) for n, r in sheet.rows[:10] if _header_score(r) >= 2), None)
    if head is None:
        raise AdminError(f"{where}: không tìm thấy dòng tiêu đề ({', '.join(COLUMNS.values())}).")
    head_row, header = head
    cols = {}
    for j, h in enumerate(header):
        for key, label in COLUMNS.items():
            if h is not None and fold(h) == fold(label):
                cols[key] = j
    missing = [COLUMNS[k] for k in REQUIRED if k not in cols]
    if missing:
        raise AdminError(f"{where}, dòng {head_row}: thiếu cột {', '.join(missing)}.")
    rows, problems = [], []
    for number, values in sheet.rows:
        if number <= head_row:
            continue
        got = {k: _text(values[j]) if j < len(values) else "" for k, j in cols.items()}
        if not any(got.values()):
            continue
        got["_row"] = number
        for key in cols:
            if (number, cols[key]) in sheet.formulas:
                problems.append((number, key, "ô chứa công thức; ghi giá trị"))
        rows.append(got)
    if not rows and not problems:
        raise AdminError(f"{where}: không có dòng tài khoản nào dưới dòng tiêu đề {head_row}.")
    if problems:
        raise _problems(where, problems, cols)
    return sheet.name, rows, cols


def _problems(where: str, problems: list[tuple[int, str, str]], cols: dict) -> AdminError:
    from openpyxl.utils import get_column_letter

    lines = [f"- dòng {n}, cột {get_column_letter(cols[k] + 1) if k in cols else '—'} ({COLUMNS[k]}): {msg}"
             for n, k, msg in problems[:50]]
    more = f"\n… và {len(problems) - 50} lỗi khác" if len(problems) > 50 else ""
    return AdminError(f"{where}: {len(problems)} lỗi, chưa tạo tài khoản nào:\n" + "\n".join(lines) + more)


def plan_accounts(con, file_name: str, sheet: str, rows: list[dict], cols: dict,
                  uploader: str | None = None) -> tuple[list[dict], AccountsResult]:
    """Check every row against the database (`con`: the writer's or a read-only connection) and
    decide what each does; AdminError listing every problem (nothing is written). Names compare
    case-insensitively; a row that would change the `uploader`'s own account is a problem; more
    than MAX_NEW_PASSWORDS new accounts is a problem (each row's `user_name` in the plan is the
    stored name of an existing account)."""
    where = f"Tệp {file_name}, trang {sheet}"
    users = {r[0].strip().lower(): dict(zip(("stored", "role", "school_id", "active", "display_name"), r)) for r in
             con.execute("SELECT user_name, role, school_id, active, display_name FROM users").fetchall()}
    schools = {r[0] for r in con.execute("SELECT school_id FROM schools WHERE active").fetchall()}
    problems, seen, plan, heads = [], {}, [], {}
    for r in rows:
        n = r["_row"]
        name = r["user_name"].strip().lower()
        if not name:
            problems.append((n, "user_name", "thiếu tên đăng nhập"))
        elif not _USER.match(name):
            problems.append((n, "user_name", f"'{r['user_name']}' không hợp lệ: 3-64 ký tự a-z, 0-9, '.', '-', '_', "
                                             "không dấu, không khoảng trắng"))
        elif name in seen:
            problems.append((n, "user_name", f"'{name}' trùng với dòng {seen[name]}"))
        seen.setdefault(name, n)
        if not r["display_name"]:
            problems.append((n, "display_name", "thiếu họ và tên"))
        elif len(r["display_name"]) > 120:
            problems.append((n, "display_name", "dài quá 120 ký tự"))
        role = _ROLE_NAMES.get(fold(r["role"])) if r["role"] else None
        if not r["role"]:
            problems.append((n, "role", "thiếu vai trò"))
        elif role is None:
            problems.append((n, "role", f"'{r['role']}' không phải vai trò; ghi một trong: "
                                        f"{', '.join(ROLES.values())}"))
        school = (r.get("school_id") or "").upper() or None
        if role in SCHOOL_ROLES:
            if not school:
                problems.append((n, "school_id", f"{ROLES[role]} cần mã trường"))
            elif school not in schools:
                problems.append((n, "school_id", f"không có trường đang hoạt động mã '{school}'"))
        elif school and role is not None:
            problems.append((n, "school_id", f"{ROLES[role]} không gắn với trường: để trống mã trường"))
        if role == "hieu_truong" and school:
            if school in heads:
                problems.append((n, "school_id", f"trường {school} đã có hiệu trưởng ở dòng {heads[school]}"))
            heads.setdefault(school, n)
        plan.append({"user_name": name, "display_name": r["display_name"], "role": role,
                     "school_id": school if role in SCHOOL_ROLES else None, "_row": n})
    if problems:
        raise _problems(where, problems, cols)
    result, own = AccountsResult(), []
    for p in plan:
        old = users.get(p["user_name"])
        if old is None:
            result.created.append((p["user_name"], ""))
            if p["role"] in OFFICE_ROLES:
                result.office.append((p["user_name"], f"tạo mới: {ROLES[p['role']]}", p["_row"]))
            continue
        p["user_name"] = old["stored"]
        what = []
        if old["role"] != p["role"]:
            what.append(f"vai trò {ROLES[old['role']]} → {ROLES[p['role']]}")
        if (old["school_id"] or None) != p["school_id"]:
            what.append(f"trường {old['school_id'] or '—'} → {p['school_id'] or '—'}")
        if old["display_name"] != p["display_name"]:
            what.append("họ tên")
        if not old["active"]:
            what.append("mở khóa")
        if what and uploader and _same(p["user_name"], uploader):
            own.append((p["_row"], "user_name", f"'{p['user_name']}' là tài khoản của chính bạn (người tải tệp "
                                                "lên): tệp không đổi tài khoản của người tải lên; bỏ dòng này"))
        if what:
            result.changed.append((p["user_name"], ", ".join(what)))
            if p["role"] in OFFICE_ROLES or old["role"] in OFFICE_ROLES:
                role = (ROLES[p["role"]] if old["role"] == p["role"] else f"{ROLES[old['role']]} → {ROLES[p['role']]}")
                result.office.append((p["user_name"], f"{role}: {', '.join(what)}", p["_row"]))
        else:
            result.unchanged.append(p["user_name"])
    if len(result.created) > MAX_NEW_PASSWORDS:
        own.append((plan[0]["_row"], "user_name", f"tệp tạo {len(result.created)} tài khoản mới; mỗi lần tải lên tạo "
                                                 f"tối đa {MAX_NEW_PASSWORDS} (để máy chủ không bận lâu): chia thành "
                                                 "nhiều tệp nhỏ hơn"))
    if own:
        raise _problems(where, own, cols)
    moves = {p["user_name"].lower(): p["school_id"] for p in plan if p["role"] == "hieu_truong"}
    result.disabled = _principal_moves(con, moves)
    return plan, result


def preview_accounts(path, file_name: str, data: bytes, uploader: str | None = None) -> AccountsResult:
    """What `create_accounts` would do with the file (no passwords yet), `office` listing every row
    to confirm; AdminError as it would (`uploader`: the user name of who uploads it)."""
    sheet, rows, cols = read_accounts_file(file_name, data)
    con = db.connect(path)
    try:
        cur = db.cursor(con)
        try:
            return plan_accounts(cur, file_name, sheet, rows, cols, uploader)[1]
        finally:
            cur.close()
    finally:
        con.close()


def unconfirmed(result: AccountsResult, confirmed) -> list[tuple[str, str, int]]:
    """The office rows of a plan that `confirmed` (user names, any case) does not confirm."""
    ok = {str(u).strip().lower() for u in confirmed or ()}
    return [o for o in result.office if o[0].lower() not in ok]


def _refuse_unconfirmed(result: AccountsResult, confirmed) -> None:
    missing = unconfirmed(result, confirmed)
    if missing:
        raise AdminError("Chưa áp dụng tệp: cần xác nhận từng dòng tạo hoặc đổi tài khoản của lãnh đạo / chuyên viên "
                         "Phòng: " + "; ".join(f"{u} (dòng {n}: {what})" for u, what, n in missing) + ".")


def create_accounts(path, actor, file_name: str, data: bytes, confirmed=()) -> AccountsResult:
    """Apply an accounts file, all or nothing: new accounts with a first password each (returned,
    shown once), existing ones changed (a principal moved to another school, not duplicated), the
    schools' previous principals disabled. Refused: a row changing the uploader's own account, more
    than MAX_NEW_PASSWORDS new accounts, and any office row (`result.office`) whose user name is not
    in `confirmed` (the preview's check box per row), each named."""
    require_leadership(path, actor, "tạo tài khoản")
    sheet, rows, cols = read_accounts_file(file_name, data)
    store = admin_store(path)
    now = dt.datetime.now()
    preview = preview_accounts(path, file_name, data, actor.user_name)
    _refuse_unconfirmed(preview, confirmed)
    # bcrypt takes ~55-75 ms a password (at most MAX_NEW_PASSWORDS): hash before taking the writers'
    # lock, check again under it
    expected = {u for u, _ in preview.created}
    passwords = {u: generate_password() for u in expected}
    hashes = {u: _hash(pw) for u, pw in passwords.items()}
    with db.writing(path) as con:
        plan, result = plan_accounts(con, file_name, sheet, rows, cols, actor.user_name)
        new = {u for u, _ in result.created}
        if new != expected or result.office != preview.office:
            raise AdminError("Danh sách tài khoản vừa được người khác thay đổi; tải tệp lên lại để xem trước.")
        _refuse_unconfirmed(result, confirmed)
        with store.write() as sc:  # the flag first: a new account never exists without it
            for u in new:
                sc.execute(state.sql("account_passwords.first"), {"user_name": u, "now": time.time(),
                                                                  "by": actor.user_name})
        for p in plan:
            if p["user_name"] in new:
                con.execute("INSERT INTO users VALUES (?, ?, ?, ?, NULL, ?, TRUE, ?, ?)",
                            [p["user_name"], p["display_name"], p["role"], p["school_id"],
                             hashes[p["user_name"]], now, now])
            else:
                con.execute("UPDATE users SET display_name = ?, role = ?, school_id = ?, active = TRUE, updated_at = ? "
                            "WHERE user_name = ?", [p["display_name"], p["role"], p["school_id"], now, p["user_name"]])
        for other, _ in result.disabled:
            con.execute("UPDATE users SET active = FALSE, updated_at = ? WHERE user_name = ?", [now, other])
    result.created = [(u, passwords[u]) for u, _ in result.created]
    sessions = auth.Sessions(b"", store=store)
    for u, _ in result.changed + result.disabled:
        sessions.revoke_user(u, "doi_tai_khoan")
    store.audit("qt_tai_khoan_tao", actor.user_name, {
        "tep": file_name, "tao": sorted(new), "doi": [f"{u}: {w}" for u, w in result.changed],
        "khoa": [f"{u}: {w}" for u, w in result.disabled],
        "xac_nhan": [f"{u}: {w}" for u, w, _ in result.office]})
    return result


def passwords_file(created: list[tuple[str, str]]) -> bytes:
    """The first passwords to hand out (XLSX): user name, first password; shown and downloadable once."""
    import pandas as pd

    buf = io.BytesIO()
    with cells.excel_writer(buf) as xw:
        cells.write_frame(xw, pd.DataFrame(created, columns=["Tên đăng nhập", "Mật khẩu lần đầu"]), "Mật khẩu lần đầu")
    return buf.getvalue()


def require_change(path, user_name: str, by: str) -> None:
    """Mark a password someone else chose (the command line's `users add` / `reset-password`) as one
    to change at the next login."""
    _set_flag(path, user_name, True, None, by, "qt_tai_khoan_dat_lai", {"tai_khoan": user_name, "nguon": "dòng lệnh"})


def must_change_users(path) -> set[str]:
    """The accounts whose first (or reset) password is still to be changed."""
    return {r[0] for r in admin_store(path).read(state.sql("account_passwords.to_change"))}
