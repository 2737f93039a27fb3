-- one row per indicator × level: schools meeting the target in period A and B, and who moved
-- Parameters: $year_a/$round_a, $year_b/$round_b, $unit_id, $level, $ownership, $ward.
-- Tables `defs_a`, `defs_b`: catalog.target_rows for A's and B's school years. Each period is judged
-- against its own year's target; where A's year has none, against B's.
WITH sc AS (
    SELECT school_id, level FROM filtered_schools($unit_id, $level, $ownership, $ward)
),
obs AS (
    SELECT school_id, school_year, round, field_code, value FROM observations
    WHERE (school_year = $year_a AND round = $round_a) OR (school_year = $year_b AND round = $round_b)
),
per_school AS (
    SELECT b.indicator_code, b.level, sc.school_id, b.kind,
           nb.value AS num_b,
           CASE WHEN b.kind = 'bool' THEN (CASE WHEN nb.value IS NULL THEN NULL ELSE 1.0 END) ELSE db.value END AS den_b,
           na.value AS num_a,
           CASE WHEN b.kind = 'bool' THEN (CASE WHEN na.value IS NULL THEN NULL ELSE 1.0 END) ELSE da.value END AS den_a,
           b.target AS target_b, coalesce(a.target, b.target) AS target_a
    FROM defs_b b
    JOIN defs_a a ON a.indicator_code = b.indicator_code AND a.level = b.level
    JOIN sc ON sc.level = b.level
    LEFT JOIN obs nb ON nb.school_id = sc.school_id AND nb.school_year = $year_b AND nb.round = $round_b AND nb.field_code = b.num_field
    LEFT JOIN obs db ON db.school_id = sc.school_id AND db.school_year = $year_b AND db.round = $round_b AND db.field_code = b.den_field
    LEFT JOIN obs na ON na.school_id = sc.school_id AND na.school_year = $year_a AND na.round = $round_a AND na.field_code = b.num_field
    LEFT JOIN obs da ON da.school_id = sc.school_id AND da.school_year = $year_a AND da.round = $round_a AND da.field_code = b.den_field
),
rated AS (
    SELECT *,
           CASE WHEN den_a > 0 AND num_a IS NOT NULL THEN num_a / den_a END AS value_a,
           CASE WHEN den_b > 0 AND num_b IS NOT NULL THEN num_b / den_b END AS value_b
    FROM per_school
)
SELECT indicator_code, level,
       sum(num_a) FILTER (WHERE value_a IS NOT NULL) / sum(den_a) FILTER (WHERE value_a IS NOT NULL) AS value_a,
       sum(num_b) FILTER (WHERE value_b IS NOT NULL) / sum(den_b) FILTER (WHERE value_b IS NOT NULL) AS value_b,
       count(value_a) AS reporting_a,
       count(value_b) AS reporting_b,
       count(*) FILTER (WHERE value_a >= target_a - 1e-9) AS meeting_a,
       count(*) FILTER (WHERE value_b >= target_b - 1e-9) AS meeting_b,
       count(*) FILTER (WHERE value_a IS NOT NULL AND value_b IS NOT NULL
                          AND NOT value_a >= target_a - 1e-9 AND value_b >= target_b - 1e-9) AS moved_up,
       count(*) FILTER (WHERE value_a IS NOT NULL AND value_b IS NOT NULL
                          AND value_a >= target_a - 1e-9 AND NOT value_b >= target_b - 1e-9) AS fell_back
FROM rated
GROUP BY ALL
ORDER BY indicator_code, level
