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

Self-assessments, verifications, comments, the evidence files (bytes as BLOBs: they travel with
the store's backup, are written in the same transaction as their metadata and audit row, and no
file name of a user ever becomes a path) and the state live in the shared state store (kpi.store.state).
Every action checks its school against the user's scope (a principal reaches the own school
only), validates its input before writing anything (Vietnamese messages), bumps the store's
'assessment' counter, and is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
import zipfile
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_date, fmt_int, fmt_points
from kpi.common.text import clean
from kpi.domain import scoring
from kpi.domain.workflow import StateMachine
from kpi.imports.evidence import OfficeRefused, check_office
from kpi.store import db, recovery, state
from kpi.workflows import publication

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


class AssessmentError(Exception):
    """A refused action; `problems` says why, each in Vietnamese (naming its criterion when it has one)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or [message]
        super().__init__(message)


class Conflict(AssessmentError):
    """The assessment changed since the writer read it."""


# the cycle's table, run by the same engine as the period entries' (kpi.domain.workflow.StateMachine)
MACHINE = StateMachine(STATES, ACTIONS, TRANSITIONS, _WHY, AssessmentError)
allowed, next_state, actions_for = MACHINE.allowed, MACHINE.next_state, MACHINE.actions_for


# ---- evidence files ---------------------------------------------------------------------------------

MAX_FILE = 5 * 1024 * 1024          # one evidence file
MAX_SCHOOL = 50 * 1024 * 1024       # all of one school's evidence in one school year
MAX_FILES_PER_CRITERION = 10
KINDS = {  # kind → (label, MIME type, file-name endings)
    "pdf": ("PDF", "application/pdf", (".pdf",)),
    "png": ("ảnh PNG", "image/png", (".png",)),
    "jpeg": ("ảnh JPEG", "image/jpeg", (".jpg", ".jpeg")),
    "docx": ("Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",)),
    "xlsx": ("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)),
    "pptx": ("PowerPoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",)),
}
_OFFICE_PART = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
ALLOWED_TEXT = "PDF, ảnh PNG/JPEG, Word (.docx), Excel (.xlsx), PowerPoint (.pptx)"


def _mb(n: int) -> str:
    return fmt_points(n / 1024 / 1024) + " MB"


def evidence_kind(name: str, data: bytes) -> str:
    """The kind of an evidence file read from its first bytes (never from its name alone); the
    name's ending must agree; an Office file is checked by what it holds (kpi.imports.evidence). Raises
    AssessmentError (Vietnamese) for anything else."""
    if not data:
        raise AssessmentError(f"Tệp {name} rỗng.")
    if len(data) > MAX_FILE:
        raise AssessmentError(f"Tệp {name} có {_mb(len(data))}, quá giới hạn {_mb(MAX_FILE)} mỗi tệp.")
    kind = None
    if data.startswith(b"%PDF-"):
        kind = "pdf"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    elif data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, ValueError):
            names = []
        if "[Content_Types].xml" in names:
            kind = next((k for k, part in _OFFICE_PART.items() if any(n.startswith(part) for n in names)), None)
    if kind is None:
        raise AssessmentError(f"Tệp {name} không phải loại được nhận (chỉ nhận {ALLOWED_TEXT}; kiểm tra theo nội "
                              "dung tệp, không theo tên).")
    if not name.lower().endswith(KINDS[kind][2]):
        raise AssessmentError(f"Tệp {name} là {KINDS[kind][0]} nhưng tên tệp có đuôi khác: đổi đuôi cho đúng "
                              f"({', '.join(KINDS[kind][2])}) rồi tải lên lại.")
    if kind in _OFFICE_PART:  # by content: macros, links outside the file, the import's zip limits
        try:
            check_office(name, data)
        except OfficeRefused as e:
            raise AssessmentError(str(e)) from None
    return kind


def safe_name(name: str) -> str:
    """A file name fit to show and to offer for download: no folders, no control or bidi characters
    (a right-to-left override would show a Word file as "….pdf")."""
    name = clean(re.sub(r"[\x00-\x1f\x7f]", "_", str(name))).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", name).strip(" .") or "minh_chung"
    return name[-120:]


# ---- what the pages read ----------------------------------------------------------------------------

REASON_MIN, REASON_MAX, NOTE_MAX = 5, 500, 1000
THRESHOLD = 3.0  # default: a self-assessed score this many points away from the computed one is flagged
VN = dt.timezone(dt.timedelta(hours=7))


def when(ts: float | None) -> str:
    """'10:32 02/06/2024' (Vietnamese wall-clock time)."""
    if ts is None or pd.isna(ts):  # None or NaN (a frame's missing value)
        return "—"
    return dt.datetime.fromtimestamp(ts, VN).strftime("%H:%M %d/%m/%Y")


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
class Evidence:
    evidence_id: int
    criterion_code: str
    file_name: str
    kind: str
    size: int
    uploaded_at: float
    uploaded_by: str


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
            return f"Phòng đã trả lại lúc {when(self.decided_at)} ({self.decided_by}): sửa các tiêu chí được nêu rồi nộp lại."
        if s == "da_duyet":
            return f"Đã được Phòng duyệt lúc {when(self.decided_at)} ({self.decided_by}); chờ công bố."
        return f"Kết quả đã công bố (lần công bố {self.publication_id})."


_COLS = ("state", "version", "updated_at", "updated_by", "submitted_at", "submitted_by", "decided_at", "decided_by",
         "reason", "publication_id")


def _bool(v):
    return None if v is None else bool(v)


def _read(con, school_id: str, year: str) -> Assessment:
    row = con.execute(f"SELECT {', '.join(_COLS)} FROM assessments WHERE school_id = ? AND school_year = ?",
                      (school_id, year)).fetchone()
    a = Assessment(school_id, year, row[0] if row else "chua_bat_dau", row[1] if row else 0)
    if row:
        for k, v in zip(_COLS[2:], row[2:]):
            setattr(a, k, v)
    for r in con.execute("SELECT criterion_code, self_points, self_met, note, verified_points, verified_met, comment, "
                         "returned, verified_by FROM assessment_items WHERE school_id = ? AND school_year = ?",
                         (school_id, year)):
        a.items[r[0]] = Item(r[0], r[1], _bool(r[2]), r[3] or "", r[4], _bool(r[5]), r[6] or "", bool(r[7]), r[8])
    a.evidence = [Evidence(*r) for r in con.execute(
        "SELECT evidence_id, criterion_code, file_name, kind, size, uploaded_at, uploaded_by FROM assessment_evidence "
        "WHERE school_id = ? AND school_year = ? ORDER BY criterion_code, evidence_id", (school_id, year))]
    return a


def bump(con) -> None:
    """Every change of the assessment tables bumps the 'assessment' counter (readers cache by it)."""
    con.execute("INSERT INTO counters VALUES ('assessment', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1")


def version_of(store: state.Store) -> int:
    rows = store.read("SELECT value FROM counters WHERE name = 'assessment'")
    return rows[0][0] if rows else 0


def scored_criteria(catalog: Catalog) -> list:
    """The criteria a school assesses: the leaves with points and the mandatory conditions, in file order."""
    return [c for c in catalog.criteria.values() if c.rule in ("entered", "condition")]


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
class Assessor:
    """Where one user reads and changes the assessments of a school year: the analytics file and
    its state store, the catalog, the schools of the user's scope (school id → cấp học) and their
    names. Every action checks that its school is one of them (and, for a principal, the own school)."""

    path: Path
    store: state.Store
    catalog: Catalog
    schools: dict[str, str]
    names: dict[str, str] = dc_field(default_factory=dict)

    def __post_init__(self):
        applies = set(self.catalog.index.levels_apply)
        self.schools = {s: lv for s, lv in self.schools.items() if lv in applies}

    # ---- guards --------------------------------------------------------------------------------------

    def _guard(self, user, school_id: str, action: str = "xem") -> None:
        ok = school_id in self.schools and (user.role not in ("hieu_truong", "truong_nhap_lieu")
                                            or user.school_id == school_id)
        if not ok:
            self.store.audit("tu_choi", user.user_name, {"truong": school_id, "viec": f"danh_gia_{action}",
                                                         "ly_do": "ngoai_pham_vi"})
            raise AssessmentError("Bạn không có quyền với bản đánh giá của trường này: mỗi hiệu trưởng chỉ xem và "
                                  "đánh giá trường mình.")

    # ---- reading -------------------------------------------------------------------------------------

    def assessment(self, user, school_id: str, year: str) -> Assessment:
        self._guard(user, school_id)
        with self.store.reading() as con:
            return _read(con, school_id, year)

    def cycle(self, year: str) -> tuple[dt.date, float]:
        """(deadline, flag threshold) of the school year: the office's, else index.toml's."""
        rows = self.store.read("SELECT deadline, threshold FROM assessment_cycles WHERE school_year = ?", (year,))
        if rows:
            return dt.date.fromisoformat(rows[0][0]), float(rows[0][1])
        return default_deadline(year, self.catalog), THRESHOLD

    def states(self, year: str) -> pd.DataFrame:
        """One row per school of the scope: school_id, name, state, submitted_at, late, returned criteria."""
        deadline, _ = self.cycle(year)
        end = dt.datetime.combine(deadline, dt.time(23, 59, 59), VN).timestamp()
        rows = {r[0]: r[1:] for r in self.store.read(
            "SELECT school_id, state, submitted_at, (SELECT count(*) FROM assessment_items i WHERE i.school_id = "
            "a.school_id AND i.school_year = a.school_year AND i.returned) FROM assessments a WHERE school_year = ?",
            (year,))}
        out = []
        for sid in sorted(self.schools):
            st, sub, ret = rows.get(sid, ("chua_bat_dau", None, 0))
            out.append({"school_id": sid, "name": self.names.get(sid, sid), "level": self.schools[sid], "state": st,
                        "submitted_at": sub, "late": sub is not None and sub > end, "returned": int(ret or 0)})
        return pd.DataFrame(out, columns=["school_id", "name", "level", "state", "submitted_at", "late", "returned"])

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
        rows = self.store.read("SELECT school_id, school_year, criterion_code, file_name, kind, content "
                               "FROM assessment_evidence WHERE evidence_id = ?", (int(evidence_id),))
        if not rows:
            raise AssessmentError("Không tìm thấy tệp minh chứng này (có thể đã bị xóa).")
        sid, year, code, name, kind, content = rows[0]
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
        with self.store.write() as con:
            cur = _read(con, school_id, year)
            nxt = next_state(cur.state, action, user.role)
            if cur.version != version:
                raise Conflict(f"Bản đánh giá đã được {cur.updated_by or cur.decided_by} thay đổi lúc "
                               f"{when(max(cur.updated_at or 0, cur.decided_at or 0) or None)}; tải lại để xem. "
                               "Thay đổi của bạn chưa được lưu.")
            if submit:
                def answered(code):
                    if code in clean:
                        return clean[code][0] is not None or clean[code][1] is not None
                    it = cur.items.get(code)
                    return it is not None and (it.self_points is not None or it.self_met is not None)
                missing = [f"{c.code} {c.short_vi or c.name_vi}: " + ("chưa chọn Đạt / Chưa đạt." if c.rule == "condition"
                                                                      else "chưa nhập điểm tự đánh giá.")
                           for c in crit.values() if not answered(c.code)]
                if missing:
                    raise AssessmentError(f"{verb}: còn lỗi cần sửa.", missing)
            con.execute("""
                INSERT INTO assessments (school_id, school_year, state, version, updated_at, updated_by, submitted_at,
                                         submitted_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (school_id, school_year) DO UPDATE SET state = excluded.state, version = excluded.version,
                    updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                    submitted_at = coalesce(excluded.submitted_at, submitted_at),
                    submitted_by = coalesce(excluded.submitted_by, submitted_by)""",
                        (school_id, year, nxt, cur.version + 1, now, user.user_name, now if submit else None,
                         user.user_name if submit else None))
            for code, (pts, met, note) in clean.items():
                con.execute("""
                    INSERT INTO assessment_items (school_id, school_year, criterion_code, self_points, self_met, note,
                                                  returned)
                    VALUES (?, ?, ?, ?, ?, ?, 0)
                    ON CONFLICT (school_id, school_year, criterion_code) DO UPDATE SET
                        self_points = excluded.self_points, self_met = excluded.self_met, note = excluded.note""",
                            (school_id, year, code, pts, None if met is None else int(met), note or None))
            if submit:  # a resubmission answers what the office returned
                con.execute("UPDATE assessment_items SET returned = 0 WHERE school_id = ? AND school_year = ?",
                            (school_id, year))
            bump(con)
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
        with self.store.write() as con:
            cur = _read(con, school_id, year)
            next_state(cur.state, "luu", user.role)  # evidence is part of the school's editing
            used = con.execute("SELECT coalesce(sum(size), 0) FROM assessment_evidence WHERE school_id = ? AND "
                               "school_year = ?", (school_id, year)).fetchone()[0]
            if used + len(data) > MAX_SCHOOL:
                raise AssessmentError(f"Tệp {name}: vượt giới hạn {_mb(MAX_SCHOOL)} minh chứng của một trường trong năm "
                                      f"học (đã dùng {_mb(used)}).")
            if sum(1 for e in cur.evidence if e.criterion_code == code) >= MAX_FILES_PER_CRITERION:
                raise AssessmentError(f"{code}: đã có {MAX_FILES_PER_CRITERION} tệp minh chứng (tối đa).")
            eid = con.execute("INSERT INTO assessment_evidence (school_id, school_year, criterion_code, file_name, kind, "
                              "size, sha256, content, uploaded_at, uploaded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              (school_id, year, code, name, kind, len(data), hashlib.sha256(data).hexdigest(), data,
                               now, user.user_name)).lastrowid
            if cur.state == "chua_bat_dau":
                con.execute("INSERT INTO assessments (school_id, school_year, state, version, updated_at, updated_by) "
                            "VALUES (?, ?, 'nhap', 1, ?, ?)", (school_id, year, now, user.user_name))
            else:
                con.execute("UPDATE assessments SET version = version + 1, updated_at = ?, updated_by = ? "
                            "WHERE school_id = ? AND school_year = ?", (now, user.user_name, school_id, year))
            bump(con)
            state.audit_in(con, "danh_gia_minh_chung", user.user_name, {"truong": school_id, "nam_hoc": year,
                                                                        "tieu_chi": code, "tep": name, "ma": eid,
                                                                        "kich_thuoc": len(data)}, now=now)
        return Evidence(eid, code, name, kind, len(data), now, user.user_name)

    def detach(self, user, evidence_id: int, now: float | None = None) -> None:
        """Remove an evidence file (the school, while it may edit)."""
        rows = self.store.read("SELECT school_id, school_year, criterion_code, file_name FROM assessment_evidence "
                               "WHERE evidence_id = ?", (int(evidence_id),))
        if not rows:
            raise AssessmentError("Không tìm thấy tệp minh chứng này.")
        sid, year, code, name = rows[0]
        self._guard(user, sid, "xoa_minh_chung")
        now = time.time() if now is None else now
        with self.store.write() as con:
            next_state(_read(con, sid, year).state, "luu", user.role)
            con.execute("DELETE FROM assessment_evidence WHERE evidence_id = ?", (int(evidence_id),))
            con.execute("UPDATE assessments SET version = version + 1, updated_at = ?, updated_by = ? "
                        "WHERE school_id = ? AND school_year = ?", (now, user.user_name, sid, year))
            bump(con)
            state.audit_in(con, "danh_gia_xoa_minh_chung", user.user_name, {"truong": sid, "nam_hoc": year,
                                                                            "tieu_chi": code, "tep": name}, now=now)

    # ---- the office ----------------------------------------------------------------------------------

    def set_cycle(self, user, year: str, deadline: dt.date, threshold: float, now: float | None = None) -> None:
        """The office sets the school year's deadline and the flag threshold."""
        next_state("da_nop", "xac_nhan", user.role)  # only the office
        if not (0 < float(threshold) <= 100):
            raise AssessmentError("Ngưỡng chênh lệch phải lớn hơn 0 và không quá 100 điểm.")
        now = time.time() if now is None else now
        with self.store.write() as con:
            con.execute("INSERT INTO assessment_cycles VALUES (?, ?, ?, ?, ?) ON CONFLICT (school_year) DO UPDATE SET "
                        "deadline = excluded.deadline, threshold = excluded.threshold, set_by = excluded.set_by, "
                        "set_at = excluded.set_at", (year, deadline.isoformat(), float(threshold), user.user_name, now))
            bump(con)
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
        with self.store.write() as con:
            cur = _read(con, school_id, year)
            next_state(cur.state, "xac_nhan", user.role)
            if version is not None and version != cur.version:
                raise Conflict("Bản đánh giá vừa thay đổi; tải lại để xem.")
            mine = cur.items.get(code, Item(code))
            changed = (pts != mine.self_points) if c.rule != "condition" else (met != mine.self_met)
            if changed and len(comment) < REASON_MIN:
                raise AssessmentError(f"{code}: điểm khác điểm trường tự đánh giá, cần ghi nhận xét (ít nhất "
                                      f"{REASON_MIN} ký tự) để trường biết vì sao.")
            con.execute("""
                INSERT INTO assessment_items (school_id, school_year, criterion_code, verified_points, verified_met,
                                              comment, returned, verified_by, verified_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)
                ON CONFLICT (school_id, school_year, criterion_code) DO UPDATE SET
                    verified_points = excluded.verified_points, verified_met = excluded.verified_met,
                    comment = excluded.comment, verified_by = excluded.verified_by, verified_at = excluded.verified_at""",
                        (school_id, year, code, pts, None if met is None else int(met), comment or None,
                         user.user_name, now))
            con.execute("UPDATE assessments SET version = version + 1 WHERE school_id = ? AND school_year = ?",
                        (school_id, year))
            bump(con)
            state.audit_in(con, "danh_gia_xac_nhan", user.user_name, {
                "truong": school_id, "nam_hoc": year, "tieu_chi": code, "diem_truong": mine.self_points,
                "diem_phong": pts, "dat": met, "nhan_xet": comment or None}, now=now)
            return _read(con, school_id, year)

    def send_back(self, user, school_id: str, year: str, version: int, reason: str, criteria: dict[str, str],
                  now: float | None = None) -> Assessment:
        """Return the assessment with a reason; `criteria`: code → comment on each criterion to redo."""
        self._guard(user, school_id, "tra_lai")
        reason = _reason(reason, "tra_lai")
        codes = {c.code for c in scored_criteria(self.catalog)}
        bad = sorted(set(criteria) - codes)
        if bad:
            raise AssessmentError(f"{', '.join(bad)}: không phải tiêu chí được chấm.")
        return self._decide(user, school_id, year, "tra_lai", version, reason, criteria, now)

    def reopen(self, user, school_id: str, year: str, reason: str, now: float | None = None) -> Assessment:
        """Reopen an approved (not yet published) assessment, with a reason the school sees."""
        self._guard(user, school_id, "mo_lai")
        return self._decide(user, school_id, year, "mo_lai", None, _reason(reason, "mo_lai"), {}, now)

    def approve(self, user, school_id: str, year: str, version: int, now: float | None = None) -> Assessment:
        """Approve: every criterion the office did not verify takes the school's points as verified."""
        self._guard(user, school_id, "duyet")
        return self._decide(user, school_id, year, "duyet", version, None, {}, now)

    def _decide(self, user, school_id, year, action, version, reason, criteria, now) -> Assessment:
        """One decision on one school, under the writers' lock: a publication (which holds it) and a
        decision on the same school never interleave."""
        now = time.time() if now is None else now
        with db.writer_lock(self.path), self.store.write() as con:
            cur = _read(con, school_id, year)
            nxt = next_state(cur.state, action, user.role)
            if version is not None and version != cur.version:
                raise Conflict("Bản đánh giá vừa thay đổi; tải lại để xem.")
            con.execute("UPDATE assessments SET state = ?, version = version + 1, decided_at = ?, decided_by = ?, "
                        "reason = ? WHERE school_id = ? AND school_year = ?",
                        (nxt, now, user.user_name, reason, school_id, year))
            for code, comment in criteria.items():
                con.execute("""
                    INSERT INTO assessment_items (school_id, school_year, criterion_code, comment, returned)
                    VALUES (?, ?, ?, ?, 1)
                    ON CONFLICT (school_id, school_year, criterion_code) DO UPDATE SET
                        returned = 1, comment = coalesce(excluded.comment, comment)""",
                            (school_id, year, code, (comment or "").strip() or None))
            if action == "duyet":
                con.execute("""UPDATE assessment_items SET verified_points = coalesce(verified_points, self_points),
                                   verified_met = coalesce(verified_met, self_met), returned = 0,
                                   verified_by = coalesce(verified_by, ?), verified_at = coalesce(verified_at, ?)
                               WHERE school_id = ? AND school_year = ?""", (user.user_name, now, school_id, year))
            bump(con)
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
                ids = [r[0] for r in con.execute("SELECT school_id FROM assessments WHERE school_year = ? AND state IN "
                                                 "('da_duyet', 'da_cong_bo') ORDER BY school_id", (year,))
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


def _reason(reason: str | None, action: str) -> str:
    text = (reason or "").strip()
    if len(text) < REASON_MIN:
        raise AssessmentError(f"Cần ghi lý do {ACTIONS[action]} để trường biết cần sửa gì (ít nhất {REASON_MIN} ký tự).")
    if len(text) > REASON_MAX:
        raise AssessmentError(f"Lý do quá dài (tối đa {REASON_MAX} ký tự).")
    return text


# ---- the running result -----------------------------------------------------------------------------

def running_result(values: dict[str, dict], computed: dict[str, float], school_id: str, year: str,
                   catalog: Catalog) -> dict:
    """The total and level as the school fills the form in, by kpi.domain.scoring itself: the school's
    points where typed, else the computed suggestion. Returns {'groups': [(code, label, points,
    level, unmet)], 'level': school level, 'answered': n, 'total': n}."""
    rows = []
    answered = 0
    crit = scored_criteria(catalog)
    for c in crit:
        v = values.get(c.code) or {}
        pts, met = v.get("points"), v.get("met")
        try:
            pts = None if pts in (None, "") else float(str(pts).replace(",", "."))
        except ValueError:
            pts = None
        answered += (pts is not None) or (met is not None)
        rows.append({"school_id": school_id, "school_year": year, "criterion_code": c.code,
                     "self_points": pts, "self_met": met, "verified_points": None, "verified_met": None})
    entries = pd.DataFrame(rows, columns=scoring.ENTRY_COLUMNS).astype({"self_points": "float64",
                                                                         "verified_points": "float64"})
    comp = pd.DataFrame({"school_id": school_id, "school_year": year, "criterion_code": list(computed),
                         "computed": [float(x) for x in computed.values()]},
                        columns=["school_id", "school_year", "criterion_code", "computed"])
    _, schools = scoring.score(entries, comp, catalog)
    r = schools.iloc[0]
    groups = [(g, label, float(r[f"{g.lower()}_points"]), int(r[f"{g.lower()}_level"]), str(r[f"{g.lower()}_unmet"]))
              for g, label in catalog.index.groups.items()]
    return {"groups": groups, "level": int(r["school_level"]), "answered": answered, "total": len(crit)}


def progress_sentence(p: dict) -> str:
    """'Còn 12 ngày đến hạn 31/05/2024' / 'Đã quá hạn 31/05/2024 3 ngày'."""
    d = p["days_left"]
    if d > 0:
        return f"Còn {fmt_int(d)} ngày đến hạn nộp {fmt_date(p['deadline'])}."
    if d == 0:
        return f"Hôm nay là hạn nộp ({fmt_date(p['deadline'])})."
    return f"Đã quá hạn nộp {fmt_date(p['deadline'])} {fmt_int(-d)} ngày."


AUDIT_LABELS = {
    "danh_gia_luu": "Lưu nháp tự đánh giá", "danh_gia_nop": "Nộp bản tự đánh giá",
    "danh_gia_minh_chung": "Đính kèm minh chứng", "danh_gia_xoa_minh_chung": "Gỡ minh chứng",
    "tai_minh_chung": "Tải minh chứng", "danh_gia_xac_nhan": "Xác nhận điểm", "danh_gia_tra_lai": "Trả lại",
    "danh_gia_duyet": "Duyệt", "danh_gia_mo_lai": "Mở lại", "danh_gia_cong_bo": "Công bố kết quả",
    "danh_gia_han": "Đặt hạn nộp và ngưỡng", "tu_choi": "Từ chối (ngoài phạm vi)",
}


def audit_table(store: state.Store, limit: int = 200) -> pd.DataFrame:
    """The assessment's audit, newest first, in words: when, who, what, school, year, criterion, detail."""
    import json

    actions = tuple(a for a in AUDIT_LABELS if a != "tu_choi")
    rows = store.read(f"SELECT at, user_name, action, detail FROM audit WHERE action IN ({','.join('?' * len(actions))}) "
                      "OR (action = 'tu_choi' AND detail LIKE '%danh_gia%') ORDER BY audit_id DESC LIMIT ?",
                      (*actions, limit))
    out = []
    for at, who, action, detail in rows:
        d = json.loads(detail) if detail else {}
        extra = [str(d[k]) for k in ("ly_do", "nhan_xet", "tep", "lan_cong_bo", "han") if d.get(k)]
        if d.get("du_lieu_mau"):
            extra.append("dữ liệu mẫu")
        crit = d.get("tieu_chi")
        out.append({"Thời điểm": when(at), "Người": who or "", "Việc": AUDIT_LABELS.get(action, action),
                    "Trường": str(d.get("truong", "")) if not isinstance(d.get("truong"), int) else
                    f"{fmt_int(d['truong'])} trường", "Năm học": d.get("nam_hoc", ""),
                    "Tiêu chí": ", ".join(crit) if isinstance(crit, list) else (crit if isinstance(crit, str) else ""),
                    "Chi tiết": "; ".join(extra)})
    return pd.DataFrame(out, columns=["Thời điểm", "Người", "Việc", "Trường", "Năm học", "Tiêu chí", "Chi tiết"])


def how_scored(c, catalog: Catalog) -> str:
    """What earns a criterion's points, in Vietnamese (criteria.csv's scoring notes are the
    reference's English; this sentence is built from the criterion's rule and fields)."""
    parent = catalog.criteria.get(c.parent_code)
    where = f"Thuộc {parent.code} · {parent.short_vi or parent.name_vi}. " if parent and parent.rule == "sum" else ""
    if c.rule == "condition":
        return where + "Điều kiện bắt buộc, không có điểm: chưa đạt thì nhóm bị giới hạn ở Mức 1."
    f = catalog.fields
    num = f[c.numerator_field].label_vi if c.numerator_field in f else c.numerator_field
    if c.compute == "ratio":
        den = f[c.denominator_field].label_vi if c.denominator_field in f else c.denominator_field
        return (where + f"Tính từ số liệu: {fmt_points(c.max_points)} × {num} / {den}, làm tròn đến 0,5 điểm.")
    if c.compute:
        return where + f"Tính từ số liệu: {fmt_points(c.max_points)} điểm khi '{num}' là Có, ngược lại 0."
    return where + f"Trường tự chấm từ 0 đến {fmt_points(c.max_points)} điểm (bước 0,5) theo minh chứng."
