-- one row per school × school year scored (kpi.domain.scoring.score's second frame): per group
-- g<position>_points, _level, _unmet, _provisional
-- (kpi.store.queries names them by group code); school_level, provisional; the school's name,
-- cấp học (level), ward, ownership.
-- @include maturity_base
, wide AS (   -- one column per group and part: g<position>_<part> (index.toml allows at most 4 groups)
    SELECT school_id, school_year,
           first(points) FILTER (WHERE position = 0) AS g0_points,
           first(level) FILTER (WHERE position = 0) AS g0_level,
           first(unmet) FILTER (WHERE position = 0) AS g0_unmet,
           first(provisional) FILTER (WHERE position = 0) AS g0_provisional,
           first(points) FILTER (WHERE position = 1) AS g1_points,
           first(level) FILTER (WHERE position = 1) AS g1_level,
           first(unmet) FILTER (WHERE position = 1) AS g1_unmet,
           first(provisional) FILTER (WHERE position = 1) AS g1_provisional,
           first(points) FILTER (WHERE position = 2) AS g2_points,
           first(level) FILTER (WHERE position = 2) AS g2_level,
           first(unmet) FILTER (WHERE position = 2) AS g2_unmet,
           first(provisional) FILTER (WHERE position = 2) AS g2_provisional,
           first(points) FILTER (WHERE position = 3) AS g3_points,
           first(level) FILTER (WHERE position = 3) AS g3_level,
           first(unmet) FILTER (WHERE position = 3) AS g3_unmet,
           first(provisional) FILTER (WHERE position = 3) AS g3_provisional
    FROM grp GROUP BY school_id, school_year
)
SELECT w.*, l.school_level, l.provisional, s.name, s.level, s.ward, s.ownership
FROM wide w
JOIN school_levels l ON l.school_id = w.school_id AND l.school_year = w.school_year
JOIN schools s ON s.school_id = w.school_id
ORDER BY w.school_year, w.school_id
