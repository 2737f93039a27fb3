"""The query layer: every read of the database goes through here, with the caller's scope.

One query per ``kpi/sql/<name>.sql`` file; values are bound as parameters and identifiers come
only from the validated catalog (as a registered table, never spliced into SQL text). Each
function takes a connection (a DuckDB connection or cursor: use one cursor per thread) and the
caller's `Scope`, and returns a small pandas frame: aggregation happens in DuckDB.

Every input is an argument: what a query reads comes from its `source` (kpi.store.source.Source:
live data, the scope's snapshot, live with pending submissions laid over, a unit's slice; by
default the scope's snapshot or live data), and a bench that notes the queries passes a
`Recording` connection. No function here reads a value kept at module level that can change
(tests/test_query_inputs.py).
"""

from __future__ import annotations

import re
from functools import lru_cache

import duckdb
import pandas as pd
import pyarrow as pa

from kpi.catalog import index_rules
from kpi.catalog.model import Catalog
from kpi.common.access import Scope
from kpi.domain import scoring
from kpi.store import db
from kpi.store.db import SQL_DIR
from kpi.store.source import Source, source_views

_DEFS_SCHEMA = pa.schema([
    ("indicator_code", pa.string()), ("level", pa.string()), ("kind", pa.string()),
    ("num_field", pa.string()), ("den_field", pa.string()), ("target", pa.float64()),
    ("near", pa.float64()), ("target_year", pa.string()),
])


_INCLUDE = re.compile(r"^-- @include (\w+)$", re.MULTILINE)


@lru_cache(maxsize=None)
def sql(name: str) -> str:
    """The text of kpi/sql/<name>.sql, with each ``-- @include other`` line replaced by that file.

    ``name@stored``: the same query with maturity_base (scoring live) replaced by maturity_stored
    (reading the scores kpi.store.derived keeps)."""
    name, _, variant = name.partition("@")
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")

    def include(m: re.Match) -> str:
        part = "maturity_stored" if variant == "stored" and m.group(1) == "maturity_base" else m.group(1)
        return sql(part)

    return _INCLUDE.sub(include, text)


class Recording:
    """A connection that keeps what each query asks of the file (name, params, tables, source, views):
    pages._bench passes one to replay a page's queries and time DuckDB alone."""

    def __init__(self, con, log: list):
        self.con, self.log = con, log

    def __getattr__(self, name):
        return getattr(self.con, name)


def unit_observations(con, unit_id: str) -> pa.Table:
    """Every observation of the schools of one unit (and the units below it), as an Arrow table."""
    return db.within_memory(con, lambda cur: cur.sql(sql("unit_observations"), params={"unit_id": unit_id})
                            .to_arrow_table())


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None,
        tables: dict[str, pa.Table] | None = None, source: Source | None = None,
        views: dict[str, str] | None = None, fill: dict[str, str] | None = None) -> pd.DataFrame:
    """Run one named query with bound parameters and registered tables; return a frame.

    `source` (kpi.store.source.Source; None = live data): a snapshot's frozen observations, scores
    and submissions, the pending values laid over the live ones, or a unit's slice of the
    observations (temporary views on this cursor shadow the live tables); `views` sets such views
    directly. `fill`: text for the query's ``/*name*/`` placeholders (columns made from the catalog, never
from what a user typed). `con` may be a `Recording`: the query is then noted in its log before it runs."""
    source = source or Source()
    text = sql(name)
    for key, part in (fill or {}).items():
        text = text.replace(f"/*{key}*/", part)
    if isinstance(con, Recording):
        con.log.append((name, params, tables, source.on_file(), views))
        con = con.con

    def work(cur):
        for tname, table in (tables or {}).items():
            cur.register(tname, table)
        for vname, body in source.views(cur, views).items():
            cur.execute(f"CREATE OR REPLACE TEMP VIEW {vname} AS {body}")
        return cur.execute(text, params or {}).df()

    return db.within_memory(con, work)


def _source(scope: Scope, source: Source | None) -> Source:
    """What a scoped query reads: the caller's source (it must read the scope's snapshot), else the scope's."""
    if source is None:
        return Source(scope.snapshot_id)
    if source.snapshot_id != scope.snapshot_id:
        raise ValueError(f"Nguồn số liệu {source.kind} không khớp phạm vi (bản chốt {scope.snapshot_id!r})")
    return source


