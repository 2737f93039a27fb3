-- one row per leaf criterion (placeholder left out): points lost over the schools scored
-- (Σ max − points), schools, max points. Parameters as maturity_base (one school year).
-- @include maturity_base
SELECT criterion_code, sum(max_points - points) AS lost, count(DISTINCT school_id) AS schools,
       first(max_points) AS max_points
FROM crit
WHERE NOT placeholder
GROUP BY criterion_code
ORDER BY lost DESC, criterion_code
