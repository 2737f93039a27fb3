-- one row per field × level for a period: schools expected to report it (the schools of that
-- level in scope that were open on the period's deadline) and schools that did. Table `fields_levels`: field_code, level (from the catalog).
WITH sc AS (SELECT school_id, level FROM scope_schools($unit_id, yr := $school_year, rd := $round)),
got AS (
    SELECT o.field_code, sc.level, count(*) AS reported
    FROM observations o JOIN sc ON sc.school_id = o.school_id
    WHERE o.school_year = $school_year AND o.round = $round
    GROUP BY ALL
),
expected AS (SELECT level, count(*) AS expected FROM sc GROUP BY level)
SELECT f.field_code, f.level, e.expected, coalesce(g.reported, 0) AS reported
FROM fields_levels f
JOIN expected e ON e.level = f.level
LEFT JOIN got g ON g.field_code = f.field_code AND g.level = f.level
ORDER BY f.field_code, f.level
