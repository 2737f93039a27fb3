-- one row per indicator × level: schools meeting the target in period A and B, and who moved
-- Parameters: $year_a/$round_a, $year_b/$round_b, $unit_id, $level, $ownership, $ward.
-- Tables `defs_a`, `defs_b`: catalog.target_rows for A's and B's school years (see compare_rated.sql).
-- @include compare_rated
SELECT d.indicator_code, d.level,
       sum(r.num_a) FILTER (WHERE r.value_a IS NOT NULL) / sum(r.den_a) FILTER (WHERE r.value_a IS NOT NULL) AS value_a,
       sum(r.num_b) FILTER (WHERE r.value_b IS NOT NULL) / sum(r.den_b) FILTER (WHERE r.value_b IS NOT NULL) AS value_b,
       count(r.value_a) AS reporting_a, count(r.value_b) AS reporting_b,
       count(*) FILTER (WHERE r.met_a) AS meeting_a, count(*) FILTER (WHERE r.met_b) AS meeting_b,
       count(*) FILTER (WHERE r.moved_up) AS moved_up, count(*) FILTER (WHERE r.fell_back) AS fell_back
FROM defs d
LEFT JOIN rated r ON r.k = d.k
GROUP BY ALL
ORDER BY d.indicator_code, d.level
