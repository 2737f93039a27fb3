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
