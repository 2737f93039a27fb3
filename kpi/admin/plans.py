"""Targets per school year, run by the office from the app (Quản trị › Chỉ tiêu).

A year's plan goes draft → published:

- **Draft** (state store, `target_drafts`): started from the targets in force of another year
  (usually the year before: "start next year's plan from this year's targets"), then edited row by
  row (value, "gần đạt" threshold, clause, basis per indicator × cấp học) and given the plan's
  document number. Every edit is audited with the values before and after.
- **Publish**: checks every row, then writes a new version of the year (`target_plans`,
  `plan_targets`) into the analytics file through the single writer (kpi.store.db.writing: a new data
  version, so every worker's caches refresh and every page shows the new targets). A published
  version is never changed; correcting it means a new draft and a new version (history kept).

The targets in force for a year are those of its newest published version; a year never published
in the app keeps `kpi/definitions/targets.toml` (the shipped default a new database starts from).
"A target stays in force for later years until replaced" holds across both.
`python -m kpi targets export/import` moves a year's targets as a file in targets.toml's format.

Every write takes the acting user and refuses anyone but the office's leadership (kpi.admin.shared).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import tomllib

from kpi.admin.shared import AdminError, admin_store, require_leadership, when_text
from kpi.catalog.model import (
    _YEAR,
    LEVEL_LABELS,
    TARGET_BASES,
    Catalog,
    Target,
    _cross_check,
    _parse_targets,
    _Problems,
    default_catalog,
)
from kpi.common.formatting import fmt_percent
from kpi.store import db, queries, state

ROW_KEYS = ("indicator", "level", "value", "near", "clause", "basis")


# ---- what is in force -------------------------------------------------------------------------

def catalog_with_plans(con, base: Catalog | None = None) -> Catalog:
    """The catalog with the targets of every year published in the app in place of targets.toml's
    entries for that year (`con`: a read-only connection, kpi.store.db.connect)."""
    base = base or default_catalog()
    df = queries.plan_targets(con)
    if df.empty:
        return base
    years = set(df["school_year"])
    published = [Target(r["indicator_code"], r["school_year"], r["level"], float(r["value"]), float(r["near"]),
                         r["clause"], r["basis"]) for r in df.to_dict("records")
                 if r["indicator_code"] in base.indicators]
    kept = [t for t in base.targets if t.school_year not in years]
    return dataclasses.replace(base, targets=tuple(kept + published), _by_key={})


def catalog_of(path, base: Catalog | None = None) -> Catalog:
    """The catalog in force for the database at `path`."""
    con = db.connect(path)
    try:
        return catalog_with_plans(con, base)
    finally:
        con.close()


def rows_in_force(catalog: Catalog, school_year: str) -> list[dict]:
    """One row per indicator × cấp học with the target in force that year (ROW_KEYS), in catalog order."""
    rows = []
    for ind in catalog.indicators.values():
        for level in ind.levels:
            t = catalog.target_for(ind.code, level, school_year)
            if t is not None:
                rows.append({"indicator": ind.code, "level": level, "value": t.value, "near": t.near,
                             "clause": t.clause, "basis": t.basis})
    return rows


def published_versions(path) -> "queries.pd.DataFrame":
    """Every published version of every year, newest first (history)."""
    con = db.connect(path)
    try:
        return queries.target_plans(con)
    finally:
        con.close()


def version_rows(path, school_year: str, version: int) -> list[dict]:
    """The targets of one published version, as it was published (ROW_KEYS)."""
    con = db.connect(path)
    try:
        df = queries.plan_version_targets(con, school_year, version)
    finally:
        con.close()
    return [{"indicator": r["indicator_code"], "level": r["level"], "value": float(r["value"]),
             "near": float(r["near"]), "clause": r["clause"], "basis": r["basis"]} for r in df.to_dict("records")]


def _latest_version(con, school_year: str) -> int:
    df = queries.target_plans(con)
    part = df[df["school_year"] == school_year]
    return int(part["version"].max()) if not part.empty else 0


# ---- checks -------------------------------------------------------------------------------------

def check_year(school_year: str) -> str:
    year = str(school_year).strip()
    m = _YEAR.match(year)
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        raise AdminError(f"Năm học '{school_year}' không đúng dạng 2024-2025.")
    return year


def row_name(catalog: Catalog, row: dict) -> str:
    ind = catalog.indicators.get(row.get("indicator"))
    label = ind.label_vi if ind else str(row.get("indicator"))
    return f"{label} ({LEVEL_LABELS.get(row.get('level'), row.get('level'))})"


def row_problems(catalog: Catalog, row: dict) -> list[str]:
    """What is wrong with one target row, in Vietnamese (empty = fine)."""
    ind = catalog.indicators.get(row.get("indicator"))
    if ind is None:
        return [f"chỉ số '{row.get('indicator')}' không có trong danh mục"]
    if row.get("level") not in ind.levels:
        return [f"cấp học '{row.get('level')}' không thuộc chỉ số này"]
    out = []
    value, near = row.get("value"), row.get("near")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, near))
    if not numbers:
        out.append("chỉ tiêu và ngưỡng gần đạt phải là số")
    elif not 0 <= near <= value <= 1:
        out.append(f"cần 0% ≤ gần đạt ({fmt_percent(near)}) ≤ chỉ tiêu ({fmt_percent(value)}) ≤ 100%")
    if not str(row.get("clause") or "").strip():
        out.append("thiếu điều khoản của kế hoạch (ví dụ II.10)")
    if row.get("basis") not in TARGET_BASES:
        out.append(f"căn cứ '{row.get('basis')}' không hợp lệ; chọn {', '.join(TARGET_BASES)}")
    return out


def _check_all(catalog: Catalog, rows: list[dict]) -> None:
    problems, seen = [], set()
    for r in rows:
        key = (r.get("indicator"), r.get("level"))
        if key in seen:
            problems.append(f"{row_name(catalog, r)}: trùng chỉ tiêu")
        seen.add(key)
        problems += [f"{row_name(catalog, r)}: {p}" for p in row_problems(catalog, r)]
    if problems:
        raise AdminError("Chưa lưu, vì:\n" + "\n".join(f"- {p}" for p in problems))


# ---- drafts (state store) -----------------------------------------------------------------------

_DRAFT_COLS = ("school_year", "source_year", "base_version", "document", "rows", "version", "created_by",
               "created_at", "updated_by", "updated_at")


def _changed_since(school_year: str, seen: int, current: int, by: str | None, at, actor) -> AdminError:
    """The refusal of a write made on a draft version older than the current one, naming who
    changed the draft and when (as entries do)."""
    who = "bạn (ở một cửa sổ khác)" if by == actor.user_name else (by or "người khác")
    return AdminError(f"Bản nháp chỉ tiêu năm học {school_year} đã được {who} sửa lúc {when_text(at)} sau khi bạn mở "
                      f"(bạn xem lần sửa thứ {seen}, hiện là lần thứ {current}); tải lại để xem rồi làm lại. "
                      "Thao tác của bạn chưa được thực hiện.")


def draft(path, school_year: str) -> dict | None:
    """The draft of a school year (rows decoded), or None."""
    got = admin_store(path).read(state.sql("target_drafts.get"), {"school_year": school_year})
    if not got:
        return None
    d = dict(zip(_DRAFT_COLS, got[0]))
    d["rows"] = json.loads(d["rows"])
    return d


def drafts(path) -> list[str]:
    """School years with a draft, newest first."""
    return [r[0] for r in admin_store(path).read(state.sql("target_drafts.years"))]


def previous_year(school_year: str) -> str:
    a = int(school_year[:4])
    return f"{a - 1}-{a}"


def next_year(school_year: str) -> str:
    a = int(school_year[:4])
    return f"{a + 1}-{a + 2}"


def _new_draft(path, actor, year: str, source: str, rows: list[dict], document: str, action: str,
               detail: dict, replace: bool = False) -> dict:
    con = db.connect(path)
    try:
        base_version = _latest_version(con, year)
    finally:
        con.close()
    now = time.time()
    with admin_store(path).write() as sc:
        if sc.execute(state.sql("target_drafts.get"), {"school_year": year}).fetchall():
            if not replace:
                raise AdminError(f"Năm học {year} đã có bản nháp chỉ tiêu: sửa bản nháp đó, hoặc hủy nó trước.")
            sc.execute(state.sql("target_drafts.remove"), {"school_year": year})
        sc.execute(state.sql("target_drafts.add"), {
            "school_year": year, "source_year": source, "base_version": base_version, "document": document,
            "rows": json.dumps(rows, ensure_ascii=False), "user_name": actor.user_name, "now": now})
        state.audit_in(sc, action, actor.user_name, {"nam_hoc": year, **detail}, now=now)
    return draft(path, year)


def start_draft(path, actor, school_year: str, from_year: str | None = None, catalog: Catalog | None = None) -> dict:
    """Start a school year's draft from the targets in force in `from_year` (default: the year
    before), with that year's document number left for the new plan. Refused when the year already
    has a draft."""
    require_leadership(path, actor, "tạo bản nháp chỉ tiêu")
    year = check_year(school_year)
    source = check_year(from_year) if from_year else previous_year(year)
    cat = catalog or catalog_of(path)
    rows = rows_in_force(cat, source)
    if not rows:
        raise AdminError(f"Năm học {source} chưa có chỉ tiêu nào để bắt đầu.")
    return _new_draft(path, actor, year, source, rows, "", "qt_chi_tieu_tao_nhap",
                      {"tu_nam_hoc": source, "so_chi_tieu": len(rows)})


def edit_targets(path, actor, school_year: str, changes: list[dict], version: int | None = None,
                 catalog: Catalog | None = None) -> dict:
    """Change rows of a draft: each change names `indicator` and `level` and gives any of value,
    near, clause, basis. All or nothing: one bad row refuses every change. `version`: the draft's
    version the editor started from (a save on an older version is refused). Each changed row is
    audited with its values before and after."""
    require_leadership(path, actor, "sửa chỉ tiêu")
    cat = catalog or catalog_of(path)
    now = time.time()
    with admin_store(path).write() as sc:
        got = sc.execute(state.sql("target_drafts.get"), {"school_year": school_year}).fetchall()
        if not got:
            raise AdminError(f"Năm học {school_year} chưa có bản nháp chỉ tiêu (đã công bố thì tạo bản nháp mới).")
        d = dict(zip(_DRAFT_COLS, got[0]))
        rows, current = json.loads(d["rows"]), d["version"]
        if version is not None and version != current:
            raise _changed_since(school_year, version, current, d["updated_by"], d["updated_at"], actor)
        by_key = {(r["indicator"], r["level"]): r for r in rows}
        audits, problems = [], []
        for ch in changes:
            key = (ch.get("indicator"), ch.get("level"))
            old = by_key.get(key)
            if old is None:
                problems.append(f"{row_name(cat, ch)}: không có trong bản nháp")
                continue
            new = {**old, **{k: ch[k] for k in ("value", "near", "clause", "basis") if k in ch}}
            for k in ("value", "near"):
                if isinstance(new[k], (int, float)) and not isinstance(new[k], bool):
                    new[k] = round(float(new[k]), 6)
            new["clause"] = str(new["clause"]).strip()
            bad = row_problems(cat, new)
            if bad:
                problems += [f"{row_name(cat, new)}: {p}" for p in bad]
                continue
            if new != old:
                audits.append({"nam_hoc": school_year, "chi_so": new["indicator"], "cap_hoc": new["level"],
                               "truoc": {k: old[k] for k in ("value", "near", "clause", "basis")},
                               "sau": {k: new[k] for k in ("value", "near", "clause", "basis")}})
                by_key[key].update(new)
        if problems:
            raise AdminError("Chưa lưu, vì:\n" + "\n".join(f"- {p}" for p in problems))
        if audits:
            sc.execute(state.sql("target_drafts.set_rows"), {"school_year": school_year, "user_name": actor.user_name,
                                                             "rows": json.dumps(rows, ensure_ascii=False), "now": now})
            for a in audits:
                state.audit_in(sc, "qt_chi_tieu_sua", actor.user_name, a, now=now)
    return draft(path, school_year)


def set_document(path, actor, school_year: str, document: str, version: int | None = None) -> dict:
    """Record the plan's document number (số văn bản, e.g. '1234/KH-GDĐT') on the draft.
    `version`: the draft's version the leader saw (the page always gives it); refused, naming who
    changed the draft and when, if it changed since."""
    require_leadership(path, actor, "sửa số văn bản kế hoạch")
    document = " ".join(str(document or "").split())
    if not document or len(document) > 200:
        raise AdminError("Số văn bản kế hoạch cần từ 1 đến 200 ký tự (ví dụ 1234/KH-GDĐT ngày 05/09/2024).")
    with admin_store(path).write() as sc:
        got = sc.execute(state.sql("target_drafts.get"), {"school_year": school_year}).fetchall()
        if not got:
            raise AdminError(f"Năm học {school_year} chưa có bản nháp chỉ tiêu.")
        d = dict(zip(_DRAFT_COLS, got[0]))
        before, current = d["document"], d["version"]
        if version is not None and version != current:
            raise _changed_since(school_year, version, current, d["updated_by"], d["updated_at"], actor)
        sc.execute(state.sql("target_drafts.set_document"), {"school_year": school_year, "document": document,
                                                             "user_name": actor.user_name, "now": time.time()})
        state.audit_in(sc, "qt_chi_tieu_van_ban", actor.user_name,
                       {"nam_hoc": school_year, "truoc": before, "sau": document})
    return draft(path, school_year)


def discard_draft(path, actor, school_year: str) -> None:
    """Drop a draft (the published versions stay)."""
    require_leadership(path, actor, "hủy bản nháp chỉ tiêu")
    with admin_store(path).write() as sc:
        n = sc.execute(state.sql("target_drafts.remove"), {"school_year": school_year}).rowcount
        if not n:
            raise AdminError(f"Năm học {school_year} không có bản nháp chỉ tiêu.")
        state.audit_in(sc, "qt_chi_tieu_huy_nhap", actor.user_name, {"nam_hoc": school_year})


def publish(path, actor, school_year: str, version: int | None = None, catalog: Catalog | None = None) -> int:
    """Publish a year's draft as its next version (returns it): every row checked, a document
    number required; written through the single writer (new data version), then the draft dropped.
    `version`: the draft's version the leader saw (the page always gives it): refused, naming who
    changed the draft and when, if it changed since, so what is published is exactly what was
    shown. Refused when another version of the year was published after the draft began."""
    require_leadership(path, actor, "công bố chỉ tiêu")
    d = draft(path, school_year)
    if d is None:
        raise AdminError(f"Năm học {school_year} chưa có bản nháp chỉ tiêu để công bố.")
    if version is not None and version != d["version"]:
        raise _changed_since(school_year, version, d["version"], d["updated_by"], d["updated_at"], actor)
    cat = catalog or catalog_of(path)
    _check_all(cat, d["rows"])
    if not d["document"]:
        raise AdminError("Cần ghi số văn bản kế hoạch trước khi công bố.")
    now = dt.datetime.now()
    with db.writing(path) as con:
        latest = con.execute("SELECT coalesce(max(version), 0) FROM target_plans WHERE school_year = ?",
                             [school_year]).fetchall()[0][0]
        if latest != d["base_version"]:
            raise AdminError(f"Năm học {school_year} đã được công bố phiên bản {latest} sau khi bản nháp này được "
                             "tạo; hủy bản nháp và tạo bản nháp mới từ phiên bản đó.")
        new_version = latest + 1
        con.execute("INSERT INTO target_plans VALUES (?, ?, ?, ?, ?, ?)",
                    [school_year, new_version, d["document"], d["source_year"], actor.user_name, now])
        con.executemany("INSERT INTO plan_targets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [[school_year, new_version, r["indicator"], r["level"], float(r["value"]), float(r["near"]),
                          r["clause"], r["basis"]] for r in d["rows"]])
        record_change(con, actor, "chi_tieu", school_year, None,
                      {"phien_ban": new_version, "van_ban": d["document"], "so_chi_tieu": len(d["rows"])}, now)
    with admin_store(path).write() as sc:
        # an edit made while publishing stays a draft on top of the new version (never published unseen)
        if not sc.execute(state.sql("target_drafts.published"), {"school_year": school_year,
                                                                 "version": d["version"]}).rowcount:
            sc.execute(state.sql("target_drafts.rebase"), {"school_year": school_year, "base_version": new_version})
        state.audit_in(sc, "qt_chi_tieu_cong_bo", actor.user_name,
                       {"nam_hoc": school_year, "phien_ban": new_version, "van_ban": d["document"]})
    return new_version


def record_change(con, actor, kind: str, object_id: str, effective_on, detail: dict, at=None) -> None:
    """One row of reference_changes, inside the writer's transaction `con`."""
    n = con.execute("SELECT coalesce(max(change_id), 0) + 1 FROM reference_changes").fetchall()[0][0]
    con.execute("INSERT INTO reference_changes VALUES (?, ?, ?, ?, ?, ?, ?)",
                [n, at or dt.datetime.now(), actor.user_name, effective_on, kind, object_id,
                 json.dumps(detail, ensure_ascii=False, default=str)])


