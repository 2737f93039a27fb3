"""Imports of schools' files (XLSX, CSV): validate everything (kpi.imports.parse), then apply all or
nothing, audited; revert.

A file with any problem changes nothing; a file that holds no value, or only values already stored,
says so. A good file is applied in one transaction on a private copy of the database that is swapped
in under the writers' lock (kpi.store.db.writing), so the app keeps serving and a killed import leaves
the database as it was. Each import is recorded (who, when, file, SHA-256, rows, values changed) with
the values it replaced, so it can be inspected and reverted; the same file twice changes nothing.
Its statements are kpi/sql/write/import_*.sql.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import pandas as pd
import pyarrow as pa

from kpi.catalog.model import Catalog, default_catalog
from kpi.common.formatting import fmt_date, fmt_int
from kpi.domain import workflow
from kpi.imports.import_read import LIMITS, Limits, Refused
from kpi.imports.parse import check, facts, read
from kpi.imports.problems import MAX_PROBLEMS, ImportRejected, ImportResult, Parsed, Problem
from kpi.store import db, derived, recovery, state


def locked_keys(path, keys) -> list[tuple]:
    """The (school, year, round) among `keys` that the Phòng locked and has not reopened (kpi.workflows.entry):
    an import may not change them either."""

    keys = sorted(keys)
    if not keys or not state.has_store(path):
        return []
    store = state.store_for(path)
    periods = sorted({(y, r) for _, y, r in keys})
    locked = set()
    for y, r in periods:
        stored = dict(store.read(state.sql("entries.period_states"), {"school_year": y, "round": r}))
        for (sid,) in store.read(state.sql("entries.period_locked"), {"school_year": y, "round": r}):
            if workflow.effective_state(stored.get(sid), True, True) == "da_khoa":
                locked.add((sid, y, r))
    return [k for k in keys if k in locked]


def published_keys(con, scores) -> list[tuple]:
    """The (school, school year, publication) among a file's criterion rows whose results the Phòng
    published (kpi.workflows.publication): published results are frozen, an import may not change them."""
    keys = sorted({(r[0], r[1]) for r in scores})
    if not keys:
        return []
    try:
        rows = con.execute(db.statement("import_check.published"), {"years": sorted({y for _, y in keys})}).fetchall()
    except duckdb.CatalogException:  # a file older than the publications table
        return []
    wanted = set(keys)
    return sorted((sid, y, pid) for sid, y, pid in rows if (sid, y) in wanted)


# ---- preview and apply -------------------------------------------------------------------

def _register(con, parsed: Parsed) -> None:
    obs = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string()),
                     ("field_code", pa.string()), ("value", pa.float64())])
    scores = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("criterion_code", pa.string()),
                        ("self_points", pa.float64()), ("self_met", pa.bool_()), ("evidence_url", pa.string()),
                        ("verified_points", pa.float64()), ("verified_met", pa.bool_())])
    for name, schema, rows in (("in_obs", obs, parsed.observations), ("in_scores", scores, parsed.scores)):
        columns = list(zip(*rows)) if rows else [()] * len(schema)
        con.register(name, pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema)],
                                                schema=schema))




def _score_changed(d):
    """An imported criterion row changes something when a filled cell differs from what is stored."""
    changed = ~d["existed"]
    for new, old in (("self_points", "o_sp"), ("self_met", "o_sm"), ("evidence_url", "o_ev"),
                     ("verified_points", "o_vp"), ("verified_met", "o_vm")):
        changed |= d[new].notna() & (d[new].astype(object) != d[old].astype(object))
    return changed


def preview(con, parsed: Parsed):
    """Per school and period: values that would be new, changed, unchanged (a DataFrame)."""
    _register(con, parsed)
    try:
        d = con.execute(db.statement("import_apply.diff")).df()
        s = con.execute(db.statement("import_apply.score_diff")).df()
        names = dict(con.execute(db.statement("import_check.school_names")).fetchall())
    finally:
        con.unregister("in_obs")
        con.unregister("in_scores")
    d["kind"] = ["mới" if pd.isna(o) else "thay đổi" if o != v else "không đổi"
                 for v, o in zip(d["value"], d["old_value"])]
    d["period"] = d["school_year"] + " " + d["round"]
    if len(s):
        ch = _score_changed(s)
        s = s.assign(kind=["mới" if not e else "thay đổi" if c else "không đổi" for e, c in zip(s["existed"], ch)],
                     period=s["school_year"] + " (tự đánh giá)")
        d = pd.concat([d[["school_id", "period", "kind"]], s[["school_id", "period", "kind"]]])
    if d.empty:
        return pd.DataFrame(columns=["Mã trường", "Trường", "Kỳ", "Mới", "Thay đổi", "Không đổi"])
    t = d.groupby(["school_id", "period", "kind"]).size().unstack(fill_value=0)
    for k in ("mới", "thay đổi", "không đổi"):
        if k not in t.columns:
            t[k] = 0
    t = t.reset_index()
    return pd.DataFrame({"Mã trường": t["school_id"], "Trường": t["school_id"].map(names), "Kỳ": t["period"],
                         "Mới": t["mới"], "Thay đổi": t["thay đổi"], "Không đổi": t["không đổi"]})


def _changes(pv) -> int:
    return int(pv["Mới"].sum() + pv["Thay đổi"].sum()) if len(pv) else 0


def _imported_before(con, sha: str) -> bool:
    return bool(con.execute(db.statement("import_check.imported_before"), [sha]).fetchall()[0][0])


def _unchanged_message(con, name: str, sha: str, parsed: Parsed) -> str:
    """Why a file changes nothing, in the school's words."""
    n = len(parsed.observations) + len(parsed.scores)
    prior = con.execute(db.statement("import_check.prior"), [sha]).fetchall()
    why = (f"tệp này đã được nhập ở lần nhập #{prior[0][0]} ngày {fmt_date(prior[0][1])}" if prior
           else "số liệu trong tệp giống hệt số liệu đã nhập trước đó")
    return (f"{name}: không có giá trị nào thay đổi: cả {fmt_int(n)} giá trị trong tệp đã có sẵn với đúng giá trị "
            f"đó ({why}); không ghi gì.")


