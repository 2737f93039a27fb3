-- one row per indicator applying to one school: its value and status for a period, the district
-- value and its place among the schools of its level that reported (aggregates name no other school)
-- Parameters: $school_id, $scope_school (a principal's own school, or NULL), $school_year, $round,
-- $unit_id. Table `defs`: catalog.target_rows for the school year. Each observation of the period
-- meets the indicators that read its field and one grouping pairs them per school (a third less
-- memory and time than joining the period's rows to themselves).
WITH sc AS (SELECT school_id, level FROM scope_schools($unit_id, yr := $school_year, rd := $round)),  -- the period's
me AS (
    SELECT school_id, level FROM sc
    WHERE school_id = $school_id AND ($scope_school IS NULL OR school_id = $scope_school)
),
peers AS (SELECT sc.school_id, row_number() OVER () AS sid FROM sc JOIN me ON me.level = sc.level),
mydefs AS (SELECT d.* FROM defs d JOIN me ON me.level = d.level),
roles AS (          -- which indicators read each field, as numerator or denominator
    SELECT indicator_code, num_field AS field_code, true AS is_num FROM mydefs
    UNION ALL
    SELECT indicator_code, den_field, false FROM mydefs WHERE kind <> 'bool'
),
pairs AS (          -- one pass over the period: each indicator × school of the level, numerator and denominator
    SELECT r.indicator_code, p.sid, p.school_id,
           max(o.value) FILTER (WHERE r.is_num) AS num, max(o.value) FILTER (WHERE NOT r.is_num) AS den
    FROM observations o
    JOIN peers p ON p.school_id = o.school_id
    JOIN roles r ON r.field_code = o.field_code
    WHERE o.school_year = $school_year AND o.round = $round
    GROUP BY r.indicator_code, p.sid, p.school_id
),
vals AS (
    SELECT v.indicator_code, v.school_id, v.num, v.den, v.num / v.den AS value
    FROM (SELECT p.indicator_code, p.school_id, p.num,
                 CASE WHEN d.kind = 'bool' THEN 1.0 ELSE p.den END AS den
          FROM pairs p JOIN mydefs d ON d.indicator_code = p.indicator_code
          WHERE p.num IS NOT NULL) v
    WHERE v.den > 0
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