def meta(con) -> dict[str, str]:
    """The database's meta keys (is_sample, unit_name, data_version, ...)."""
    return dict(run(con, "meta").itertuples(index=False, name=None))


def principal_users(con) -> list[dict]:
    """Every active principal account (users rows), by user name."""
    return run(con, "users_principals").to_dict("records")


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
                     ward: str | None = None, *, source: Source | None = None) -> pd.DataFrame:
    """One row per indicator × level for a period: pooled numerator, denominator, value, target,
    schools reporting / expected / meeting the target, over the schools of the caller's unit.

    District figures are aggregates and name no school, so a principal's scope limits them to
    the principal's unit but not to one school.
    """
    df = run(con, "district_summary", {
        "school_year": school_year, "round": round, "unit_id": scope.unit_id,
        "level": level, "ownership": ownership, "ward": ward,
    }, {"defs": _defs(catalog, school_year)}, source=_source(scope, source))
    df["value"] = (df["numerator"] / df["denominator"]).where(df["denominator"] > 0)
    df.insert(2, "school_year", school_year)
    df.insert(3, "round", round)
    return df


def _indicator_params(catalog: Catalog, code: str) -> dict:
    ind = catalog.indicators[code]
    return {"num_field": ind.numerator, "den_field": ind.denominator, "kind": ind.kind,
            "levels": list(ind.levels)}


def indicator_trend(con, catalog: Catalog, scope: Scope, code: str, level=None, ownership=None,
                    ward=None, *, source: Source | None = None) -> pd.DataFrame:
    """One row per period × level for one indicator: pooled numerator, denominator, reporting,
    expected, and the target in force that school year."""
    df = run(con, "indicator_trend",
             {**_indicator_params(catalog, code), **index_rules.filters(scope, level, ownership, ward)},
             source=_source(scope, source))
    return _trend_targets(df, catalog, code)


def _trend_targets(df: pd.DataFrame, catalog: Catalog, code: str) -> pd.DataFrame:
    targets = [catalog.target_for(code, lv, y) for y, lv in zip(df["school_year"], df["level"])]
    df["target"] = [None if t is None else t.value for t in targets]
    df["near"] = [None if t is None else t.near for t in targets]
    df["value"] = (df["numerator"] / df["denominator"]).where(df["denominator"] > 0)
    return df


def indicator_trend_cells(con, catalog: Catalog, scope: Scope, code: str, *,
                          source: Source | None = None) -> pd.DataFrame:
    """indicator_trend's sums per period × level × loại hình × phường (kpi/sql/indicator_trend_cells.sql),
    over every school of the scope: each filter of the page is a sum of these (`trend_from_cells`)."""
    return run(con, "indicator_trend_cells",
               {**_indicator_params(catalog, code), **index_rules.filters(scope, None, None, None)},
               source=_source(scope, source))


CELL_COLUMNS = ("numerator", "denominator", "schools_reporting", "schools_expected")


def indicator_trend_cells_all(con, catalog: Catalog, scope: Scope, *,
                              source: Source | None = None) -> dict[str, pd.DataFrame]:
    """`indicator_trend_cells` of every indicator (code → the same frame), from one query that reads
    each school's figures of a period once (kpi/sql/indicator_trend_cells_all.sql), a school year at a time."""
    inds = catalog.indicators
    fields = sorted({f for ind in inds.values() for f in (ind.numerator, ind.denominator) if f})
    col = {f: f"f{i}" for i, f in enumerate(fields)}
    sums = []
    for k, ind in enumerate(inds.values()):
        num, den = col[ind.numerator], "1.0::DOUBLE" if ind.kind == "bool" else col[ind.denominator]
        ok = f"{num} IS NOT NULL AND {den} > 0"
        sums.append(f"sum({num}) FILTER (WHERE {ok}) AS n{k}, sum({den}) FILTER (WHERE {ok}) AS d{k}, "
                    f"count(*) FILTER (WHERE {ok}) AS r{k}, count(*) AS e{k}")
    fill = {"fields": ", ".join(f"max(value) FILTER (WHERE field_code = {db.sql_literal(f)}) AS {col[f]}"
                                for f in fields),
            "wanted": ", ".join(db.sql_literal(f) for f in fields), "sums": ",\n       ".join(sums)}
    years = sorted(periods(con)["school_year"].unique())
    wide = pd.concat([run(con, "indicator_trend_cells_all", {**index_rules.filters(scope, None, None, None),
                                                              "school_year": year}, source=_source(scope, source),
                          fill=fill) for year in years], ignore_index=True)
    keys = ["school_year", "round", "level", "ownership", "ward"]
    out = {}
    for k, (code, ind) in enumerate(inds.items()):
        part = wide.loc[wide["level"].isin(list(ind.levels)), [*keys, f"n{k}", f"d{k}", f"r{k}", f"e{k}"]]
        out[code] = part.set_axis([*keys, *CELL_COLUMNS], axis=1).reset_index(drop=True)
    return out


