-- one row per observation of a school of one unit (and the units below it): the slice kpi.views
-- keeps in memory to answer a unit's many small queries (a principal's pages) without a full scan
SELECT o.* FROM observations o SEMI JOIN scope_schools($unit_id, yr := '*') s ON s.school_id = o.school_id
