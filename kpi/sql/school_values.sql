-- one row per school in scope for one indicator: its value in period B and in period A, with status
-- Parameters: $num_field, $den_field, $kind, $levels, $year_a/$round_a (earlier period, may equal B),
-- $year_b/$round_b, $unit_id, $level, $ownership, $ward, $school_id (a principal's own school:
-- every other school is returned without id or name). Tables `defs_a`, `defs_b`: this indicator's
-- rows of catalog.target_rows for A's and B's school years (level, target, near); A is judged
-- against its own year's target, or B's where A's year has none (as compare_periods).
WITH sc AS (
    SELECT school_id, name, level, ownership, ward
    FROM filtered_schools($unit_id, $level, $ownership, $ward, yr := $year_b, rd := $round_b)  -- B's schools
    WHERE list_contains($levels, level)
),
obs AS (
    SELECT school_id, school_year, round, field_code, value FROM observations
    WHERE field_code IN ($num_field, coalesce($den_field, $num_field))
      AND ((school_year = $year_a AND round = $round_a) OR (school_year = $year_b AND round = $round_b))
),
vals AS (
    SELECT sc.*,
           nb.value AS numerator,
           CASE WHEN $kind = 'bool' THEN (CASE WHEN nb.value IS NULL THEN NULL ELSE 1.0 END) ELSE db.value END
               AS denominator,
           na.value AS numerator_a,
           CASE WHEN $kind = 'bool' THEN (CASE WHEN na.value IS NULL THEN NULL ELSE 1.0 END) ELSE da.value END
               AS denominator_a
    FROM sc
    LEFT JOIN obs nb ON nb.school_id = sc.school_id AND nb.school_year = $year_b AND nb.round = $round_b
                    AND nb.field_code = $num_field
    LEFT JOIN obs db ON db.school_id = sc.school_id AND db.school_year = $year_b AND db.round = $round_b
                    AND db.field_code = $den_field
    LEFT JOIN obs na ON na.school_id = sc.school_id AND na.school_year = $year_a AND na.round = $round_a
                    AND na.field_code = $num_field
    LEFT JOIN obs da ON da.school_id = sc.school_id AND da.school_year = $year_a AND da.round = $round_a
                    AND da.field_code = $den_field
),
rated AS (
    SELECT v.*,
           CASE WHEN v.denominator > 0 THEN v.numerator / v.denominator END AS value,
           CASE WHEN v.denominator_a > 0 THEN v.numerator_a / v.denominator_a END AS value_a,
           b.target, b.near, coalesce(a.target, b.target) AS target_a, coalesce(a.near, b.near) AS near_a
    FROM vals v
    LEFT JOIN defs_b b ON b.level = v.level
    LEFT JOIN defs_a a ON a.level = v.level
)
SELECT CASE WHEN $school_id IS NULL OR school_id = $school_id THEN school_id END AS school_id,
       CASE WHEN $school_id IS NULL OR school_id = $school_id THEN name ELSE 'Trường khác' END AS name,
       level,
       CASE WHEN $school_id IS NULL OR school_id = $school_id THEN ownership END AS ownership,
       CASE WHEN $school_id IS NULL OR school_id = $school_id THEN ward END AS ward,
       coalesce(school_id = $school_id, FALSE) AS is_own,
       numerator, denominator, value, target, value_a,
       value - value_a AS change,
       CASE WHEN value IS NULL THEN 'thieu_so_lieu' WHEN target IS NULL THEN 'khong_chi_tieu'
            WHEN value >= target - 1e-9 THEN 'dat' WHEN value >= near - 1e-9 THEN 'gan_dat'
            ELSE 'chua_dat' END AS status,
       CASE WHEN value_a IS NULL THEN 'thieu_so_lieu' WHEN target_a IS NULL THEN 'khong_chi_tieu'
            WHEN value_a >= target_a - 1e-9 THEN 'dat' WHEN value_a >= near_a - 1e-9 THEN 'gan_dat'
            ELSE 'chua_dat' END AS status_a
FROM rated
ORDER BY value DESC NULLS LAST, name COLLATE vi