def rows_of(frame: pd.DataFrame, level=None, ownership=None, ward=None) -> pd.DataFrame:
    """The rows of `frame` (with level, ownership, ward columns) that `filtered_schools` keeps for one
    cấp học, loại hình and phường (None: any; a missing value matches no filter), in their order."""
    keep = pd.Series(True, index=frame.index)
    for column, wanted in (("level", level), ("ownership", ownership), ("ward", ward)):
        if wanted is not None:
            keep &= (frame[column] == wanted).fillna(False).astype(bool)
    return frame[keep]


def trend_from_cells(cells: pd.DataFrame, catalog: Catalog, code: str, level=None, ownership=None,
                     ward=None) -> pd.DataFrame:
    """`indicator_trend` for one filter, summed from `indicator_trend_cells` (the same rows, in the same
    order: the sums are of whole counts, so equal to the query's; a period × level no school of the
    filter belongs to has no row, as in the query)."""
    g = rows_of(cells, level, ownership, ward).groupby(["school_year", "round", "level"], sort=False)
    df = g[["numerator", "denominator"]].sum(min_count=1)
    df[["schools_reporting", "schools_expected"]] = g[["schools_reporting", "schools_expected"]].sum()
    df = (df.reset_index()
          .sort_values(["school_year", "round", "level"], ascending=[True, False, True], ignore_index=True))
    return _trend_targets(df, catalog, code)


def _one_indicator_defs(catalog: Catalog, code: str, school_year: str) -> pa.Table:
    rows = [r for r in catalog.target_rows(school_year) if r["indicator_code"] == code]
    return pa.Table.from_pylist(rows, schema=_DEFS_SCHEMA)


def school_values(con, catalog: Catalog, scope: Scope, code: str, period: tuple[str, str],
                  earlier: tuple[str, str] | None = None, level=None, ownership=None, ward=None,
                  snapshot_earlier: str | None = None, mixed: bool = False, *,
                  source: Source | None = None) -> pd.DataFrame:
    """One row per school in scope for one indicator: numerator, denominator, value, status, and
    value/status in an earlier period (change). A principal gets other schools unnamed. With
    `mixed`, the earlier period is read from `snapshot_earlier` and `period` from the scope's source."""
    earlier = earlier or period
    views = _mixed_views(earlier, snapshot_earlier, period, scope.snapshot_id) if mixed else None
    return run(con, "school_values", {
        **_indicator_params(catalog, code), **index_rules.filters(scope, level, ownership, ward),
        "year_a": earlier[0], "round_a": earlier[1] + (MIXED_A if mixed else ""),
        "year_b": period[0], "round_b": period[1], "school_id": scope.school_id,
    }, {"defs_a": _one_indicator_defs(catalog, code, earlier[0]),
        "defs_b": _one_indicator_defs(catalog, code, period[0])}, source=_source(scope, source), views=views)


