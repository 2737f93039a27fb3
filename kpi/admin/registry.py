"""Schools and units, run by the office from the app (Quản trị › Trường và đơn vị).

Reference data of the analytics file, written like an import: through the single writer
(kpi.store.db.writing: a new data version, so every worker's caches refresh), each change one transaction
with its row in `reference_changes` (who, when, effective from which day, before and after) and in
the state store's audit.

- A school opens on a day (`school_dates.opened_on`) and closes on a day (`closed_on`, the first
  day it no longer runs); a merged school closes into the school that takes it over
  (`merged_into`). Its rows are never deleted: its history stays in every period it existed in, and
  completeness ("x/y trường") of a period counts the schools open on that period's deadline
  (kpi/sql/schema.sql, `scope_schools` with a period).
- Name, cấp học, loại hình and phường are the school's current facts; each change is kept in
  `reference_changes` with its effective date. A move to another unit takes effect from its day:
  the periods before it count the school in its former unit (`school_units`).
- Units form a tree (Sở → Phòng, or Sở → phường since 1/7/2025): add a unit, rename it, move it
  under another parent (never under itself or below itself), each with its effective date.

Every write takes the acting user and refuses anyone but the office's leadership (kpi.admin.shared).
"""

from __future__ import annotations

import datetime as dt
import re

from kpi.admin import auth
from kpi.admin.plans import check_year, record_change
from kpi.admin.shared import UNIT_KINDS, AdminError, require_leadership
from kpi.catalog.model import LEVEL_LABELS, LEVELS, OWNERSHIP_LABELS, OWNERSHIPS
from kpi.common.formatting import fmt_date
from kpi.store import db, queries, state

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{1,31}$")