class _Discard(Exception):
    """Leave db.writing without swapping the copy in (nothing to write)."""

    def __init__(self, result: ImportResult):
        self.result = result


def import_file(path, name: str, data: bytes, user: str, dry_run: bool = False,
                catalog: Catalog | None = None, now: dt.datetime | None = None,
                limits: Limits = LIMITS) -> ImportResult:
    """Validate a file and, unless `dry_run`, apply it whole; raise ImportRejected with every
    problem when it has any (nothing is written).

    The file is read and checked before the writers' lock is taken, so a refused file (or one that
    changes nothing) never copies the database; the checks against schools and periods are redone
    under the lock only if those changed meanwhile."""
    cat = catalog or default_catalog()
    sha = hashlib.sha256(data).hexdigest()
    try:
        sheets = read(name, data, cat, limits)
    except Refused as e:
        raise ImportRejected([Problem(name, e.sheet, None, "", None, e.message)]) from None
    con = db.connect(path)
    try:
        known = facts(con)
        parsed = check(name, sheets, known, cat)
        if parsed.problems:
            raise ImportRejected(parsed.problems)
        if locked := locked_keys(path, parsed.submitted):
            raise ImportRejected([Problem(name, "—", None, "", None, f"kỳ {y} {r} của trường {sid} đã khóa (Phòng đã "
                                          "duyệt và khóa kỳ); mở lại trường trên trang Duyệt số liệu trước khi nhập")
                                  for sid, y, r in locked[:MAX_PROBLEMS]])
        if published := published_keys(con, parsed.scores):
            raise ImportRejected([Problem(name, "—", None, "", None, f"kết quả đánh giá năm học {y} của trường {sid} "
                                          f"đã công bố (lần công bố {pid}) và không thay đổi nữa; xóa các dòng đó rồi "
                                          "gửi lại") for sid, y, pid in published[:MAX_PROBLEMS]])
        if dry_run:
            pv = preview(con, parsed)
            changes = _changes(pv)
            extra = "" if changes else f" {_unchanged_message(con, name, sha, parsed)}"
            return ImportResult(None, name, sha, parsed.rows, changes, pv,
                                f"Kiểm tra xong {name}: {parsed.rows} dòng hợp lệ, {changes} giá trị sẽ thay đổi."
                                + extra)
        if _imported_before(con, sha):  # the same bytes again: usually nothing to write, so no copy
            pv = preview(con, parsed)
            if _changes(pv) == 0 and not _new_submissions(con, parsed):
                return ImportResult(None, name, sha, parsed.rows, 0, pv, _unchanged_message(con, name, sha, parsed))
    finally:
        con.close()
    now = now or dt.datetime.now()
    try:
        with db.writing(path) as con:
            if (current := facts(con)) != known:
                parsed = check(name, sheets, current, cat)
                if parsed.problems:
                    raise ImportRejected(parsed.problems)
            pv = preview(con, parsed)
            changes = _changes(pv)
            new_subs = _new_submissions(con, parsed)
            if changes == 0 and not new_subs:
                raise _Discard(ImportResult(None, name, sha, parsed.rows, 0, pv,
                                            _unchanged_message(con, name, sha, parsed)))
            import_id = con.execute(db.statement("import_apply.next_import")).fetchall()[0][0]
            _apply(con, parsed, import_id, name, now, new_subs)
            derived.refresh_index(con, cat, *_touched(parsed))
            con.execute(db.statement("import_apply.record"),
                        [import_id, user, now, dt.datetime.now(), name, sha, "import", parsed.rows, changes])
    except _Discard as d:
        return d.result
    return ImportResult(import_id, name, sha, parsed.rows, changes, pv,
                        f"Đã nhập {name} (lần nhập #{import_id}): {parsed.rows} dòng, {changes} giá trị mới hoặc "
                        "thay đổi.")



