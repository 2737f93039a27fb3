-- kpi.store.derived: the index_schools rows of the schools and years being rescored (maturity_base.sql).
-- @include maturity_base
SELECT school_id, school_year, school_level, provisional
FROM school_levels
