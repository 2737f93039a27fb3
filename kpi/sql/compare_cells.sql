-- compare_periods' counts kept apart by the filters a page changes: one row per indicator × level ×
-- loại hình × phường, so that every cấp học × loại hình × phường filter of So sánh is a sum of these cells
-- (kpi.store.queries.compare_from_cells) instead of a query of its own. Counts only (what
-- kpi.domain.progress.compare_rows reads): schools reporting and meeting the target in A and B, moved up, fell back.
-- Parameters: $year_a/$round_a, $year_b/$round_b, $unit_id; $level, $ownership, $ward NULL (every school).
-- Tables `defs_a`, `defs_b` as compare_periods.
-- @include compare_rated
SELECT d.indicator_code, d.level, s.ownership, s.ward,
       count(r.value_a) AS reporting_a, count(r.value_b) AS reporting_b,
       count(*) FILTER (WHERE r.met_a) AS meeting_a, count(*) FILTER (WHERE r.met_b) AS meeting_b,
       count(*) FILTER (WHERE r.moved_up) AS moved_up, count(*) FILTER (WHERE r.fell_back) AS fell_back
FROM rated r
JOIN defs d ON d.k = r.k
JOIN sc s ON s.sid = r.sid
GROUP BY ALL
ORDER BY d.indicator_code, d.level, s.ownership, s.ward
