-- one row per indicator × level of one published version ($school_year, $version) of a year's targets
SELECT indicator_code, level, value, near, clause, basis
FROM plan_targets
WHERE school_year = $school_year AND version = $version
ORDER BY indicator_code, level
