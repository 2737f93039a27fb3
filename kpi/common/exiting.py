"""Background threads that touch DuckDB end before the interpreter finalizes.

A daemon thread still inside DuckDB when Python finalizes is ended by the interpreter as it tries to
take the lock back (pthread_exit); DuckDB's C++ catches that unwinding and the process aborts
("terminate called … FATAL: exception not rethrown", exit 134), after all the work is done: a server
stopping, a CLI run ending, a test run passing. Every such thread is registered here with how to stop
it; at exit (atexit runs while daemon threads still run normally) each is told to stop, then waited for.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import Callable

WAIT_S = 15.0  # the longest the exit waits for all of them together

_THREADS: list[tuple[threading.Thread, Callable[[], None] | None]] = []
_LOCK = threading.Lock()
_EXITING = False


def stop_at_exit(thread: threading.Thread, stop: Callable[[], None] | None = None) -> threading.Thread:
    """Register a started (or about to start) thread: at exit `stop()` is called (None: the thread ends
    by itself, e.g. a warm-up), then the thread is waited for."""
    with _LOCK:
        _THREADS[:] = [(t, s) for t, s in _THREADS if t.is_alive() or not t.ident]  # drop the ended ones
        _THREADS.append((thread, stop))
    return thread


def stop_all(wait_s: float = WAIT_S) -> list[threading.Thread]:
    """Stop every registered thread and wait for them (together at most `wait_s`), also the ones they
    start meanwhile; the ones still running."""
    global _EXITING
    _EXITING = True
    deadline = time.monotonic() + wait_s
    left: list[threading.Thread] = []
    while True:
        with _LOCK:
            threads = list(_THREADS)
            _THREADS.clear()
        if not threads:
            return left
        for _, stop in threads:
            if stop is not None:
                stop()
        for t, _ in threads:
            if t.ident and t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        left += [t for t, _ in threads if t.is_alive()]


def exiting() -> bool:
    """Whether the process is ending (no new background work should start)."""
    return _EXITING


atexit.register(stop_all)
