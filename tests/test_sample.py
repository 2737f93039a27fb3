"""The sample generator: deterministic, District-3-like, with the awkward cases a real office has."""

from kpi.catalog.model import default_catalog
from kpi.store import db, state
from kpi.tools.sample import build_sample
from tests.conftest import table_digest


def _entries(path) -> list:
    """The sample's entries in the state store beside `path`, every table in a fixed order."""
    s = state.store_for(path)
    return [s.read(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4") for t in ("entries", "entry_values", "period_locks")] + [
        s.read("SELECT at, user_name, action, detail FROM audit WHERE detail LIKE '%du_lieu_mau%' ORDER BY at, detail")]


def test_same_seed_same_database(tmp_path, sample_db):
    again = tmp_path / "again.duckdb"
    build_sample(again, schools=53, years=3, seed=7)
    assert table_digest(again) == table_digest(sample_db)
    assert _entries(again) == _entries(sample_db) and _entries(again)[0]
    other = tmp_path / "other.duckdb"
    build_sample(other, schools=53, years=3, seed=8)
    assert table_digest(other) != table_digest(sample_db)
    assert _entries(other) != _entries(sample_db)
    # building again in place (init --sample --force) resets the sample's entries, keeps people's audit
    state.store_for(again).audit("dang_nhap", "lanhdao")
    state.store_for(again).audit("luu_nhap", "ht.th001", {"truong": "TH001", "ky": "2023-2024 CN"})
    build_sample(again, schools=53, years=3, seed=7)
    assert _entries(again) == _entries(sample_db)
    assert [r["action"] for r in state.store_for(again).audit_rows(action="dang_nhap")] == ["dang_nhap"]
    assert len(state.store_for(again).audit_rows(action="luu_nhap")) == len(
        state.store_for(sample_db).audit_rows(action="luu_nhap")) + 1


def test_shape(con):
    per_level = dict(con.execute("SELECT level, count(*) FROM schools GROUP BY level").fetchall())
    assert per_level == {"MN": 21, "TH": 18, "THCS": 13, "GDTX": 1}
    assert con.execute("SELECT count(DISTINCT ownership) FROM schools WHERE level <> 'GDTX'").fetchone()[0] == 2
    assert con.execute("SELECT count(DISTINCT name) FROM schools").fetchone()[0] == 53
    periods = con.execute("SELECT school_year, round, strftime(deadline, '%d/%m') FROM periods "
                          "ORDER BY 1, 2").fetchall()
    assert periods == [(f"{y}-{y + 1}", r, d) for y in (2021, 2022, 2023)
                       for r, d in (("CN", "20/05"), ("HK1", "10/01"))]
    meta = dict(con.execute("SELECT * FROM meta").fetchall())
    assert meta["is_sample"] == "true" and "Dữ liệu mẫu" in meta["unit_name"]


def test_awkward_cases(con):
    # schools that did not submit the latest round: no submission, no observation (missing, not zero)
    missing = con.execute("""
        SELECT count(*) FROM schools s WHERE NOT EXISTS (
            SELECT 1 FROM submissions b WHERE b.school_id = s.school_id
              AND b.school_year = '2023-2024' AND b.round = 'CN')""").fetchone()[0]
    assert missing >= 3
    orphan = con.execute("""
        SELECT count(*) FROM observations o WHERE NOT EXISTS (
            SELECT 1 FROM submissions b WHERE b.school_id = o.school_id
              AND b.school_year = o.school_year AND b.round = o.round)""").fetchone()[0]
    assert orphan == 0
    late = con.execute("""
        SELECT count(*) FROM submissions b JOIN periods p USING (school_year, round)
        WHERE b.received_at > p.deadline + INTERVAL 1 DAY""").fetchone()[0]
    assert late > 0
    # a field left blank by a school that did submit
    blanks = con.execute("""
        SELECT count(*) FROM submissions b JOIN schools s USING (school_id)
        WHERE s.level = 'TH' AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.school_id = b.school_id
              AND o.school_year = b.school_year AND o.round = b.round AND o.field_code = 'hs_chung_chi_tin')
    """).fetchone()[0]
    assert blanks > 0


def test_maturity_edge_cases(con):
    cat = default_catalog()
    dh_leaves = [c.code for c in cat.criteria.values() if c.group_code == "DH" and c.rule == "entered"]
    totals = con.execute(f"""
        SELECT school_id, sum(coalesce(verified_points, self_points)) FROM criterion_scores
        WHERE school_year = '2023-2024' AND criterion_code IN ({",".join("?" * len(dh_leaves))})
        GROUP BY school_id""", dh_leaves).fetchall()
    points = [p for _, p in totals]
    assert 50.0 in points and 75.0 in points
    unmet = con.execute("""SELECT count(*) FROM criterion_scores WHERE school_year = '2023-2024'
                           AND criterion_code = 'DH1' AND NOT self_met""").fetchone()[0]
    assert unmet >= 1
    over = con.execute("""SELECT count(*) FROM criterion_scores c
                          WHERE self_points < 0 OR verified_points > self_points""").fetchone()[0]
    assert over == 0


def test_scale_path_builds_unit_tree(tmp_path):
    path = tmp_path / "big.duckdb"
    s = build_sample(path, schools=600, years=1, seed=1)
    c = db.connect(path)
    try:
        assert s.schools == 600
        assert c.execute("SELECT count(*) FROM schools").fetchone()[0] == 600
        assert c.execute("SELECT count(*) FROM units WHERE kind = 'phong'").fetchone()[0] == 8
        assert c.execute("SELECT count(*) FROM schools s LEFT JOIN units u USING (unit_id) "
                         "WHERE u.unit_id IS NULL").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM scope_schools('SGD00')").fetchone()[0] == 600
        assert c.execute("SELECT count(*) FROM scope_schools('PGD0001')").fetchone()[0] == 75
    finally:
        c.close()