def _check_unique(con, name: str) -> None:
    """The schema's uniqueness rules (kpi/sql/schema.sql, duplicate_keys) on the keys this import
    wrote, before it commits; a breach rolls the whole write back. Costs what the import costs,
    not what the database holds."""
    dups = con.execute(db.statement("import_apply.written_twice")).fetchall()
    if dups:
        keys = "; ".join(" ".join(str(x) for x in d if x) for d in dups)
        raise ImportRejected([Problem(name, "—", None, "", None,
                                      f"cơ sở dữ liệu sẽ có hai giá trị cho cùng một trường, kỳ và chỉ tiêu ({keys}); "
                                      "không ghi gì. Báo cho người quản trị hệ thống.")])


def _touched(parsed: Parsed) -> tuple[list[str], list[str]]:
    """The school years and schools an import writes (what the stored index must rescore)."""
    keys = {(r[0], r[1]) for r in parsed.observations} | {(r[0], r[1]) for r in parsed.scores}
    keys |= {(k[0], k[1]) for k in parsed.submitted}
    return sorted({y for _, y in keys}), sorted({s for s, _ in keys})


def _new_submissions(con, parsed: Parsed) -> list[tuple]:
    have = {tuple(r) for r in con.execute(db.statement("import_apply.submissions")).fetchall()}
    return sorted(k for k in parsed.submitted if k not in have)


def _apply(con, parsed: Parsed, import_id: int, name: str, now: dt.datetime, new_subs,
           received: dict | None = None) -> None:
    """Write a checked file's values (and its new submissions, received `now` or, per school and
    period, at `received[key]`) in the open transaction, keeping what they replace."""
    _register(con, parsed)
    con.execute(db.statement("import_apply.keep_observations"), {"import_id": import_id})
    con.execute(db.statement("import_apply.drop_observations"))
    con.execute(db.statement("import_apply.put_observations"), {"import_id": import_id})
    for sid, year, rnd in new_subs:
        at = (received or {}).get((sid, year, rnd), now)
        con.execute(db.statement("import_apply.submission"), [sid, year, rnd, at, name, import_id])
    s = con.execute(db.statement("import_apply.score_diff")).df()
    if len(s):
        s = s[_score_changed(s)]
        for r in s.itertuples():
            con.execute(db.statement("import_apply.keep_score"),
                        [import_id, r.school_id, r.school_year, r.criterion_code, _nn(r.o_sp), _nn(r.o_sm),
                         _nn(r.o_vp), _nn(r.o_vm), _nn(r.o_ev), _nn(r.o_imp), bool(r.existed)])
            merged = [_pick(r.self_points, r.o_sp), _pick(r.self_met, r.o_sm), _pick(r.verified_points, r.o_vp),
                      _pick(r.verified_met, r.o_vm), _pick(r.evidence_url, r.o_ev)]
            con.execute(db.statement("import_apply.drop_score"), [r.school_id, r.school_year, r.criterion_code])
            con.execute(db.statement("import_apply.put_score"),
                        [r.school_id, r.school_year, r.criterion_code, *merged, import_id])
    _check_unique(con, name)
    con.unregister("in_obs")
    con.unregister("in_scores")



