-- one row per school × field reported in a period by the schools in scope: the values the
-- data-quality view sets against the district's distribution (with the pending values laid over
-- them when the scope asks for them: kpi.store.source.Source.pending)
SELECT o.school_id, s.name, s.level, o.field_code, o.value
FROM observations o JOIN scope_schools($unit_id) s ON s.school_id = o.school_id
WHERE o.school_year = $school_year AND o.round = $round
ORDER BY o.field_code, s.level, o.school_id
