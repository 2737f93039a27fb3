"""Schools enter their own figures in the app; the Phòng returns or approves them, locks, reopens.

Drafts, submissions and decisions live in the shared state store (kpi.store.state: SQLite in WAL mode
beside the DuckDB file), so a draft saved through one worker is read by every other, survives a
reload, a logout and a restart, and many schools save at once without touching the analytics
file. Every change is one SQLite transaction that checks the move against the workflow
(kpi.domain.workflow), checks the version the writer started from (a save made on an older version is
refused, naming who changed it and when: two people never overwrite each other silently), writes
the entry and its values, bumps the store's workflow version and audits the action (who, when,
what), all or nothing: a versioned, audited record (kpi.workflows.record, as the maturity
assessment is), its statements in kpi/sql/state/entries.sql.

Only approved figures reach the analytics file: `Desk.approve` writes a batch of approved entries
in one DuckDB transaction through the writers' path (kpi.store.db.writing, kpi.imports.importer.write_entries:
as an import writes a file; source 'nhap_lieu', each submission received at the moment the school
submitted), then marks them approved. Decisions of the Phòng hold the DuckDB writers' lock around
their own writes, so an approval and a return of the same school cannot interleave. The approval
records its intent in the store first (kpi.store.recovery): a crash or a refused store write between the
two writes is finished (entries approved, audited) or dropped by the next start or writer.

Values are checked with kpi.domain.checks, the same rules as an imported file: a draft may be saved as
it is (even half-typed), a submission must pass every hard check and explain every soft flag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from dataclasses import field as dc_field

import pandas as pd
import pyarrow as pa

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_int
from kpi.domain import checks, workflow
from kpi.store import db, recovery, state
from kpi.store.queries import ENTRY_TIMES
from kpi.workflows import record
from kpi.workflows.record import REASON_MAX as REASON_MAX  # the pages' limit of a reason
from kpi.workflows.record import local, when

AUDIT = {"luu": "luu_nhap", "nop": "nop_so_lieu", "tra_lai": "tra_lai", "duyet": "duyet",
         "khoa": "khoa_ky", "mo_lai": "mo_lai"}


class EntryError(record.RecordError):
    """A refused action; `problems` says why, each in Vietnamese naming its field when it has one."""


class Conflict(EntryError):
    """The entry changed since the writer read it (another person, or another window)."""


@dataclass
class Entry:
    """One school's figures for one period as the workflow sees them."""

    school_id: str
    school_year: str
    round: str
    state: str                 # effective state (kpi.domain.workflow.effective_state)
    stored: str | None         # the row's state; None = no row yet
    version: int               # 0 = no row yet
    locked: bool
    raw: dict[str, str] = dc_field(default_factory=dict)
    explanations: dict[str, str] = dc_field(default_factory=dict)
    flags: dict[str, tuple[str, ...]] = dc_field(default_factory=dict)
    values: dict[str, float] = dc_field(default_factory=dict)
    updated_at: float | None = None
    updated_by: str | None = None
    submitted_at: float | None = None
    submitted_by: str | None = None
    first_submitted_at: float | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str | None = None
    source: str | None = None

    @property
    def state_label(self) -> str:
        return workflow.STATES[self.state]

    def last_change(self) -> tuple[str | None, float | None]:
        """(who, when) of the latest change: the school's save or submission, or the Phòng's decision."""
        if self.decided_at is not None and (self.updated_at is None or self.decided_at > self.updated_at):
            return self.decided_by, self.decided_at
        return self.updated_by, self.updated_at

    def submission_times(self) -> str:
        """'08:00 14/05/2024' (the first submission: it decides timeliness), with ', nộp lại lúc ...'
        when the school submitted again later."""
        first = self.first_submitted_at if self.first_submitted_at is not None else self.submitted_at
        if self.submitted_at is not None and first is not None and when(self.submitted_at) != when(first):
            return f"{when(first)}, nộp lại lúc {when(self.submitted_at)}"
        return when(first)

    def status_sentence(self) -> str:
        """Where the entry stands, in one Vietnamese sentence."""
        s = self.state
        if s == "chua_nhap":
            return "Trường chưa nhập số liệu kỳ này."
        if s == "nhap":
            return f"Bản nháp, lưu lần cuối lúc {when(self.updated_at)} ({self.updated_by}); chưa nộp."
        if s == "da_nop":
            return f"Đã nộp lúc {self.submission_times()} ({self.submitted_by}); đang chờ Phòng duyệt."
        if s == "tra_lai":
            return f"Phòng đã trả lại lúc {when(self.decided_at)} ({self.decided_by}): sửa rồi nộp lại."
        if s == "da_duyet":
            return f"Đã được Phòng duyệt lúc {when(self.decided_at)} ({self.decided_by})."
        if self.stored is None or self.stored in ("chua_nhap", "nhap"):
            return ("Kỳ này không còn mở để nhập (đã khóa, hoặc không phải kỳ đang mở). Cần sửa số liệu: "
                    "liên hệ Phòng để mở lại.")
        return "Số liệu kỳ này đã được duyệt và khóa. Cần sửa: liên hệ Phòng để mở lại."


