"""The versioned, audited record that the schools' entries and the maturity assessment share.

A school's figures of a period (kpi.workflows.entry) and its self-assessment of a school year
(kpi.workflows.assessment) are the same kind of thing: one record per school × period in the state
store (kpi.store.state), with a state moved only by a workflow table (kpi.domain.workflow), a
version +1 at every change (a save made on an older version is refused as a Conflict, nothing
written), the office's decisions with a reason the school sees, and an audit row written in the
transaction of the change, which also bumps the store's named version that readers cache by.

`RecordDesk` is that common part: the scope check (refused and audited when a school is outside
the user's scope, or not the own school of a school account), the change transaction, the version
check and the reason of a decision. Each workflow subclasses it with its own tables, states and
Vietnamese sentences.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.access import SCHOOL_ROLES
from kpi.store import db, state

VN = dt.timezone(dt.timedelta(hours=7))  # Việt Nam keeps UTC+7 all year
REASON_MIN, REASON_MAX = 5, 500


def local(ts: float | None) -> dt.datetime | None:
    """A stored moment (seconds since the epoch) as Vietnamese wall-clock time, without a zone (as
    the analytics file keeps its times)."""
    if ts is None or pd.isna(ts):  # None or NaN (a frame's missing value)
        return None
    return dt.datetime.fromtimestamp(ts, VN).replace(tzinfo=None)


def when(ts: float | None) -> str:
    """'10:32 02/06/2024' (Vietnamese wall-clock time); '—' for no moment."""
    t = local(ts)
    return "—" if t is None else t.strftime("%H:%M %d/%m/%Y")


class RecordError(Exception):
    """A refused action; `problems` says why, each in Vietnamese (naming its field or criterion when
    it has one). Each workflow refuses with its own subclass."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or [message]
        super().__init__(message)


@dataclass
class RecordDesk:
    """Where one user reads and changes one workflow's records: the analytics file and its state
    store, the catalog and the schools of the user's scope (school id → cấp học)."""

    path: Path
    store: state.Store
    catalog: Catalog
    schools: dict[str, str]

    COUNTER: ClassVar[str]                   # the store's named version of this workflow's tables
    Error: ClassVar[type[RecordError]]       # what it refuses with
    Conflict: ClassVar[type[RecordError]]    # what a save on an older version raises

    def in_scope(self, user, school_id: str) -> bool:
        """Whether the school is in the user's scope (for a school account: its own school only)."""
        return school_id in self.schools and (user.role not in SCHOOL_ROLES or user.school_id == school_id)

    def refuse_outside(self, user, school_id: str, message: str, detail: dict | None = None) -> None:
        """Unless the school is in scope: audit the refusal ('tu_choi', with `detail`) and raise."""
        if not self.in_scope(user, school_id):
            self.store.audit("tu_choi", user.user_name, {"truong": school_id, **(detail or {}),
                                                         "ly_do": "ngoai_pham_vi"})
            raise self.Error(message)

    @contextlib.contextmanager
    def change(self, decision: bool = False):
        """One change: a store write transaction that bumps this workflow's version when the body
        ends well (the body writes the record and its audit row, `state.audit_in`). `decision`: the
        office's, taken under the analytics file's writers' lock (so that it never interleaves with
        a write of the same school there: an approval, a publication)."""
        with db.writer_lock(self.path) if decision else contextlib.nullcontext(), self.store.write() as con:
            yield con
            state.bump(con, self.COUNTER)

    def check_version(self, seen: int | None, current: int, message) -> None:
        """Refuse with Conflict(message()) when the writer read another version (`seen` None: not checked)."""
        if seen is not None and seen != current:
            raise self.Conflict(message())

    def reason(self, text: str | None, action_label: str) -> str:
        """The reason of a decision the school sees (trimmed), within REASON_MIN..REASON_MAX characters."""
        text = (text or "").strip()
        if len(text) < REASON_MIN:
            raise self.Error(f"Cần ghi lý do {action_label} để trường biết cần sửa gì (ít nhất {REASON_MIN} ký tự).")
        if len(text) > REASON_MAX:
            raise self.Error(f"Lý do quá dài (tối đa {REASON_MAX} ký tự).")
        return text

    def version(self) -> int:
        """This workflow's version: bumped by every change (readers cache by it)."""
        return self.store.counter(self.COUNTER)


def audit_of(store: state.Store, actions, limit: int, statement: str = "audit.of_actions") -> list[tuple]:
    """(at, user_name, action, detail) of the audit rows of `actions`, newest first."""
    return store.read(state.sql(statement), {"actions": json.dumps(list(actions)), "limit": limit})
