"""The yearly maturity assessment (đánh giá mức độ chuyển đổi số), in the app (issue 19).

    chưa bắt đầu ──lưu──► nháp ──nộp──► đã nộp ──duyệt──► đã duyệt ──công bố──► đã công bố
         └──────────nộp──────────────────┘ │  │                │
                                            │  └─xác nhận điểm─┘ (the office verifies or changes
                                            │                     points, with a comment; stays đã nộp)
                                            └──trả lại──► trả lại ◄──mở lại── đã duyệt
                                              (lưu, nộp again)

A principal assesses the own school criterion by criterion (points, a note, evidence files), with
the points the school's reported data already earn shown as the suggestion (kpi.domain.scoring's
computed points, with the figures used), and submits before the office's deadline (a late
submission is accepted and counted late). The office verifies or changes points with a comment,
returns the assessment naming criteria and a reason, or approves it (every criterion without a
verified value takes the school's points as verified). The office then publishes the year: every
approved school's final points are written to the analytics file's criterion entries
(self_points / verified_points, the precedence kpi.domain.scoring already applies) through the single
writer, and frozen with a content hash in `publications` / `publication_scores` (kpi/sql/schema.sql);
a later publication of the same year supersedes it, earlier years keep theirs.

Self-assessments, verifications, comments, the evidence files (kpi.workflows.evidence_files: bytes
as BLOBs: they travel with the store's backup, are written in the same transaction as their
metadata and audit row, and no file name of a user ever becomes a path) and the state live in the
shared state store (kpi.store.state; statements in kpi/sql/state/assessments.sql). An assessment is
a versioned, audited record (kpi.workflows.record, as a school's entry is): every action checks its
school against the user's scope (a principal reaches the own school only), validates its input
before writing anything (Vietnamese messages), bumps the store's 'assessment' counter, and is
audited in the same transaction. What the pages read besides the records (the running result, the
audit in words) is kpi.workflows.assessment_read.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from dataclasses import dataclass
from dataclasses import field as dc_field

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_date, fmt_points
from kpi.domain.workflow import StateMachine
from kpi.store import db, recovery, state
from kpi.workflows import evidence_files, publication, record
from kpi.workflows.assessment_read import AUDIT_LABELS as AUDIT_LABELS  # the pages' names, kept here
from kpi.workflows.assessment_read import audit_table as audit_table
from kpi.workflows.assessment_read import how_scored as how_scored
from kpi.workflows.assessment_read import progress_sentence as progress_sentence
from kpi.workflows.assessment_read import running_result as running_result
from kpi.workflows.assessment_read import scored_criteria
from kpi.workflows.evidence_files import ALLOWED_TEXT as ALLOWED_TEXT  # the pages' names of the evidence rules
from kpi.workflows.evidence_files import KINDS, Evidence, safe_name
from kpi.workflows.evidence_files import MAX_FILE as MAX_FILE
from kpi.workflows.evidence_files import MAX_SCHOOL as MAX_SCHOOL
from kpi.workflows.record import REASON_MAX, REASON_MIN, VN, when

# ---- the workflow, as data -------------------------------------------------------------------------

STATES = {
    "chua_bat_dau": "chưa bắt đầu",
    "nhap": "đang tự đánh giá (nháp)",
    "da_nop": "đã nộp, chờ Phòng xét duyệt",
    "tra_lai": "Phòng đã trả lại",
    "da_duyet": "đã được duyệt",
    "da_cong_bo": "đã công bố",
}
ACTIONS = {
    "luu": "lưu nháp",
    "nop": "nộp bản tự đánh giá",
    "xac_nhan": "xác nhận điểm",
    "tra_lai": "trả lại",
    "duyet": "duyệt",
    "cong_bo": "công bố",
    "mo_lai": "mở lại",
}
PRINCIPAL = frozenset({"hieu_truong"})  # the self-assessment is the principal's (not the data-entry account's)
OFFICE = frozenset({"chuyen_vien"})

# (state, action) → (next state, roles that may do it). Nothing else moves.
TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset]] = {
    ("chua_bat_dau", "luu"): ("nhap", PRINCIPAL),
    ("nhap", "luu"): ("nhap", PRINCIPAL),
    ("tra_lai", "luu"): ("tra_lai", PRINCIPAL),
    ("chua_bat_dau", "nop"): ("da_nop", PRINCIPAL),
    ("nhap", "nop"): ("da_nop", PRINCIPAL),
    ("tra_lai", "nop"): ("da_nop", PRINCIPAL),
    ("da_nop", "xac_nhan"): ("da_nop", OFFICE),
    ("da_nop", "tra_lai"): ("tra_lai", OFFICE),
    ("da_nop", "duyet"): ("da_duyet", OFFICE),
    ("da_duyet", "cong_bo"): ("da_cong_bo", OFFICE),
    ("da_duyet", "mo_lai"): ("tra_lai", OFFICE),
}
NEEDS_REASON = frozenset({"tra_lai", "mo_lai"})

_WHY = {
    "chua_bat_dau": "trường chưa bắt đầu tự đánh giá",
    "nhap": "bản tự đánh giá mới là nháp, trường chưa nộp",
    "da_nop": "bản tự đánh giá đã nộp, đang chờ Phòng xét duyệt",
    "tra_lai": "Phòng đã trả lại, đang chờ trường sửa và nộp lại",
    "da_duyet": "bản tự đánh giá đã được duyệt; cần Phòng mở lại để sửa",
    "da_cong_bo": "kết quả năm học đã công bố và không còn thay đổi",
}


class AssessmentError(record.RecordError):
    """A refused action; `problems` says why, each in Vietnamese (naming its criterion when it has one)."""


class Conflict(AssessmentError):
    """The assessment changed since the writer read it."""


# the cycle's table, run by the same engine as the period entries' (kpi.domain.workflow.StateMachine)
MACHINE = StateMachine(STATES, ACTIONS, TRANSITIONS, _WHY, AssessmentError)
allowed, next_state, actions_for = MACHINE.allowed, MACHINE.next_state, MACHINE.actions_for


# ---- evidence files (kpi.workflows.evidence_files) -------------------------------------------------

def evidence_kind(name: str, data: bytes) -> str:
    """kpi.workflows.evidence_files.kind_of, refusing with an AssessmentError."""
    try:
        return evidence_files.kind_of(name, data)
    except evidence_files.Refused as e:
        raise AssessmentError(str(e)) from None


# ---- what the pages read ----------------------------------------------------------------------------

NOTE_MAX = 1000
THRESHOLD = 3.0  # default: a self-assessed score this many points away from the computed one is flagged


def default_deadline(school_year: str, catalog: Catalog) -> dt.date:
    """index.toml's calendar: dd/mm in the school year's second calendar year."""
    d, m = (int(x) for x in catalog.index.self_assessment_deadline.split("/"))
    return dt.date(int(school_year[5:]), m, d)


@dataclass
class Item:
    """One criterion of one school's assessment."""

    code: str
    self_points: float | None = None
    self_met: bool | None = None
    note: str = ""
    verified_points: float | None = None
    verified_met: bool | None = None
    comment: str = ""
    returned: bool = False
    verified_by: str | None = None