def open_period(periods: pd.DataFrame) -> tuple[str, str] | None:
    """The period schools enter now: the newest one (kpi.store.queries.periods lists newest first)."""
    if periods is None or periods.empty:
        return None
    first = periods.iloc[0]
    return str(first["school_year"]), str(first["round"])


_ENTRY_COLUMNS = ("state", "version", "updated_at", "updated_by", "submitted_at", "submitted_by", "first_submitted_at",
                  "decided_at", "decided_by", "reason", "source")  # entries.get's columns


def _read(con, school_id: str, year: str, rnd: str, open_: tuple | None) -> Entry:
    key = {"school_id": school_id, "school_year": year, "round": rnd}
    row = con.execute(state.sql("entries.get"), key).fetchone()
    locked = con.execute(state.sql("entries.locked"), key).fetchone() is not None
    stored = row[0] if row else None
    e = Entry(school_id, year, rnd, workflow.effective_state(stored, (year, rnd) == open_, locked), stored,
              row[1] if row else 0, locked)
    if row:
        for k, v in zip(_ENTRY_COLUMNS[2:], row[2:]):
            setattr(e, k, v)
    for code, raw, value, flags, expl in con.execute(state.sql("entries.values"), key):
        if raw not in (None, ""):
            e.raw[code] = raw
        if value is not None:
            e.values[code] = value
        if flags:
            e.flags[code] = tuple(flags.split(","))
        if expl:
            e.explanations[code] = expl
    return e


def _move(state_: str, action: str, role: str) -> str:
    """kpi.domain.workflow.next_state, refusing with an EntryError (everything a Desk refuses is one)."""
    try:
        return workflow.next_state(state_, action, role)
    except workflow.Refused as e:
        raise EntryError(str(e)) from None


