"""The run slots of a worker: first come, first served, and a run that gives up passes its place on."""

import threading
import time

from pages._frame import FairSlots


def test_waiters_are_served_in_arrival_order():
    slots, order = FairSlots(1), []
    assert slots.enter() is None  # one run computing

    def run(i):
        ticket = slots.enter()
        while ticket is not None and not slots.wait(ticket, 0.03):  # waiting in short steps keeps the place
            pass
        order.append(i)
        time.sleep(0.01)
        slots.release()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    assert slots.waiting == 6
    slots.release()
    for t in threads:
        t.join(5)
    assert order == list(range(6))
    assert slots.enter() is None  # every slot came back


def test_a_run_that_gives_up_leaves_the_queue_or_passes_its_slot():
    slots = FairSlots(1)
    assert slots.enter() is None
    first, second = slots.enter(), slots.enter()
    slots.leave(first)  # its browser went away while waiting
    assert slots.waiting == 1
    slots.release()
    assert second.is_set()  # the next one in line got the slot, not the one that left
    third = slots.enter()
    slots.release()  # handed to `third` ...
    slots.leave(third)  # ... which had already given up: the slot is passed on, not lost
    assert slots.enter() is None


def _enters_at_once(kind: str) -> bool:
    """Whether a run of `kind` gets its slot within 0,2 s (it waits, then leaves, otherwise)."""
    from pages import _frame

    entered = threading.Event()

    def run():
        with _frame.run_slot(kind):
            entered.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    got = entered.wait(0.2)
    return got


def _office_run_holding(release: threading.Event) -> threading.Thread:
    from pages import _frame

    holding = threading.Event()

    def run():
        with _frame.run_slot("office"):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert holding.wait(2)
    return t


def test_an_office_run_never_holds_a_principal_or_a_form_back(monkeypatch):
    """While an office page computes over every school (its slot held), a principal's page and a form
    get theirs at once. Planted: one pool for every kind (as before issue 29): the principal's run waits."""
    from pages import _frame

    monkeypatch.setattr(_frame, "BUSY_AFTER", 30.0)  # no notice drawn (no Streamlit run here)
    for shared in (False, True):
        general = FairSlots(1)
        monkeypatch.setattr(_frame, "_slots", general)
        monkeypatch.setattr(_frame, "_office_slots", general if shared else FairSlots(1))
        release = threading.Event()
        holder = _office_run_holding(release)
        assert _enters_at_once("light")
        assert _enters_at_once("page") is not shared
        assert _enters_at_once("office") is False  # office runs queue among themselves
        release.set()
        holder.join(5)
        time.sleep(0.2)  # the waiting runs get their slot in turn and finish


def test_each_page_is_of_its_kind():
    from types import SimpleNamespace

    from pages._frame import slot_kind

    office, principal = SimpleNamespace(role="lanh_dao"), SimpleNamespace(role="hieu_truong")
    assert slot_kind(office, "Tổng quan") == "office" and slot_kind(principal, "Trường") == "page"
    assert slot_kind(office, "Đổi mật khẩu") == slot_kind(principal, "Đổi mật khẩu") == "light"
    assert slot_kind(SimpleNamespace(role="chuyen_vien"), "Dữ liệu") == "office"
