-- A meeting pack over a large scope lists units, not schools (kpi.views.pack.LIST_MAX_SCHOOLS): each school
-- with the unit it is listed under, the unit directly below the scope's unit that holds it (directly below the
-- top when the scope is every unit); a school of the scope's unit itself is listed under that unit.
-- Parameters: $unit_id (NULL = every unit).
WITH RECURSIVE chain(start, unit_id, parent_id) AS (     -- every unit with each of its ancestors (itself too)
    SELECT unit_id, unit_id, parent_id FROM units
    UNION ALL
    SELECT c.start, u.unit_id, u.parent_id FROM chain c JOIN units u ON u.unit_id = c.parent_id
),
grp AS (
    SELECT start, unit_id AS group_id FROM chain
    WHERE ($unit_id IS NULL AND parent_id IS NULL) OR parent_id = $unit_id
)
SELECT s.school_id, coalesce(g.group_id, s.unit_id) AS unit_id, u.name AS unit
FROM schools s
LEFT JOIN grp g ON g.start = s.unit_id
JOIN units u ON u.unit_id = coalesce(g.group_id, s.unit_id)
ORDER BY u.name COLLATE vi, s.school_id
