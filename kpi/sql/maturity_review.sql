-- self-assessed, verified and computed points side by side for one school year, one row per
-- school × criterion with any of them, with the differences the Phòng should look at flagged:
-- verified ≠ self-assessed; self-assessed off the computed points by more than 1 point and 20% of
-- the maximum; self-assessment above the maximum. $flagged_only: only flagged rows; at most $limit.
-- Parameters as maturity_base, plus $flagged_only, $limit.
-- @include maturity_base
, names AS (          -- Vietnamese name order, ranked once per school (collating every row is slow)
    SELECT s.school_id, s.name, row_number() OVER (ORDER BY s.name COLLATE vi, s.school_id) AS name_rank
    FROM schools s SEMI JOIN sc ON sc.school_id = s.school_id
),
reviewed AS (
    SELECT c.*, s.name, s.name_rank,
           concat_ws('; ',
               CASE WHEN c.verified_points IS NOT NULL AND c.self_points IS NOT NULL
                         AND abs(c.verified_points - c.self_points) > 1e-9 THEN 'thẩm định khác tự đánh giá' END,
               CASE WHEN c.computed IS NOT NULL AND c.self_points IS NOT NULL
                         AND abs(c.self_points - c.computed) > greatest(c.max_points * 0.2, 1.0)
                    THEN 'tự đánh giá lệch số liệu báo cáo' END,
               CASE WHEN c.capped THEN 'vượt điểm tối đa' END) AS flag
    FROM crit c JOIN names s ON s.school_id = c.school_id
    WHERE NOT c.placeholder
      AND (c.self_points IS NOT NULL OR c.verified_points IS NOT NULL OR c.computed IS NOT NULL)
)
SELECT name, school_id, criterion_code, max_points, self_points, verified_points, computed, points,
       source, flag, provisional,
       (SELECT count(*) FROM reviewed) AS total_rows,
       (SELECT count(*) FROM reviewed WHERE flag <> '') AS flagged_rows
FROM reviewed
WHERE NOT $flagged_only OR flag <> ''
ORDER BY name_rank, position
LIMIT $limit
