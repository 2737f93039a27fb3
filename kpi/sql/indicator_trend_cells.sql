-- one row per period × level × loại hình × phường: indicator_trend's sums kept apart by the two
-- filters a page changes, so that every filter of an indicator is a sum of these cells
-- (kpi.store.queries.trend_from_cells) instead of a query of its own
-- Parameters: $num_field, $den_field (NULL for yes/no), $kind, $levels (the indicator's levels),
-- $unit_id, $level, $ownership, $ward (NULL = no filter).
WITH sc AS (
    SELECT f.school_id, f.level, f.ownership, f.ward, f.active, d.opened_on, d.closed_on
    FROM filtered_schools($unit_id, $level, $ownership, $ward, yr := '*') f
    LEFT JOIN school_dates d ON d.school_id = f.school_id
    WHERE list_contains($levels, f.level)
),
n AS (SELECT school_id, school_year, round, value FROM observations WHERE field_code = $num_field),
d AS (SELECT school_id, school_year, round, value FROM observations WHERE field_code = $den_field),
per_school AS (
    SELECT p.school_year, p.round, sc.level, sc.ownership, sc.ward, n.value AS num,
           CASE WHEN $kind = 'bool' THEN (CASE WHEN n.value IS NULL THEN NULL ELSE 1.0 END)
                ELSE d.value END AS den
    FROM periods p
    CROSS JOIN sc
    LEFT JOIN n ON n.school_id = sc.school_id AND n.school_year = p.school_year AND n.round = p.round
    LEFT JOIN d ON d.school_id = sc.school_id AND d.school_year = p.school_year AND d.round = p.round
    WHERE (sc.active OR sc.closed_on IS NOT NULL)     -- the schools of each period (scope_schools)
      AND (sc.opened_on IS NULL OR sc.opened_on <= p.deadline) AND (sc.closed_on IS NULL OR sc.closed_on > p.deadline)
)
SELECT school_year, round, level, ownership, ward,
       sum(num) FILTER (WHERE num IS NOT NULL AND den > 0) AS numerator,
       sum(den) FILTER (WHERE num IS NOT NULL AND den > 0) AS denominator,
       count(*) FILTER (WHERE num IS NOT NULL AND den > 0) AS schools_reporting,
       count(*) AS schools_expected
FROM per_school
GROUP BY school_year, round, level, ownership, ward
ORDER BY school_year, round DESC, level, ownership, ward
