-- one row per field one school reported in a period or in the period before it (approved
-- figures): the value now (what the entry form starts from) and before (shown beside each field)
-- $scope_school: a principal's own school (another school gives no rows); $unit_id: the caller's unit
SELECT o.field_code,
       max(o.value) FILTER (WHERE o.school_year = $school_year AND o.round = $round) AS value,
       max(o.value) FILTER (WHERE o.school_year = $prev_year AND o.round = $prev_round) AS previous
FROM observations o
WHERE o.school_id = $school_id AND ($scope_school IS NULL OR o.school_id = $scope_school)
  AND o.school_id IN (SELECT school_id FROM scope_schools($unit_id))
  AND ((o.school_year = $school_year AND o.round = $round) OR (o.school_year = $prev_year AND o.round = $prev_round))
GROUP BY o.field_code
