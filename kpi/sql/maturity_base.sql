-- The maturity-index scoring engine in SQL (the rules of kpi/domain/scoring.py, which stays the reference
-- implementation: tests/test_scoring_sql.py checks both agree on every school and year).
-- Included (not run alone) by the maturity_*.sql queries; it ends inside a WITH list.
-- Parameters: $school_years (list), $unit_id, $level, $ownership, $ward, $school_id (a principal's
-- own school: only its rows), $schools (NULL, or the list of schools a writer rescores), $levels (the cấp học the index applies to), $fields (the fields computed
-- criteria read), $rounds (compute_rounds, first found wins), $p1 $p2 $p3 (the precedence of point
-- sources, NULL when shorter), $step (round_step), $l2_from, $l2_to (bands), $cap (mandatory_unmet =
-- 'cap_level_1'), $rescale (placeholder = 'rescale'), $combine ('min', or a group code).
-- Tables: `crit_defs` (criterion_code, group_code, position, max_points, provisional, rule, compute,
-- num_field, den_field: every criterion), `group_defs` (group_code, position, group_max, placeholder_max).
WITH sc AS (
    SELECT school_id, level FROM filtered_schools($unit_id, $level, $ownership, $ward)
    WHERE list_contains($levels, level) AND ($school_id IS NULL OR school_id = $school_id)
      AND ($schools IS NULL OR list_contains($schools, school_id))
),
entries AS (
    SELECT c.school_id, c.school_year, c.criterion_code, c.self_points, c.self_met,
           c.verified_points, c.verified_met
    FROM criterion_scores c SEMI JOIN sc ON sc.school_id = c.school_id
    WHERE list_contains($school_years, c.school_year)
),
field_values AS (   -- the value of each field from the first round of $rounds that has it
    SELECT o.school_id, o.school_year, o.field_code,
           arg_min(o.value, list_position($rounds, o.round)) AS value
    FROM observations o SEMI JOIN sc ON sc.school_id = o.school_id
    WHERE list_contains($school_years, o.school_year) AND list_contains($fields, o.field_code)
      AND list_contains($rounds, o.round)
    GROUP BY ALL
),
computed AS (       -- points computed from reported fields (ratio: max × share rounded to $step; bool: max when "có")
    SELECT n.school_id, n.school_year, d.criterion_code,
           CASE WHEN d.compute = 'ratio'
                THEN floor(least(greatest(n.value / dn.value, 0), 1) * d.max_points / $step + 0.5 + 1e-9) * $step
                ELSE (CASE WHEN n.value >= 1 THEN d.max_points ELSE 0 END) END AS computed
    FROM crit_defs d
    JOIN field_values n ON n.field_code = d.num_field
    LEFT JOIN field_values dn ON dn.field_code = d.den_field AND dn.school_id = n.school_id
                             AND dn.school_year = n.school_year
    WHERE d.compute IN ('ratio', 'bool')
      AND (d.compute = 'bool' OR dn.value > 0)
),
score_keys AS (     -- every school × year with any entry or computed value is scored
    SELECT school_id, school_year FROM entries
    UNION
    SELECT school_id, school_year FROM computed
),
leaf_grid AS (
    SELECT k.school_id, k.school_year, d.criterion_code, d.group_code, d.position, d.max_points,
           d.provisional AS crit_provisional, d.rule = 'placeholder' AS placeholder,
           e.self_points, e.verified_points, c.computed
    FROM score_keys k
    CROSS JOIN (SELECT * FROM crit_defs WHERE rule IN ('entered', 'placeholder')) d
    LEFT JOIN entries e ON e.school_id = k.school_id AND e.school_year = k.school_year
                       AND e.criterion_code = d.criterion_code
    LEFT JOIN computed c ON c.school_id = k.school_id AND c.school_year = k.school_year
                        AND c.criterion_code = d.criterion_code
),
picked AS (
    SELECT *,
        CASE WHEN placeholder THEN NULL ELSE coalesce(
            CASE $p1 WHEN 'verified' THEN verified_points WHEN 'self' THEN self_points WHEN 'computed' THEN computed END,
            CASE $p2 WHEN 'verified' THEN verified_points WHEN 'self' THEN self_points WHEN 'computed' THEN computed END,
            CASE $p3 WHEN 'verified' THEN verified_points WHEN 'self' THEN self_points WHEN 'computed' THEN computed END)
        END AS raw_points,
        CASE WHEN placeholder THEN NULL
             WHEN (CASE $p1 WHEN 'verified' THEN verified_points WHEN 'self' THEN self_points WHEN 'computed' THEN computed END) IS NOT NULL THEN $p1
             WHEN (CASE $p2 WHEN 'verified' THEN verified_points WHEN 'self' THEN self_points WHEN 'computed' THEN computed END) IS NOT NULL THEN $p2
             WHEN (CASE $p3 WHEN 'verified' THEN verified_points WHEN 'self' THEN self_points WHEN 'computed' THEN computed END) IS NOT NULL THEN $p3
        END AS source
    FROM leaf_grid
),
crit AS (           -- one row per school × year × leaf criterion (kpi.domain.scoring.criterion_points)
    SELECT school_id, school_year, criterion_code, group_code, position, max_points, placeholder,
           self_points, verified_points, computed,
           least(greatest(coalesce(raw_points, 0), 0), max_points) AS points,
           coalesce(raw_points, 0) > max_points AS capped,
           source,
           crit_provisional AND (least(greatest(coalesce(raw_points, 0), 0), max_points) > 0 OR placeholder)
               AS provisional
    FROM picked
),
cond AS (           -- mandatory conditions: verified wins over self-assessed; undeclared = not met
    SELECT k.school_id, k.school_year, d.criterion_code, d.group_code, d.position, d.provisional,
           coalesce(e.verified_met, e.self_met, false) AS met
    FROM score_keys k
    CROSS JOIN (SELECT * FROM crit_defs WHERE rule = 'condition') d
    LEFT JOIN entries e ON e.school_id = k.school_id AND e.school_year = k.school_year
                       AND e.criterion_code = d.criterion_code
),
cond_groups AS (
    SELECT school_id, school_year, group_code,
           coalesce(string_agg(criterion_code, ', ' ORDER BY position) FILTER (WHERE NOT met), '') AS unmet,
           bool_or(provisional) AS cprov
    FROM cond GROUP BY ALL
),
group_sums AS (
    SELECT school_id, school_year, group_code, sum(points) AS points, bool_or(provisional) AS prov
    FROM crit GROUP BY ALL
),
grp_raw AS (
    SELECT k.school_id, k.school_year, g.group_code, g.position,
           CASE WHEN $rescale AND g.placeholder_max > 0
                THEN round(coalesce(s.points, 0) * g.group_max / (g.group_max - g.placeholder_max), 2)
                ELSE coalesce(s.points, 0) END AS points,
           coalesce(s.prov, false) OR ($rescale AND g.placeholder_max > 0) AS prov,
           coalesce(c.unmet, '') AS unmet,
           coalesce(c.cprov, false) AS cprov
    FROM score_keys k
    CROSS JOIN group_defs g
    LEFT JOIN group_sums s ON s.school_id = k.school_id AND s.school_year = k.school_year
                          AND s.group_code = g.group_code
    LEFT JOIN cond_groups c ON c.school_id = k.school_id AND c.school_year = k.school_year
                           AND c.group_code = g.group_code
),
grp AS (            -- one row per school × year × group: points, level (bands, mandatory cap), provisional
    SELECT school_id, school_year, group_code, position, points, unmet,
           CASE WHEN points < $l2_from THEN 1 WHEN points <= $l2_to THEN 2 ELSE 3 END AS raw_level,
           CASE WHEN $cap AND unmet <> '' THEN 1
                WHEN points < $l2_from THEN 1 WHEN points <= $l2_to THEN 2 ELSE 3 END AS level,
           prov OR ($cap AND unmet <> '' AND points >= $l2_from) OR (cprov AND unmet <> '') AS provisional
    FROM grp_raw
),
school_levels AS (  -- one row per school × year: the school level combines the group levels
    SELECT school_id, school_year,
           CASE WHEN $combine = 'min' THEN min(level)
                ELSE max(level) FILTER (WHERE lower(group_code) = lower($combine)) END AS school_level,
           bool_or(provisional) AS provisional
    FROM grp GROUP BY ALL
)
