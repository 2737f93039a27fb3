-- one row per active school in scope (a principal: only their own), in Vietnamese name order
SELECT school_id, name, level, ownership, ward FROM scope_schools($unit_id)
WHERE $school_id IS NULL OR school_id = $school_id
ORDER BY name COLLATE vi
