-- schools per school year × cấp học × group levels × school level × provisional: the small cube
-- every district count of the index comes from (distribution, trend, the overview's index row).
-- Parameters as maturity_base.
-- @include maturity_base
, wide AS (   -- g<position>_level per group (index.toml allows at most 4 groups)
    SELECT school_id, school_year,
           first(level) FILTER (WHERE position = 0) AS g0_level,
           first(level) FILTER (WHERE position = 1) AS g1_level,
           first(level) FILTER (WHERE position = 2) AS g2_level,
           first(level) FILTER (WHERE position = 3) AS g3_level
    FROM grp GROUP BY school_id, school_year
)
SELECT w.* EXCLUDE (school_id), s.level, l.school_level, l.provisional, count(*) AS schools
FROM wide w
JOIN school_levels l ON l.school_id = w.school_id AND l.school_year = w.school_year
JOIN schools s ON s.school_id = w.school_id
GROUP BY ALL
ORDER BY ALL
