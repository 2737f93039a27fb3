"""Derived tables the writers keep up to date, so that district pages aggregate thousands of rows
instead of scoring millions: the maturity index scored for every school and year
(index_points / index_groups / index_schools, by kpi/sql/maturity_base.sql).

They are trusted only while they match both the catalog's scoring rules (meta ``index_rules``, a
fingerprint of criteria.csv and index.toml as the scoring reads them) and the data (meta
``index_version`` = ``data_version``). Every writer that changes what the index reads (an import,
a revert, the sample) rescores the schools and years it touched inside its transaction; writers
that do not (users, snapshots) carry the stored scores forward (kpi.store.db.writing). When the
criteria or rules are edited, readers score live (same SQL, slower) until
``python -m kpi rescore`` rewrites the tables.
"""

from __future__ import annotations

from kpi.catalog import index_rules
from kpi.catalog.index_rules import fingerprint, stored_valid  # noqa: F401 - part of this module's interface
from kpi.catalog.model import Catalog
from kpi.common.access import Scope
from kpi.store import db, queries

# the stored tables index_<part>, each with its statements delete_<part> and insert_<part> in
# kpi/sql/write/index_refresh.sql (the rows by kpi/sql/index_refresh_<part>.sql)
_PARTS = ("points", "groups", "schools")


def refresh_index(con, catalog: Catalog, school_years: list[str] | None = None,
                  schools: list[str] | None = None) -> int:
    """Rescore the index for `school_years` (None: every year with entries or data) and `schools`
    (None: every school) on a writer connection, inside the writer's transaction; mark the stored
    scores as matching the catalog. Returns the school × year rows written.

    Rescoring only some schools keeps the tables true only if they were true before: when they
    were not (rules edited, or an older file), every school and year is rescored instead.
    kpi.store.db.writing marks the tables current when it bumps the data version.
    """
    meta = dict(con.execute(db.statement("index_refresh.meta")).fetchall())
    if schools is not None and not stored_valid(meta, catalog):
        school_years = None
    if school_years is None:
        school_years = [r[0] for r in con.execute(db.statement("index_refresh.all_years")).fetchall()]
        schools = None
    for part in _PARTS:
        con.execute(db.statement(f"index_refresh.delete_{part}"), {"years": list(school_years), "schools": schools})
    params, tables = index_rules.maturity_args(catalog, Scope.everything(), school_years, None, None, None)
    params["schools"] = schools
    for name, table in tables.items():
        con.register(name, table)
    try:
        for part in _PARTS:
            text = db.statement(f"index_refresh.insert_{part}")
            con.execute(text, queries.used_params(text, params))
    finally:
        for name in tables:
            con.unregister(name)
    con.execute(db.statement("index_refresh.mark"), {"rules": fingerprint(catalog)})
    return con.execute(db.statement("index_refresh.count"), {"years": list(school_years)}).fetchall()[0][0]


def rescore(path, catalog: Catalog) -> int:
    """Rewrite the stored index of the file at `path` (every school and year), as a writer."""
    with db.writing(path) as con:
        return refresh_index(con, catalog)
