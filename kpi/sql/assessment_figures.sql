-- one row per field used by computed criteria for one school × school year: the value from the first
-- round of $rounds in which the school reported it (what the self-assessment's suggestions used)
-- Parameters: $school_year, $school_id, $fields, $rounds, $unit_id.
SELECT field_code, value, round FROM (
    SELECT o.field_code, o.value, o.round,
           row_number() OVER (PARTITION BY o.field_code ORDER BY list_position($rounds, o.round)) AS pick
    FROM observations o
    JOIN scope_schools($unit_id) s ON s.school_id = o.school_id
    WHERE o.school_year = $school_year AND o.school_id = $school_id
      AND list_contains($fields, o.field_code) AND list_contains($rounds, o.round)
)
WHERE pick = 1
ORDER BY field_code
