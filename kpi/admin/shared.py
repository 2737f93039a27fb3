"""What Quản trị shares: who may change the office's reference data, the refusal, the audit.

The office's leadership (`lanh_dao`) runs the tool itself: targets per school year (kpi.admin.plans),
schools and units (kpi.admin.registry), accounts (kpi.admin.accounts). Every write function of those modules
takes the acting user and calls `require_leadership` first, so a chuyên viên or a principal is
refused whatever page or script calls it; every change is audited in the state store with who,
when and what (actions starting with ``qt_``).
"""

from __future__ import annotations

from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS, TARGET_BASES
from kpi.common.access import ROLES
from kpi.common.formatting import fmt_date, fmt_datetime, fmt_number, fmt_percent
from kpi.store import state

ADMIN_ROLES = ("lanh_dao",)
AUDIT_PREFIX = "qt_"
# Audit actions of Quản trị and how the history names them.
ACTIONS = {
    "qt_chi_tieu_tao_nhap": "Tạo bản nháp chỉ tiêu",
    "qt_chi_tieu_sua": "Sửa chỉ tiêu",
    "qt_chi_tieu_van_ban": "Sửa số văn bản kế hoạch",
    "qt_chi_tieu_cong_bo": "Công bố chỉ tiêu",
    "qt_chi_tieu_huy_nhap": "Hủy bản nháp chỉ tiêu",
    "qt_chi_tieu_nhap_tep": "Nhập chỉ tiêu từ tệp",
    "qt_nam_hoc_mo": "Mở kỳ báo cáo năm học",
    "qt_truong_them": "Thêm trường",
    "qt_truong_sua": "Sửa thông tin trường",
    "qt_truong_dong": "Đóng trường",
    "qt_truong_sap_nhap": "Sáp nhập trường",
    "qt_don_vi_them": "Thêm đơn vị",
    "qt_don_vi_sua": "Sửa đơn vị",
    "qt_tai_khoan_tao": "Tạo tài khoản từ tệp",
    "qt_tai_khoan_dat_lai": "Đặt lại mật khẩu",
    "qt_tai_khoan_khoa": "Khóa tài khoản",
    "qt_tai_khoan_mo": "Mở khóa tài khoản",
    "qt_tai_khoan_sua": "Đổi vai trò / trường",
    "qt_tai_khoan_doi_mat_khau": "Đổi mật khẩu (lần đầu)",
    "qt_tu_choi": "Bị từ chối (không có quyền)",
}


_READY: set = set()
# the kinds of unit in the tree (Sở → Phòng, or Sở → phường/xã after the 2025 reform)
UNIT_KINDS = {"so": "Sở GDĐT", "phong": "Phòng GDĐT", "phuong": "Phường / xã"}


def admin_store(path) -> state.Store:
    """The state store beside the file, with Quản trị's tables (kpi/sql/state/schema.sql's "version 4"
    part): a store made at version 4 before those tables were written there gains them here, once
    per process."""
    s = state.store_for(path)
    if s.path not in _READY:
        s.ensure_tables(since=4)  # CREATE TABLE IF NOT EXISTS only: safe beside other processes
        _READY.add(s.path)
    return s


class AdminError(ValueError):
    """A refused change, with a Vietnamese message for the user; nothing was written."""


def require_leadership(path, actor, what: str) -> None:
    """Refuse (and audit the attempt) unless `actor` is the office's leadership."""
    role = getattr(actor, "role", None)
    if role not in ADMIN_ROLES:
        name = getattr(actor, "user_name", None)
        state.store_for(path).audit("qt_tu_choi", name, {"viec": what, "vai_tro": ROLES.get(role, "không có")})
        label = ROLES.get(role, "Người dùng này") if role else "Người dùng chưa đăng nhập"
        raise AdminError(f"{label} không được {what}: chỉ lãnh đạo Phòng được thay đổi mục Quản trị.")


def can_change(actor) -> bool:
    """Whether the user may change anything in Quản trị (others read)."""
    return getattr(actor, "role", None) in ADMIN_ROLES


def history(path, limit: int = 300) -> list[dict]:
    """Quản trị's audit, newest first: at, user_name, action (its label), detail (dict)."""
    import json

    rows = state.store_for(path).read(state.sql("audit.of_admin"), {"limit": limit})
    return [{"at": at, "user_name": who, "action": ACTIONS.get(action, action), "code": action,
             "detail": json.loads(detail) if detail else {}} for at, who, action, detail in rows]


