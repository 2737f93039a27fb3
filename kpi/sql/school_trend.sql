-- one row per indicator × period for one school in scope: its value (for the scorecard's sparklines)
-- Parameters: $school_id, $scope_school, $unit_id. Table `defs`: indicator_code, level, kind,
-- num_field, den_field (catalog.target_rows; targets unused).
WITH me AS (
    SELECT school_id, level FROM scope_schools($unit_id, yr := '*')  -- a closed school's periods too
    WHERE school_id = $school_id AND ($scope_school IS NULL OR school_id = $scope_school)
),
obs AS (SELECT school_year, round, field_code, value FROM observations WHERE school_id = $school_id)
SELECT d.indicator_code, p.school_year, p.round,
       CASE WHEN d.kind = 'bool' THEN n.value
            WHEN dn.value > 0 THEN n.value / dn.value END AS value
FROM defs d
JOIN me ON me.level = d.level
CROSS JOIN periods p
LEFT JOIN obs n ON n.school_year = p.school_year AND n.round = p.round AND n.field_code = d.num_field
LEFT JOIN obs dn ON dn.school_year = p.school_year AND dn.round = p.round AND dn.field_code = d.den_field
ORDER BY d.indicator_code, p.school_year, CASE p.round WHEN 'HK1' THEN 0 ELSE 1 END
