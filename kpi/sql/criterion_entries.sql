-- one row per school × school year × criterion entry (self-assessed and verified points) in scope
-- (what the reference engine kpi.domain.scoring needs; the evidence links stay in the table)
-- Parameters: $school_years (list), $unit_id, $level, $ownership, $ward, $school_id (a principal's
-- own school: only its rows), $levels (the cấp học the index applies to).
SELECT c.school_id, c.school_year, c.criterion_code, c.self_points, c.self_met,
       c.verified_points, c.verified_met
FROM criterion_scores c
JOIN filtered_schools($unit_id, $level, $ownership, $ward) s ON s.school_id = c.school_id
WHERE list_contains($school_years, c.school_year)
  AND list_contains($levels, s.level)
  AND ($school_id IS NULL OR c.school_id = $school_id)