def compare_periods(con, catalog: Catalog, scope: Scope, period_a: tuple[str, str], period_b: tuple[str, str],
                    level=None, ownership=None, ward=None, snapshot_a: str | None = None,
                    snapshot_b: str | None = None, mixed: bool = False, *,
                    source: Source | None = None) -> pd.DataFrame:
    """One row per indicator × level: value and schools meeting the target in A and B, and how
    many schools moved up to đạt or fell back. With `mixed`, period A is read from `snapshot_a`
    and period B from `snapshot_b` (None = live): a snapshot set against live data or another."""
    views = _mixed_views(period_a, snapshot_a, period_b, snapshot_b) if mixed else None
    return run(con, "compare_periods", {
        **index_rules.filters(scope, level, ownership, ward),
        "year_a": period_a[0], "round_a": period_a[1] + (MIXED_A if mixed else ""),
        "year_b": period_b[0], "round_b": period_b[1],
    }, {"defs_a": _defs(catalog, period_a[0]), "defs_b": _defs(catalog, period_b[0])},
        source=_source(scope, source), views=views)


def compare_cells(con, catalog: Catalog, scope: Scope, period_a: tuple[str, str], period_b: tuple[str, str], *,
                  source: Source | None = None) -> pd.DataFrame:
    """compare_periods' counts per indicator × level × loại hình × phường (kpi/sql/compare_cells.sql), over every
    school of the scope, live data: each filter of So sánh is a sum of these (`compare_from_cells`)."""
    return run(con, "compare_cells", {
        **index_rules.filters(scope, None, None, None), "year_a": period_a[0], "round_a": period_a[1],
        "year_b": period_b[0], "round_b": period_b[1],
    }, {"defs_a": _defs(catalog, period_a[0]), "defs_b": _defs(catalog, period_b[0])}, source=_source(scope, source))


def compare_from_cells(cells: pd.DataFrame, level=None, ownership=None, ward=None) -> pd.DataFrame:
    """compare_periods' counts (indicator_code, level and the counts below) for one filter, summed from
    `compare_cells`: equal to the query's rows where a school reported (whole counts), which is all that
    kpi.domain.progress.compare_rows reads."""
    counts = ["reporting_a", "reporting_b", "meeting_a", "meeting_b", "moved_up", "fell_back"]
    part = rows_of(cells, level, ownership, ward)
    sums = part.groupby(["indicator_code", "level"], sort=True)[counts].sum().reset_index()
    return sums.astype({c: "int64" for c in counts})


def pack_units(con, scope: Scope) -> pd.DataFrame:
    """Each school (school_id) with the unit a meeting pack over a large scope lists it under (unit_id, unit:
    the unit directly below the scope's unit that holds it; kpi/sql/pack_units.sql), in the units' order."""
    return run(con, "pack_units", {"unit_id": scope.unit_id})


def school_list(con, scope: Scope, period: tuple[str, str] | None = None) -> pd.DataFrame:
    """The schools the caller may pick (a principal: only their own), in Vietnamese order: the open
    ones, or with `period` the schools of that period (a school closed since then included)."""
    year, rnd = period or (None, None)
    return run(con, "school_list", {"unit_id": scope.unit_id, "school_id": scope.school_id,
                                    "school_year": year, "round": rnd})


def school_info(con, scope: Scope, school_id: str, school_year: str, round: str, *,
                source: Source | None = None) -> dict | None:
    """One school's identity and its submission for the period; None when out of scope."""
    df = run(con, "school_info", {"unit_id": scope.unit_id, "school_id": school_id,
                                  "scope_school": scope.school_id, "school_year": school_year, "round": round},
             source=_source(scope, source))
    return None if df.empty else df.iloc[0].to_dict()


def school_indicators(con, catalog: Catalog, scope: Scope, school_id: str, school_year: str,
                      round: str, *, source: Source | None = None) -> pd.DataFrame:
    """One row per indicator applying to the school: value, target, status inputs, district value
    and position among the reporting schools of its level. Empty when out of scope."""
    return run(con, "school_indicators", {
        "school_id": school_id, "scope_school": scope.school_id, "unit_id": scope.unit_id,
        "school_year": school_year, "round": round,
    }, {"defs": _defs(catalog, school_year)}, source=_source(scope, source))