@dataclass
class Desk(record.RecordDesk):
    """Where one user reads and changes entries: the database file and its state store, the
    catalog, the schools of the user's scope (school id → cấp học) and the period open for entry.
    Every action checks that its school is among `schools`, so no request reaches another school."""

    open_period: tuple[str, str] | None
    names: dict[str, str] = dc_field(default_factory=dict)

    COUNTER = "workflow"
    Error, Conflict = EntryError, Conflict

    # ---- reading -----------------------------------------------------------------------------

    def entry(self, school_id: str, year: str, rnd: str) -> Entry:
        """The school's entry (an empty one when it has none)."""
        if school_id not in self.schools:
            raise EntryError("Bạn không có quyền xem số liệu của trường này.")
        with self.store.reading() as con:
            return _read(con, school_id, year, rnd, self.open_period)

    def for_period(self, schools: pd.DataFrame) -> "Desk":
        """This desk for deciding one period: `schools` (kpi.store.queries.school_list of that period: a
        school closed since then included) are added, so that a closed school's waiting submission
        can still be approved or returned, and locking the period locks it too."""
        levels = dict(zip(schools["school_id"], schools["level"]))
        names = dict(zip(schools["school_id"], schools["name"]))
        return replace(self, schools={**self.schools, **levels}, names={**self.names, **names})

    # ---- the school --------------------------------------------------------------------------

    def _guard(self, user, school_id: str) -> None:
        self.refuse_outside(user, school_id, "Bạn không có quyền với số liệu của trường này: mỗi tài khoản trường "
                            "chỉ nhập và nộp số liệu của trường mình.")

    def save(self, user, school_id: str, year: str, rnd: str, raw: dict, explanations: dict, version: int,
             previous: dict[str, float] | None = None, previous_label: str = "kỳ trước", submit: bool = False,
             source: str = "form", now: float | None = None) -> Entry:
        """Save the school's draft (`submit`: and submit it), from the `version` the writer read.

        A draft is saved as typed; a submission must pass every hard check and explain every soft
        flag (EntryError lists what is missing, naming each field). A stale `version` raises
        Conflict naming who changed the entry and when; nothing is written."""
        self._guard(user, school_id)
        level = self.schools[school_id]
        cat = self.catalog
        applicable = {f.code for f in cat.fields_for(level)}
        raw = {k: str(v).strip() for k, v in raw.items() if k in applicable and not checks.blank(v)}
        explanations = {k: str(v).strip() for k, v in explanations.items() if k in applicable and not checks.blank(v)}
        result = checks.check_form(raw, explanations, level, cat, previous or {}, previous_label, final=submit)
        if submit and not result.can_submit:
            raise EntryError("Chưa nộp được: còn lỗi cần sửa.", result.messages(cat))
        too_long = [f"{cat.fields[k].label_vi}: {m}" for k, m in result.explanation_problems.items()
                    if len(explanations.get(k, "")) > cat.checks.explain_max]
        if too_long:
            raise EntryError("Chưa lưu được: giải thích quá dài.", too_long)
        action = "nop" if submit else "luu"
        now = time.time() if now is None else now
        key = {"school_id": school_id, "school_year": year, "round": rnd}
        with self.change() as con:
            cur = _read(con, school_id, year, rnd, self.open_period)
            nxt = _move(cur.state, action, user.role)
            self.check_version(version, cur.version, lambda: _conflict_text(cur, user))
            first = cur.first_submitted_at if cur.first_submitted_at is not None else (now if submit else None)
            con.execute(state.sql("entries.save"), {
                **key, "state": nxt, "version": cur.version + 1, "now": now, "user_name": user.user_name,
                "submitted_at": now if submit else cur.submitted_at,
                "submitted_by": user.user_name if submit else cur.submitted_by, "first_submitted_at": first,
                "decided_at": cur.decided_at, "decided_by": cur.decided_by, "reason": cur.reason, "source": source})
            con.execute(state.sql("entries.values_clear"), key)
            con.executemany(state.sql("entries.value_add"), [
                {**key, "field_code": code, "raw": raw.get(code),
                 "value": result.values.get(code) if code not in result.problems else None,
                 "flags": ",".join(result.flag_codes(code)) or None, "explanation": explanations.get(code)}
                for code in cat.fields if code in raw or code in explanations])
            state.audit_in(con, AUDIT[action], user.user_name, {
                "truong": school_id, "ky": f"{year} {rnd}", "phien_ban": cur.version + 1, "gia_tri": len(raw),
                "canh_bao": sum(len(v) for v in result.flags.values()), "nguon": source}, now=now)
            return _read(con, school_id, year, rnd, self.open_period)

    # ---- the office --------------------------------------------------------------------------

    def _decide(self, user, school_id: str, year: str, rnd: str, action: str, version: int | None,
                reason: str | None = None, now: float | None = None) -> Entry:
        """One decision on one school (return, reopen), under the writers' lock."""
        self._guard(user, school_id)
        reason = self.reason(reason, workflow.ACTIONS[action]) if action in workflow.NEEDS_REASON else None
        now = time.time() if now is None else now
        key = {"school_id": school_id, "school_year": year, "round": rnd}
        with self.change(decision=True) as con:
            cur = _read(con, school_id, year, rnd, self.open_period)
            nxt = _move(cur.state, action, user.role)
            self.check_version(version, cur.version, lambda: _conflict_text(cur, user))
            if cur.stored is None:
                con.execute(state.sql("entries.start"), {**key, "state": nxt, "now": now, "user_name": user.user_name})
            con.execute(state.sql("entries.decide"), {**key, "state": nxt, "now": now, "user_name": user.user_name,
                                                      "reason": reason})
            state.audit_in(con, AUDIT[action], user.user_name, {"truong": school_id, "ky": f"{year} {rnd}",
                                                                "ly_do": reason, "phien_ban": cur.version + 1}, now=now)
            return _read(con, school_id, year, rnd, self.open_period)

    def send_back(self, user, school_id: str, year: str, rnd: str, version: int, reason: str,
                  now: float | None = None) -> Entry:
        """Return a submission to the school with a reason it sees (trả lại)."""
        return self._decide(user, school_id, year, rnd, "tra_lai", version, reason, now)

    def reopen(self, user, school_id: str, year: str, rnd: str, reason: str, now: float | None = None) -> Entry:
        """Reopen an approved or locked school so that it can correct its figures (mở lại)."""
        return self._decide(user, school_id, year, rnd, "mo_lai", None, reason, now)

    def approve(self, user, items: list[tuple[str, int]], year: str, rnd: str, now: float | None = None) -> str:
        """Approve a batch of submissions (school id, version read): every value written to the
        analytics file in one transaction, then the entries marked approved; all or nothing.
        Refused whole, naming each school, when one cannot be approved."""
        _move("da_nop", "duyet", user.role)  # only the office approves
        if not items:
            raise EntryError("Chưa chọn bài nộp nào để duyệt.")
        for sid, _ in items:
            self._guard(user, sid)
        cat = self.catalog
        now = time.time() if now is None else now
        with db.writer_lock(self.path):
            recovery.repair(self.path, self.store)  # an approval a crash left half-done is finished first
            with self.store.reading() as con:
                current = {sid: _read(con, sid, year, rnd, self.open_period) for sid, _ in items}
            problems, rows, received = [], [], {}
            for sid, version in items:
                e, name = current[sid], self.names.get(sid, sid)
                try:
                    workflow.next_state(e.state, "duyet", user.role)
                except workflow.Refused as why:
                    problems.append(f"{name}: {why}")
                    continue
                if e.version != version:
                    problems.append(f"{name}: {_conflict_text(e, user)}")
                    continue
                level = self.schools[sid]
                for f in cat.fields_for(level):
                    x, why = checks.parse(f, e.raw.get(f.code), cat)
                    if why:
                        problems.append(f"{name}: {f.label_vi}: {why}")
                    elif x is not None:
                        rows.append((sid, year, rnd, f.code, x))
                got = {code: x for s, _, _, code, x in rows if s == sid}
                problems += [f"{name}: {cat.fields[c].label_vi}: {m}" for c, m in checks.pair_problems(got, cat)]
                received[(sid, year, rnd)] = local(e.first_submitted_at or e.submitted_at or now)
            if problems:
                raise EntryError("Chưa duyệt được: " + problems[0], problems)

            more = f" và {len(items) - 5} trường khác" if len(items) > 5 else ""
            label = ", ".join(sid for sid, _ in items[:5]) + more
            keys = {"year": year, "round": rnd, "now": now, "items": [[sid, v] for sid, v in items]}
            # intent first, then the analytics file, then the store side: kpi.store.recovery finishes or drops it
            # deferred: the importer brings the workbook reader (openpyxl), not needed by every worker
            from kpi.imports import importer

            with recovery.crossing(self.store, self.path, "duyet", user.user_name, keys) as crossing:
                with db.writing(self.path) as con:
                    import_id, changed = importer.write_entries(
                        con, rows, sorted(received), received, user.user_name,
                        f"Duyệt số liệu nhập trên ứng dụng {year} {rnd}: {label}", local(now), cat)
                    crossing.landed(con, {"import_id": import_id, "changed": changed})
        return (f"Đã duyệt {fmt_int(len(items))} trường (lần nhập #{import_id}): {fmt_int(changed)} giá trị mới hoặc "
                "thay đổi trong số liệu toàn đơn vị.")

    def lock(self, user, year: str, rnd: str, now: float | None = None) -> str:
        """Lock a period for every school of the user's scope (khóa kỳ): approved entries become
        locked, and nothing more is entered until the Phòng reopens a school. Refused while a
        submission waits for a decision."""
        _move("da_duyet", "khoa", user.role)  # only the office locks
        now = time.time() if now is None else now
        period = {"school_year": year, "round": rnd}
        with self.change(decision=True) as con:
            stored = {sid: st for sid, st in con.execute(state.sql("entries.period_states"), period)
                      if sid in self.schools}
            waiting = sorted(self.names.get(s, s) for s, st in stored.items() if st == "da_nop")
            if waiting:
                shown = ", ".join(waiting[:5]) + ("…" if len(waiting) > 5 else "")
                raise EntryError(f"Chưa khóa được kỳ {year} {rnd}: còn {len(waiting)} trường đã nộp đang chờ duyệt "
                                 f"({shown}); duyệt hoặc trả lại trước khi khóa.")
            drafts = sum(1 for st in stored.values() if st == "nhap")
            con.executemany(state.sql("entries.lock_add"), [
                {"school_id": sid, **period, "now": now, "user_name": user.user_name} for sid in self.schools])
            con.execute(state.sql("entries.lock_approved"), period)
            state.audit_in(con, AUDIT["khoa"], user.user_name, {"ky": f"{year} {rnd}", "truong": len(self.schools),
                                                               "nhap_chua_nop": drafts}, now=now)
        more = f"; {drafts} bản nháp chưa nộp không còn sửa được (cần Phòng mở lại)" if drafts else ""
        return f"Đã khóa kỳ {year} {rnd} cho {fmt_int(len(self.schools))} trường{more}."


