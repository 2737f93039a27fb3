"""When the disk says no: one exception, one Vietnamese sentence, the technical cause in the log.

A store that cannot be written (the state store, kpi.store.state, or the analytics file, kpi.store.db) is not
a bug in the request: the disk is full, the file system was remounted read-only, another
writer held the file too long, or the shared PostgreSQL server (kpi.store.state_pg) cannot be
reached. `Store.write()`, `db.writing()` and the writers' lock turn those errors (and only those)
into `StoreUnavailable`, whose text is the sentence every page and the CLI show; the path and the
system's own words go to the server log (logger ``kpi.common.faults``). Every such write fails before
anything changed, so the sentence may promise that nothing was lost.

`point(name)` is the fault-injection hook the crash tests use: a process started with
``KPI_FAULT=<name>`` kills itself (SIGKILL, no clean-up) when it reaches that step. The steps of a
write across both stores (kpi.store.recovery.crossing): ``before_analytics`` (the intent recorded),
``before_swap`` (kpi.store.db.writing: the copy written, not yet swapped in), ``after_analytics`` (the
analytics file written, the store side not yet), ``after_store`` (both done).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sqlite3

log = logging.getLogger("kpi.common.faults")

REASON = {
    "full": "ổ đĩa máy chủ đã đầy",
    "readonly": "ổ đĩa máy chủ đang chỉ cho đọc (hoặc không có quyền ghi)",
    "locked": "máy chủ đang bận ghi việc khác quá lâu",
    "io": "ổ đĩa máy chủ báo lỗi đọc/ghi",
    "unreachable": "không kết nối được máy chủ cơ sở dữ liệu dùng chung (PostgreSQL)",
}
SENTENCE = {kind: f"Không ghi được dữ liệu vì {reason}" for kind, reason in REASON.items()}
NOTHING_LOST = ("; chưa có gì thay đổi, số liệu đã lưu trước đó vẫn còn nguyên. Vui lòng thử lại sau ít phút hoặc "
                "báo quản trị hệ thống.")

# sqlite3.OperationalError / duckdb.IOException texts → kind (lower case, as the libraries word them)
_TEXTS = (
    ("database or disk is full", "full"), ("no space left", "full"), ("disk quota", "full"),
    ("readonly database", "readonly"), ("read-only file system", "readonly"), ("permission denied", "readonly"),
    ("unable to open database", "readonly"), ("attempt to write a readonly", "readonly"),
    ("database is locked", "locked"), ("database table is locked", "locked"), ("could not set lock", "locked"),
    ("disk i/o error", "io"), ("input/output error", "io"),
)
# a PostgreSQL error's SQLSTATE (kpi.store.state_pg; psycopg is never imported here) → kind; a
# connection that failed or broke (no SQLSTATE, or class 08) is 'unreachable'
_SQLSTATES = {"53100": "full", "25006": "readonly", "42501": "readonly", "55P03": "locked", "40001": "locked",
              "40P01": "locked", "53300": "locked", "57014": "locked", "58030": "io", "57P01": "unreachable",
              "57P02": "unreachable", "57P03": "unreachable"}
_ERRNOS = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "readonly", errno.EACCES: "readonly",
           errno.EPERM: "readonly", errno.EIO: "io"}


class StoreUnavailable(Exception):
    """A write refused by the disk or the file (full, read-only, locked too long, I/O error); its
    text is the Vietnamese sentence for the user. `kind` ∈ SENTENCE; `cause` the original error."""

    def __init__(self, kind: str, cause: BaseException | None = None, message: str | None = None):
        self.kind, self.cause = kind, cause
        text = message or SENTENCE.get(kind, SENTENCE["io"]) + NOTHING_LOST
        self.problems = [text]  # as kpi.workflows.entry.EntryError and the pages' other refusals carry theirs
        super().__init__(text)


class ExportError(RuntimeError):
    """A meeting pack or school PDF that cannot be made (no chromium for the charts, a snapshot of
    another round, a school outside the scope); its text is the Vietnamese sentence for the user."""


def kind_of(exc: BaseException) -> str | None:
    """The kind of store failure `exc` is ('full', 'readonly', 'locked', 'io'), or None when it is
    not one (a programming error, a refused value: those keep their own exception)."""
    if isinstance(exc, StoreUnavailable):
        return exc.kind
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        return _ERRNOS[exc.errno]
    if type(exc).__module__.startswith("psycopg"):
        code = getattr(exc, "sqlstate", None)
        if code in _SQLSTATES:
            return _SQLSTATES[code]
        if type(exc).__name__ == "OperationalError" and code is None or (code or "").startswith("08"):
            return "unreachable"
        return None
    is_duck = "duckdb" in type(exc).__module__ and type(exc).__name__ in ("IOException", "PermissionException")
    if isinstance(exc, (sqlite3.OperationalError, OSError)) or is_duck:
        text = str(exc).lower()
        for fragment, kind in _TEXTS:
            if fragment in text:
                return kind
    return None


def read_sentence(kind: str) -> str:
    """The sentence of a read the store refused (a PostgreSQL server that cannot be reached)."""
    return (f"Không đọc được dữ liệu vì {REASON.get(kind, REASON['io'])}. Vui lòng thử lại sau ít phút hoặc báo "
            "quản trị hệ thống.")


def unavailable(exc: BaseException, what: str, path) -> StoreUnavailable | None:
    """`exc` as a StoreUnavailable (logging which file failed and why), or None when it is not a
    store failure."""
    if isinstance(exc, StoreUnavailable):
        return exc
    kind = kind_of(exc)
    if kind is None:
        return None
    log.error("Không ghi được %s %s (%s): %s: %s", what, path, kind, type(exc).__name__, exc)
    return StoreUnavailable(kind, exc)


@contextlib.contextmanager
def guarded(what: str, path):
    """Turn the store failures raised inside into StoreUnavailable (logged); others pass unchanged."""
    try:
        yield
    except Exception as e:
        mapped = unavailable(e, what, path)
        if mapped is None or mapped is e:
            raise
        raise mapped from e


def point(name: str) -> None:
    """The crash tests' hook: die here, at once and without clean-up, when $KPI_FAULT names this step."""
    if os.environ.get("KPI_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