@dataclass
class Assessment:
    """One school's assessment of one school year as the workflow sees it."""

    school_id: str
    school_year: str
    state: str
    version: int
    items: dict[str, Item] = dc_field(default_factory=dict)
    evidence: list[Evidence] = dc_field(default_factory=list)
    updated_at: float | None = None
    updated_by: str | None = None
    submitted_at: float | None = None
    submitted_by: str | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str | None = None
    publication_id: str | None = None

    @property
    def state_label(self) -> str:
        return STATES[self.state]

    def status_sentence(self) -> str:
        s = self.state
        if s == "chua_bat_dau":
            return "Trường chưa bắt đầu tự đánh giá năm học này."
        if s == "nhap":
            return f"Bản nháp, lưu lần cuối lúc {when(self.updated_at)} ({self.updated_by}); chưa nộp."
        if s == "da_nop":
            return f"Đã nộp lúc {when(self.submitted_at)} ({self.submitted_by}); đang chờ Phòng xét duyệt."
        if s == "tra_lai":
            return (f"Phòng đã trả lại lúc {when(self.decided_at)} ({self.decided_by}): sửa các tiêu chí được nêu rồi "
                    "nộp lại.")
        if s == "da_duyet":
            return f"Đã được Phòng duyệt lúc {when(self.decided_at)} ({self.decided_by}); chờ công bố."
        return f"Kết quả đã công bố (lần công bố {self.publication_id})."


_COLS = ("state", "version", "updated_at", "updated_by", "submitted_at", "submitted_by", "decided_at", "decided_by",
         "reason", "publication_id")  # assessments.get's columns


