"""The frame of every page run: who is logged in, what they may read, and a fair share of the server.

dashboard.py checks the session cookie on every run (`login_user`), opens the frame for that user
(`app_frame`), and runs the page inside it. Pages read the user and their scope from here, and
start with `page_guard()`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time

import streamlit as st

from kpi.admin import accounts, auth
from kpi.common import faults
from kpi.common.access import PAGES, Scope
from kpi.common.text import plain
from kpi.store import db
from pages._media import live_user

_frame = threading.local()

# At most this many page runs compute at once in one worker; the others queue. Python runs one
# thread at a time, so more at once only makes every run slower (and memory higher), while a
# queue keeps each run short; DuckDB's own threads still overlap with the office's run and the light ones.
# One (07/12/2026, district rush, two pairs of runs): the login p95 0,46 and 0,43 s against 0,68 and 0,67 s with
# two, Đổi mật khẩu 0,36 and 0,24 s against 0,55 and 0,64 s, the other pages' p95 2,53 and 2,44 s against 2,77
# and 1,87 s; nationally the same p95 (1,93 against 1,95 s) and a lower peak (1.466 against 1.512 MB).
RUN_SLOTS = int(os.environ.get("KPI_RUN_SLOTS", "1"))
BUSY_AFTER = 0.6  # seconds of waiting before the page says the server is busy
BUSY_REDRAW = 2.0  # seconds between two redraws of that notice (its counter of seconds waited)


class FairSlots:
    """A semaphore that serves waiters first come, first served (threading's may let a late
    arrival overtake a run that has waited for seconds). `enter()` returns None when a slot was
    free, else a ticket to `wait` on (keeping its place in the queue) and to `leave` if the run
    gives up (its browser went away)."""

    def __init__(self, n: int):
        self._free, self._lock, self._queue = n, threading.Lock(), collections.deque()

    def enter(self) -> threading.Event | None:
        with self._lock:
            if self._free > 0 and not self._queue:
                self._free -= 1
                return None
            ticket = threading.Event()
            self._queue.append(ticket)
            return ticket

    @staticmethod
    def wait(ticket: threading.Event, timeout: float) -> bool:
        return ticket.wait(timeout)

    def leave(self, ticket: threading.Event) -> None:
        """Give the place up; a slot already handed to this ticket is passed on."""
        with self._lock:
            if not ticket.is_set():
                self._queue.remove(ticket)
                return
        self.release()

    def release(self) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().set()  # the slot passes straight to the oldest waiter
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._queue)


# Slots per kind of page (issue 29, item 2: light never waits behind heavy): the office pages compute over
# every school of the unit (53.000 nationally) and take their own KPI_OFFICE_SLOTS, so the principals' pages
# keep RUN_SLOTS to themselves; a form with nothing to compute (Đổi mật khẩu) waits for no slot at all.
OFFICE_SLOTS = int(os.environ.get("KPI_OFFICE_SLOTS", "1"))
OFFICE_ROLES = ("lanh_dao", "chuyen_vien")
LIGHT_TITLES = (PAGES["doi_mat_khau"][0],)  # the light pages' titles
_slots = FairSlots(RUN_SLOTS)
_office_slots = FairSlots(OFFICE_SLOTS)
BUSY_TEXT = "Máy chủ đang bận vì nhiều người dùng cùng lúc: trang sẽ hiện sau giây lát, xin đừng tải lại."


@contextlib.contextmanager
def app_frame(user):
    """Marks this script run as started by dashboard.py for a logged-in user (see `page_guard`)."""
    _frame.active, _frame.user, _frame.snapshot, _frame.pending = True, user, None, None
    try:
        yield
    finally:
        _frame.active, _frame.user, _frame.snapshot, _frame.pending = False, None, None, None


def slot_kind(user, title: str) -> str:
    """The kind of run a page is for its slots: "light" (a form: no slot), "office" (an office user's
    page: the office's own slots) or "page" (a principal's page)."""
    if title in LIGHT_TITLES:
        return "light"
    return "office" if getattr(user, "role", None) in OFFICE_ROLES else "page"


@contextlib.contextmanager
def run_slot(kind: str = "page"):
    """A place among the runs of its kind (`slot_kind`) computing now, first come first served; while
    waiting, the page says the server is busy. A "light" run takes no place.

    A browser that goes away (or asks for another page) while its run waits stops the wait:
    Streamlit raises its stop/rerun exception at the next element, which the redrawn notice is."""
    if kind == "light":
        yield
        return
    slots = _office_slots if kind == "office" else _slots
    ticket = slots.enter()
    if ticket is not None and not slots.wait(ticket, BUSY_AFTER):
        note = st.empty()
        waited = time.monotonic()
        try:
            # redrawn every BUSY_REDRAW s (a redraw is also where a gone browser's run stops): at
            # twice the capacity dozens of runs wait, and each redraw costs the event loop a message
            while not slots.wait(ticket, BUSY_REDRAW):
                note.info(f"{BUSY_TEXT} ({int(time.monotonic() - waited) + 1} giây, {slots.waiting} người đang chờ)",
                          icon=":material/hourglass_top:")
        except BaseException:
            slots.leave(ticket)
            raise
        note.empty()
    try:
        yield
    finally:
        slots.release()


def session_token() -> str | None:
    """This browser session's signed token (the httponly cookie)."""
    cookie = st.context.cookies.get(auth.COOKIE)
    # AppTest has no browser cookies: tests hand a signed token over in the session state.
    return cookie if isinstance(cookie, str) and cookie else st.session_state.get("_kpi_token")


