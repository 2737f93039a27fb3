-- one row per school in scope (a principal: only their own), in Vietnamese name order: the open
-- schools ($school_year NULL), or those of a period ($school_year, $round: closed ones included)
SELECT school_id, name, level, ownership, ward FROM scope_schools($unit_id, yr := $school_year, rd := $round)
WHERE $school_id IS NULL OR school_id = $school_id
ORDER BY name COLLATE vi
