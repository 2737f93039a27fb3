"""Accounts and passwords as an attacker tries them (issue 24 items 7, 8, 10b): a file that names the
uploader in another case or a leadership account, a password change guessed many times, a long
Vietnamese passphrase, and targets published from a draft the leader never saw."""

from __future__ import annotations

import time

import pytest

from kpi import accounts, admin, auth, db, plans, state
from kpi.auth import User
from tests.conftest import app_test
from tests.test_admin import LEAD, accounts_xlsx, read

PRINCIPAL = User("ht.thcs001", "Hiệu trưởng THCS001 (mẫu)", "hieu_truong", "THCS001", None)
LONG_VI = "Trường chúng tôi luôn đổi mới sáng tạo vì học sinh thân yêu hôm nay"[:65]  # 65 characters
LONG_128 = ("mùa thu hà nội lá vàng rơi " * 6)[:128]


@pytest.fixture()
def admin_db(writable_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(writable_db))
    return writable_db


# ---- passwords -----------------------------------------------------------------------------------

def wrong_tries(path, n: int) -> list[str]:
    """The answers to `n` wrong current passwords in a row, as fast as they can be sent."""
    out = []
    for i in range(n):
        try:
            accounts.change_password(path, PRINCIPAL, f"sai-mat-khau-{i}", "một câu mới khá dài", "một câu mới khá dài")
        except admin.AdminError as e:
            out.append(str(e))
        else:
            out.append("đã đổi")
    return out


def slowed(answers: list[str]) -> bool:
    """The 4th wrong try in a row and every later one must wait (the login's rule)."""
    return (all("không đúng" in a for a in answers[:3])
            and all(a.startswith("Nhập sai mật khẩu hiện tại nhiều lần. Vui lòng chờ") and "giây" in a
                    for a in answers[3:]))


def test_eight_wrong_current_passwords_are_slowed_down(admin_db, monkeypatch):
    started = time.monotonic()
    answers = wrong_tries(admin_db, 8)
    assert slowed(answers), answers
    assert time.monotonic() - started < 2  # still within the first wait: the later tries were refused
    # the count is the account's, in the shared store: the login now waits too
    c = db.connect(admin_db)
    try:
        with pytest.raises(auth.AuthError, match="Vui lòng chờ"):
            auth.authenticate(c, "ht.thcs001", auth.DEMO_PASSWORD, auth.Throttle(state.store_for(admin_db)))
    finally:
        c.close()
    # once the wait is over, the right current password works and clears the count
    monkeypatch.setattr(auth.Throttle, "wait_left", lambda self, *a, **k: 0.0)
    accounts.change_password(admin_db, PRINCIPAL, auth.DEMO_PASSWORD, "một câu mới khá dài", "một câu mới khá dài")
    assert state.store_for(admin_db).failures("u:ht.thcs001")[0] == 0


def test_the_slow_down_check_catches_a_planted_unthrottled_change(admin_db, monkeypatch):
    """Planted: the change form without its throttle (what the issue found): the check fails."""
    monkeypatch.setattr(auth.Throttle, "wait_left", lambda self, *a, **k: 0.0)
    assert not slowed(wrong_tries(admin_db, 8))


@pytest.mark.parametrize("passphrase", [LONG_VI, LONG_128], ids=["84-bytes", "128-characters"])
def test_a_long_passphrase_is_set_and_logs_in(admin_db, passphrase):
    assert len(passphrase.encode("utf-8")) > auth.BCRYPT_MAX_BYTES
    assert accounts.password_problem(passphrase, PRINCIPAL.user_name) is None
    accounts.change_password(admin_db, PRINCIPAL, auth.DEMO_PASSWORD, passphrase, passphrase)
    c = db.connect(admin_db)
    try:
        user = auth.authenticate(c, "ht.thcs001", passphrase, auth.Throttle(state.store_for(admin_db)))
        assert user.user_name == "ht.thcs001"
        # every character counts: the same first 72 bytes with another ending is refused
        raw = passphrase.encode("utf-8")
        other = (raw[:72].decode("utf-8", "ignore") + "khác hẳn phần cuối")
        with pytest.raises(auth.AuthError):
            auth.authenticate(c, "ht.thcs001", other, auth.Throttle(state.store_for(admin_db)))
    finally:
        c.close()
    stored = read(admin_db, "SELECT password_hash FROM users WHERE user_name = 'ht.thcs001'")[0][0]
    assert stored.startswith("$2b$10$")
    # and it is the previous password at the next change (the check reads the same pre-hash)
    with pytest.raises(admin.AdminError, match="khác mật khẩu trước đó"):
        accounts.change_password(admin_db, PRINCIPAL, passphrase, passphrase, passphrase)


def test_old_hashes_stay_verifiable_and_raw_bcrypt_would_crash():
    import bcrypt

    old = bcrypt.hashpw(b"dulieumau-cu", bcrypt.gensalt(4)).decode("ascii")  # made before the pre-hash
    assert auth.check_password("dulieumau-cu", old) and not auth.check_password("dulieumau-cu!", old)
    with pytest.raises(ValueError):  # planted: bcrypt given the raw bytes, as before
        bcrypt.hashpw(LONG_VI.encode("utf-8"), bcrypt.gensalt(4))
    assert auth.check_password(LONG_VI, auth.hash_password(LONG_VI))


def test_the_page_changes_to_a_long_passphrase(admin_db):
    at = app_test("doi_mat_khau", user="ht.thcs001")
    assert not at.exception
    at.text_input(key="dmk_current").set_value(auth.DEMO_PASSWORD)
    at.text_input(key="dmk_new").set_value(LONG_VI)
    at.text_input(key="dmk_repeat").set_value(LONG_VI)
    at.button(key="dmk_submit").click().run()
    assert not at.exception and [s.value for s in at.success] == ["Đã đổi mật khẩu."]