def write_entries(con, rows: list[tuple], keys: list[tuple], received: dict, user: str, name: str,
                  now: dt.datetime | None = None, catalog: Catalog | None = None) -> tuple[int, int]:
    """Write schools' approved entries (kpi.workflows.entry) in the open `db.writing` transaction as an import
    writes a file: values replaced kept for inspection, the stored index rescored, one imports row
    (source 'nhap_lieu') for the batch. `rows`: (school, year, round, field, value) of every value of
    the entries; `keys`: their (school, year, round): an entry is a school's whole report for the
    period, so a stored value of these keys that the entry leaves blank is removed (kept in the
    history). A submission not yet stored is recorded as received at `received[key]` (the moment
    the school submitted). Returns (import id, values changed)."""
    cat = catalog or default_catalog()
    now = now or dt.datetime.now()
    parsed = Parsed(name)
    parsed.observations, parsed.submitted, parsed.rows = list(rows), set(keys), len(keys)
    changes = _changes(preview(con, parsed))
    new_subs = _new_submissions(con, parsed)
    import_id = con.execute(db.statement("import_apply.next_import")).fetchall()[0][0]
    key_schema = pa.schema([("school_id", pa.string()), ("school_year", pa.string()), ("round", pa.string())])
    columns = list(zip(*keys)) if keys else [()] * 3
    con.register("in_keys", pa.Table.from_arrays([pa.array(c, type=pa.string()) for c in columns], schema=key_schema))
    _register(con, parsed)
    try:
        con.execute(db.statement("import_entries.gone"))
        removed = con.execute(db.statement("import_entries.gone_count")).fetchall()[0][0]
        con.execute(db.statement("import_entries.keep_gone"), {"import_id": import_id})
        con.execute(db.statement("import_entries.drop_gone"))
        con.execute(db.statement("import_entries.drop_table"))
    finally:
        con.unregister("in_keys")
    _apply(con, parsed, import_id, "nhap_lieu", now, new_subs, received)
    derived.refresh_index(con, cat, *_touched(parsed))
    sha = hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()
    con.execute(db.statement("import_apply.record"),
                [import_id, user, now, dt.datetime.now(), name, sha, "nhap_lieu", len(keys), changes + removed])
    return import_id, changes + removed


def _nn(v):
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else (v.item() if hasattr(v, "item") else v)


def _pick(new, old):
    return _nn(new) if _nn(new) is not None else _nn(old)


def revert_refusal(path, con, import_id: int) -> str | None:
    """Why an import may not be undone although it is applied (None: it may): it was written by an
    approval of the schools' entries or by a publication, or it touches a school × period whose entry
    is approved or locked (kpi.workflows.entry) or a school-year whose maturity results are published."""
    source = con.execute(db.statement("import_revert.source"), [import_id]).fetchall()[0][0]
    try:
        pub = con.execute(db.statement("import_revert.publication"), [import_id]).fetchall()
    except duckdb.CatalogException:  # a file older than the publications table
        pub = []
    if pub:
        return (f"lần nhập #{import_id} là kết quả công bố {pub[0][0]}; kết quả đã công bố không còn thay đổi")
    if source == "nhap_lieu":
        return (f"lần nhập #{import_id} ghi số liệu Phòng đã duyệt trên ứng dụng; muốn sửa, Phòng mở lại trường "
                "trên trang Duyệt số liệu")
    keys = sorted(set(con.execute(db.statement("import_revert.period_keys"), [import_id]).fetchall()))
    held = set(locked_keys(path, keys))
    if keys and state.has_store(path):
        store = state.store_for(path)
        for y, r in sorted({(y, r) for _, y, r in keys}):
            for (sid,) in store.read(state.sql("entries.period_decided"), {"school_year": y, "round": r}):
                if (sid, y, r) in keys:
                    held.add((sid, y, r))
    if held:
        shown = ", ".join(f"{s} {y} {r}" for s, y, r in sorted(held)[:5]) + ("…" if len(held) > 5 else "")
        return (f"lần nhập #{import_id} chạm {len(held)} trường × kỳ đã duyệt hoặc đã khóa ({shown}); cần Phòng mở "
                "lại các trường đó trước")
    scores = con.execute(db.statement("import_revert.score_keys"), [import_id]).fetchall()
    done = published_keys(con, scores)
    if done:
        shown = ", ".join(f"{s} {y} ({p})" for s, y, p in done[:5]) + ("…" if len(done) > 5 else "")
        return f"lần nhập #{import_id} chạm kết quả đánh giá đã công bố: {shown}"
    return None