def _bool(v):
    return None if v is None else bool(v)


def _read(con, school_id: str, year: str) -> Assessment:
    key = {"school_id": school_id, "school_year": year}
    row = con.execute(state.sql("assessments.get"), key).fetchone()
    a = Assessment(school_id, year, row[0] if row else "chua_bat_dau", row[1] if row else 0)
    if row:
        for k, v in zip(_COLS[2:], row[2:]):
            setattr(a, k, v)
    for r in con.execute(state.sql("assessments.items"), key):
        a.items[r[0]] = Item(r[0], r[1], _bool(r[2]), r[3] or "", r[4], _bool(r[5]), r[6] or "", bool(r[7]), r[8])
    a.evidence = evidence_files.listed(con, school_id, year)
    return a


def bump(con) -> None:
    """Every change of the assessment tables bumps the 'assessment' counter (readers cache by it)."""
    state.bump(con, "assessment")


def _points(value, c, problems: list[str]) -> float | None:
    """A typed score checked against its criterion (None = left blank)."""
    if value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and pd.isna(value)):
        return None
    try:
        x = float(str(value).strip().replace(",", "."))
    except ValueError:
        problems.append(f"{c.code} {c.short_vi or c.name_vi}: '{value}' không phải là số điểm.")
        return None
    if not (0 <= x <= c.max_points):
        problems.append(f"{c.code} {c.short_vi or c.name_vi}: {fmt_points(x)} điểm nằm ngoài khoảng 0 đến "
                        f"{fmt_points(c.max_points)}.")
        return None
    if abs(x * 2 - round(x * 2)) > 1e-9:
        problems.append(f"{c.code} {c.short_vi or c.name_vi}: điểm chấm theo bước 0,5 ({fmt_points(x)} không hợp lệ).")
        return None
    return x


def points_problem(value, c) -> str | None:
    """Why a typed score cannot be kept ('7,5' and '7.5' are both read), or None (blank is fine)."""
    problems: list[str] = []
    _points(value, c, problems)
    return problems[0] if problems else None


def _text(value, limit: int, what: str, problems: list[str]) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        problems.append(f"{what}: quá dài (tối đa {limit} ký tự).")
    return text


# ---- the desk ---------------------------------------------------------------------------------------