def level_values(con, catalog: Catalog, scope: Scope, level: str, school_year: str, round: str, *,
                 source: Source | None = None) -> pd.DataFrame:
    """Every school of one cấp học in the unit that reported each indicator in a period: school_id,
    indicator_code, numerator, denominator, value. For peers' places and district values; an
    office scope only (a principal's scope gets no rows: kpi.views.scorecard computes from the unit's)."""
    if scope.is_school:
        raise PermissionError("level_values: chỉ dành cho phạm vi toàn đơn vị")
    return run(con, "level_values", {"unit_id": scope.unit_id, "level": level, "school_year": school_year,
                                     "round": round}, {"defs": _defs(catalog, school_year)},
               source=_source(scope, source))


def index_years(con) -> list[str]:
    """School years with maturity-index entries, newest first."""
    return run(con, "index_years")["school_year"].tolist()


_PARAM = re.compile(r"\$(\w+)")


def used_params(text: str, params: dict) -> dict:
    """The parameters a query text mentions (DuckDB refuses unused named parameters)."""
    names = set(_PARAM.findall(text))
    return {k: v for k, v in params.items() if k in names}


def _run_maturity(con, name, catalog, scope, school_years, level=None, ownership=None, ward=None,
                  source: Source | None = None, **extra) -> pd.DataFrame:
    """Run a maturity_*.sql query: on the stored scores (kpi.store.derived) when they match the catalog
    and the data and the scope reads live data, else scoring live with maturity_base.sql."""
    params, tables = index_rules.maturity_args(catalog, scope, school_years, level, ownership, ward)
    params = {**params, "schools": None, **extra}
    stored = scope.snapshot_id is None and index_rules.stored_valid(meta(con), catalog)
    variant = f"{name}@stored" if stored else name
    return run(con, variant, used_params(sql(variant), params), None if stored else tables,
               source=_source(scope, source))


MAX_GROUPS = 4  # the maturity SQL has a column per group position (catalog allows at most this many)


def _group_columns(df: pd.DataFrame, catalog: Catalog, parts: tuple[str, ...]) -> pd.DataFrame:
    """The SQL's g<position>_<part> columns named <group>_<part> (dh_points, qt_level, ...); the
    positions with no group dropped."""
    groups = list(catalog.index.groups)
    rename = {f"g{i}_{p}": f"{g.lower()}_{p}" for i, g in enumerate(groups) for p in parts}
    unused = [f"g{i}_{p}" for i in range(len(groups), MAX_GROUPS) for p in parts]
    return df.drop(columns=unused).rename(columns=rename)


def maturity_schools(con, catalog: Catalog, scope: Scope, school_years, level=None, ownership=None,
                     ward=None, *, source: Source | None = None) -> pd.DataFrame:
    """One row per school × school year scored (in SQL, by the rules of kpi.domain.scoring): per group
    points, level, unmet conditions, provisional; school_level, provisional; name, level (cấp học),
    ward, ownership. A principal gets only their own school."""
    df = _run_maturity(con, "maturity_schools", catalog, scope, school_years, level, ownership, ward, source=source)
    df = _group_columns(df, catalog, ("points", "level", "unmet", "provisional"))
    if scope.school_id is not None:  # the SQL already keeps only the school's rows: belt and braces
        df = df[df["school_id"] == scope.school_id].reset_index(drop=True)
    for g in catalog.index.groups:
        df[f"{g.lower()}_level"] = df[f"{g.lower()}_level"].astype(int)
    df["school_level"] = df["school_level"].astype(int)
    return df


def maturity_criteria(con, catalog: Catalog, scope: Scope, school_years, level=None, ownership=None,
                      ward=None, *, source: Source | None = None) -> pd.DataFrame:
    """One row per school × school year × leaf criterion (kpi.domain.scoring.criterion_points, in SQL)."""
    return _run_maturity(con, "maturity_criteria", catalog, scope, school_years, level, ownership, ward, source=source)