def _revert_allowed(path, con, import_id: int) -> list[tuple]:
    """The imports row (file name, status) of an import that may be undone; ValueError (Vietnamese)
    naming why not."""
    row = con.execute(db.statement("import_revert.import"), [import_id]).fetchall()
    if not row:
        raise ValueError(f"Không có lần nhập #{import_id}.")
    if row[0][1] != "applied":
        raise ValueError(f"Lần nhập #{import_id} đã được hoàn tác trước đó.")
    why = revert_refusal(path, con, import_id)
    if why:
        raise ValueError(f"Không thể hoàn tác: {why}.")
    return row


def revert(path, import_id: int, user: str, now: dt.datetime | None = None) -> str:
    """Undo an import: put back the values it replaced. Refused when a later import has since
    changed some of those values (revert that one first), and when it would change approved, locked
    or published figures (`revert_refusal`)."""
    now = now or dt.datetime.now()
    # refused before any intent is recorded (a refusal writes nothing); checked again inside the write
    con = db.connect(path)
    try:
        _revert_allowed(path, con, import_id)
    finally:
        con.close()
    keys = {"import_id": import_id, "now": now.timestamp()}
    # intent first (kpi.store.recovery), then the analytics file, then the audit row in the store
    with recovery.crossing(state.store_for(path), path, "hoan_tac", user, keys) as crossing, \
            db.writing(path) as con:
        row = _revert_allowed(path, con, import_id)
        ids = {"import_id": import_id}
        later = con.execute(db.statement("import_revert.later_observations"), ids).fetchall()[0][0]
        later += con.execute(db.statement("import_revert.later_scores"), ids).fetchall()[0][0]
        if later:
            raise ValueError(f"Không thể hoàn tác lần nhập #{import_id}: {later} giá trị đã được các lần nhập sau "
                             "thay đổi; hãy hoàn tác các lần nhập đó trước.")
        for part in ("drop_observations", "restore_observations", "drop_scores", "restore_scores", "drop_submissions"):
            con.execute(db.statement(f"import_revert.{part}"), ids)
        touched = con.execute(db.statement("import_revert.touched"), ids).fetchall()
        doubled = con.execute(db.statement("import_revert.doubled"), ids).fetchall()[0][0]
        if doubled:  # the schema's uniqueness rule (duplicate_keys), on the keys this revert wrote
            raise ValueError(f"Không thể hoàn tác lần nhập #{import_id}: cơ sở dữ liệu sẽ có hai giá trị cho cùng "
                             "một trường, kỳ và chỉ tiêu; báo cho người quản trị hệ thống.")
        if touched:
            derived.refresh_index(con, default_catalog(), sorted({y for _, y in touched}),
                                  sorted({s for s, _ in touched}))
        con.execute(db.statement("import_revert.mark"), ids)
        rid = con.execute(db.statement("import_revert.next_id")).fetchall()[0][0]
        con.execute(db.statement("import_revert.record"),
                    [rid, user, now, dt.datetime.now(), f"hoàn tác lần nhập #{import_id} ({row[0][0]})"])
        crossing.landed(con, {"revert_id": rid})
    return f"Đã hoàn tác lần nhập #{import_id}."
