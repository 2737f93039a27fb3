-- one row per school × school year × leaf criterion (kpi.domain.scoring.criterion_points): points and
-- where they came from, self-assessed / verified / computed side by side, capped, provisional.
-- @include maturity_base
SELECT school_id, school_year, criterion_code, group_code, max_points, placeholder, self_points,
       verified_points, computed, points, capped, source, provisional
FROM crit
ORDER BY school_year, school_id, position
