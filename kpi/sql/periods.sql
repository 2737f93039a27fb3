-- one row per period (school year × round), newest first, with its deadline and whether any data
SELECT p.school_year, p.round, p.deadline,
       EXISTS (SELECT 1 FROM submissions s
               WHERE s.school_year = p.school_year AND s.round = p.round) AS has_data
FROM periods p
ORDER BY p.school_year DESC, CASE p.round WHEN 'CN' THEN 0 ELSE 1 END