# ---- files (python -m kpi targets export / import) ----------------------------------------------

def _toml_str(text: str) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def export_toml(catalog: Catalog, school_year: str, document: str = "") -> str:
    """The targets in force in a school year as a file in targets.toml's format (one entry per
    indicator × cấp học), which `import_targets` (or targets.toml itself) reads back."""
    year = check_year(school_year)
    lines = [f"# Chỉ tiêu kế hoạch năm học {year} (xuất từ Bảng điều khiển chuyển đổi số).",
             "# value / near: tỉ lệ từ 0 đến 1 (đạt từ value, gần đạt từ near).",
             f"document = {_toml_str(document)}", ""]
    for r in rows_in_force(catalog, year):
        lines += ["[[target]]", f"indicator = {_toml_str(r['indicator'])}", f"school_year = {_toml_str(year)}",
                  f"levels = [{_toml_str(r['level'])}]", f"value = {r['value']!r}", f"near = {r['near']!r}",
                  f"clause = {_toml_str(r['clause'])}", f"basis = {_toml_str(r['basis'])}", ""]
    return "\n".join(lines)


def read_targets_file(data: bytes, file_name: str, catalog: Catalog, school_year: str | None = None
                      ) -> tuple[str, list[dict], str]:
    """(school year, rows, document) of a targets file; AdminError naming the file and every problem.
    A file holding several years needs `school_year` to say which one to take."""
    try:
        parsed = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise AdminError(f"Tệp {file_name}: không phải văn bản UTF-8.") from None
    except tomllib.TOMLDecodeError as e:
        raise AdminError(f"Tệp {file_name}: sai cú pháp TOML ({e}).") from None
    problems = _Problems()
    targets = _parse_targets(parsed, problems)
    if not problems:
        _cross_check_targets = _Problems()
        _cross_check(catalog.fields, catalog.themes, catalog.indicators, targets, catalog.criteria, None,
                     _cross_check_targets)
        problems += [p for p in _cross_check_targets if "chỉ số chưa có chỉ tiêu nào" not in p]
    if problems:
        raise AdminError(f"Tệp {file_name} không hợp lệ, chưa nhập gì:\n"
                         + "\n".join(f"- {p.replace('targets.toml: ', '', 1)}" for p in problems))
    years = sorted({t.school_year for t in targets})
    if not years:
        raise AdminError(f"Tệp {file_name}: không có chỉ tiêu nào ([[target]]).")
    if school_year is None:
        if len(years) > 1:
            raise AdminError(f"Tệp {file_name} có chỉ tiêu của {len(years)} năm học ({', '.join(years)}): "
                             "chọn một năm học (--year).")
        school_year = years[0]
    school_year = check_year(school_year)
    if school_year not in years:
        raise AdminError(f"Tệp {file_name} không có chỉ tiêu năm học {school_year} (có: {', '.join(years)}).")
    rows = [{"indicator": t.indicator, "level": t.level, "value": t.value, "near": t.near, "clause": t.clause,
             "basis": t.basis} for t in targets if t.school_year == school_year]
    return school_year, rows, str(parsed.get("document", "") or "")


def import_targets(path, actor, data: bytes, file_name: str, school_year: str | None = None,
                   catalog: Catalog | None = None) -> dict:
    """A school year's draft from a targets file (replacing the year's draft, if any): all or nothing."""
    require_leadership(path, actor, "nhập chỉ tiêu từ tệp")
    cat = catalog or catalog_of(path)
    year, rows, document = read_targets_file(data, file_name, cat, school_year)
    _check_all(cat, rows)
    return _new_draft(path, actor, year, year, rows, document, "qt_chi_tieu_nhap_tep",
                      {"tep": file_name, "so_chi_tieu": len(rows)}, replace=True)
