"""Users, passwords (bcrypt hashes only), signed sessions and the slow-down after wrong passwords.

No Streamlit here: the login routes (pages/_web.py) and the app's frame call these functions.
A session is a signed token in an httponly cookie: base64(JSON {user, session id, issued at}) + HMAC.
Idle sessions expire after `idle_minutes` of no use (tracked in this process; a token is never
accepted past its absolute lifetime); logging out revokes the token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from kpi import db, queries
from kpi.access import ROLES, Scope

COOKIE = "kpi_phien"
DEMO_PASSWORD = "dulieumau"
MIN_PASSWORD = 8


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
        """What this user may read: one school for a principal, else the unit (or everything)."""
        if self.role == "hieu_truong":
            return Scope.school(self.school_id, self.unit_id)
        return Scope(unit_id=self.unit_id)

    @property
    def role_label(self) -> str:
        return ROLES[self.role]


class AuthError(ValueError):
    """A refusal with a Vietnamese message for the user."""


def hash_password(password: str) -> str:
    """A bcrypt hash of the password."""
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    """True when the password matches the bcrypt hash."""
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:
        return False


# ---- the users table (writes go through db.writing: copy, write, swap) ------------------------

def add_user(path, user_name: str, display_name: str, role: str, password: str,
             school_id: str | None = None, unit_id: str | None = None) -> None:
    """Create a user; refuses an existing name, an unknown role or a principal without a school."""
    if role not in ROLES:
        raise AuthError(f"Vai trò '{role}' không hợp lệ; chọn một trong {', '.join(ROLES)}.")
    if role == "hieu_truong" and not school_id:
        raise AuthError("Tài khoản hiệu trưởng cần mã trường (--school).")
    hashed = hash_password(password)
    now = dt.datetime.now()
    with db.writing(path) as con:
        if con.execute("SELECT 1 FROM users WHERE user_name = ?", [user_name]).fetchall():
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


def reset_password(path, user_name: str, password: str) -> None:
    """Set a new password (stored as a bcrypt hash)."""
    hashed = hash_password(password)
    with db.writing(path) as con:
        if not con.execute("SELECT 1 FROM users WHERE user_name = ?", [user_name]).fetchall():
            raise AuthError(f"Không có tài khoản '{user_name}'.")
        con.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE user_name = ?",
                    [hashed, dt.datetime.now(), user_name])


def demo_users(con) -> list[tuple[str, str, str, str | None]]:
    """The sample's demo accounts: (user_name, display_name, role, school_id)."""
    rows = con.execute("""
        SELECT school_id, level FROM schools WHERE ownership = 'cong_lap'
        QUALIFY row_number() OVER (PARTITION BY level ORDER BY school_id) = 1 ORDER BY level""").fetchall()
    users = [("lanhdao", "Lãnh đạo Phòng (mẫu)", "lanh_dao", None),
             ("chuyenvien", "Chuyên viên Phòng (mẫu)", "chuyen_vien", None)]
    users += [(f"ht.{sid.lower()}", f"Hiệu trưởng {sid} (mẫu)", "hieu_truong", sid) for sid, _ in rows]
    return users


def user_row(con, user_name: str) -> dict | None:
    """The users row (with its hash) or None."""
    df = queries.run(con, "user_get", {"user_name": user_name})
    return None if df.empty else df.iloc[0].to_dict()


def _user(row: dict) -> User:
    return User(row["user_name"], row["display_name"], row["role"],
                row["school_id"] if isinstance(row["school_id"], str) else None,
                row["unit_id"] if isinstance(row["unit_id"], str) else None)


# ---- slowing down wrong passwords --------------------------------------------------------

