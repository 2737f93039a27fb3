-- one row per school year × indicator × level: the targets of each year's newest published version
SELECT t.school_year, t.version, t.indicator_code, t.level, t.value, t.near, t.clause, t.basis, p.document
FROM plan_targets t
JOIN target_plans p ON p.school_year = t.school_year AND p.version = t.version
WHERE t.version = (SELECT max(version) FROM target_plans q WHERE q.school_year = t.school_year)
ORDER BY t.school_year, t.indicator_code, t.level
