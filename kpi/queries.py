"""The query layer: every read of the database goes through here, with the caller's scope.

One query per ``kpi/sql/<name>.sql`` file; values are bound as parameters and identifiers come
only from the validated catalog (as a registered table, never spliced into SQL text). Each
function takes a connection (a DuckDB connection or cursor: use one cursor per thread) and the
caller's `Scope`, and returns a small pandas frame: aggregation happens in DuckDB.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
import pandas as pd
import pyarrow as pa

from kpi.access import Scope
from kpi.catalog import Catalog
from kpi.db import SQL_DIR

_DEFS_SCHEMA = pa.schema([
    ("indicator_code", pa.string()), ("level", pa.string()), ("kind", pa.string()),
    ("num_field", pa.string()), ("den_field", pa.string()), ("target", pa.float64()),
    ("near", pa.float64()), ("target_year", pa.string()),
])


@lru_cache(maxsize=None)
def sql(name: str) -> str:
    """The text of kpi/sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None,
        tables: dict[str, pa.Table] | None = None) -> pd.DataFrame:
    """Run one named query with bound parameters and registered tables; return a frame."""
    cur = con.cursor()
    try:
        for tname, table in (tables or {}).items():
            cur.register(tname, table)
        return cur.execute(sql(name), params or {}).df()
    finally:
        cur.close()


def meta(con) -> dict[str, str]:
    """The database's meta keys (is_sample, unit_name, data_version, ...)."""
    return dict(run(con, "meta").itertuples(index=False, name=None))


def periods(con) -> pd.DataFrame:
    """Every period, newest first: school_year, round, deadline, has_data."""
    return run(con, "periods")


def wards(con, scope: Scope) -> list[str]:
    """The wards of the schools in scope, in Vietnamese order."""
    return run(con, "filter_options", {"unit_id": scope.unit_id})["ward"].tolist()


def _defs(catalog: Catalog, school_year: str) -> pa.Table:
    return pa.Table.from_pylist(catalog.target_rows(school_year), schema=_DEFS_SCHEMA)


def district_summary(con, catalog: Catalog, scope: Scope, school_year: str, round: str,
                     level: str | None = None, ownership: str | None = None,
                     ward: str | None = None) -> pd.DataFrame:
    """One row per indicator × level for a period: pooled numerator, denominator, value, target,
    schools reporting / expected / meeting the target, over the schools of the caller's unit.

    District figures are aggregates and name no school, so a principal's scope limits them to
    the principal's unit but not to one school.
    """
    df = run(con, "district_summary", {
        "school_year": school_year, "round": round, "unit_id": scope.unit_id,
        "level": level, "ownership": ownership, "ward": ward,
    }, {"defs": _defs(catalog, school_year)})
    df["value"] = (df["numerator"] / df["denominator"]).where(df["denominator"] > 0)
    df.insert(2, "school_year", school_year)
    df.insert(3, "round", round)
    return df