class Throttle:
    """After `free` wrong passwords for a user name, each further try must wait 2, 4, 8 … seconds
    (at most `cap`); a right password clears the count."""

    def __init__(self, free: int = 3, cap: float = 60.0, clock=time.monotonic):
        self.free, self.cap, self.clock = free, cap, clock
        self._fails: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_left(self, key: str) -> float:
        """Seconds before another try is accepted for this key (0 = now)."""
        with self._lock:
            n, last = self._fails.get(key, (0, 0.0))
        if n < self.free:
            return 0.0
        delay = min(self.cap, 2.0 ** (n - self.free + 1))
        return max(0.0, last + delay - self.clock())

    def failed(self, key: str) -> None:
        with self._lock:
            n, _ = self._fails.get(key, (0, 0.0))
            self._fails[key] = (n + 1, self.clock())

    def cleared(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


THROTTLE = Throttle()


def authenticate(con, user_name: str, password: str, throttle: Throttle = THROTTLE) -> User:
    """The user for a right password; AuthError (in Vietnamese) otherwise."""
    key = user_name.strip().lower()
    wait = throttle.wait_left(key)
    if wait > 0:
        raise AuthError(f"Sai mật khẩu nhiều lần. Vui lòng thử lại sau {int(wait) + 1} giây.")
    row = user_row(con, key)
    if row is None or not check_password(password, row["password_hash"]):
        throttle.failed(key)
        raise AuthError("Tên đăng nhập hoặc mật khẩu không đúng.")
    if not row["active"]:
        raise AuthError("Tài khoản đã bị khóa. Liên hệ chuyên viên Phòng.")
    throttle.cleared(key)
    return _user(row)


# ---- signed session tokens ---------------------------------------------------------------

def secret_key(path: Path | None = None) -> bytes:
    """$KPI_SECRET, else data/.kpi_secret (created once, readable by its owner only)."""
    env = os.environ.get("KPI_SECRET")
    if env:
        return env.encode("utf-8")
    path = path or (db.ROOT / "data" / ".kpi_secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and checks session tokens; remembers last use (idle timeout) and revocations."""

    def __init__(self, key: bytes, idle_minutes: float = 30, lifetime_hours: float = 12, clock=time.time):
        self.key, self.idle, self.lifetime, self.clock = key, idle_minutes * 60, lifetime_hours * 3600, clock
        self._seen: dict[str, float] = {}
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, user_name: str) -> str:
        body = _b64(json.dumps({"u": user_name, "s": secrets.token_hex(12), "t": int(self.clock())}).encode())
        return body + "." + _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())

    def _claims(self, token: str | None) -> dict | None:
        if not token or "." not in token:
            return None
        body, sig = token.rsplit(".", 1)
        good = _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, good):
            return None
        try:
            return json.loads(_unb64(body))
        except ValueError:
            return None

    def check(self, token: str | None) -> str | None:
        """The user name of a valid, unexpired, unrevoked token (and marks it used), else None."""
        c = self._claims(token)
        if c is None:
            return None
        now = self.clock()
        with self._lock:
            if c["s"] in self._revoked or now - c["t"] > self.lifetime:
                return None
            if now - self._seen.get(c["s"], c["t"]) > self.idle:
                self._revoked.add(c["s"])
                return None
            self._seen[c["s"]] = now
        return c["u"]

    def revoke(self, token: str | None) -> None:
        c = self._claims(token)
        if c is not None:
            with self._lock:
                self._revoked.add(c["s"])


_SESSIONS: Sessions | None = None


def sessions() -> Sessions:
    """The process's session store ($KPI_IDLE_MINUTES, default 30)."""
    global _SESSIONS
    if _SESSIONS is None:
        _SESSIONS = Sessions(secret_key(), idle_minutes=float(os.environ.get("KPI_IDLE_MINUTES", "30")))
    return _SESSIONS


def user_for_token(con, token: str | None, store: Sessions | None = None) -> User | None:
    """The active user behind a session token, or None (bad, expired, revoked, disabled)."""
    name = (store or sessions()).check(token)
    if name is None:
        return None
    row = user_row(con, name)
    if row is None or not row["active"]:
        return None
    return _user(row)
