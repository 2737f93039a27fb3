"""The stored maturity index (kpi.store.derived): equal to scoring live, kept current by every writer,
never trusted after the rules changed."""

import dataclasses

import pandas as pd

from kpi.admin import auth
from kpi.catalog import index_rules
from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.imports import importer
from kpi.store import db, derived, queries
from tests.test_importer import _fill, _template

CAT = default_catalog()
YEARS = ["2023-2024", "2022-2023", "2021-2022"]
EVERYONE = Scope.everything()


def _live(monkeypatch):
    """Make the query layer score live (as it does when the stored index is stale)."""
    monkeypatch.setattr(index_rules, "stored_valid", lambda meta, catalog: False)


def _views(path, cat=CAT):
    con = db.connect(path)
    try:
        crit, schools = queries.maturity(con, cat, EVERYONE, YEARS)
        return {"crit": crit, "schools": schools, "counts": queries.maturity_counts(con, cat, EVERYONE, YEARS),
                "lost": queries.maturity_lost(con, cat, EVERYONE, "2023-2024"),
                "heat": queries.maturity_heatmap(con, cat, EVERYONE, "2023-2024", "qt", 50),
                "review": queries.maturity_review(con, cat, EVERYONE, "2023-2024", False)[0],
                "meta": queries.meta(con)}
    finally:
        con.close()


def _assert_same(a: dict, b: dict):
    for k in ("crit", "schools", "counts", "lost", "heat", "review"):
        pd.testing.assert_frame_equal(a[k], b[k], obj=k)


def _assert_stored_equals_live(path, monkeypatch, cat=CAT):
    stored = _views(path, cat)
    assert derived.stored_valid(stored["meta"], cat)
    with monkeypatch.context() as m:
        _live(m)
        _assert_same(stored, _views(path, cat))
    return stored


def test_sample_stores_the_index_and_it_equals_live_scoring(sample_db, monkeypatch):
    stored = _assert_stored_equals_live(sample_db, monkeypatch)
    assert len(stored["schools"]) == 96 and stored["meta"]["index_version"] == stored["meta"]["data_version"]


def _norm(df):
    """Missing text as None whichever engine made it (DuckDB's NULL, pandas' None or NaN)."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def test_sql_scoring_equals_the_reference_engine(con):
    crit, schools = queries.maturity(con, CAT, EVERYONE, YEARS)
    ref_crit, ref_schools = queries.maturity_reference(con, CAT, EVERYONE, YEARS)
    key = ["school_id", "school_year"]
    a = schools.sort_values(key).reset_index(drop=True)[ref_schools.columns]
    b = ref_schools.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(_norm(a), _norm(b), check_dtype=False)
    key = ["school_id", "school_year", "criterion_code"]
    a = crit.sort_values(key).reset_index(drop=True)[ref_crit.columns]
    b = ref_crit.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(_norm(a), _norm(b), check_dtype=False)


def test_import_and_revert_keep_the_stored_index_current(writable_db, monkeypatch):
    before = _views(writable_db)
    sid = before["schools"].query("school_year == '2023-2024'").sort_values("dh_points").school_id.iloc[0]
    data = _fill(_template(writable_db), {}, scores={(sid, "DH5.1", "Điểm thẩm định (Phòng)"): 15,
                                                    (sid, "DH3.1", "Điểm tự đánh giá"): 6})
    result = importer.import_file(writable_db, "tham_dinh.xlsx", data, "chuyenvien")
    after = _assert_stored_equals_live(writable_db, monkeypatch)
    row = lambda v: v["schools"].set_index(["school_id", "school_year"]).loc[(sid, "2023-2024")]  # noqa: E731
    mine = after["crit"].query("school_id == @sid and school_year == '2023-2024'").set_index("criterion_code")
    assert mine.loc["DH5.1", "points"] == 15 and mine.loc["DH5.1", "source"] == "verified"
    assert row(after).dh_points > row(before).dh_points
    importer.revert(writable_db, result.import_id, "chuyenvien")
    reverted = _assert_stored_equals_live(writable_db, monkeypatch)
    _assert_same(reverted, before)


def test_field_import_rescores_computed_criteria(writable_db, monkeypatch):
    sid = "TH001"
    with db.writing(writable_db) as con:  # the school has not self-assessed DH7.1: its points are computed
        con.execute("DELETE FROM criterion_scores WHERE school_id = ? AND criterion_code = 'DH7.1'", [sid])
        derived.refresh_index(con, CAT, ["2023-2024", "2022-2023", "2021-2022"], [sid])
    con = db.connect(writable_db)
    rooms = con.execute("""SELECT value FROM observations WHERE school_id = ? AND school_year = '2023-2024'
                           AND round = 'CN' AND field_code = 'phong_hoc'""", [sid]).fetchall()[0][0]
    con.close()
    data = _csv_row(writable_db, sid, {"phong_hoc_trinh_chieu": rooms})
    before = _assert_stored_equals_live(writable_db, monkeypatch)
    mine = before["crit"].query("school_id == @sid and school_year == '2023-2024'").set_index("criterion_code")
    assert mine.loc["DH7.1", "source"] == "computed" and mine.loc["DH7.1", "points"] < 8
    importer.import_file(writable_db, "so_lieu.csv", data, "chuyenvien")
    after = _assert_stored_equals_live(writable_db, monkeypatch)
    mine = after["crit"].query("school_id == @sid and school_year == '2023-2024'").set_index("criterion_code")
    assert mine.loc["DH7.1", "points"] == mine.loc["DH7.1", "max_points"] == 8  # every room equipped


def _csv_row(path, sid, values: dict) -> bytes:
    """A one-row CSV for the school's 2023-2024 CN report: its required fields as stored, plus `values`."""
    con = db.connect(path)
    have = dict(con.execute("""SELECT field_code, value FROM observations WHERE school_id = ?
                               AND school_year = '2023-2024' AND round = 'CN'""", [sid]).fetchall())
    con.close()
    fields = {**{f.code: have[f.code] for f in CAT.fields.values() if f.required and "TH" in f.levels}, **values}
    header = ["Mã trường", "Năm học", "Kỳ", *fields]
    row = [sid, "2023-2024", "CN", *(str(int(v)) for v in fields.values())]
    return (",".join(header) + "\n" + ",".join(row) + "\n").encode("utf-8")