def _day(value, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise AdminError(f"{what} '{text}' không phải ngày (dd/mm/yyyy).")


def _code(value: str, what: str) -> str:
    code = str(value or "").strip().upper()
    if not _CODE.match(code):
        raise AdminError(f"{what} '{value}' không hợp lệ: 2-32 ký tự chữ không dấu, số, '.', '-', '_'.")
    return code


def _school(con, school_id: str) -> dict:
    got = con.execute("""SELECT s.school_id, s.name, s.level, s.ownership, s.ward, s.unit_id, s.active,
                                d.opened_on, d.closed_on, d.merged_into
                         FROM schools s LEFT JOIN school_dates d USING (school_id) WHERE s.school_id = ?""",
                      [school_id]).fetchall()
    if not got:
        raise AdminError(f"Không có trường mã '{school_id}'.")
    return dict(zip(("school_id", "name", "level", "ownership", "ward", "unit_id", "active", "opened_on",
                     "closed_on", "merged_into"), got[0]))


def _check_facts(con, name, level, ownership, ward, unit_id) -> None:
    if not str(name or "").strip() or len(str(name)) > 200:
        raise AdminError("Tên trường cần từ 1 đến 200 ký tự.")
    if level not in LEVELS:
        raise AdminError(f"Cấp học '{level}' không hợp lệ; chọn: {', '.join(LEVEL_LABELS.values())}.")
    if ownership not in OWNERSHIPS:
        raise AdminError(f"Loại hình '{ownership}' không hợp lệ; chọn: {', '.join(OWNERSHIP_LABELS.values())}.")
    if not str(ward or "").strip():
        raise AdminError("Cần ghi phường của trường.")
    if not con.execute("SELECT 1 FROM units WHERE unit_id = ?", [unit_id]).fetchall():
        raise AdminError(f"Không có đơn vị mã '{unit_id}'.")


def _audit(path, actor, action: str, detail: dict) -> None:
    state.store_for(path).audit(action, actor.user_name, detail)


def add_school(path, actor, school_id: str, name: str, level: str, ownership: str, ward: str, unit_id: str,
               opened_on) -> str:
    """A new school, open from `opened_on` (expected to report for periods whose deadline is on or after it)."""
    require_leadership(path, actor, "thêm trường")
    sid = _code(school_id, "Mã trường")
    day = _day(opened_on, "Ngày bắt đầu hoạt động")
    name, ward = " ".join(str(name or "").split()), " ".join(str(ward or "").split())
    with db.writing(path) as con:
        if con.execute("SELECT 1 FROM schools WHERE school_id = ?", [sid]).fetchall():
            raise AdminError(f"Mã trường '{sid}' đã có (kể cả trường đã đóng): chọn mã khác.")
        _check_facts(con, name, level, ownership, ward, unit_id)
        con.execute("INSERT INTO schools VALUES (?, ?, ?, ?, ?, ?, TRUE)", [sid, name, level, ownership, ward, unit_id])
        con.execute("INSERT INTO school_dates VALUES (?, ?, NULL, NULL)", [sid, day])
        detail = {"ten": name, "cap_hoc": level, "loai_hinh": ownership, "phuong": ward, "don_vi": unit_id}
        record_change(con, actor, "truong_them", sid, day, detail)
    _audit(path, actor, "qt_truong_them", {"truong": sid, "tu_ngay": fmt_date(day), **detail})
    return sid


def update_school(path, actor, school_id: str, effective_on, name: str | None = None, level: str | None = None,
                  ownership: str | None = None, ward: str | None = None, unit_id: str | None = None) -> dict:
    """Rename a school or change its cấp học, loại hình, phường or unit (from `effective_on`);
    returns what changed (before, after)."""
    require_leadership(path, actor, "sửa thông tin trường")
    day = _day(effective_on, "Ngày hiệu lực")
    with db.writing(path) as con:
        old = _school(con, school_id)
        if not old["active"]:
            raise AdminError(f"Trường {school_id} đã đóng; không sửa được.")
        new = {"name": " ".join(str(name).split()) if name is not None else old["name"],
               "level": level or old["level"], "ownership": ownership or old["ownership"],
               "ward": " ".join(str(ward).split()) if ward is not None else old["ward"],
               "unit_id": unit_id or old["unit_id"]}
        _check_facts(con, new["name"], new["level"], new["ownership"], new["ward"], new["unit_id"])
        changed = {k: (old[k], v) for k, v in new.items() if old[k] != v}
        if not changed:
            raise AdminError("Không có gì thay đổi.")
        if "unit_id" in changed:  # the unit it was in stays its unit for the periods before `day`
            last = con.execute("SELECT max(until_day) FROM school_units WHERE school_id = ?",
                               [school_id]).fetchall()[0][0]
            if last is not None and day <= last:
                raise AdminError(f"Ngày hiệu lực phải sau lần đổi đơn vị trước ({fmt_date(last)}).")
            con.execute("INSERT INTO school_units VALUES (?, ?, ?)", [school_id, old["unit_id"], day])
        con.execute("UPDATE schools SET name = ?, level = ?, ownership = ?, ward = ?, unit_id = ? WHERE school_id = ?",
                    [new["name"], new["level"], new["ownership"], new["ward"], new["unit_id"], school_id])
        record_change(con, actor, "truong_sua", school_id, day,
                      {k: {"truoc": a, "sau": b} for k, (a, b) in changed.items()})
    _audit(path, actor, "qt_truong_sua", {"truong": school_id, "tu_ngay": fmt_date(day),
                                          **{k: f"{a} → {b}" for k, (a, b) in changed.items()}})
    return changed


def _close(con, actor, school_id: str, day: dt.date, into: str | None) -> list[str]:
    old = _school(con, school_id)
    if not old["active"]:
        raise AdminError(f"Trường {school_id} đã đóng từ {fmt_date(old['closed_on'])}.")
    if old["opened_on"] is not None and day <= old["opened_on"]:
        raise AdminError(f"Ngày đóng phải sau ngày bắt đầu hoạt động ({fmt_date(old['opened_on'])}).")
    con.execute("UPDATE schools SET active = FALSE WHERE school_id = ?", [school_id])
    con.execute("""INSERT INTO school_dates VALUES (?, NULL, ?, ?) ON CONFLICT (school_id)
                   DO UPDATE SET closed_on = excluded.closed_on, merged_into = excluded.merged_into""",
                [school_id, day, into])
    # the school's own accounts stop: it no longer reports (its history stays readable to the office)
    users = [u for (u,) in con.execute("SELECT user_name FROM users WHERE school_id = ? AND active",
                                       [school_id]).fetchall()]
    con.execute("UPDATE users SET active = FALSE, updated_at = ? WHERE school_id = ? AND active",
                [dt.datetime.now(), school_id])
    return users


def _revoke(path, users: list[str]) -> None:
    sessions = auth.Sessions(b"", store=state.store_for(path))
    for u in users:
        sessions.revoke_user(u, "truong_dong")


def close_school(path, actor, school_id: str, closed_on, reason: str = "") -> list[str]:
    """Close a school from `closed_on` (its first day without running): kept with its history, no
    longer expected to report for periods whose deadline falls on or after that day; its accounts
    are disabled (returned)."""
    require_leadership(path, actor, "đóng trường")
    day = _day(closed_on, "Ngày đóng")
    with db.writing(path) as con:
        users = _close(con, actor, school_id, day, None)
        record_change(con, actor, "truong_dong", school_id, day, {"ly_do": reason, "khoa_tai_khoan": users})
    _revoke(path, users)
    _audit(path, actor, "qt_truong_dong", {"truong": school_id, "tu_ngay": fmt_date(day), "ly_do": reason,
                                           "khoa_tai_khoan": users})
    return users


def merge_schools(path, actor, school_id: str, into: str, merged_on) -> list[str]:
    """Merge `school_id` into `into` from `merged_on`: the first closes (history kept under its own
    code, marked as merged into the other), the second goes on; both histories stay reachable."""
    require_leadership(path, actor, "sáp nhập trường")
    day = _day(merged_on, "Ngày sáp nhập")
    if school_id == into:
        raise AdminError("Không sáp nhập một trường vào chính nó.")
    with db.writing(path) as con:
        target = _school(con, into)
        if not target["active"]:
            raise AdminError(f"Trường nhận sáp nhập {into} đã đóng.")
        users = _close(con, actor, school_id, day, into)
        record_change(con, actor, "truong_sap_nhap", school_id, day, {"vao": into, "khoa_tai_khoan": users})
    _revoke(path, users)
    _audit(path, actor, "qt_truong_sap_nhap", {"truong": school_id, "vao": into, "tu_ngay": fmt_date(day),
                                               "khoa_tai_khoan": users})
    return users


# ---- a new school year's reporting periods -----------------------------------------------------

def open_school_year(path, actor, school_year: str, hk1_deadline=None, cn_deadline=None) -> list[str]:
    """Set up a school year's reporting periods (HK1, deadline 10/01; CN, deadline 20/05 by the
    plan's section III unless given): schools can then report, and the year's figures and
    completeness are computed. Returns the rounds added."""
    require_leadership(path, actor, "mở kỳ báo cáo năm học mới")
    year = check_year(school_year)
    y2 = int(year[5:])
    days = {"HK1": _day(hk1_deadline or dt.date(y2, 1, 10), "Hạn nộp sơ kết học kỳ I"),
            "CN": _day(cn_deadline or dt.date(y2, 5, 20), "Hạn nộp tổng kết năm")}
    if not days["HK1"] < days["CN"]:
        raise AdminError("Hạn nộp sơ kết học kỳ I phải trước hạn nộp tổng kết năm.")
    with db.writing(path) as con:
        have = {r for (r,) in con.execute("SELECT round FROM periods WHERE school_year = ?", [year]).fetchall()}
        added = [r for r in ("HK1", "CN") if r not in have]
        if not added:
            raise AdminError(f"Năm học {year} đã có đủ hai kỳ báo cáo.")
        for r in added:
            con.execute("INSERT INTO periods VALUES (?, ?, ?)", [year, r, days[r]])
        record_change(con, actor, "nam_hoc_mo", year, days["HK1"], {r: fmt_date(days[r]) for r in added})
    _audit(path, actor, "qt_nam_hoc_mo", {"nam_hoc": year, **{r: fmt_date(days[r]) for r in added}})
    return added


# ---- units -------------------------------------------------------------------------------------

def _below(con, unit_id: str) -> set[str]:
    rows = con.execute("""WITH RECURSIVE t(unit_id) AS (SELECT ?::VARCHAR UNION ALL
                          SELECT c.unit_id FROM units c JOIN t ON c.parent_id = t.unit_id) SELECT unit_id FROM t""",
                       [unit_id]).fetchall()
    return {r[0] for r in rows}


def add_unit(path, actor, unit_id: str, name: str, kind: str, parent_id: str | None, effective_on) -> str:
    """A new unit (Sở, Phòng, phường) under `parent_id` (None: a root), from `effective_on`."""
    require_leadership(path, actor, "thêm đơn vị")
    uid = _code(unit_id, "Mã đơn vị")
    day = _day(effective_on, "Ngày hiệu lực")
    name = " ".join(str(name or "").split())
    if not name:
        raise AdminError("Cần tên đơn vị.")
    if kind not in UNIT_KINDS:
        raise AdminError(f"Loại đơn vị '{kind}' không hợp lệ; chọn: {', '.join(UNIT_KINDS.values())}.")
    with db.writing(path) as con:
        if con.execute("SELECT 1 FROM units WHERE unit_id = ?", [uid]).fetchall():
            raise AdminError(f"Mã đơn vị '{uid}' đã có.")
        if parent_id and not con.execute("SELECT 1 FROM units WHERE unit_id = ?", [parent_id]).fetchall():
            raise AdminError(f"Không có đơn vị cấp trên mã '{parent_id}'.")
        con.execute("INSERT INTO units VALUES (?, ?, ?, ?)", [uid, name, kind, parent_id or None])
        record_change(con, actor, "don_vi_them", uid, day, {"ten": name, "loai": kind, "cap_tren": parent_id})
    _audit(path, actor, "qt_don_vi_them", {"don_vi": uid, "ten": name, "cap_tren": parent_id, "tu_ngay": fmt_date(day)})
    return uid


def update_unit(path, actor, unit_id: str, effective_on, name: str | None = None, kind: str | None = None,
                parent_id: str | None = None) -> dict:
    """Rename a unit, change its kind or move it under another parent (never under itself or a unit
    below it), from `effective_on`; returns what changed."""
    require_leadership(path, actor, "sửa đơn vị")
    day = _day(effective_on, "Ngày hiệu lực")
    with db.writing(path) as con:
        got = con.execute("SELECT name, kind, parent_id FROM units WHERE unit_id = ?", [unit_id]).fetchall()
        if not got:
            raise AdminError(f"Không có đơn vị mã '{unit_id}'.")
        old = dict(zip(("name", "kind", "parent_id"), got[0]))
        new = {"name": " ".join(str(name).split()) if name is not None else old["name"],
               "kind": kind or old["kind"], "parent_id": parent_id if parent_id is not None else old["parent_id"]}
        new["parent_id"] = new["parent_id"] or None
        if not new["name"]:
            raise AdminError("Cần tên đơn vị.")
        if new["kind"] not in UNIT_KINDS:
            raise AdminError(f"Loại đơn vị '{new['kind']}' không hợp lệ; chọn: {', '.join(UNIT_KINDS.values())}.")
        if new["parent_id"] and new["parent_id"] != old["parent_id"]:
            if not con.execute("SELECT 1 FROM units WHERE unit_id = ?", [new["parent_id"]]).fetchall():
                raise AdminError(f"Không có đơn vị cấp trên mã '{new['parent_id']}'.")
            if new["parent_id"] in _below(con, unit_id):
                raise AdminError("Không đặt một đơn vị dưới chính nó hoặc dưới đơn vị cấp dưới của nó.")
        changed = {k: (old[k], v) for k, v in new.items() if old[k] != v}
        if not changed:
            raise AdminError("Không có gì thay đổi.")
        con.execute("UPDATE units SET name = ?, kind = ?, parent_id = ? WHERE unit_id = ?",
                    [new["name"], new["kind"], new["parent_id"], unit_id])
        record_change(con, actor, "don_vi_sua", unit_id, day,
                      {k: {"truoc": a, "sau": b} for k, (a, b) in changed.items()})
    _audit(path, actor, "qt_don_vi_sua", {"don_vi": unit_id, "tu_ngay": fmt_date(day),
                                          **{k: f"{a} → {b}" for k, (a, b) in changed.items()}})
    return changed


# ---- reads for the page --------------------------------------------------------------------------

def schools_table(con):
    """Every school (open, closed, merged) with its dates, for Quản trị."""
    return queries.admin_schools(con)


def units_table(con):
    return queries.admin_units(con)


def changes_table(con, limit: int = 500):
    return queries.reference_changes(con, limit)
