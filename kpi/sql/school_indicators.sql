-- one row per indicator applying to one school: its value and status for a period, the district
-- value and its place among the schools of its level that reported (aggregates name no other school)
-- Parameters: $school_id, $scope_school (a principal's own school, or NULL), $school_year, $round,
-- $unit_id. Table `defs`: catalog.target_rows for the school year.
WITH sc AS (SELECT school_id, level FROM scope_schools($unit_id)),
me AS (
    SELECT school_id, level FROM sc
    WHERE school_id = $school_id AND ($scope_school IS NULL OR school_id = $scope_school)
),
obs AS (
    SELECT school_id, field_code, value FROM observations
    WHERE school_year = $school_year AND round = $round
),
per_school AS (
    SELECT d.indicator_code, d.level, sc.school_id, n.value AS num,
           CASE WHEN d.kind = 'bool' THEN (CASE WHEN n.value IS NULL THEN NULL ELSE 1.0 END) ELSE dn.value END AS den
    FROM defs d
    JOIN me ON me.level = d.level
    JOIN sc ON sc.level = d.level
    LEFT JOIN obs n ON n.school_id = sc.school_id AND n.field_code = d.num_field
    LEFT JOIN obs dn ON dn.school_id = sc.school_id AND dn.field_code = d.den_field
),
vals AS (
    SELECT *, num / den AS value FROM per_school WHERE num IS NOT NULL AND den > 0
),
ranked AS (
    SELECT *, rank() OVER (PARTITION BY indicator_code ORDER BY value DESC) AS position,
           count(*) OVER (PARTITION BY indicator_code) AS peers
    FROM vals
),
district AS (
    SELECT indicator_code, sum(num) / sum(den) AS district_value FROM vals GROUP BY indicator_code
)
SELECT d.indicator_code, d.level, d.kind, r.num AS numerator, r.den AS denominator, r.value,
       d.target, d.near, d.target_year, r.position, r.peers, di.district_value
FROM defs d
JOIN me ON me.level = d.level
LEFT JOIN ranked r ON r.indicator_code = d.indicator_code AND r.school_id = me.school_id
LEFT JOIN district di ON di.indicator_code = d.indicator_code