def _conflict_text(cur: Entry, user) -> str:
    """'Nội dung đã được <who> sửa lúc <when> …': the latest change, by the school or the Phòng."""
    by, at = cur.last_change()
    who = "bạn (ở một cửa sổ khác)" if by == user.user_name else (by or "người khác")
    return (f"Nội dung đã được {who} sửa lúc {when(at)} (trạng thái: {cur.state_label}); tải lại để xem. Thay đổi "
            "của bạn chưa được lưu.")


def values_from_file(name: str, data: bytes, school_id: str, year: str, rnd: str, con,
                     catalog: Catalog) -> tuple[dict[str, str], list[str]]:
    """The values a school's filled template (XLSX or CSV) holds for one period, as the form shows
    them, read and checked exactly as an import reads and checks a file: (values, problems). Rows
    of another school or period are refused (this page takes only the school's own figures); the
    self-assessment sheet is not read here."""
    # deferred: the importer brings the workbook reader (openpyxl, 7 MB), only in a worker that reads a file
    from kpi.imports import importer

    try:
        sheets = importer.read(name, data, catalog)
    except importer.Refused as e:
        return {}, [str(importer.Problem(name, e.sheet, None, "", None, e.message))]
    parsed = importer.check(name, sheets, importer.facts(con), catalog)
    if parsed.problems:
        return {}, [str(p) for p in parsed.problems]
    mine = [(code, x) for s, y, r, code, x in parsed.observations if (s, y, r) == (school_id, year, rnd)]
    others = sorted({f"{s} {y} {r}" for s, y, r, *_ in parsed.observations} - {f"{school_id} {year} {rnd}"})
    if others:
        return {}, [(f"{name}: tệp có số liệu của trường hoặc kỳ khác ({', '.join(others[:5])}); trang này chỉ nhận "
                     f"số liệu của trường {school_id}, kỳ {year} {rnd}: xóa các dòng đó rồi tải lại")]
    if not mine:
        return {}, [f"{name}: không có dòng số liệu nào của trường {school_id}, kỳ {year} {rnd}"]
    return {code: checks.shown_value(catalog.fields[code], x) for code, x in mine}, []


