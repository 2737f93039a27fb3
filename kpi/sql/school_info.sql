-- one row for one school in scope: who it is and its submission for the period (none = not submitted)
SELECT s.school_id, s.name, s.level, s.ownership, s.ward, u.name AS unit_name,
       p.deadline, b.received_at, b.source
FROM scope_schools($unit_id, yr := $school_year, rd := $round) s  -- the period's schools
LEFT JOIN units u ON u.unit_id = s.unit_id
LEFT JOIN periods p ON p.school_year = $school_year AND p.round = $round
LEFT JOIN submissions b ON b.school_id = s.school_id AND b.school_year = $school_year AND b.round = $round
WHERE s.school_id = $school_id AND ($scope_school IS NULL OR s.school_id = $scope_school)
