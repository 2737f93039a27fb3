"""Evidence files (minh chứng) of the maturity assessment: what is accepted, and where they are kept.

A file is judged by its bytes, never by its name alone (the name's ending must agree; an Office
file is checked by what it holds: kpi.imports.evidence), within a size per file, per school and
school year, and a number per criterion. Accepted files are BLOBs of the state store
(kpi/sql/state/evidence.sql): they travel with the store's backup, are written in the transaction
that audits them (kpi.workflows.assessment), and no uploaded name ever becomes a path.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass

from kpi.common.formatting import fmt_points
from kpi.common.text import clean
from kpi.imports.evidence import OfficeRefused, check_office
from kpi.store import state
from kpi.workflows.record import RecordError

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


class Refused(RecordError):
    """A file refused (kpi.workflows.assessment refuses with it as an AssessmentError)."""


@dataclass
class Evidence:
    evidence_id: int
    criterion_code: str
    file_name: str
    kind: str
    size: int
    uploaded_at: float
    uploaded_by: str


def _mb(n: int) -> str:
    return fmt_points(n / 1024 / 1024) + " MB"


def kind_of(name: str, data: bytes) -> str:
    """The kind of an evidence file read from its first bytes (never from its name alone); the
    name's ending must agree; an Office file is checked by what it holds (kpi.imports.evidence).
    Raises Refused (Vietnamese) for anything else."""
    if not data:
        raise Refused(f"Tệp {name} rỗng.")
    if len(data) > MAX_FILE:
        raise Refused(f"Tệp {name} có {_mb(len(data))}, quá giới hạn {_mb(MAX_FILE)} mỗi tệp.")
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
        raise Refused(f"Tệp {name} không phải loại được nhận (chỉ nhận {ALLOWED_TEXT}; kiểm tra theo nội "
                      "dung tệp, không theo tên).")
    if not name.lower().endswith(KINDS[kind][2]):
        raise Refused(f"Tệp {name} là {KINDS[kind][0]} nhưng tên tệp có đuôi khác: đổi đuôi cho đúng "
                      f"({', '.join(KINDS[kind][2])}) rồi tải lên lại.")
    if kind in _OFFICE_PART:  # by content: macros, links outside the file, the import's zip limits
        try:
            check_office(name, data)
        except OfficeRefused as e:
            raise Refused(str(e)) from None
    return kind


def safe_name(name: str) -> str:
    """A file name fit to show and to offer for download: no folders, no control or bidi characters
    (a right-to-left override would show a Word file as "….pdf")."""
    name = clean(re.sub(r"[\x00-\x1f\x7f]", "_", str(name))).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", name).strip(" .") or "minh_chung"
    return name[-120:]


# ---- in the state store (inside the caller's transaction or read) ----------------------------------

def listed(con, school_id: str, year: str) -> list[Evidence]:
    """The evidence files of one school's assessment of a year (no content), by criterion."""
    return [Evidence(*r) for r in con.execute(state.sql("evidence.list"), {"school_id": school_id,
                                                                           "school_year": year})]


def add(con, school_id: str, year: str, code: str, name: str, kind: str, data: bytes, held: list[Evidence],
        now: float, user_name: str) -> Evidence:
    """Store one checked file for a criterion, within the school's room for the year and the
    number a criterion holds (`held`: the school's files of the year); Refused otherwise."""
    used = con.execute(state.sql("evidence.used"), {"school_id": school_id, "school_year": year}).fetchone()[0]
    if used + len(data) > MAX_SCHOOL:
        raise Refused(f"Tệp {name}: vượt giới hạn {_mb(MAX_SCHOOL)} minh chứng của một trường trong năm "
                      f"học (đã dùng {_mb(used)}).")
    if sum(1 for e in held if e.criterion_code == code) >= MAX_FILES_PER_CRITERION:
        raise Refused(f"{code}: đã có {MAX_FILES_PER_CRITERION} tệp minh chứng (tối đa).")
    eid = con.execute(state.sql("evidence.add"), {
        "school_id": school_id, "school_year": year, "criterion_code": code, "file_name": name, "kind": kind,
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "content": data, "now": now,
        "user_name": user_name}).lastrowid
    return Evidence(eid, code, name, kind, len(data), now, user_name)


def about(store: state.Store, evidence_id: int, content: bool = False) -> tuple | None:
    """(school_id, school_year, criterion_code, file_name), and with `content` also (kind, bytes),
    of one evidence file; None when there is none."""
    rows = store.read(state.sql("evidence.file" if content else "evidence.about"), {"evidence_id": int(evidence_id)})
    return rows[0] if rows else None


def remove(con, evidence_id: int) -> None:
    """Drop one evidence file."""
    con.execute(state.sql("evidence.remove"), {"evidence_id": int(evidence_id)})
