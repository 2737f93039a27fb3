-- one row per school × school year × field used by computed criteria: the value from the first
-- round of $rounds (e.g. ['CN', 'HK1']) in which the school reported it
-- Parameters: $school_years, $fields, $rounds, $unit_id, $level, $ownership, $ward, $school_id, $levels.
SELECT school_id, school_year, field_code, value FROM (
    SELECT o.school_id, o.school_year, o.field_code, o.value,
           row_number() OVER (PARTITION BY o.school_id, o.school_year, o.field_code
                              ORDER BY list_position($rounds, o.round)) AS pick
    FROM observations o
    JOIN filtered_schools($unit_id, $level, $ownership, $ward) s ON s.school_id = o.school_id
    WHERE list_contains($school_years, o.school_year)
      AND list_contains($fields, o.field_code)
      AND list_contains($rounds, o.round)
      AND list_contains($levels, s.level)
      AND ($school_id IS NULL OR o.school_id = $school_id)
)
WHERE pick = 1
