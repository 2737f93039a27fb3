-- indicator_trend_cells for every indicator at once: each school's figures of a period are read
-- once (one pass over the observations instead of two per indicator), then summed per indicator.
-- One row per period × level × loại hình × phường; per indicator k the columns n<k>, d<k>, r<k>, e<k>
-- (numerator, denominator, schools reporting, schools expected), cut apart by
-- kpi.store.queries.indicator_trend_cells_all. The placeholders are filled there from the catalog:
-- fields (one column f<i> per field read), wanted (those fields' codes), sums (the four per indicator).
-- One school year a query ($school_year): the figures of a period of every school of 53.000 held at once
-- fit the readers' memory bound, those of five years did not.
-- Parameters: $school_year; $unit_id, $level, $ownership, $ward (NULL = no filter).
WITH sc AS (
    SELECT f.school_id, f.level, f.ownership, f.ward, f.active, d.opened_on, d.closed_on
    FROM filtered_schools($unit_id, $level, $ownership, $ward, yr := '*') f
    LEFT JOIN school_dates d ON d.school_id = f.school_id
),
wide AS (
    SELECT school_id, school_year, round, /*fields*/
    FROM observations
    WHERE field_code IN (/*wanted*/) AND school_year = $school_year
    GROUP BY school_id, school_year, round
)
SELECT p.school_year, p.round, sc.level, sc.ownership, sc.ward, /*sums*/
FROM periods p
CROSS JOIN sc
LEFT JOIN wide w ON w.school_id = sc.school_id AND w.school_year = p.school_year AND w.round = p.round
WHERE p.school_year = $school_year
  AND (sc.active OR sc.closed_on IS NOT NULL)     -- the schools of each period (scope_schools)
  AND (sc.opened_on IS NULL OR sc.opened_on <= p.deadline) AND (sc.closed_on IS NULL OR sc.closed_on > p.deadline)
GROUP BY p.school_year, p.round, sc.level, sc.ownership, sc.ward
ORDER BY p.school_year, p.round DESC, sc.level, sc.ownership, sc.ward
