"""A database file made by an older version of the app gains this version's tables and macros at
the server's start (kpi.store.db.upgrade), through the single writer, with its figures unchanged."""

from __future__ import annotations

import duckdb

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.store import db, queries
from kpi.views.cache import Views

NEW_TABLES = ["school_dates", "school_units", "reference_changes", "target_plans", "plan_targets",
              "publications", "publication_scores"]
OLD_MACROS = """
CREATE OR REPLACE MACRO scope_schools(u) AS TABLE
    WITH RECURSIVE tree(unit_id) AS (
        SELECT unit_id FROM units WHERE unit_id = u
        UNION ALL
        SELECT c.unit_id FROM units c JOIN tree p ON c.parent_id = p.unit_id
    )
    SELECT s.* FROM schools s
    WHERE s.active AND (u IS NULL OR s.unit_id IN (SELECT unit_id FROM tree));
CREATE OR REPLACE MACRO filtered_schools(u, lv, ow, wd) AS TABLE
    SELECT * FROM scope_schools(u)
    WHERE (lv IS NULL OR level = lv) AND (ow IS NULL OR ownership = ow) AND (wd IS NULL OR ward = wd);
"""


def _figures(path) -> list:
    v = Views(path, db.file_identity(path))
    rows = v.overview(Scope.everything(), "2023-2024", "CN").rows
    return sorted(zip(rows["indicator_code"], rows["level"], rows["value"].round(9), rows["schools_reporting"],
                      rows["schools_expected"]))


def _make_old(path) -> None:
    """What a file of the version before Quản trị and the assessment looked like."""
    con = duckdb.connect(str(path))
    for t in NEW_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {t} CASCADE")
    con.execute(OLD_MACROS)
    con.execute("DELETE FROM meta WHERE key = 'schema_sql'")
    con.close()


def test_an_older_file_is_upgraded_once_with_its_figures_unchanged(writable_db):
    before = _figures(writable_db)
    _make_old(writable_db)
    con = db.connect(writable_db)
    try:
        assert queries.plan_targets(con).empty  # an older file: a missing table reads as none, not an error
    finally:
        con.close()
    version = int(queries.meta(db.connect(writable_db))["data_version"])
    assert db.upgrade(writable_db) is True
    assert db.upgrade(writable_db) is False  # once
    con = db.connect(writable_db)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert set(NEW_TABLES) <= tables
        assert con.execute("SELECT count(*) FROM scope_schools(NULL, yr := '2023-2024', "
                           "rd := 'CN')").fetchall()[0][0] > 0
        assert int(queries.meta(con)["data_version"]) == version + 1  # every worker's caches refresh
    finally:
        con.close()
    assert _figures(writable_db) == before
    assert default_catalog().indicators  # the catalog with the file's (no) published targets builds