def login_user():
    """The logged-in user of this session: the signed session cookie, checked on every run
    (signature, idle time, revocation in the shared state store, account still active); None
    when there is none."""
    return live_user(session_token())


def requested_page() -> str:
    """The page name the browser asked for by URL ("" for the front page or a click in the
    navigation), as Streamlit will look it up among the registered pages."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or ctx.pages_manager.intended_page_script_hash:
        return ""
    name = (ctx.pages_manager.intended_page_name or "").strip("/")
    return name if name and "/" not in name else ""


NOTE_KEY = "_kpi_note"


def link_note(wanted: str, main_url: str, titles: dict[str, str]) -> str | None:
    """What to tell someone whose link named page `wanted` (an URL path without "/") that is not one
    of theirs: nothing for their own main page's path (it lives at "/"), else a Vietnamese note."""
    if wanted in (main_url, "can-dang-nhap"):
        return None
    if wanted in titles:
        return f"Trang «{titles[wanted]}» không dành cho tài khoản của bạn; đây là trang chính của bạn."
    return f"Không có trang «/{plain(wanted)}» (đường dẫn cũ hoặc gõ nhầm); đây là trang chính."  # a link is typed text


def redirect_to(page, note: str | None):
    """A hidden page's body: open `page` with the link's query parameters, and leave `note` for the
    next run to show (once)."""
    def run():
        if note:
            st.session_state[NOTE_KEY] = note
        st.switch_page(page, query_params=st.query_params.to_dict())
    return run


def show_note() -> None:
    """The note a redirect left (an outdated link), shown once above the page."""
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.info(note, icon=":material/link:")


def audit(action: str, detail: dict | None = None, user=None) -> None:
    """Record what a user did in the shared state store (every worker writes it; it survives
    restarts). `user`: taken now when the action happens outside this run (a download built when
    clicked)."""
    user = user or current_user()
    try:
        auth.sessions().store.audit(action, getattr(user, "user_name", None), detail)
    except faults.StoreUnavailable:  # reading (a download) goes on; the server log keeps the record
        logging.getLogger("kpi.audit").warning("Nhật ký chưa ghi được vào kho: %s %s %s", action,
                                               getattr(user, "user_name", None), detail)


def current_user():
    """The user this page runs for (set by dashboard.py's frame)."""
    return getattr(_frame, "user", None)


def page_guard() -> None:
    """First line of every page: run only inside dashboard.py's frame.

    Pages are registered with st.navigation; a URL naming a file in pages/ never runs that file
    alone (dashboard.py turns Streamlit's legacy pages/ mode off), and this guard sends any run
    outside the frame to the app's front page all the same."""
    if not getattr(_frame, "active", False):
        st.switch_page(str(db.ROOT / "dashboard.py"))


def scope() -> Scope:
    """The current user's scope: a principal's own school, else the user's unit (or everything),
    read from the snapshot chosen in the sidebar, or (office, live data) with the submitted, not yet
    approved values laid over the approved ones when the sidebar's switch is on. Outside a
    logged-in run nothing is in scope."""
    user = current_user()
    if user is None:
        return Scope(unit_id="", school_id="")
    sc = user.scope.with_snapshot(getattr(_frame, "snapshot", None))
    pending = getattr(_frame, "pending", None)
    if pending is not None and not sc.is_school and sc.snapshot_id is None:
        sc = sc.with_pending(pending)
    return sc


def set_snapshot(snapshot_id: str | None) -> None:
    """The source the page reads (None = live data), chosen by the "Nguồn số liệu" picker."""
    _frame.snapshot = snapshot_id


def set_pending(version: int | None) -> None:
    """Include the schools' submitted, not yet approved values (as of this workflow version) in
    what the page reads; None = approved figures only (the default)."""
    _frame.pending = version


def must_change_password(user) -> bool:
    """Whether the user still has a first (or reset) password to change (read from the shared
    state store on every run, so it holds in every worker)."""
    try:
        return accounts.must_change(db.db_path(), user.user_name)
    except Exception:  # noqa: BLE001 - a store without the table (older) never forces a change
        return False
