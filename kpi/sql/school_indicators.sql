-- one row per indicator applying to one school: its value and status for a period, the district
-- value and its place among the schools of its level that reported (aggregates name no other school)
-- Parameters: $school_id, $scope_school (a principal's own school, or NULL), $school_year, $round,
-- $unit_id. Table `defs`: catalog.target_rows for the school year.
WITH sc AS (SELECT school_id, level FROM scope_schools($unit_id)),
me AS (
    SELECT school_id, level FROM sc
    WHERE school_id = $school_id AND ($scope_school IS NULL OR school_id = $scope_school)
),
peers AS (SELECT sc.school_id, sc.level FROM sc JOIN me ON me.level = sc.level),
mydefs AS (SELECT d.* FROM defs d JOIN me ON me.level = d.level),
obs AS (
    SELECT o.school_id, o.field_code, o.value FROM observations o SEMI JOIN peers p ON p.school_id = o.school_id
    WHERE o.school_year = $school_year AND o.round = $round
),
num AS (
    SELECT d.indicator_code, d.kind, o.school_id, o.value AS num
    FROM mydefs d JOIN obs o ON o.field_code = d.num_field
),
den AS (
    SELECT d.indicator_code, o.school_id, o.value AS den
    FROM mydefs d JOIN obs o ON o.field_code = d.den_field
),
vals AS (
    SELECT n.indicator_code, n.school_id, n.num, CASE WHEN n.kind = 'bool' THEN 1.0 ELSE dn.den END AS den,
           n.num / CASE WHEN n.kind = 'bool' THEN 1.0 ELSE dn.den END AS value
    FROM num n LEFT JOIN den dn ON dn.indicator_code = n.indicator_code AND dn.school_id = n.school_id
    WHERE CASE WHEN n.kind = 'bool' THEN 1.0 ELSE dn.den END > 0
),
ranked AS (
    SELECT *, rank() OVER (PARTITION BY indicator_code ORDER BY value DESC) AS position,
           count(*) OVER (PARTITION BY indicator_code) AS peers
    FROM vals
),
district AS (
    SELECT indicator_code, sum(num) / sum(den) AS district_value FROM vals GROUP BY indicator_code
)
SELECT d.indicator_code, d.level, d.kind, r.num AS numerator, r.den AS denominator, r.value,
       d.target, d.near, d.target_year, r.position, r.peers, di.district_value
FROM mydefs d
JOIN me ON me.level = d.level
LEFT JOIN ranked r ON r.indicator_code = d.indicator_code AND r.school_id = me.school_id
LEFT JOIN district di ON di.indicator_code = d.indicator_code
ORDER BY d.indicator_code
