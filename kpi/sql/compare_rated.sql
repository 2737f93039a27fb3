-- Each school's value of each indicator × level in periods A and B, judged against each period's target
-- (one row per indicator × level × school that reported in A or B: k, sid, num/den/value of A and B,
-- target_a, target_b), with the CTEs sc (the schools: sid, level, ownership, ward) and defs (k: indicator
-- × level) for the query that includes it. Included (not run alone) by compare_periods.sql and
-- compare_cells.sql; it ends inside a WITH list.
-- Parameters: $year_a/$round_a, $year_b/$round_b, $unit_id, $level, $ownership, $ward. Tables `defs_a`, `defs_b`:
-- catalog.target_rows for A's and B's school years. Each period is judged against its own year's target;
-- where A's year has none, against B's. Each observation meets its definitions by field (as
-- district_summary); a school with no value in a period counts in neither.
-- A and B are computed side by side and joined on small integer keys: measured at national scale,
-- this is faster cold than one tagged pass or one grouping pass (which use less memory).
WITH sc AS (         -- sid: a small integer per school, the cheap join key below
    SELECT school_id, level, ownership, ward, row_number() OVER () AS sid
    FROM filtered_schools($unit_id, $level, $ownership, $ward, yr := '*')  -- closed ones too: only values count
),
defs AS (           -- k: a small integer per indicator × level, the cheap join key below
    SELECT row_number() OVER () AS k, b.indicator_code, b.level, b.kind, b.num_field, b.den_field,
           b.target AS target_b, coalesce(a.target, b.target) AS target_a
    FROM defs_b b JOIN defs_a a ON a.indicator_code = b.indicator_code AND a.level = b.level
    WHERE b.level IN (SELECT level FROM sc)
),
obs_a AS (
    SELECT sc.sid, o.field_code, o.value, sc.level
    FROM observations o JOIN sc ON sc.school_id = o.school_id
    WHERE o.school_year = $year_a AND o.round = $round_a
),
obs_b AS (
    SELECT sc.sid, o.field_code, o.value, sc.level
    FROM observations o JOIN sc ON sc.school_id = o.school_id
    WHERE o.school_year = $year_b AND o.round = $round_b
),
vals_a AS (
    SELECT d.k, n.sid, n.value AS num,
           CASE WHEN d.kind = 'bool' THEN 1.0 ELSE dn.value END AS den
    FROM defs d JOIN obs_a n ON n.field_code = d.num_field AND n.level = d.level
    LEFT JOIN obs_a dn ON dn.field_code = d.den_field AND dn.sid = n.sid
    WHERE CASE WHEN d.kind = 'bool' THEN 1.0 ELSE dn.value END > 0
),
vals_b AS (
    SELECT d.k, n.sid, n.value AS num,
           CASE WHEN d.kind = 'bool' THEN 1.0 ELSE dn.value END AS den
    FROM defs d JOIN obs_b n ON n.field_code = d.num_field AND n.level = d.level
    LEFT JOIN obs_b dn ON dn.field_code = d.den_field AND dn.sid = n.sid
    WHERE CASE WHEN d.kind = 'bool' THEN 1.0 ELSE dn.value END > 0
),
per_school AS (
    SELECT coalesce(a.k, b.k) AS k, coalesce(a.sid, b.sid) AS sid,
           a.num AS num_a, a.den AS den_a, b.num AS num_b, b.den AS den_b
    FROM vals_a a FULL JOIN vals_b b ON a.k = b.k AND a.sid = b.sid
),
valued AS (
    SELECT p.*, d.target_a, d.target_b,
           CASE WHEN p.den_a > 0 THEN p.num_a / p.den_a END AS value_a,
           CASE WHEN p.den_b > 0 THEN p.num_b / p.den_b END AS value_b
    FROM per_school p JOIN defs d ON d.k = p.k
),
rated AS (          -- met_a / met_b: NULL where the school did not report (or no target): counts in neither
    SELECT v.*, v.value_a >= v.target_a - 1e-9 AS met_a, v.value_b >= v.target_b - 1e-9 AS met_b,
           NOT (v.value_a >= v.target_a - 1e-9) AND v.value_b >= v.target_b - 1e-9 AS moved_up,
           v.value_a >= v.target_a - 1e-9 AND NOT (v.value_b >= v.target_b - 1e-9) AS fell_back
    FROM valued v
)
