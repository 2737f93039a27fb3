-- one row per indicator × level: schools meeting the target in period A and B, and who moved
-- Parameters: $year_a/$round_a, $year_b/$round_b, $unit_id, $level, $ownership, $ward.
-- Tables `defs_a`, `defs_b`: catalog.target_rows for A's and B's school years. Each period is judged
-- against its own year's target; where A's year has none, against B's. Each observation of either
-- period meets the definitions that read its field (as numerator or denominator) and one grouping
-- pairs them per school and period: one pass, and far less memory than joining the periods' rows
-- to each other. A school with no value in a period counts in neither.
WITH sc AS (         -- sid: a small integer per school, the cheap grouping key below
    SELECT school_id, level, row_number() OVER () AS sid FROM filtered_schools($unit_id, $level, $ownership, $ward)
),
defs AS (           -- k: a small integer per indicator × level
    SELECT row_number() OVER () AS k, b.indicator_code, b.level, b.kind, b.num_field, b.den_field,
           b.target AS target_b, coalesce(a.target, b.target) AS target_a
    FROM defs_b b JOIN defs_a a ON a.indicator_code = b.indicator_code AND a.level = b.level
    WHERE b.level IN (SELECT level FROM sc)
),
roles AS (          -- which definitions read each field, as numerator or denominator
    SELECT k, level, num_field AS field_code, true AS is_num FROM defs
    UNION ALL
    SELECT k, level, den_field, false FROM defs WHERE kind <> 'bool'
),
per_school AS (     -- one pass: each definition × school, its values in A and B
    SELECT r.k, sc.sid,
           max(o.value) FILTER (WHERE r.is_num AND NOT o.is_b) AS num_a,
           max(o.value) FILTER (WHERE NOT r.is_num AND NOT o.is_b) AS den_a,
           max(o.value) FILTER (WHERE r.is_num AND o.is_b) AS num_b,
           max(o.value) FILTER (WHERE NOT r.is_num AND o.is_b) AS den_b
    FROM (SELECT school_id, field_code, value, school_year = $year_b AND round = $round_b AS is_b
          FROM observations
          WHERE (school_year = $year_a AND round = $round_a) OR (school_year = $year_b AND round = $round_b)) o
    JOIN sc ON sc.school_id = o.school_id
    JOIN roles r ON r.field_code = o.field_code AND r.level = sc.level
    GROUP BY ALL
),
rated AS (
    SELECT p.k, p.num_a, p.num_b, d.target_a, d.target_b,
           CASE WHEN d.kind = 'bool' THEN (CASE WHEN p.num_a IS NOT NULL THEN 1.0 END) ELSE p.den_a END AS den_a,
           CASE WHEN d.kind = 'bool' THEN (CASE WHEN p.num_b IS NOT NULL THEN 1.0 END) ELSE p.den_b END AS den_b
    FROM per_school p JOIN defs d ON d.k = p.k
),
valued AS (
    SELECT *, CASE WHEN den_a > 0 AND num_a IS NOT NULL THEN num_a / den_a END AS value_a,
              CASE WHEN den_b > 0 AND num_b IS NOT NULL THEN num_b / den_b END AS value_b
    FROM rated
)
SELECT d.indicator_code, d.level,
       sum(r.num_a) FILTER (WHERE r.value_a IS NOT NULL) / sum(r.den_a) FILTER (WHERE r.value_a IS NOT NULL) AS value_a,
       sum(r.num_b) FILTER (WHERE r.value_b IS NOT NULL) / sum(r.den_b) FILTER (WHERE r.value_b IS NOT NULL) AS value_b,
       count(r.value_a) AS reporting_a,
       count(r.value_b) AS reporting_b,
       count(*) FILTER (WHERE r.value_a >= r.target_a - 1e-9) AS meeting_a,
       count(*) FILTER (WHERE r.value_b >= r.target_b - 1e-9) AS meeting_b,
       count(*) FILTER (WHERE r.value_a IS NOT NULL AND r.value_b IS NOT NULL
                          AND NOT r.value_a >= r.target_a - 1e-9 AND r.value_b >= r.target_b - 1e-9) AS moved_up,
       count(*) FILTER (WHERE r.value_a IS NOT NULL AND r.value_b IS NOT NULL
                          AND r.value_a >= r.target_a - 1e-9 AND NOT r.value_b >= r.target_b - 1e-9) AS fell_back
FROM defs d
LEFT JOIN valued r ON r.k = d.k
GROUP BY ALL
ORDER BY d.indicator_code, d.level
