-- kpi.store.derived: the index_groups rows of the schools and years being rescored (maturity_base.sql).
-- @include maturity_base
SELECT school_id, school_year, group_code, position, points, unmet, raw_level, level, provisional
FROM grp