# ---- what other views read: the entries of a period, the pending values -------------------------

def entry_times(store: state.Store | None, year: str, rnd: str, open_: tuple | None) -> pa.Table:
    """One row per school with an entry or a lock in the period: its effective state and version,
    first and latest submission (Vietnamese wall-clock time), the Phòng's latest decider and reason, and how
    many of its values set off a soft check / were explained. What kpi/sql/submission_status.sql
    reads beside the analytics file's submissions."""
    if store is None:
        return ENTRY_TIMES.empty_table()
    return _times_table(store.read(state.sql("entries.times"), {"school_year": year, "round": rnd, "school_id": None}),
                        (year, rnd) == open_)


def school_entry_times(store: state.Store, school_id: str, year: str, rnd: str, open_: tuple | None) -> pa.Table:
    """`entry_times` of one school (one row, or none): read each time a scorecard is drawn, since it
    changes only when that school's own entry does (the whole period's changes with every save)."""
    return _times_table(store.read(state.sql("entries.times"),
                                   {"school_id": school_id, "school_year": year, "round": rnd}), (year, rnd) == open_)


def _times_table(rows, is_open: bool) -> pa.Table:
    data = [(sid, workflow.effective_state(st, is_open, bool(lk)), v, local(first), local(sub), by, reason, fl, ex)
            for sid, st, v, first, sub, by, reason, fl, ex, lk in rows]
    columns = list(zip(*data)) if data else [()] * len(ENTRY_TIMES)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, ENTRY_TIMES)], schema=ENTRY_TIMES)