def maturity(con, catalog: Catalog, scope: Scope, school_years, level=None, ownership=None,
             ward=None, *, source: Source | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(criteria, schools) of the schools in scope for the school years: maturity_criteria and
    maturity_schools. For one school or a district; district-wide views use the aggregates below."""
    return (maturity_criteria(con, catalog, scope, school_years, level, ownership, ward, source=source),
            maturity_schools(con, catalog, scope, school_years, level, ownership, ward, source=source))


def maturity_reference(con, catalog: Catalog, scope: Scope, school_years, *,
                       source: Source | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(criteria, schools) scored by kpi.domain.scoring, the pandas reference engine, from the raw entries
    and field values: what `python -m kpi scores --check` and the tests hold the SQL scoring to."""
    params = {**index_rules.filters(scope, None, None, None), "school_years": list(school_years),
              "school_id": scope.school_id, "levels": list(catalog.index.levels_apply)}
    entries = run(con, "criterion_entries", params, source=_source(scope, source))
    fields = sorted({f for c in catalog.criteria.values() if c.compute
                     for f in (c.numerator_field, c.denominator_field) if f})
    values = run(con, "computed_fields", {**params, "fields": fields, "rounds": list(catalog.index.compute_rounds)},
                 source=_source(scope, source))
    return scoring.score(entries, scoring.computed_points(values, catalog), catalog)


def maturity_counts(con, catalog: Catalog, scope: Scope, school_years, level=None, ownership=None,
                    ward=None, *, source: Source | None = None) -> pd.DataFrame:
    """Schools per school_year × level (cấp học) × <group>_level × school_level × provisional
    (column `schools`): every district count of the index (kpi.domain.maturity) comes from this cube."""
    df = _run_maturity(con, "maturity_counts", catalog, scope, school_years, level, ownership, ward, source=source)
    df = _group_columns(df, catalog, ("level",))
    df["schools"] = df["schools"].astype(int)
    return df


def maturity_lost(con, catalog: Catalog, scope: Scope, school_year: str, level=None, ownership=None,
                  ward=None, *, source: Source | None = None) -> pd.DataFrame:
    """Per leaf criterion: points lost over the schools (Σ max − points), average per school, name,
    group, provisional; largest loss first. Where support pays most."""
    g = _run_maturity(con, "maturity_lost", catalog, scope, [school_year], level, ownership, ward, source=source)
    g["lost_per_school"] = g["lost"] / g["schools"]
    g["name"] = [catalog.criteria[k].name_vi for k in g["criterion_code"]]
    g["group"] = [catalog.criteria[k].group_code for k in g["criterion_code"]]
    g["provisional"] = [catalog.criteria[k].provisional for k in g["criterion_code"]]
    return g


def maturity_heatmap(con, catalog: Catalog, scope: Scope, school_year: str, order: str = "total",
                      limit: int = 200, level=None, ownership=None, ward=None, *,
                     source: Source | None = None) -> pd.DataFrame:
    """Schools × leaf criteria (share of the maximum earned, 0-1) for the first `limit` schools in
    `order` ("total", a group code in lower case, or "name"); rows named by school."""
    if order not in ("total", "name", *(g.lower() for g in catalog.index.groups)):
        raise ValueError(f"Thứ tự không hợp lệ: {order!r}")
    df = _run_maturity(con, "maturity_heatmap", catalog, scope, [school_year], level, ownership, ward, source=source,
                       order=order, limit=int(limit))
    cols = list(dict.fromkeys(df["criterion_code"]))
    m = df.pivot_table(index="rank", columns="criterion_code", values="share", aggfunc="first")
    m = m.reindex(columns=cols)
    m.index = df.drop_duplicates("rank").set_index("rank").loc[m.index, "name"].values
    m.columns.name = None
    return m


def maturity_review(con, catalog: Catalog, scope: Scope, school_year: str, flagged_only: bool = True,
                    limit: int = 100_000, level=None, ownership=None, ward=None, *,
                    source: Source | None = None) -> tuple[pd.DataFrame, int, int]:
    """(rows, rows in all, rows flagged): self-assessed, verified and computed points side by side
    per school × criterion with any of them, the differences to look at flagged (see the SQL)."""
    df = _run_maturity(con, "maturity_review", catalog, scope, [school_year], level, ownership, ward, source=source,
                       flagged_only=flagged_only, limit=int(limit))
    total = int(df["total_rows"].iloc[0]) if len(df) else 0
    flagged = int(df["flagged_rows"].iloc[0]) if len(df) else 0
    df = df.drop(columns=["total_rows", "flagged_rows"])
    df.insert(3, "criterion_name", [catalog.criteria[k].name_vi for k in df["criterion_code"]])
    return df, total, flagged


def school_trend(con, catalog: Catalog, scope: Scope, school_id: str, school_year: str, *,
                 source: Source | None = None) -> pd.DataFrame:
    """One row per indicator × period for one school: its value (empty when out of scope)."""
    return run(con, "school_trend", {"school_id": school_id, "scope_school": scope.school_id,
                                     "unit_id": scope.unit_id}, {"defs": _defs(catalog, school_year)},
               source=_source(scope, source))


# What kpi/sql/submission_status.sql reads beside the analytics file's submissions: one row per
# school with an entry or a lock in the period (kpi.workflows.entry.entry_times fills it).
ENTRY_TIMES = pa.schema([("school_id", pa.string()), ("state", pa.string()), ("version", pa.int64()),
                         ("first_submitted_at", pa.timestamp("us")), ("submitted_at", pa.timestamp("us")),
                         ("decided_by", pa.string()), ("reason", pa.string()), ("flags", pa.int64()),
                         ("explained", pa.int64())])


def submission_status(con, scope: Scope, school_year: str, round: str, entries: pa.Table | None = None,
                      period_open: bool = False, *, source: Source | None = None) -> pd.DataFrame:
    """One row per school in scope: received_at (the first arrival: a file the Phòng imported, or
    the moment the school submitted in the app), deadline, status (dung_han / tre / chua_nop),
    days_late, and where the school's entry stands (state, decided_by, reason, flags, explained).
    `entries`: kpi.workflows.entry.entry_times of the period (live data only; a snapshot has none)."""
    if entries is None or scope.snapshot_id is not None:
        entries = ENTRY_TIMES.empty_table()
    return run(con, "submission_status", {"unit_id": scope.unit_id, "school_year": school_year, "round": round,
                                          "school_id": scope.school_id, "period_open": period_open},
               {"entry_times": entries}, source=_source(scope, source))


def school_period_values(con, scope: Scope, school_id: str, period: tuple[str, str],
                         previous: tuple[str, str] | None, *, source: Source | None = None) -> pd.DataFrame:
    """One row per field a school reported (approved figures) in a period or the one before it:
    field_code, value, previous. Empty when the school is out of scope."""
    prev = previous or ("", "")
    return run(con, "school_period_values", {
        "school_id": school_id, "scope_school": scope.school_id, "unit_id": scope.unit_id,
        "school_year": period[0], "round": period[1], "prev_year": prev[0], "prev_round": prev[1]},
        source=_source(scope, source))


def period_values(con, scope: Scope, school_year: str, round: str, *, source: Source | None = None) -> pd.DataFrame:
    """Every value of a period of the schools in scope: school_id, name, level, field_code, value
    (for the data-quality view; an office scope only)."""
    if scope.is_school:
        raise PermissionError("period_values: chỉ dành cho phạm vi toàn đơn vị")
    return run(con, "period_values", {"unit_id": scope.unit_id, "school_year": school_year, "round": round},
               source=_source(scope, source))


def field_completeness(con, catalog: Catalog, scope: Scope, school_year: str, round: str, *,
                       source: Source | None = None) -> pd.DataFrame:
    """One row per field × level: schools expected to report it and schools that did."""
    rows = [{"field_code": f.code, "level": lv} for f in catalog.fields.values() for lv in f.levels]
    return run(con, "field_completeness", {"unit_id": scope.unit_id, "school_year": school_year, "round": round},
               {"fields_levels": pa.Table.from_pylist(rows)}, source=_source(scope, source))


def imports_log(con, limit: int = 200) -> pd.DataFrame:
    """The import audit, newest first."""
    return run(con, "imports_log", {"limit": limit})


MIXED_A = "#A"  # period A's rows carry round + MIXED_A, so A and B may even be the same period


def _mixed_views(period_a, snapshot_a, period_b, snapshot_b) -> dict[str, str]:
    """observations = period A from its source (round relabelled) ∪ period B from its source."""
    def part(period, snap, suffix=""):
        body = source_views(snap).get("observations", "SELECT * FROM kpi.observations")
        return (f"SELECT * REPLACE (round || '{suffix}' AS round) FROM ({body}) "
                f"WHERE school_year = '{period[0]}' AND round = '{period[1]}'")
    for y, r in (period_a, period_b):
        if not re.match(r"^\d{4}-\d{4}$", y) or r not in ("HK1", "CN"):
            raise ValueError(f"Kỳ không hợp lệ: {y} {r}")
    return {"observations": f"{part(period_a, snapshot_a, MIXED_A)} UNION ALL {part(period_b, snapshot_b)}"}


def snapshots(con, school_year: str | None = None) -> pd.DataFrame:
    """Every snapshot (newest first), or those of one school year."""
    return run(con, "snapshot_list", {"school_year": school_year})


def publications(con, scope: Scope, school_year: str | None = None) -> pd.DataFrame:
    """The published results of the yearly maturity assessment (newest first), or of one school
    year; `includes_school`: whether a principal's own school is in each (always true for the
    office). An analytics file older than the publications table has none."""
    try:
        return run(con, "publication_list", {"school_year": school_year, "school_id": scope.school_id})
    except duckdb.CatalogException:
        return pd.DataFrame(columns=["publication_id", "school_year", "published_by", "published_at", "schools",
                                     "content_hash", "includes_school"])


def assessment_figures(con, catalog: Catalog, scope: Scope, school_id: str, school_year: str) -> pd.DataFrame:
    """The reported values one school's computed criteria use in a school year (field_code, value,
    round); empty for a school outside the scope (a principal: any school but the own)."""
    if scope.is_school and scope.school_id != school_id:
        return pd.DataFrame(columns=["field_code", "value", "round"])
    fields = sorted({f for c in catalog.criteria.values() if c.compute
                     for f in (c.numerator_field, c.denominator_field) if f})
    return run(con, "assessment_figures", {"school_year": school_year, "school_id": school_id, "fields": fields or [""],
                                           "rounds": list(catalog.index.compute_rounds), "unit_id": scope.unit_id})


# ---- Quản trị (kpi.admin.plans, kpi.admin.registry): reference data the office changes in the app ----------

def _admin_read(con, name: str, params: dict | None = None) -> pd.DataFrame | None:
    """A Quản trị query; None on a file made before Quản trị had its tables (read-only, not upgraded)."""
    try:
        return run(con, name, params)
    except (duckdb.CatalogException, duckdb.BinderException):
        return None


def plan_targets(con) -> pd.DataFrame:
    """The targets of every school year published in the app (each year's newest version)."""
    df = _admin_read(con, "plan_targets")
    return df if df is not None else pd.DataFrame(
        columns=["school_year", "version", "indicator_code", "level", "value", "near", "clause", "basis", "document"])


def target_plans(con) -> pd.DataFrame:
    """Every published version of every school year's targets (history), newest first."""
    df = _admin_read(con, "target_plans")
    return df if df is not None else pd.DataFrame(
        columns=["school_year", "version", "document", "source_year", "published_by", "published_at", "targets",
                 "in_force"])


def plan_version_targets(con, school_year: str, version: int) -> pd.DataFrame:
    """The targets of one published version of a school year."""
    df = _admin_read(con, "plan_version_targets", {"school_year": school_year, "version": int(version)})
    return df if df is not None else pd.DataFrame(
        columns=["indicator_code", "level", "value", "near", "clause", "basis"])


def admin_schools(con) -> pd.DataFrame:
    """Every school ever recorded (open, closed, merged) with its dates (Quản trị)."""
    df = _admin_read(con, "admin_schools")
    return df if df is not None else run(con, "school_list", {"unit_id": None, "school_id": None, "school_year": None,
                                                              "round": None})


def admin_units(con) -> pd.DataFrame:
    """The unit tree, one row per unit with its parent and its open schools."""
    df = _admin_read(con, "admin_units")
    return df if df is not None else pd.DataFrame(
        columns=["unit_id", "name", "kind", "parent_id", "parent_name", "schools"])


def reference_changes(con, limit: int = 500) -> pd.DataFrame:
    """The history of Quản trị's changes to schools, units and targets, newest first."""
    df = _admin_read(con, "reference_changes", {"limit": int(limit)})
    return df if df is not None else pd.DataFrame(
        columns=["change_id", "changed_at", "user_name", "effective_on", "kind", "object_id", "detail"])
