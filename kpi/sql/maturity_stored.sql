-- The maturity index as stored by kpi.store.derived (index_points / index_groups / index_schools), under
-- the CTE names of maturity_base.sql: the maturity_*.sql queries read it instead of scoring live
-- when the stored scores match the catalog and the data (kpi.store.queries decides).
-- Parameters: $school_years, $unit_id, $level, $ownership, $ward, $school_id, $levels.
WITH sc AS (
    SELECT school_id, level FROM filtered_schools($unit_id, $level, $ownership, $ward)
    WHERE list_contains($levels, level) AND ($school_id IS NULL OR school_id = $school_id)
),
crit AS (
    SELECT p.* FROM index_points p SEMI JOIN sc ON sc.school_id = p.school_id
    WHERE list_contains($school_years, p.school_year)
),
grp AS (
    SELECT g.* FROM index_groups g SEMI JOIN sc ON sc.school_id = g.school_id
    WHERE list_contains($school_years, g.school_year)
),
school_levels AS (
    SELECT l.* FROM index_schools l SEMI JOIN sc ON sc.school_id = l.school_id
    WHERE list_contains($school_years, l.school_year)
)
