-- one row per indicator × level: the pooled value of one period over the schools in scope
-- Parameters: $school_year, $round, $unit_id (NULL = every unit), $level, $ownership, $ward
-- (NULL = no filter). Table `defs` (catalog.target_rows): indicator_code, level, kind, num_field,
-- den_field, target, near, target_year. A school that did not report is missing, never zero.
WITH sc AS (
    SELECT school_id, level FROM filtered_schools($unit_id, $level, $ownership, $ward)
),
obs AS (
    SELECT school_id, field_code, value FROM observations
    WHERE school_year = $school_year AND round = $round
),
per_school AS (
    SELECT d.indicator_code, d.level, d.target, n.value AS num,
           CASE WHEN d.kind = 'bool' THEN (CASE WHEN n.value IS NULL THEN NULL ELSE 1.0 END)
                ELSE dn.value END AS den
    FROM defs d
    JOIN sc ON sc.level = d.level
    LEFT JOIN obs n ON n.school_id = sc.school_id AND n.field_code = d.num_field
    LEFT JOIN obs dn ON dn.school_id = sc.school_id AND dn.field_code = d.den_field
),
reported AS (
    SELECT *, num IS NOT NULL AND den IS NOT NULL AND den > 0 AS ok FROM per_school
)
SELECT d.indicator_code, d.level, d.kind, d.target, d.near, d.target_year,
       sum(r.num) FILTER (WHERE r.ok) AS numerator,
       sum(r.den) FILTER (WHERE r.ok) AS denominator,
       count(r.level) FILTER (WHERE r.ok) AS schools_reporting,
       count(r.level) AS schools_expected,
       count(r.level) FILTER (WHERE r.ok AND d.target IS NOT NULL AND r.num / r.den >= d.target - 1e-9)
           AS schools_meeting
FROM defs d
LEFT JOIN reported r ON r.indicator_code = d.indicator_code AND r.level = d.level
GROUP BY ALL
ORDER BY d.indicator_code, d.level
