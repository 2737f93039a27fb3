-- one row per indicator × level: the pooled value of one period over the schools in scope
-- Parameters: $school_year, $round, $unit_id (NULL = every unit), $level, $ownership, $ward
-- (NULL = no filter). Table `defs` (catalog.target_rows): indicator_code, level, kind, num_field,
-- den_field, target, near, target_year. A school that did not report is missing, never zero; the
-- schools are those of the period (open on its deadline: kpi/sql/schema.sql scope_schools).
-- Each observation of the period meets its indicator definitions by field (numerator, then
-- denominator), rather than every school meeting every definition: a few hundred thousand rows
-- joined instead of schools × definitions probing millions.
WITH sc AS (         -- sid: a small integer per school, the cheap join key below
    SELECT school_id, level, row_number() OVER () AS sid FROM filtered_schools($unit_id, $level, $ownership, $ward, yr := $school_year, rd := $round)
),
obs AS (
    SELECT sc.sid, o.field_code, o.value, sc.level FROM observations o JOIN sc ON sc.school_id = o.school_id
    WHERE o.school_year = $school_year AND o.round = $round
),
per_school AS (
    SELECT d.indicator_code, d.level, d.target, n.value AS num,
           CASE WHEN d.kind = 'bool' THEN 1.0 ELSE dn.value END AS den
    FROM defs d JOIN obs n ON n.field_code = d.num_field AND n.level = d.level
    LEFT JOIN obs dn ON dn.field_code = d.den_field AND dn.sid = n.sid
),
agg AS (
    SELECT indicator_code, level,
           sum(num) AS numerator, sum(den) AS denominator, count(*) AS schools_reporting,
           count(*) FILTER (WHERE target IS NOT NULL AND num / den >= target - 1e-9) AS schools_meeting
    FROM per_school WHERE den > 0
    GROUP BY ALL
),
expected AS (SELECT level, count(*) AS n FROM sc GROUP BY level)
SELECT d.indicator_code, d.level, d.kind, d.target, d.near, d.target_year,
       a.numerator, a.denominator, coalesce(a.schools_reporting, 0) AS schools_reporting,
       coalesce(e.n, 0) AS schools_expected, coalesce(a.schools_meeting, 0) AS schools_meeting
FROM defs d
LEFT JOIN agg a ON a.indicator_code = d.indicator_code AND a.level = d.level
LEFT JOIN expected e ON e.level = d.level
ORDER BY d.indicator_code, d.level
