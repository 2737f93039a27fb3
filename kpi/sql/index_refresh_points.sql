-- kpi.store.derived: the index_points rows of the schools and years being rescored (maturity_base.sql).
-- @include maturity_base
SELECT school_id, school_year, criterion_code, group_code, position, max_points, placeholder, self_points,
       verified_points, computed, points, capped, source, provisional
FROM crit