_PENDING = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string()),
                      ("field_code", pa.string()), ("value", pa.float64()), ("import_id", pa.int64())])
_PENDING_SUBS = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string()),
                           ("received_at", pa.timestamp("us")), ("source", pa.string()), ("import_id", pa.int64())])


def pending_tables(store: state.Store | None) -> tuple[pa.Table, pa.Table]:
    """(observations, submissions) of every submission waiting for the Phòng's decision, in the
    columns of the analytics file's tables (import_id -1): what "including submitted, not yet
    approved" lays over the approved figures (kpi.store.source.Source.pending)."""
    if store is None:
        return _PENDING.empty_table(), _PENDING_SUBS.empty_table()
    obs = store.read(state.sql("entries.pending_values"))
    subs = store.read(state.sql("entries.pending_submissions"))
    o = [r + (-1,) for r in obs]
    s = [(a, b, c, local(t), "nhap_lieu", -1) for a, b, c, t in subs]

    def table(rows, schema):
        cols = list(zip(*rows)) if rows else [()] * len(schema)
        return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)
    return table(o, _PENDING), table(s, _PENDING_SUBS)


def flagged_values(store: state.Store | None, year: str, rnd: str) -> pd.DataFrame:
    """Every value of the period's entries that set off a soft check: school_id, state, field_code,
    value, flags (rule codes), explanation. For the review queue and the data-quality view."""
    cols = ["school_id", "state", "field_code", "value", "flags", "explanation"]
    if store is None:
        return pd.DataFrame(columns=cols)
    rows = store.read(state.sql("entries.flagged"), {"school_year": year, "round": rnd})
    return pd.DataFrame(rows, columns=cols)


def audit_rows(store: state.Store, limit: int = 200) -> pd.DataFrame:
    """The workflow's audit, newest first: when, who, what, school, period, detail."""
    rows = record.audit_of(store, (*AUDIT.values(), "tu_choi", "nop_tep"), limit)
    return pd.DataFrame(rows, columns=["at", "user_name", "action", "detail"])
