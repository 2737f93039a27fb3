"""Users, passwords (bcrypt hashes only), signed sessions and the slow-down after wrong passwords.

No Streamlit here: the login routes (pages/_web.py) and the app's frame call these functions.
A session is a signed token in an httponly cookie: base64(JSON {user, session id, issued at}) + HMAC,
backed by a row in the shared state store (kpi.store.state), so that every worker process and a restart
agree on it: idle sessions expire after `idle_minutes` of no use, a token is never accepted past its
absolute lifetime, and logging out, disabling the account or changing its password ends it.
Wrong-password counters live in the same store.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from dataclasses import dataclass

import bcrypt

from kpi.admin.secret import secret_key  # noqa: F401 - the signing key, kept where the supervisor can read it alone
from kpi.common import faults
from kpi.common.access import ROLES, SCHOOL_ROLES, Scope
from kpi.store import db, queries, state

COOKIE = "kpi_phien"
DEMO_PASSWORD = "dulieumau"
MIN_PASSWORD = 8
BCRYPT_ROUNDS = 10  # ≈ 55 ms a check on the 2-core server; current guidance's floor is 10


@dataclass(frozen=True)
class User:
    """A logged-in user."""

    user_name: str
    display_name: str
    role: str
    school_id: str | None
    unit_id: str | None

    @property
    def scope(self) -> Scope:
        """What this user may read: one school for a principal (or the school's data-entry
        account), else the unit (or everything)."""
        if self.role in SCHOOL_ROLES:
            return Scope.school(self.school_id, self.unit_id)
        return Scope(unit_id=self.unit_id)

    @property
    def role_label(self) -> str:
        return ROLES[self.role]


class AuthError(ValueError):
    """A refusal with a Vietnamese message for the user."""


BCRYPT_MAX_BYTES = 72  # bcrypt reads at most 72 bytes; bcrypt 5 raises ValueError beyond


def _secret_bytes(password: str) -> bytes:
    """What bcrypt is given for a password: its UTF-8 bytes, or, past bcrypt's 72 bytes (a
    65-character Vietnamese passphrase is 84), base64(SHA-256(bytes)) (44 bytes), so every
    character counts and nothing raises. Passwords up to 72 bytes are given as they are, so every
    hash made before stays verifiable (bcrypt 5 never hashed a longer one: it raised)."""
    raw = password.encode("utf-8")
    if len(raw) <= BCRYPT_MAX_BYTES:
        return raw
    return base64.b64encode(hashlib.sha256(raw).digest())


def hash_password(password: str) -> str:
    """A bcrypt hash of the password (the one place passwords are hashed: login, change and reset agree)."""
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.")
    return bcrypt.hashpw(_secret_bytes(password), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    """True when the password matches the bcrypt hash (made by `hash_password`)."""
    try:
        return bcrypt.checkpw(_secret_bytes(password), password_hash.encode("ascii"))
    except (ValueError, TypeError, AttributeError):
        return False


# ---- the users table (writes go through db.writing: copy, write, swap) ------------------------

def add_user(path, user_name: str, display_name: str, role: str, password: str,
             school_id: str | None = None, unit_id: str | None = None) -> None:
    """Create a user (name stored trimmed, in lower case: login compares that way); refuses an
    existing name in any case, an unknown role or a principal without a school."""
    user_name = user_name.strip().lower()
    if role not in ROLES:
        raise AuthError(f"Vai trò '{role}' không hợp lệ; chọn một trong {', '.join(ROLES)}.")
    if role in SCHOOL_ROLES and not school_id:
        raise AuthError(f"Tài khoản {ROLES[role].lower()} cần mã trường (--school).")
    hashed = hash_password(password)
    now = dt.datetime.now()
    with db.writing(path) as con:
        if con.execute("SELECT 1 FROM users WHERE lower(user_name) = ?", [user_name]).fetchall():
            raise AuthError(f"Tài khoản '{user_name}' đã tồn tại.")
        if school_id and not con.execute("SELECT 1 FROM schools WHERE school_id = ?", [school_id]).fetchall():
            raise AuthError(f"Không có trường mã '{school_id}'.")
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
                    [user_name, display_name, role, school_id, unit_id, hashed, now, now])


def set_active(path, user_name: str, active: bool) -> None:
    """Disable (or enable again) a user; a disabled user cannot log in and loses open sessions."""
    with db.writing(path) as con:
        if not con.execute("SELECT 1 FROM users WHERE user_name = ?", [user_name]).fetchall():
            raise AuthError(f"Không có tài khoản '{user_name}'.")
        con.execute("UPDATE users SET active = ?, updated_at = ? WHERE user_name = ?",
                    [active, dt.datetime.now(), user_name])
    if not active:
        Sessions(b"", store=state.store_for(path)).revoke_user(user_name, "khoa_tai_khoan")


def reset_password(path, user_name: str, password: str) -> None:
    """Set a new password (stored as a bcrypt hash)."""
    hashed = hash_password(password)
    with db.writing(path) as con:
        if not con.execute("SELECT 1 FROM users WHERE user_name = ?", [user_name]).fetchall():
            raise AuthError(f"Không có tài khoản '{user_name}'.")
        con.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE user_name = ?",
                    [hashed, dt.datetime.now(), user_name])
    Sessions(b"", store=state.store_for(path)).revoke_user(user_name, "doi_mat_khau")


def demo_users(con) -> list[tuple[str, str, str, str | None]]:
    """The sample's demo accounts: (user_name, display_name, role, school_id): the office's, one
    principal per cấp học, and the data-entry account of the primary school."""
    rows = con.execute("""
        SELECT school_id, level FROM schools WHERE ownership = 'cong_lap'
        QUALIFY row_number() OVER (PARTITION BY level ORDER BY school_id) = 1 ORDER BY level""").fetchall()
    users = [("lanhdao", "Lãnh đạo Phòng (mẫu)", "lanh_dao", None),
             ("chuyenvien", "Chuyên viên Phòng (mẫu)", "chuyen_vien", None)]
    users += [(f"ht.{sid.lower()}", f"Hiệu trưởng {sid} (mẫu)", "hieu_truong", sid) for sid, _ in rows]
    users += [(f"nl.{sid.lower()}", f"Nhập liệu {sid} (mẫu)", "truong_nhap_lieu", sid)
              for sid, lv in rows if lv == "TH"]
    return users


def user_row(con, user_name: str) -> dict | None:
    """The users row (with its hash) or None."""
    df = queries.run(con, "user_get", {"user_name": user_name})
    return None if df.empty else df.iloc[0].to_dict()


def user_from_row(row: dict) -> User:
    """The User of a users row."""
    return User(row["user_name"], row["display_name"], row["role"],
                row["school_id"] if isinstance(row["school_id"], str) else None,
                row["unit_id"] if isinstance(row["unit_id"], str) else None)


# ---- slowing down wrong passwords --------------------------------------------------------

GENERIC_REFUSAL = "Tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản đã bị khóa."
# Checked when the user name is unknown, so that an unknown name costs what a known one does.
_DUMMY_HASH = bcrypt.hashpw(b"khong-phai-mat-khau-nao", bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


class Throttle:
    """Wrong passwords slow further tries down, counted in the shared state store (so every worker
    and a restart see them) per account and per client address.

    After `free` failures for an account, each further try must wait 2, 4, 8 … seconds (at most
    `cap`); a right password clears the account's count. A client address gets `free_address`
    failures (a school's staff share one address) before the same waits, and its count is not
    cleared by one right password, so trying many names once each is slowed too. Counts older than
    `window` seconds start over."""

    def __init__(self, store=None, free: int = 3, free_address: int = 10, cap: float = 60.0,
                 window: float = 900.0, clock=time.time):
        self._store, self.free, self.free_address, self.cap = store, free, free_address, cap
        self.window, self.clock = window, clock

    @property
    def store(self) -> state.Store:
        return self._store if self._store is not None else state.store_for(db.db_path())

    def _wait(self, key: str, free: int) -> float:
        n, _, last = self.store.failures(key)
        now = self.clock()
        if n < free or now - last > self.window:
            return 0.0
        delay = min(self.cap, 2.0 ** (n - free + 1))
        return max(0.0, last + delay - now)

    def wait_left(self, user_name: str, client: str | None = None) -> float:
        """Seconds before another try is accepted for this account (and address); 0 = now."""
        wait = self._wait(f"u:{user_name}", self.free)
        if client:
            wait = max(wait, self._wait(f"a:{client}", self.free_address))
        return wait

    def failed(self, user_name: str, client: str | None = None) -> None:
        now = self.clock()
        self.store.failure_add(f"u:{user_name}", now, self.window)
        if client:
            self.store.failure_add(f"a:{client}", now, self.window)

    def cleared(self, user_name: str) -> None:
        self.store.failure_clear(f"u:{user_name}")


def authenticate(con, user_name: str, password: str, throttle: Throttle | None = None,
                 client: str | None = None, lookup=None) -> User:
    """The user for a right password of an active account; AuthError (in Vietnamese) otherwise.

    An unknown name, a wrong password and a disabled account get the same answer in about the
    same time (a bcrypt check runs in every case), so neither names nor a disabled account's
    password can be found out by trying. `lookup`: user name → users row (default: a query on `con`)."""
    throttle = throttle or Throttle()
    key = user_name.strip().lower()[:64]
    wait = throttle.wait_left(key, client)
    if wait > 0:
        raise AuthError(f"Đăng nhập sai nhiều lần. Vui lòng chờ {math.ceil(wait)} giây rồi thử lại.")
    row = (lookup(key) if lookup else user_row(con, key)) if key else None
    matches = check_password(password, row["password_hash"] if row else _DUMMY_HASH)
    if row is None or not matches or not row["active"]:
        throttle.failed(key, client)
        raise AuthError(GENERIC_REFUSAL)
    throttle.cleared(key)
    return user_from_row(row)


# ---- signed session tokens ---------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and checks session tokens. Every session is a row of the shared state store, so a
    logout, a disabled account or a changed password ends it in every worker and after a restart.

    A token is base64(JSON {user, session id, issued at}) + HMAC-SHA256; it is accepted while its
    row exists and is not revoked, it was used within `idle_minutes`, and it is younger than
    `lifetime_hours`. Last use is written at most every `TOUCH_SECONDS` (not on every page run)."""

    TOUCH_SECONDS = 30.0

    def __init__(self, key: bytes, store=None, idle_minutes: float = 30, lifetime_hours: float = 12,
                 clock=time.time):
        self.key, self._store, self.clock = key, store, clock
        self.idle, self.lifetime = idle_minutes * 60, lifetime_hours * 3600

    @property
    def store(self) -> state.Store:
        return self._store if self._store is not None else state.store_for(db.db_path())

    def issue(self, user_name: str, client: str | None = None) -> str:
        """A new session (new id) for a user who just proved the password."""
        now = self.clock()
        sid = secrets.token_hex(16)
        self.store.session_open(sid, user_name, now, client)
        body = _b64(json.dumps({"u": user_name, "s": sid, "t": int(now)}).encode())
        return body + "." + _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())

    def _claims(self, token: str | None) -> dict | None:
        if not token or not isinstance(token, str) or "." not in token or len(token) > 512:
            return None
        body, sig = token.rsplit(".", 1)
        good = _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig.encode(), good.encode()):
            return None
        try:
            claims = json.loads(_unb64(body))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) and {"u", "s", "t"} <= claims.keys() else None

    def check(self, token: str | None) -> str | None:
        """The user name of a valid, unexpired, unrevoked token (and marks it used), else None."""
        c = self._claims(token)
        if c is None:
            return None
        now = self.clock()
        row = self.store.session(c["s"])
        if row is None or row["revoked_at"] is not None or row["user_name"] != c["u"]:
            return None
        if now - row["issued_at"] > self.lifetime:
            return None
        if now - row["last_seen"] > self.idle:
            self._best_effort(self.store.session_revoke, c["s"], now, "het_han")
            return None
        if now - row["last_seen"] > self.TOUCH_SECONDS:
            self._best_effort(self.store.session_touch, c["s"], now)
        return c["u"]

    def _best_effort(self, write, *args) -> None:
        """A mark of the session (last used, expired): a store that cannot be written now (full,
        read-only, locked) is logged and the page goes on; reading never depends on it."""
        try:
            write(*args)
        except (faults.StoreUnavailable, *state.STORE_DOWN) as e:
            logging.getLogger("kpi.admin.auth").warning("Không ghi được dấu phiên vào %s: %s: %s", self.store.path,
                                                  type(e).__name__, getattr(e, "cause", None) or e)

    def revoke(self, token: str | None, reason: str = "dang_xuat") -> str | None:
        """End the token's session; returns its user name (None for a bad token)."""
        c = self._claims(token)
        if c is None:
            return None
        self.store.session_revoke(c["s"], self.clock(), reason)
        return c["u"]

    def revoke_user(self, user_name: str, reason: str) -> int:
        """End every session of a user (account disabled, password changed)."""
        return self.store.sessions_revoke_user(user_name, self.clock(), reason)


_SESSIONS: Sessions | None = None


def sessions() -> Sessions:
    """The sessions of the current database's state store ($KPI_IDLE_MINUTES, default 30)."""
    global _SESSIONS
    if _SESSIONS is None:
        _SESSIONS = Sessions(secret_key(), idle_minutes=float(os.environ.get("KPI_IDLE_MINUTES", "30")))
    return _SESSIONS


def session_id(token: str | None) -> str | None:
    """The session id inside a validly signed token (None otherwise)."""
    c = sessions()._claims(token)
    return c["s"] if c else None


def user_for_token(con, token: str | None, store: Sessions | None = None) -> User | None:
    """The active user behind a session token, or None (bad, expired, revoked, disabled)."""
    name = (store or sessions()).check(token)
    if name is None:
        return None
    row = user_row(con, name)
    if row is None or not row["active"]:
        return None
    return user_from_row(row)
