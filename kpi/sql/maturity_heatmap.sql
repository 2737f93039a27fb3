-- the first $limit schools of one school year in the chosen order ($order: 'total' = all group
-- points, a group code ('dh', 'qt') = that group's points, 'name' = Vietnamese name order), and
-- for each its share of every leaf criterion's maximum (placeholder and 0-point rows left out).
-- Parameters as maturity_base, plus $order, $limit.
-- @include maturity_base
, ranked AS (
    SELECT g.school_id, s.name,
           sum(g.points) FILTER (WHERE $order = 'total' OR lower(g.group_code) = $order) AS key
    FROM grp g JOIN schools s ON s.school_id = g.school_id
    GROUP BY ALL
),
chosen AS (
    SELECT school_id, name, row_number() OVER (
               ORDER BY CASE WHEN $order = 'name' THEN NULL ELSE key END DESC NULLS LAST,
                        name COLLATE vi, school_id) AS rank
    FROM ranked
    QUALIFY rank <= $limit
)
SELECT ch.rank, ch.school_id, ch.name, c.criterion_code, c.points / c.max_points AS share
FROM chosen ch
JOIN crit c ON c.school_id = ch.school_id
WHERE NOT c.placeholder AND c.max_points > 0
ORDER BY ch.rank, c.position