@dataclass
class Assessor(record.RecordDesk):
    """Where one user reads and changes the assessments of a school year: the analytics file and
    its state store, the catalog, the schools of the user's scope (school id → cấp học) and their
    names. Every action checks that its school is one of them (and, for a principal, the own school)."""

    names: dict[str, str] = dc_field(default_factory=dict)

    COUNTER = "assessment"
    Error, Conflict = AssessmentError, Conflict

    def __post_init__(self):
        applies = set(self.catalog.index.levels_apply)
        self.schools = {s: lv for s, lv in self.schools.items() if lv in applies}

    # ---- guards --------------------------------------------------------------------------------------

    def _guard(self, user, school_id: str, action: str = "xem") -> None:
        self.refuse_outside(user, school_id, "Bạn không có quyền với bản đánh giá của trường này: mỗi hiệu trưởng "
                            "chỉ xem và đánh giá trường mình.", {"viec": f"danh_gia_{action}"})

    # ---- reading -------------------------------------------------------------------------------------

    def assessment(self, user, school_id: str, year: str) -> Assessment:
        self._guard(user, school_id)
        with self.store.reading() as con:
            return _read(con, school_id, year)

    def cycle(self, year: str) -> tuple[dt.date, float]:
        """(deadline, flag threshold) of the school year: the office's, else index.toml's."""
        rows = self.store.read(state.sql("assessments.cycle"), {"school_year": year})
        if rows:
            return dt.date.fromisoformat(rows[0][0]), float(rows[0][1])
        return default_deadline(year, self.catalog), THRESHOLD

    @functools.cached_property
    def roster(self) -> pd.DataFrame:
        """The scope's schools in id order with their names and cấp học: what `states` starts from
        (made once per desk; kpi.views.cache keeps one desk per scope and file version)."""
        ids = sorted(self.schools)
        return pd.DataFrame({"school_id": ids, "name": [self.names.get(s, s) for s in ids],
                             "level": [self.schools[s] for s in ids]})

    def states(self, year: str) -> pd.DataFrame:
        """One row per school of the scope: school_id, name, state, submitted_at, late, returned criteria."""
        deadline, _ = self.cycle(year)
        end = dt.datetime.combine(deadline, dt.time(23, 59, 59), VN).timestamp()
        rows = self.store.read(state.sql("assessments.states"), {"school_year": year})
        df = self.roster.copy()
        sids = df["school_id"]
        df["state"] = sids.map({r[0]: r[1] for r in rows}).fillna("chua_bat_dau").astype("str")
        df["submitted_at"] = sids.map({r[0]: r[2] for r in rows if r[2] is not None}).astype(float)
        df["late"] = (df["submitted_at"] > end).fillna(False).astype(bool)
        df["returned"] = sids.map({r[0]: int(r[3] or 0) for r in rows}).fillna(0).astype(int)
        return df[["school_id", "name", "level", "state", "submitted_at", "late", "returned"]]

    def progress(self, year: str, today: dt.date | None = None) -> dict:
        """The cycle at a glance: schools per state, days to the deadline (negative: past), the deadline."""
        df = self.states(year)
        deadline, threshold = self.cycle(year)
        today = today or dt.datetime.now(VN).date()
        counts = {s: int((df["state"] == s).sum()) for s in STATES}
        return {"counts": counts, "deadline": deadline, "days_left": (deadline - today).days, "threshold": threshold,
                "schools": len(df), "late": int(df["late"].sum())}

    def reminders(self, year: str) -> pd.DataFrame:
        """The schools still to submit (not started, drafting, returned), as a list to export."""
        df = self.states(year)
        df = df[df["state"].isin(["chua_bat_dau", "nhap", "tra_lai"])]
        deadline, _ = self.cycle(year)
        return pd.DataFrame({
            "Mã trường": df["school_id"], "Tên trường": df["name"], "Cấp học": df["level"],
            "Trạng thái": df["state"].map(STATES),
            "Việc cần làm": df["state"].map({"chua_bat_dau": "Bắt đầu tự đánh giá và nộp",
                                             "nhap": "Hoàn thành và nộp bản tự đánh giá",
                                             "tra_lai": "Sửa các tiêu chí Phòng trả lại rồi nộp lại"}),
            "Hạn nộp": fmt_date(deadline)}).reset_index(drop=True)

    def evidence_file(self, user, evidence_id: int) -> tuple[str, str, bytes]:
        """(file name, MIME type, bytes) of one evidence file, after the access check; audited."""
        row = evidence_files.about(self.store, evidence_id, content=True)
        if row is None:
            raise AssessmentError("Không tìm thấy tệp minh chứng này (có thể đã bị xóa).")
        sid, year, code, name, kind, content = row
        self._guard(user, sid, "tai_minh_chung")
        self.store.audit("tai_minh_chung", user.user_name, {"truong": sid, "nam_hoc": year, "tieu_chi": code,
                                                            "tep": name, "ma": int(evidence_id)})
        return name, KINDS[kind][1], bytes(content)

    # ---- the principal -------------------------------------------------------------------------------

    def save(self, user, school_id: str, year: str, values: dict[str, dict], version: int, submit: bool = False,
             now: float | None = None) -> Assessment:
        """Save the school's points and notes of the criteria in `values` (code → {points | met,
        note}; the others keep what is stored); `submit`: and submit. Every value is checked before
        anything is written; a submission needs every criterion answered. A stale `version`
        raises Conflict."""
        self._guard(user, school_id, "luu")
        verb = "Chưa nộp được" if submit else "Chưa lưu được"
        problems: list[str] = []
        clean = {}
        crit = {c.code: c for c in scored_criteria(self.catalog)}
        for code in sorted(set(values) - set(crit)):
            problems.append(f"{code}: không phải tiêu chí được tự đánh giá.")
        for code, c in crit.items():
            if code not in values:
                continue
            v = values[code] or {}
            note = _text(v.get("note"), NOTE_MAX, f"{c.code} ghi chú", problems)
            if c.rule == "condition":
                met = v.get("met")
                if met not in (None, True, False):
                    problems.append(f"{c.code}: chọn Đạt hoặc Chưa đạt.")
                    met = None
                clean[code] = (None, met, note)
            else:
                clean[code] = (_points(v.get("points"), c, problems), None, note)
        if problems:
            raise AssessmentError(f"{verb}: còn lỗi cần sửa.", problems)
        action = "nop" if submit else "luu"
        now = time.time() if now is None else now
        key = {"school_id": school_id, "school_year": year}
        with self.change() as con:
            cur = _read(con, school_id, year)
            nxt = next_state(cur.state, action, user.role)
            self.check_version(version, cur.version, lambda: (
                f"Bản đánh giá đã được {cur.updated_by or cur.decided_by} thay đổi lúc "
                f"{when(max(cur.updated_at or 0, cur.decided_at or 0) or None)}; tải lại để xem. "
                "Thay đổi của bạn chưa được lưu."))
            if submit:
                def answered(code):
                    if code in clean:
                        return clean[code][0] is not None or clean[code][1] is not None
                    it = cur.items.get(code)
                    return it is not None and (it.self_points is not None or it.self_met is not None)
                missing = [f"{c.code} {c.short_vi or c.name_vi}: "
                           + ("chưa chọn Đạt / Chưa đạt." if c.rule == "condition" else "chưa nhập điểm tự đánh giá.")
                           for c in crit.values() if not answered(c.code)]
                if missing:
                    raise AssessmentError(f"{verb}: còn lỗi cần sửa.", missing)
            con.execute(state.sql("assessments.save"), {
                **key, "state": nxt, "version": cur.version + 1, "now": now, "user_name": user.user_name,
                "submitted_at": now if submit else None, "submitted_by": user.user_name if submit else None})
            for code, (pts, met, note) in clean.items():
                con.execute(state.sql("assessments.item_self"), {**key, "criterion_code": code, "points": pts,
                                                                 "met": None if met is None else int(met),
                                                                 "note": note or None})
            if submit:  # a resubmission answers what the office returned
                con.execute(state.sql("assessments.items_answered"), key)
            state.audit_in(con, "danh_gia_nop" if submit else "danh_gia_luu", user.user_name,
                           {"truong": school_id, "nam_hoc": year, "phien_ban": cur.version + 1,
                            "tieu_chi": len(clean)}, now=now)
            return _read(con, school_id, year)

    def attach(self, user, school_id: str, year: str, code: str, name: str, data: bytes,
               now: float | None = None) -> Evidence:
        """Attach an evidence file to a criterion: checked (type by its bytes, size per file and per
        school) before it is stored; only while the school may edit its assessment."""
        self._guard(user, school_id, "minh_chung")
        if code not in {c.code for c in scored_criteria(self.catalog)}:
            raise AssessmentError(f"{code}: không phải tiêu chí được tự đánh giá.")
        name = safe_name(name)
        kind = evidence_kind(name, data)
        now = time.time() if now is None else now
        key = {"school_id": school_id, "school_year": year, "now": now, "user_name": user.user_name}
        with self.change() as con:
            cur = _read(con, school_id, year)
            next_state(cur.state, "luu", user.role)  # evidence is part of the school's editing
            try:
                ev = evidence_files.add(con, school_id, year, code, name, kind, data, cur.evidence, now,
                                        user.user_name)
            except evidence_files.Refused as e:
                raise AssessmentError(str(e)) from None
            con.execute(state.sql("assessments.start" if cur.state == "chua_bat_dau" else "assessments.touch"), key)
            state.audit_in(con, "danh_gia_minh_chung", user.user_name, {"truong": school_id, "nam_hoc": year,
                                                                        "tieu_chi": code, "tep": name,
                                                                        "ma": ev.evidence_id,
                                                                        "kich_thuoc": len(data)}, now=now)
        return ev

    def detach(self, user, evidence_id: int, now: float | None = None) -> None:
        """Remove an evidence file (the school, while it may edit)."""
        row = evidence_files.about(self.store, evidence_id)
        if row is None:
            raise AssessmentError("Không tìm thấy tệp minh chứng này.")
        sid, year, code, name = row
        self._guard(user, sid, "xoa_minh_chung")
        now = time.time() if now is None else now
        with self.change() as con:
            next_state(_read(con, sid, year).state, "luu", user.role)
            evidence_files.remove(con, evidence_id)
            con.execute(state.sql("assessments.touch"), {"school_id": sid, "school_year": year, "now": now,
                                                         "user_name": user.user_name})
            state.audit_in(con, "danh_gia_xoa_minh_chung", user.user_name, {"truong": sid, "nam_hoc": year,
                                                                            "tieu_chi": code, "tep": name}, now=now)

    # ---- the office ----------------------------------------------------------------------------------

    def set_cycle(self, user, year: str, deadline: dt.date, threshold: float, now: float | None = None) -> None:
        """The office sets the school year's deadline and the flag threshold."""
        next_state("da_nop", "xac_nhan", user.role)  # only the office
        if not (0 < float(threshold) <= 100):
            raise AssessmentError("Ngưỡng chênh lệch phải lớn hơn 0 và không quá 100 điểm.")
        now = time.time() if now is None else now
        with self.change() as con:
            con.execute(state.sql("assessments.cycle_set"), {"school_year": year, "deadline": deadline.isoformat(),
                                                             "threshold": float(threshold),
                                                             "user_name": user.user_name, "now": now})
            state.audit_in(con, "danh_gia_han", user.user_name, {"nam_hoc": year, "han": fmt_date(deadline),
                                                                 "nguong": threshold}, now=now)

    def verify(self, user, school_id: str, year: str, code: str, points=None, met: bool | None = None,
               comment: str = "", version: int | None = None, now: float | None = None) -> Assessment:
        """The office's points for one criterion (verify = the school's points; change = others), with
        a comment; the assessment stays submitted."""
        self._guard(user, school_id, "xac_nhan")
        c = self.catalog.criteria.get(code)
        if c is None or c.rule not in ("entered", "condition"):
            raise AssessmentError(f"{code}: không phải tiêu chí được chấm.")
        problems: list[str] = []
        comment = _text(comment, REASON_MAX, "Nhận xét", problems)
        pts = None
        if c.rule == "condition":
            if met not in (True, False):
                problems.append(f"{code}: chọn Đạt hoặc Chưa đạt.")
        else:
            pts = _points(points, c, problems)
            if pts is None and not problems:
                problems.append(f"{code}: nhập điểm xác nhận.")
        if problems:
            raise AssessmentError("Chưa xác nhận được: " + problems[0], problems)
        now = time.time() if now is None else now
        key = {"school_id": school_id, "school_year": year}
        with self.change() as con:
            cur = _read(con, school_id, year)
            next_state(cur.state, "xac_nhan", user.role)
            self.check_version(version, cur.version, lambda: "Bản đánh giá vừa thay đổi; tải lại để xem.")
            mine = cur.items.get(code, Item(code))
            changed = (pts != mine.self_points) if c.rule != "condition" else (met != mine.self_met)
            if changed and len(comment) < REASON_MIN:
                raise AssessmentError(f"{code}: điểm khác điểm trường tự đánh giá, cần ghi nhận xét (ít nhất "
                                      f"{REASON_MIN} ký tự) để trường biết vì sao.")
            con.execute(state.sql("assessments.item_verify"), {
                **key, "criterion_code": code, "points": pts, "met": None if met is None else int(met),
                "comment": comment or None, "user_name": user.user_name, "now": now})
            con.execute(state.sql("assessments.version_up"), key)
            state.audit_in(con, "danh_gia_xac_nhan", user.user_name, {
                "truong": school_id, "nam_hoc": year, "tieu_chi": code, "diem_truong": mine.self_points,
                "diem_phong": pts, "dat": met, "nhan_xet": comment or None}, now=now)
            return _read(con, school_id, year)

    def send_back(self, user, school_id: str, year: str, version: int, reason: str, criteria: dict[str, str],
                  now: float | None = None) -> Assessment:
        """Return the assessment with a reason; `criteria`: code → comment on each criterion to redo."""
        self._guard(user, school_id, "tra_lai")
        reason = self.reason(reason, ACTIONS["tra_lai"])
        codes = {c.code for c in scored_criteria(self.catalog)}
        bad = sorted(set(criteria) - codes)
        if bad:
            raise AssessmentError(f"{', '.join(bad)}: không phải tiêu chí được chấm.")
        return self._decide(user, school_id, year, "tra_lai", version, reason, criteria, now)

    def reopen(self, user, school_id: str, year: str, reason: str, now: float | None = None) -> Assessment:
        """Reopen an approved (not yet published) assessment, with a reason the school sees."""
        self._guard(user, school_id, "mo_lai")
        return self._decide(user, school_id, year, "mo_lai", None, self.reason(reason, ACTIONS["mo_lai"]), {}, now)

    def approve(self, user, school_id: str, year: str, version: int, now: float | None = None) -> Assessment:
        """Approve: every criterion the office did not verify takes the school's points as verified."""
        self._guard(user, school_id, "duyet")
        return self._decide(user, school_id, year, "duyet", version, None, {}, now)

    def _decide(self, user, school_id, year, action, version, reason, criteria, now) -> Assessment:
        """One decision on one school, under the writers' lock: a publication (which holds it) and a
        decision on the same school never interleave."""
        now = time.time() if now is None else now
        key = {"school_id": school_id, "school_year": year}
        with self.change(decision=True) as con:
            cur = _read(con, school_id, year)
            nxt = next_state(cur.state, action, user.role)
            self.check_version(version, cur.version, lambda: "Bản đánh giá vừa thay đổi; tải lại để xem.")
            con.execute(state.sql("assessments.decide"), {**key, "state": nxt, "now": now, "user_name": user.user_name,
                                                          "reason": reason})
            for code, comment in criteria.items():
                con.execute(state.sql("assessments.item_return"), {**key, "criterion_code": code,
                                                                   "comment": (comment or "").strip() or None})
            if action == "duyet":
                con.execute(state.sql("assessments.items_approve"), {**key, "user_name": user.user_name, "now": now})
            state.audit_in(con, {"tra_lai": "danh_gia_tra_lai", "duyet": "danh_gia_duyet",
                                 "mo_lai": "danh_gia_mo_lai"}[action], user.user_name,
                           {"truong": school_id, "nam_hoc": year, "ly_do": reason,
                            "tieu_chi": sorted(criteria) or None, "phien_ban": cur.version + 1}, now=now)
            return _read(con, school_id, year)

    def publish(self, user, year: str, now: float | None = None) -> str:
        """Publish the school year: every approved (or previously published) school's final points
        written to the analytics file's criterion entries in one transaction through the single
        writer, frozen with a content hash; the schools become published. Returns the publication id."""
        next_state("da_duyet", "cong_bo", user.role)  # only the office
        now = time.time() if now is None else now
        with db.writer_lock(self.path):
            recovery.repair(self.path, self.store)  # a publication a crash left half-done is finished first
            with self.store.reading() as con:
                ids = [r[0] for r in con.execute(state.sql("assessments.publishable"), {"school_year": year})
                       if r[0] in self.schools]
                chosen = {sid: _read(con, sid, year) for sid in ids}
            if not any(a.state == "da_duyet" for a in chosen.values()):
                raise AssessmentError(f"Chưa có trường nào được duyệt (và chưa công bố) trong năm học {year}: duyệt "
                                      "trước khi công bố.")
            rows = []
            for sid, a in chosen.items():
                for c in scored_criteria(self.catalog):
                    it = a.items.get(c.code)
                    if it is None:
                        continue
                    rows.append((sid, year, c.code, it.self_points, it.self_met, it.verified_points, it.verified_met))

            keys = {"year": year, "schools": sorted(chosen), "now": now}
            # intent first, then the analytics file, then the store side: kpi.store.recovery finishes or drops it
            with recovery.crossing(self.store, self.path, "cong_bo", user.user_name, keys) as crossing:
                pid = publication.write(self.path, year, rows, sorted(chosen), user.user_name,
                                        dt.datetime.fromtimestamp(now, VN).replace(tzinfo=None), self.catalog,
                                        crossing=crossing)
        return pid

    # ---- review helpers ------------------------------------------------------------------------------

    def review_rows(self, a: Assessment, computed: dict[str, float], threshold: float) -> pd.DataFrame:
        """One row per criterion: self-assessed vs computed vs verified, the difference flag (flagged first)."""
        out = []
        counts: dict[str, int] = {}
        for e in a.evidence:
            counts[e.criterion_code] = counts.get(e.criterion_code, 0) + 1
        for pos, c in enumerate(scored_criteria(self.catalog)):
            it = a.items.get(c.code, Item(c.code))
            comp = computed.get(c.code)
            diff = None if comp is None or it.self_points is None else it.self_points - comp
            out.append({"position": pos, "code": c.code, "name": c.short_vi or c.name_vi, "group": c.group_code,
                        "condition": c.rule == "condition", "max_points": c.max_points,
                        "provisional": c.provisional, "self_points": it.self_points, "self_met": it.self_met,
                        "computed": comp, "verified_points": it.verified_points, "verified_met": it.verified_met,
                        "difference": diff, "flagged": diff is not None and abs(diff) > threshold,
                        "note": it.note, "comment": it.comment, "returned": it.returned,
                        "evidence": counts.get(c.code, 0)})
        df = pd.DataFrame(out)
        return df.sort_values(["flagged", "position"], ascending=[False, True], kind="stable").reset_index(drop=True)