# ---- what the page shows (frames with every text decided; no Streamlit here) ---------------------

def draft_frame(catalog, draft: dict):
    """A draft's rows for the editor: index 'indicator|level', values in percent written the
    Vietnamese way ("17,5": the editor shows text, so a browser's locale never makes it "17.5"),
    labels in words."""
    import pandas as pd


    rows = draft["rows"]
    return pd.DataFrame({
        "Chỉ số": [f"{catalog.indicators[r['indicator']].clause} · {catalog.indicators[r['indicator']].label_vi}"
                   if r["indicator"] in catalog.indicators else r["indicator"] for r in rows],
        "Cấp học": [LEVEL_LABELS.get(r["level"], r["level"]) for r in rows],
        "Chỉ tiêu (%)": [fmt_number(float(r["value"]) * 100, 2) for r in rows],
        "Gần đạt từ (%)": [fmt_number(float(r["near"]) * 100, 2) for r in rows],
        "Điều khoản": [r["clause"] for r in rows],
        "Căn cứ": [TARGET_BASES.get(r["basis"], r["basis"]) for r in rows],
    }, index=[f"{r['indicator']}|{r['level']}" for r in rows])


def editor_changes(draft: dict, edited) -> list[dict]:
    """The changes (kpi.admin.plans.edit_targets) between a draft and its edited frame (`draft_frame`'s
    shape); a cell left empty or not a number is passed on as is, for edit_targets to refuse."""
    by_label = {v: k for k, v in TARGET_BASES.items()}
    out = []
    rows = {f"{r['indicator']}|{r['level']}": r for r in draft["rows"]}
    for key, rec in edited.to_dict("index").items():
        old = rows.get(key)
        if old is None:
            continue
        ch = {}
        for col, k in (("Chỉ tiêu (%)", "value"), ("Gần đạt từ (%)", "near")):
            v = rec.get(col)
            text = "" if v is None or v != v else str(v).strip().removesuffix("%").strip()
            try:  # "17,5" or "17.5"
                share = round(float(text.replace(",", ".")) / 100, 6) if text else None
            except ValueError:
                share = text  # not a number: passed on for edit_targets to refuse, naming the row
            if share != round(float(old[k]), 6):
                ch[k] = share
        if str(rec.get("Điều khoản") or "").strip() != old["clause"]:
            ch["clause"] = str(rec.get("Điều khoản") or "").strip()
        basis = by_label.get(rec.get("Căn cứ"), rec.get("Căn cứ"))
        if basis != old["basis"]:
            ch["basis"] = basis
        if ch:
            out.append({"indicator": old["indicator"], "level": old["level"], **ch})
    return out


def when_text(v) -> str:
    """A moment (epoch seconds, datetime) as dd/mm/yyyy hh:mm; a date as dd/mm/yyyy; "—" when missing."""
    import datetime as dt

    import pandas as pd


    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "—"
    if isinstance(v, (int, float)):
        return fmt_datetime(dt.datetime.fromtimestamp(v))
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    return fmt_datetime(v) if isinstance(v, dt.datetime) else fmt_date(v)


def _date_text(v) -> str:
    """A DATE column's value as dd/mm/yyyy ('—' when missing)."""
    import pandas as pd


    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "—"
    return fmt_date(v.date() if isinstance(v, pd.Timestamp) else v)


def plans_frame(plans):
    """Published versions (kpi.store.queries.target_plans) as a table."""
    import pandas as pd

    return pd.DataFrame({
        "Năm học": plans["school_year"], "Phiên bản": plans["version"], "Số văn bản": plans["document"],
        "Bắt đầu từ năm học": plans["source_year"], "Người công bố": plans["published_by"],
        "Thời điểm": [when_text(v) for v in plans["published_at"]], "Số chỉ tiêu": plans["targets"],
        "Đang áp dụng": ["Có" if bool(v) else "Không (đã thay)" for v in plans["in_force"]],
    })


