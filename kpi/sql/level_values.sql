-- one row per indicator × school of one cấp học in scope that reported it for a period: numerator,
-- denominator, value. What a school's place among its peers and the district value are computed
-- from, once per level and period for every principal of the unit (kpi.views; never shown as rows).
-- Parameters: $unit_id, $level, $school_year, $round. Table `defs`: catalog.target_rows of the year.
WITH peers AS (SELECT school_id, row_number() OVER () AS sid
               FROM scope_schools($unit_id, yr := $school_year, rd := $round) WHERE level = $level),
mydefs AS (SELECT * FROM defs WHERE level = $level),
roles AS (          -- which indicators read each field, as numerator or denominator
    SELECT indicator_code, num_field AS field_code, true AS is_num FROM mydefs
    UNION ALL
    SELECT indicator_code, den_field, false FROM mydefs WHERE kind <> 'bool'
),
pairs AS (          -- one pass over the period: each indicator × school of the level
    SELECT r.indicator_code, p.sid, p.school_id,
           max(o.value) FILTER (WHERE r.is_num) AS num, max(o.value) FILTER (WHERE NOT r.is_num) AS den
    FROM observations o
    JOIN peers p ON p.school_id = o.school_id
    JOIN roles r ON r.field_code = o.field_code
    WHERE o.school_year = $school_year AND o.round = $round
    GROUP BY r.indicator_code, p.sid, p.school_id
)
SELECT indicator_code, school_id, num AS numerator, den AS denominator, num / den AS value
FROM (SELECT p.indicator_code, p.school_id, p.num, CASE WHEN d.kind = 'bool' THEN 1.0 ELSE p.den END AS den
      FROM pairs p JOIN mydefs d ON d.indicator_code = p.indicator_code
      WHERE p.num IS NOT NULL)
WHERE den > 0
ORDER BY indicator_code, value DESC