def test_writers_that_do_not_touch_scores_carry_them_forward(writable_db):
    auth.add_user(writable_db, "ktv", "Kỹ thuật viên", "chuyen_vien", "matkhau-dai-du")
    con = db.connect(writable_db)
    meta = queries.meta(con)
    con.close()
    assert derived.stored_valid(meta, CAT) and meta["data_version"] == "2"


def test_changed_rules_are_never_read_from_the_stored_index(writable_db, monkeypatch):
    changed = dataclasses.replace(CAT, index=dataclasses.replace(CAT.index, combine_groups="dh"))
    con = db.connect(writable_db)
    try:
        assert not derived.stored_valid(queries.meta(con), changed)
        live = queries.maturity_schools(con, changed, EVERYONE, YEARS)
        reference = queries.maturity_reference(con, changed, EVERYONE, YEARS)[1]
    finally:
        con.close()
    assert (live.school_level == live.dh_level).all()
    assert sorted(live.school_level) == sorted(reference.school_level)
    derived.rescore(writable_db, changed)
    _assert_stored_equals_live(writable_db, monkeypatch, changed)


def test_a_stale_index_is_rescored_whole_by_the_next_import(writable_db, monkeypatch):
    with db.writing(writable_db) as con:  # e.g. rows damaged by hand, or a file from an older version
        con.execute("UPDATE index_schools SET school_level = 3")
        con.execute("UPDATE meta SET value = 'cu' WHERE key = 'index_version'")
    con = db.connect(writable_db)
    assert not derived.stored_valid(queries.meta(con), CAT)
    con.close()
    importer.import_file(writable_db, "so_lieu.csv", _csv_row(writable_db, "TH001", {"hs_tong": 777}), "chuyenvien")
    stored = _assert_stored_equals_live(writable_db, monkeypatch)
    assert set(stored["schools"].school_level) == {1, 2, 3}


def test_a_snapshot_is_scored_from_its_frozen_entries(writable_db):
    from kpi.workflows import snapshots

    pick = lambda df: df.query("school_id == 'TH001' and criterion_code == 'DH5.1'").iloc[0]  # noqa: E731
    con = db.connect(writable_db)
    before = pick(queries.maturity_criteria(con, CAT, EVERYONE, ["2023-2024"]))
    con.close()
    sid = snapshots.freeze(writable_db, "2023-2024", "CN", "Họp", "chuyenvien")
    new = 0 if before.points != 0 else 15
    data = _fill(_template(writable_db), {}, scores={("TH001", "DH5.1", "Điểm thẩm định (Phòng)"): new})
    importer.import_file(writable_db, "tham_dinh.xlsx", data, "chuyenvien")
    con = db.connect(writable_db)
    try:
        frozen = pick(queries.maturity_criteria(con, CAT, EVERYONE.with_snapshot(sid), ["2023-2024"]))
        live = pick(queries.maturity_criteria(con, CAT, EVERYONE, ["2023-2024"]))
    finally:
        con.close()
    assert (live.points, live.source) == (new, "verified")
    assert (frozen.points, frozen.source) == (before.points, before.source)