def schools_frame(schools):
    """Every school (kpi.store.queries.admin_schools) with its state in words."""
    import pandas as pd


    def state_text(r):
        if r["active"]:
            return "Đang hoạt động"
        if isinstance(r.get("merged_into"), str) and r["merged_into"]:
            return f"Đã sáp nhập vào {r['merged_into']} từ {_date_text(r['closed_on'])}"
        return f"Đã đóng từ {_date_text(r['closed_on'])}" if not pd.isna(r.get("closed_on")) else "Đã đóng"

    recs = schools.to_dict("records")
    return pd.DataFrame({
        "Mã trường": [r["school_id"] for r in recs], "Tên trường": [r["name"] for r in recs],
        "Cấp học": [LEVEL_LABELS.get(r["level"], r["level"]) for r in recs],
        "Loại hình": [OWNERSHIP_LABELS.get(r["ownership"], r["ownership"]) for r in recs],
        "Phường": [r["ward"] for r in recs], "Đơn vị": [r.get("unit_name") or r.get("unit_id") for r in recs],
        "Hoạt động từ": [_date_text(r.get("opened_on")) for r in recs],
        "Tình trạng": [state_text(r) for r in recs],
    })


def units_frame(units):
    import pandas as pd


    return pd.DataFrame({
        "Tên đơn vị": units["name"],
        "Loại": [UNIT_KINDS.get(k, k) for k in units["kind"]],
        "Cấp trên": [p if isinstance(p, str) else "—" for p in units["parent_name"]],
        "Số trường đang hoạt động": units["schools"],
    })


def users_frame(users, must_change: set[str]):
    """Accounts (kpi/sql/user_list.sql) as a table, with whether the first password is still to change."""
    import pandas as pd

    return pd.DataFrame({
        "Tên đăng nhập": users["user_name"], "Họ và tên": users["display_name"],
        "Vai trò": [ROLES.get(r, r) for r in users["role"]],
        "Trường": [n if isinstance(n, str) else "—" for n in users["school_name"]],
        "Tình trạng": ["Đang dùng" if bool(a) else "Đã khóa" for a in users["active"]],
        "Mật khẩu": ["Phải đổi ở lần đăng nhập tới" if u in must_change else "Đã đặt" for u in users["user_name"]],
    })


DETAIL_LABELS = {"nam_hoc": "năm học", "chi_so": "chỉ số", "cap_hoc": "cấp học", "truoc": "trước", "sau": "sau",
                 "tu_nam_hoc": "từ năm học", "so_chi_tieu": "số chỉ tiêu", "phien_ban": "phiên bản",
                 "van_ban": "văn bản", "tep": "tệp", "truong": "trường", "vao": "vào", "tu_ngay": "từ ngày",
                 "ly_do": "lý do", "khoa_tai_khoan": "khóa tài khoản", "don_vi": "đơn vị", "ten": "tên",
                 "cap_tren": "cấp trên", "tai_khoan": "tài khoản", "tao": "tạo", "doi": "đổi", "khoa": "khóa",
                 "viec": "việc", "vai_tro": "vai trò", "loai_hinh": "loại hình", "phuong": "phường",
                 "name": "tên", "level": "cấp học", "ownership": "loại hình", "ward": "phường", "unit_id": "đơn vị",
                 "value": "chỉ tiêu", "near": "gần đạt", "clause": "điều khoản", "basis": "căn cứ"}


def _detail_text(v) -> str:

    def one(k, x):
        if k in ("value", "near") and isinstance(x, (int, float)):
            return fmt_percent(x)
        return TARGET_BASES.get(x, x) if k == "basis" else _detail_text(x)

    if isinstance(v, dict):
        return ", ".join(f"{DETAIL_LABELS.get(k, k)} {one(k, x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_detail_text(x) for x in v) or "—"
    return "—" if v is None or v == "" else str(v)


def history_frame(rows: list[dict], catalog=None, unit_names: dict | None = None):
    """Quản trị's audit (`history`) as a table: when, who, what, detail in words (indicators by
    their label when `catalog` is given)."""
    import pandas as pd


    def words(k, v):
        if k == "chi_so" and catalog is not None and v in catalog.indicators:
            return catalog.indicators[v].label_vi
        if k == "cap_hoc":
            return LEVEL_LABELS.get(v, v)
        if k in ("don_vi", "cap_tren") and unit_names and isinstance(v, str):
            return unit_names.get(v, v)
        return _detail_text(v)

    return pd.DataFrame({
        "Thời điểm": [when_text(r["at"]) for r in rows], "Người": [r["user_name"] or "—" for r in rows],
        "Việc": [r["action"] for r in rows],
        "Chi tiết": ["; ".join(f"{DETAIL_LABELS.get(k, k)}: {words(k, v)}" for k, v in r["detail"].items())
                     for r in rows],
    }, columns=["Thời điểm", "Người", "Việc", "Chi tiết"])
