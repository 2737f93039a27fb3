"""Work in a forked child of this process: its own share of the CPU, not a thread's share of the interpreter.

A Streamlit worker runs every session's page in threads of one interpreter. Under a deadline rush a long
job in one more thread (the meeting pack's writers: 6 s of CPU when the machine is quiet) gets a few
tenths of a core and took 20 s (issue 29). A forked child (`start`) has the worker's memory as it was
(the pack, the modules: nothing to import, nothing to pickle on the way in; the pages it does not write
stay shared) and is scheduled by the kernel as a process of its own; what it returns, and the messages
it sends on the way (`send`), come back through a pipe, each a length-prefixed pickle.

The child takes care of what a copy of a threaded server must not touch: it runs only the function it
was given (the other threads are not in it, and any lock they held stays held: the function must not
take locks the server's threads share, such as the view models' cache), it freezes the garbage
collector's view of the inherited objects (a collection would otherwise write to every page of them,
and each written page is a private copy), it dies with the thread that started it (`death_signal`), and
it leaves with `os._exit` (no handler of the server runs twice). `call` is the one-shot form
(kpi.serving.supervise.in_child: a file's checks before a start).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import select
import signal
import struct
import time
from pathlib import Path

PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15
_libc = None
_HEADER = struct.Struct(">Q")


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def death_signal(sig: int = signal.SIGKILL):
    """A `preexec_fn` for Popen (or a call right after a fork): the child gets `sig` when this process (in
    Linux's words: the thread that forked it) dies, `kill -9` included, and gets it at once when that is
    already gone by the time it is armed. None where there is no /proc (nothing to arm)."""
    if not Path("/proc/self").exists():
        return None
    libc, parent = _c(), os.getpid()

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os.kill(os.getpid(), sig)

    return arm


class ChildDied(RuntimeError):
    """The child ended without an answer (killed, out of memory, or silent for longer than allowed)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


def available() -> bool:
    """Whether work can be forked here (Linux and the like)."""
    return hasattr(os, "fork") and Path("/proc/self").exists()


class Child:
    """A forked child running `fn(send, *args)`; `gather` reads what it sends, `result()` what it returned.

    `own_session`: the child leaves its parent's session. Where the kernel shares the CPU between sessions
    first (Linux's autogroup, on by default in Debian's kernels) a child in the worker's session shares the
    worker's part with every thread serving its pages; in its own session it is a job of its own (the
    meeting pack's writers: 9 s in the worker's session under a rush)."""

    def __init__(self, fn, *args, name: str = "kpi-child", own_session: bool = False):
        arm = death_signal(signal.SIGKILL)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(r)
                gc.freeze()  # the inherited objects: never traversed, so never copied by a collection here
                if own_session:
                    os.setsid()
                if arm is not None:
                    arm()
                with contextlib.suppress(Exception):
                    _c().prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
                out = os.fdopen(w, "wb")

                def send(message) -> None:
                    data = pickle.dumps(("message", message), protocol=pickle.HIGHEST_PROTOCOL)
                    out.write(_HEADER.pack(len(data)) + data)
                    out.flush()

                try:
                    answer = ("result", fn(send, *args))
                except BaseException as e:  # noqa: BLE001 - handed to the parent, raised there
                    answer = ("error", _portable(e))
                data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
                out.write(_HEADER.pack(len(data)) + data)
                out.flush()
            except BaseException:  # noqa: BLE001 - the parent sees the answer missing
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        self.pid, self.name, self._fd = pid, name, r
        self._buffer = bytearray()
        self._answer = None
        self._status: int | None = None

    def fileno(self) -> int:
        return self._fd

    def _read_some(self) -> bool:
        """Read what the pipe holds now into the buffer; False at its end."""
        chunk = os.read(self._fd, 1 << 20)
        self._buffer += chunk
        return bool(chunk)

    def _frames(self):
        while len(self._buffer) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + n:
                return
            kind, value = pickle.loads(bytes(self._buffer[_HEADER.size:_HEADER.size + n]))
            del self._buffer[:_HEADER.size + n]
            if kind == "message":
                yield value
            else:
                self._answer = (kind, value)

    def poll(self) -> tuple[list, bool]:
        """(the messages now complete, whether the child's pipe is at its end); call when readable."""
        more = self._read_some()
        got = list(self._frames())
        if not more:
            self._end()
        return got, not more

    @property
    def finished(self) -> bool:
        return self._status is not None

    def _end(self) -> None:
        if self._status is None:
            os.close(self._fd)
            _, self._status = os.waitpid(self.pid, 0)

    def kill(self) -> None:
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._end()

    def result(self):
        """What `fn` returned; its exception raised here; ChildDied when the child ended without an answer."""
        if self._answer is None:
            code = os.waitstatus_to_exitcode(self._status) if self._status is not None else None
            raise ChildDied(f"tiến trình con {self.name} dừng bất thường (mã {code})", code)
        kind, value = self._answer
        if kind == "error":
            raise value
        return value


def _portable(e: BaseException) -> BaseException:
    """The exception itself when it survives a pickle round trip, else a RuntimeError with its message."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001 - not picklable: its words are enough
        return RuntimeError(str(e) or type(e).__name__)


def gather(children: list[Child], on_message=None, stall: float | None = None) -> None:
    """Read every child until each has ended, calling `on_message(child, message)` as messages come. A child
    silent for `stall` seconds (no message, no end) is killed; its `result()` then raises ChildDied."""
    live = {c.fileno(): c for c in children if not c.finished}
    heard = {fd: time.monotonic() for fd in live}
    while live:
        wait = None if stall is None else max(0.0, min(heard[fd] + stall for fd in live) - time.monotonic())
        ready, _, _ = select.select(list(live), [], [], wait)
        now = time.monotonic()
        for fd in ready:
            c = live[fd]
            messages, ended = c.poll()
            heard[fd] = now
            for m in messages:
                if on_message:
                    on_message(c, m)
            if ended:
                del live[fd]
        if stall is not None:
            for fd in [fd for fd in live if now - heard[fd] > stall]:
                live.pop(fd).kill()


def call(fn, *args, name: str = "kpi-child"):
    """`fn(*args)` in a forked child; what it returned (picklable), or its exception raised here."""
    child = Child(lambda send, *a: fn(*a), *args, name=name)
    gather([child])
    return child.result()
