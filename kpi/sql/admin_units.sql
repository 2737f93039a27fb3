-- one row per unit of the tree (Sở → Phòng, or Sở → phường), with its parent's name and its open schools
SELECT u.unit_id, u.name, u.kind, u.parent_id, p.name AS parent_name,
       (SELECT count(*) FROM schools s WHERE s.unit_id = u.unit_id AND s.active) AS schools
FROM units u
LEFT JOIN units p ON p.unit_id = u.parent_id
ORDER BY u.parent_id NULLS FIRST, u.name COLLATE vi
